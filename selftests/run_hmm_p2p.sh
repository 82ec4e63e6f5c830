#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kselftest runner for hmm-p2p (TEST_PROGS of selftests/Makefile): loads
# hmm_p2p.ko and hmm_p2p_test.ko unless they are loaded, runs the harness
# programs next to it, unloads what it loaded. As root.
#   HMM_P2P_MODDIR=DIR   insmod DIR/hmm_p2p.ko and DIR/hmm_p2p_test.ko
#                        (default: modprobe, as after make modules_install)
#   HMM_P2P_PARAMS=...   parameters of hmm_p2p_test.ko; PCI ivshmem devices
#                        are bound only when asked (pci_devs=BDF,... or
#                        pci_all=1); without one, p2p_tests is skipped
#   HMM_P2P_FUZZ_SECS=N  the fuzzer's run time (default 10)
# Exit status: 0 all passed, 1 a failure, 4 (kselftest's skip) when the
# modules cannot be loaded (a kernel without CONFIG_DEVICE_PRIVATE).
cd "$(dirname "$0")" || exit 1
KSFT_SKIP=4
loaded=0
rc=0

# shellcheck disable=SC2086 # HMM_P2P_PARAMS: one word per parameter
load() {
	if [ -n "${HMM_P2P_MODDIR:-}" ]; then
		insmod "$HMM_P2P_MODDIR/hmm_p2p.ko" &&
			insmod "$HMM_P2P_MODDIR/hmm_p2p_test.ko" ${HMM_P2P_PARAMS:-}
	else
		modprobe hmm_p2p_test ${HMM_P2P_PARAMS:-}
	fi
}

if [ "$(id -u)" != 0 ]; then
	echo "run_hmm_p2p: needs root"
	exit $KSFT_SKIP
fi
if [ ! -d /sys/module/hmm_p2p_test ]; then
	load || { echo "run_hmm_p2p: cannot load hmm_p2p_test (kernel options: ./config)"; exit $KSFT_SKIP; }
	loaded=1
fi

run() {
	prog=$1
	shift
	echo "run_hmm_p2p: $prog $*"
	"./$prog" "$@" || rc=1
}
# enomem_chunk_grow fills a whole device: slow with the default sizes
run hmm_p2p_tests -T enomem_chunk_grow
# io_uring_fixed_file and swiotlb_refused need boots of their own
run hmm_p2p_defects -T thp_hole_device_full -T io_uring_fixed_file -T swiotlb_refused
if [ -c /dev/hmm_p2p0 ] && [ -c /dev/hmm_p2p1 ]; then
	run p2p_tests -T unbind_peer -T unbind_importer -T unbind_classify_race \
		-T unbind_read_race -T unbind_without_sys_thp -T unbind_while_opener_killed
else
	echo "ok 1 p2p_tests # SKIP no PCI test devices bound (HMM_P2P_PARAMS=pci_devs=...)"
fi
run hmm_p2p_fuzz -t "${HMM_P2P_FUZZ_SECS:-10}"

if [ "$loaded" = 1 ]; then
	rmmod hmm_p2p_test && rmmod hmm_p2p || rc=1
fi
exit $rc
