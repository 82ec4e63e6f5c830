# SPDX-License-Identifier: GPL-2.0
# swiotlb: the mirror refuses DMA mappings that need bounce buffers
# (selftests/hmm_p2p_defects.c swiotlb_refused). tools/check.sh boots it
# with swiotlb=force on the kernel command line.

setup "swiotlb: the kernel bounces every mapping" sh -c "grep -q swiotlb=force /proc/cmdline"
setup "swiotlb: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
run_tap --expect 1 hmm_p2p_defects-swiotlb "$BINDIR/hmm_p2p_defects" -t swiotlb_refused
setup "swiotlb: unload" unload_ours
