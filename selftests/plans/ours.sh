# SPDX-License-Identifier: GPL-2.0
# ours: hmm-p2p's own selftests (selftests/hmm_p2p_tests.c: several processes,
# fork/COW, munmap/mremap races, mixed ranges, ENOMEM, eviction, killed
# owners, bad input, STATS/INFO), then a process holding a buffer whose pages
# went to a device (selftests/hmm_p2p_holder.c): STATS exact, rmmod refused
# while its file is open and the pages stay intact, its close() takes every
# page home, the modules unload, no device memory region is left in
# /proc/iomem, and the process finds its data intact.

HOLDER=$BINDIR/hmm_p2p_holder
WORK=/tmp/ours
# The coherent devices' memory (lib.sh: 512 MiB each from these addresses),
# so the holder can tell from PFNs that its pages are in coherent memory.
HOLDER_COHERENT=$(printf '0x%x-0x%x' "$((SPM_ADDR_DEV0))" "$((SPM_ADDR_DEV1 + 0x20000000))")
export HOLDER_COHERENT

# Device memory regions of ours (private chunks are named after the device).
hmm_regions() { grep -iE 'hmm|dmirror' /proc/iomem; }
no_hmm_regions() { ! hmm_regions; }
modules_gone() { ! is_loaded hmm_p2p_test && ! is_loaded hmm_p2p; }

# pages_in_use_zero DEV: nothing of anybody's is on the device.
pages_in_use_zero() {
	_s=$("$HOLDER" --stats "$1") || return 1
	echo "$_s" | grep -E '^(pages_in_use|pages_total|chunks|evicted)='
	echo "$_s" | grep -qx 'pages_in_use=0'
}

# wait_for FILE PID: until FILE exists (0), PID is gone or 120 s pass (1).
wait_for() {
	_n=0
	while [ ! -e "$1" ]; do
		kill -0 "$2" 2>/dev/null || [ -e "$1" ] || { say "holder $2 exited early"; return 1; }
		_n=$((_n + 1))
		[ "$_n" -le 120 ] || { say "no $1 after 120 s"; return 1; }
		sleep 1
	done
}

# holder_ok DIR: the holder's own checks after migrating passed.
holder_ok() {
	[ -f "$1/migrated" ] || return 1
	sed 's/^/    /' "$1/migrated"
	grep -qx 'ok=1' "$1/migrated"
}

# held_pages_in_use DIR NPAGES: the holder, its file open, saw NPAGES pages
# of its own on the device right before the rmmod.
held_pages_in_use() {
	sed 's/^/    /' "$1/held"
	grep -qx "pages_in_use=$2" "$1/held" && ! grep -qx 'pages_in_use=0' "$1/held"
}

# rmmod_refused: with a device file open, neither module can go.
rmmod_refused() {
	! rmmod hmm_p2p_test && is_loaded hmm_p2p_test && ! rmmod hmm_p2p &&
		is_loaded hmm_p2p && dmirror_nodes_present 4
}

# unload_with_pages DEV NPAGES [thp]: a process holds NPAGES pages on the
# device with its file open: rmmod is refused (an open file holds the module,
# and every close() evicts, so no unpinned page can be on the device at
# unload: selftests/hmm_p2p_holder.c), the pages stay and stay right; its
# close() takes every page home; then the modules unload and the process
# finds its data intact.
unload_with_pages() {
	_dev=$1 _np=$2 _thp=${3:-}
	_t="ours: unload with pages on dmirror$_dev${_thp:+ ($_thp)}"
	_d=$WORK/unload-$_dev${_thp:+-$_thp}
	rm -rf "$_d"
	mkdir -p "$_d"
	# shellcheck disable=SC2086
	"$HOLDER" "$_dev" "$_np" "$_d" $_thp > "$_d/log" 2>&1 &
	_pid=$!

	wait_for "$_d/migrated" "$_pid"
	check "$_t: $_np pages migrated, STATS exact" holder_ok "$_d"
	if [ "$_dev" -lt 2 ]; then
		check "$_t: its memory region is in /proc/iomem" hmm_regions
	fi
	touch "$_d/go1"
	wait_for "$_d/held" "$_pid"
	check "$_t: $_np pages in use right before the rmmod" held_pages_in_use "$_d" "$_np"
	check "$_t: rmmod refused while the file is open" rmmod_refused
	touch "$_d/go2"
	wait_for "$_d/closed" "$_pid" &&
		say "$_t: after close(): $(tr '\n' ' ' < "$_d/closed")"
	check "$_t: close() took every page home" grep -qx 'pages_in_use=0' "$_d/closed"
	check "$_t: rmmod with the file closed" unload_ours
	check "$_t: modules gone" modules_gone
	check "$_t: no hmm memory region left in /proc/iomem" no_hmm_regions
	touch "$_d/go3"
	wait "$_pid"
	_rc=$?
	sed 's/^/    /' "$_d/log" "$_d/done" 2>/dev/null
	check "$_t: the process's data came back intact" test "$_rc" = 0
	setup "$_t: reload" load_ours
}

mkdir -p "$WORK"
setup "ours: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
setup "ours: /dev/hmm_dmirror0..3 exist" dmirror_nodes_present 4

# Everything but the test that uses up a whole device: with the default sizes
# (hundreds of MiB per device) that is too slow here.
run_tap hmm_p2p_tests "$BINDIR/hmm_p2p_tests" -T enomem_chunk_grow

for d in 0 1 2 3; do
	check "ours: no device pages left in use on dmirror$d" pages_in_use_zero "$d"
done

# hmm_p2p's fault_around parameter: pages one CPU fault brings back.
FA=/sys/module/hmm_p2p/parameters/fault_around
fa_is() { [ "$(cat "$FA")" = "$1" ]; }
fa_refused() { ! sh -c "echo '$1' > $FA" 2>/dev/null && fa_is 16; }
check "ours: fault_around is 16 by default" fa_is 16
for _v in 0 3 32 -1 abc; do
	check "ours: fault_around=$_v is refused, 16 stays" fa_refused "$_v"
done
for _v in 1 4; do
	setup "ours: fault_around=$_v" sh -c "echo $_v > $FA"
	run_tap --expect 1 "hmm_p2p_tests-fault-around-$_v" "$BINDIR/hmm_p2p_tests" \
		-r dm.private_4k.cpu_fault_window
done
setup "ours: fault_around back to 16" sh -c "echo 16 > $FA"

# The same devices, small (16 MiB each): use them up, get -ENOMEM, lose
# nothing (hmm_p2p_test's private_mb and spm_size parameters).
setup "ours: unload both modules" unload_ours
setup "ours: load with 16 MiB devices" load_ours private_mb=16 spm_size=0x1000000
run_tap --expect 8 hmm_p2p_tests-small "$BINDIR/hmm_p2p_tests" -t enomem_chunk_grow \
	-t enomem_partial -t multiprocess
setup "ours: unload the small devices" unload_ours
setup "ours: reload with the default sizes" load_ours

unload_with_pages 0 512
unload_with_pages 0 512 thp
unload_with_pages 2 512
unload_with_pages 2 512 thp

setup "ours: unload both modules" unload_ours
check "ours: no hmm memory region left in /proc/iomem" no_hmm_regions
check "ours: /dev/hmm_dmirror* gone" dmirror_nodes_gone
