# SPDX-License-Identifier: GPL-2.0
# reload: module unload with live device pages, round after round, and PCI
# unbind/rebind under a reader (selftests/hmm_p2p_reload.c).
#
# Part 1, hmmp2p.reload=N rounds (default 20): load both modules; one
# process, alive for all rounds, puts data in device memory (a THP and 4 KiB
# pages on dmirror0, coherent dmirror2, PCI hmm_p2p0), checks it is there,
# and closes its files with the eviction at close made to fail (injection),
# so the pages stay; then the plan removes both modules: the removal itself
# evicts them. A round is ok when: the pages were in device memory just
# before the unload, /sys/module/hmm_p2p/refcnt was 0 before rmmod hmm_p2p,
# both modules are gone, /proc/iomem is as before the first load, and the
# process finds every byte intact and nothing left in device memory.
#   reload: kernel=K cycles=N errors=E
#
# Part 2, hmmp2p.rebind=N cycles (default 20): unbind all hmm_p2p_pci
# devices and bind them again while a reader reads its buffer (on
# hmm_p2p1) through hmm_p2p0: correct data or ENODEV/ESRCH only, and it
# finishes. A cycle is ok when unbind and bind succeed and the nodes come
# back; a reader that saw wrong data or another error, or did not finish,
# counts one error more.
#   reload: kernel=K rebind_cycles=N errors=E
#
# On a kernel with kmemleak, a scan at the end must report nothing (init
# scans again after the plan).

BIN=$BINDIR/hmm_p2p_reload
WORK=/tmp/reload
K=$KERNEL_SERIES-$FLAVOR
knob() { sed -n "s/.*hmmp2p\.$1=\([0-9][0-9]*\).*/\1/p" /proc/cmdline; }
# 20 rounds on every kernel: a close evicts through the mirrored address
# spaces only and gives up on pages that do not move after a few passes
# (hmm_p2p_devmem_evict_mirrored()); a debug round takes about 4 s.
_r=20
ROUNDS=$(knob reload); ROUNDS=${ROUNDS:-$_r}
REBINDS=$(knob rebind); REBINDS=${REBINDS:-20}
rm -rf "$WORK"; mkdir -p "$WORK"
# small devices (16 MiB chunks): quicker to register, and the eviction at
# close, which gives up after about a hundred passes over the used chunks,
# costs less (PCI chunks are 128 MiB whatever the size)
SMALL="private_mb=16 spm_size=0x1000000"

# the plan shell and its checks must survive anything the tests do
echo -1000 > /proc/self/oom_score_adj

# wait_for FILE PID: until FILE exists (0), or PID is gone / 120 s pass (1)
wait_for() {
	_n=0
	while [ ! -e "$1" ]; do
		kill -0 "$2" 2>/dev/null || [ -e "$1" ] || { say "process $2 exited early"; return 1; }
		_n=$((_n + 1))
		[ "$_n" -le 1200 ] || { say "no $1 after 120 s"; return 1; }
		sleep 0.1
	done
}
refcnt() { cat /sys/module/hmm_p2p/refcnt 2>/dev/null || echo none; }

is_loaded hmm_p2p || is_loaded hmm_p2p_test && unload_ours
cat /proc/iomem > "$WORK/iomem.0"

# ---- part 1: unload with live pages ----
"$BIN" hold "$WORK" "$ROUNDS" > "$WORK/hold.log" 2>&1 &
HOLD=$!
errors=0
t0=$(date +%s)
r=1
while [ "$r" -le "$ROUNDS" ]; do
	why=""
	# shellcheck disable=SC2086
	if ! load_ours $SMALL > "$WORK/load.log" 2>&1; then
		why="load failed: $(cat "$WORK/load.log")"
	fi
	touch "$WORK/load.$r"
	if ! wait_for "$WORK/ready.$r" "$HOLD"; then
		say "reload: round $r: the process gave no ready.$r"
		errors=$((errors + 1))
		break
	fi
	grep -q '^ok=1' "$WORK/ready.$r" || why="$why setup: $(cat "$WORK/ready.$r")"
	rmmod hmm_p2p_test || why="$why rmmod hmm_p2p_test failed;"
	rc=$(refcnt)
	[ "$rc" = 0 ] || why="$why hmm_p2p refcnt $rc before its rmmod;"
	rmmod hmm_p2p || why="$why rmmod hmm_p2p failed;"
	{ is_loaded hmm_p2p || is_loaded hmm_p2p_test; } && why="$why a module is still loaded;"
	cat /proc/iomem > "$WORK/iomem.$r"
	cmp -s "$WORK/iomem.0" "$WORK/iomem.$r" ||
		why="$why /proc/iomem differs: $(diff "$WORK/iomem.0" "$WORK/iomem.$r" | grep '^[-+][^-+]' | tr '\n' ' ')"
	touch "$WORK/unloaded.$r"
	if ! wait_for "$WORK/done.$r" "$HOLD"; then
		say "reload: round $r: the process gave no done.$r"
		errors=$((errors + 1))
		break
	fi
	grep -q '^ok=1' "$WORK/done.$r" || why="$why after unload: $(cat "$WORK/done.$r")"
	if [ -n "$why" ]; then
		errors=$((errors + 1))
		say "reload: round $r broke a rule:$why"
	elif [ "$r" = 1 ] || [ "$r" = "$ROUNDS" ]; then
		say "reload: round $r ok: before the unload:$(sed 's/^ok=1//' "$WORK/ready.$r")"
	fi
	r=$((r + 1))
