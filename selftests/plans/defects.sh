# SPDX-License-Identifier: GPL-2.0
# defects: regression tests for the defects found where the driver meets
# core mm (selftests/hmm_p2p_defects.c), on the default devices and on a
# 4 MiB private device (private_mb=4, for exhaustion without injection).
#
# hmmp2p.defects=NAME[,NAME...] on the kernel command line runs only those
# tests (kselftest -t NAME), e.g. to see one fail on an old tree without the
# others being cut short by its crash.

BIN=$BINDIR/hmm_p2p_defects
only=$(sed -n 's/.*hmmp2p\.defects=\([^ ]*\).*/\1/p' /proc/cmdline)
sel=""
for _t in $(echo "$only" | tr ',' ' '); do sel="$sel -t $_t"; done

check "defects: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
if [ -n "$sel" ]; then
	# shellcheck disable=SC2086
	run_tap hmm_p2p_defects-only "$BIN" $sel
else
	run_tap hmm_p2p_defects "$BIN" -T thp_hole_device_full
fi
check "defects: unload" unload_ours

if [ -z "$sel" ] || echo "$only" | grep -qE 'thp_hole_device_full|thp_zap_race'; then
	check "defects: load with a 4 MiB private device" load_ours private_mb=4
	run_tap hmm_p2p_defects-small "$BIN" -t thp_hole_device_full -t thp_zap_race
	check "defects: unload the small devices" unload_ours
fi
