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

setup "defects: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
if [ -n "$sel" ]; then
	# shellcheck disable=SC2086
	run_tap hmm_p2p_defects-only "$BIN" $sel
else
	# io_uring_fixed_file and swiotlb_refused have boots of their own
	# (plans iouring, swiotlb)
	run_tap hmm_p2p_defects "$BIN" -T thp_hole_device_full -T io_uring_fixed_file \
		-T swiotlb_refused
fi
setup "defects: unload" unload_ours

if [ -z "$sel" ] || echo "$only" | grep -qE 'thp_hole_device_full|thp_zap_race'; then
	setup "defects: load with a 4 MiB private device" load_ours private_mb=4
	run_tap --expect 3 hmm_p2p_defects-small "$BIN" -t thp_hole_device_full -t thp_zap_race
	setup "defects: unload the small devices" unload_ours
fi

# Defect 8: a coherent page pinned (spliced into a pipe) across the unload.
# The test module's removal must end (bounded eviction, then the pagemap is
# left to its pinned page), the log must say what is pinned, hmm_p2p.ko must
# refuse to go at once while the page lives, and go after the pipe closed;
# the process's data stays intact throughout.
PIN=$BINDIR/hmm_p2p_pin
PD=/tmp/pin
elapsed_le() { [ $(( $(date +%s) - $1 )) -le "$2" ]; }
pinned_rmmod_busy() {
	_t0=$(date +%s)
	! rmmod hmm_p2p 2>/dev/null && elapsed_le "$_t0" 1
}
hmm_p2p_gone_within() {
	_n=0
	while is_loaded hmm_p2p; do
		rmmod hmm_p2p 2>/dev/null && break
		_n=$((_n + 1))
		[ "$_n" -le "$1" ] || return 1
		sleep 1
	done
	! is_loaded hmm_p2p
}
if [ -z "$sel" ] || echo "$only" | grep -q pinned; then
	rm -rf "$PD"; mkdir -p "$PD"
	setup "pinned: load" load_ours
	"$PIN" "$PD" 2 > "$PD/log" 2>&1 &
	_pin=$!
	_n=0
	while [ ! -e "$PD/ready" ] && [ "$_n" -lt 60 ] && kill -0 "$_pin" 2>/dev/null; do
		sleep 1; _n=$((_n + 1))
	done
	check "pinned: a coherent page is spliced into a pipe" test -e "$PD/ready"
	dmesg -c > /dev/null
	_t0=$(date +%s)
	check "pinned: rmmod hmm_p2p_test returns" rmmod hmm_p2p_test
	say "pinned: rmmod hmm_p2p_test took $(( $(date +%s) - _t0 )) s"
	check "pinned: ... within 30 s" elapsed_le "$_t0" 30
	check "pinned: the log says what is pinned" sh -c "dmesg | grep -F 'stay pinned'"
	check "pinned: rmmod hmm_p2p fails at once while the page lives" pinned_rmmod_busy
	touch "$PD/go"
	wait "$_pin"
	_rc=$?
	sed 's/^/    /' "$PD/log"
	check "pinned: the process's data stayed intact" test "$_rc" = 0
	check "pinned: hmm_p2p unloads once the pipe is closed" hmm_p2p_gone_within 10
	check "pinned: no hmm memory region left in /proc/iomem" \
		sh -c "! grep -iE 'hmm|dmirror' /proc/iomem"
fi