done
cycles=$((r - 1))
wait "$HOLD"
hrc=$?
sed 's/^/    /' "$WORK/hold.log"
[ "$cycles" = "$ROUNDS" ] || errors=$((errors + ROUNDS - cycles))
say "reload: $cycles rounds in $(( $(date +%s) - t0 )) s"
echo "reload: kernel=$K cycles=$cycles errors=$errors"
check "reload: $ROUNDS unloads with live device pages, every rule kept" \
	test "$errors" = 0 -a "$hrc" = 0 -a "$cycles" = "$ROUNDS"

# ---- part 2: unbind/rebind under a reader ----
check "reload: load for the rebind cycles" load_ours
DRV=/sys/bus/pci/drivers/hmm_p2p_pci
bdfs=$(cd "$DRV" 2>/dev/null && ls -d 0000:* 2>/dev/null)
nodes_back() {
	_n=0
	while [ "$_n" -lt 50 ]; do
		[ -c /dev/hmm_p2p0 ] && [ -c /dev/hmm_p2p1 ] && return 0
		sleep 0.1; _n=$((_n + 1))
	done
	return 1
}
errors=0
if [ -z "$bdfs" ]; then
	skip "reload: rebind cycles" "no device bound to hmm_p2p_pci"
else
	say "reload: PCI devices: $(echo "$bdfs" | tr "\n" " ")"
	rm -f "$WORK/stop"
	"$BIN" reader "$WORK" > "$WORK/reader.log" 2>&1 &
	READER=$!
	sleep 1
	t0=$(date +%s)
	c=1
	while [ "$c" -le "$REBINDS" ]; do
		why=""
		for b in $bdfs; do
			echo "$b" > "$DRV/unbind" || why="$why unbind $b failed;"
		done
		for b in $bdfs; do
			echo "$b" > "$DRV/bind" || why="$why bind $b failed;"
		done
		nodes_back || why="$why /dev/hmm_p2p0,1 not back;"
		# let the reader find the devices again
		sleep 0.2
		[ -z "$why" ] || { errors=$((errors + 1)); say "reload: rebind cycle $c:$why"; }
		c=$((c + 1))
	done
	sleep 0.5
	touch "$WORK/stop"
	_n=0
	while kill -0 "$READER" 2>/dev/null && [ "$_n" -lt 300 ]; do
		sleep 0.1; _n=$((_n + 1))
	done
	if kill -0 "$READER" 2>/dev/null; then
		say "reload: the reader did not finish within 30 s"
		kill -9 "$READER"
		errors=$((errors + 1))
	fi
	wait "$READER"
	rrc=$?
	sed 's/^/    /' "$WORK/reader.log"
	[ "$rrc" = 0 ] || { say "reader exit status $rrc"; errors=$((errors + 1)); }
	say "reload: $REBINDS rebind cycles in $(( $(date +%s) - t0 )) s"
	echo "reload: kernel=$K rebind_cycles=$((c - 1)) errors=$errors"
	check "reload: $REBINDS unbind/rebind cycles under a reader" test "$errors" = 0
fi
check "reload: unload after the rebind cycles" unload_ours
check "reload: /proc/iomem as before the first load" cmp -s "$WORK/iomem.0" /proc/iomem

KL=/sys/kernel/debug/kmemleak
if [ -e "$KL" ]; then
	echo scan > "$KL"; echo scan > "$KL"
	check "reload: kmemleak reports no unreferenced object" sh -c "! grep -q 'unreferenced object' $KL"
fi
