# SPDX-License-Identifier: GPL-2.0
# compat: the kernel's own hmm-tests, unchanged, against hmm-p2p's test
# device (which speaks lib/test_hmm's ioctl interface on /dev/hmm_dmirror0..3,
# devices 2 and 3 coherent on the runner's reserved range by default).
# Every hmm-tests result counts.

setup "compat: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
run_tap hmm-tests-on-hmm_p2p "$BINDIR/hmm-tests"
setup "compat: unload both modules" unload_ours
