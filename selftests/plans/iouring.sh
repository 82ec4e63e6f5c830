# SPDX-License-Identifier: GPL-2.0
# iouring: a device file registered as an io_uring fixed file by a process
# that then exits (selftests/hmm_p2p_defects.c io_uring_fixed_file). On the
# old code the file held its opener's address space, so it leaked for good
# and left both modules pinned: this plan ends by unloading them (in a
# batch, a regression also fails the plans after it, which cannot load).

setup "iouring: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
run_tap --expect 1 hmm_p2p_defects-iouring "$BINDIR/hmm_p2p_defects" -t io_uring_fixed_file
check "iouring: both modules unload" unload_ours
