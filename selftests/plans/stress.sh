# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=dash
# stress: selftests/hmm_p2p_stress.c, threads and forked children racing on
# one range of 4 KiB and 2 MiB (THP) pieces and on a p2pmem mapping, every
# byte and every SNAPSHOT class checked against a model; then
# selftests/hmm_p2p_inval.c, the invalidation contract (a device never
# reads or writes a page after its invalidation returned).
#
# Fixed (7.3 with large device folios, not 6.12): the stress hit a kernel
# bug about one run in two on the plain 7.3 (Bad page map, a GPF in
# remove_migration_ptes, a soft lockup in the LRU lock): patches/0002's
# zap_huge_pmd() bug, reached through a forked child that shares a 2 MiB
# device folio and zaps it while the parent moves it back. hmm_p2p now moves
# such a shared folio back as 4 KiB pages (README, "Kernel bugs worked
# around"; defects' thp_fork_zap_race is the directed test).
#
# Knobs (kernel command line, e.g. tools/vm-run.sh --append ...):
#   hmmp2p.stress_ops=N   operations per thread (default 1500; 400 on the debug kernel)
#   hmmp2p.stress_seed=S  replay a seed the log printed
#   hmmp2p.stress_secs=T  time cap (default 120 s; 240 s on the debug kernel):
#                         a safety net, not the bound: the run is bounded by
#                         its operations (a host running five guests at once
#                         did a third of 6.12's in 45 s)

STRESS=$BINDIR/hmm_p2p_stress
INVAL=$BINDIR/hmm_p2p_inval
arg() { sed -n "s/.*hmmp2p\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
ops=$(arg stress_ops) seed=$(arg stress_seed) secs=$(arg stress_secs)
# hmmp2p.stress_args=-F,-D,0x33: more options, commas for spaces (debugging)
xargs=$(arg stress_args | tr , ' ')
if [ "$FLAVOR" = debug ]; then
	: "${ops:=400}" "${secs:=240}"
else
	: "${ops:=1500}" "${secs:=120}"
fi

setup "stress: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
# A call that never returns fails the plan, not the VM's timeout: past the
# cap plus a margin the watchdog dumps the blocked tasks and kills it.
limit=$((secs + 60))
(
	sleep "$limit"
	say "stress: still running after $limit s: blocked tasks and all stacks follow"
	echo w > /proc/sysrq-trigger
	echo t > /proc/sysrq-trigger
	killall -9 hmm_p2p_stress
) &
wd=$!
# shellcheck disable=SC2086
run_tap --expect 6 hmm_p2p_stress "$STRESS" -n "$ops" -t "$secs" \
	-k "$KERNEL_SERIES-$FLAVOR" ${seed:+-s "$seed"} $xargs
kill "$wd" 2>/dev/null
if [ -x "$INVAL" ]; then
	run_tap --expect 28 hmm_p2p_inval "$INVAL"
fi
setup "stress: unload" unload_ours
