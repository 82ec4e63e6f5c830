# SPDX-License-Identifier: GPL-2.0
# compat: the kernel's own hmm-tests, unchanged, against hmm-p2p's test
# device (which speaks lib/test_hmm's ioctl interface on /dev/hmm_dmirror0..3,
# devices 2 and 3 coherent on the runner's reserved range by default).
# Every hmm-tests result counts.

# On the debug kernel (KASAN, lockdep, kmemleak) the suite runs for splats.
# Its per-test timeout is compiled in (30 s): benchmark_thp_migration cannot
# finish in it there (measured: timed out, the other 77 of 78 passed in
# 291 s), and the loops below repeat what single cases already cover, at
# 10-100 times their cost; they are left out there (-T) to keep make check
# in time. Everything runs on the normal kernels.
excl=""
if [ "$FLAVOR" = debug ]; then
	for _t in benchmark_thp_migration anon_teardown migrate_multiple \
		anon_read_multiple migrate_partial_unmap_fault migrate_remap_fault; do
		excl="$excl -T $_t"
	done
	say "compat: left out on the debug kernel:$excl"
fi
setup "compat: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
# shellcheck disable=SC2086
run_tap hmm-tests-on-hmm_p2p "$BINDIR/hmm-tests" $excl
setup "compat: unload both modules" unload_ours
