# SPDX-License-Identifier: GPL-2.0
# sample: the sample driver (samples/hmm_p2p_sample.c, the running example
# of docs/driver-guide.md) loads on hmm_p2p.ko, moves a range to its
# device-private memory and back with its data, reads it through its
# mirror, serves CPU faults (selftests/hmm_p2p_sample_test.c), and unloads.

load_sample() {
	# shellcheck disable=SC2086
	_insmod hmm_p2p ${HMM_P2P_PARAMS:-} && _insmod hmm_p2p_sample
}

setup "sample: load hmm_p2p.ko and hmm_p2p_sample.ko" load_sample
run_tap --expect 3 hmm_p2p_sample_test "$BINDIR/hmm_p2p_sample_test"
check "sample: hmm_p2p_sample unloads" _rmmod hmm_p2p_sample
check "sample: hmm_p2p unloads" _rmmod hmm_p2p
