# SPDX-License-Identifier: GPL-2.0
# Plan "bench": hmm-bench on /dev/hmm_dmirror0 (device-private), upstream's
# test_hmm and ours in one boot, in rounds that alternate which driver goes
# first (upstream, ours; ours, upstream; ...), so that a slow spell of the
# host (TCG on a shared machine) weighs on both drivers alike. Ours runs
# with soft_perpage=1 for the comparison: a kernel page allocated per device
# page and freed with it, as upstream's driver does (a fair comparison of
# the migration paths); "ours-kept" is ours as deployed, the backing kept
# across free and reuse as a device's own memory would be. Every round's JSON file is printed
# between marker lines (every line prefixed, so the host can pull them out
# of the console log: tools/hmm-bench/bench-run.sh), then the comparison
# with the samples of all rounds pooled, whose last line is the summary
# ("ratio vs upstream: ...").
#
# Runs per round: 4 per size and mode (2, 8, 64, 256 MiB), 6 at 64 MiB, the
# size of the summary line; 2 rounds, so 8 and 12 runs per driver in all.
# hmm-bench runs on CPU 1 only (--cpu 1): its mm never runs on the other
# CPU, so no TLB shootdown IPI crosses vCPUs (costly and erratic under TCG),
# and the serial console's interrupts stay on CPU 0.
# Ours also times peer access (hmm-bench --peer, tools/hmm-bench/peer.c):
# ranges resident on /dev/hmm_p2p0 read by hmm_p2p1 (behind the same
# switch: P2P) and hmm_p2p2 (its own root port: no path on qemu64, so the
# driver migrates), each against migrating to system memory first.
# upstream's test_hmm has no peers; this part has no counterpart there.
# Then ours once more at 64 MiB with 4 KiB pages as "ours-fa1", with
# hmm_p2p.fault_around=1: one page per CPU fault, as upstream's driver does,
# so that the cost of one served fault compares directly (the default
# moves the aligned 64 KiB around a fault, and most touches do not fault).
# Then, once, ours only (test_hmm has no peers and no prefetch): the
# ODP-style importer (hmm-bench --importer, tools/hmm-bench/importer.c):
# single-page device READs by hmm_p2p1 (P2P) and hmm_p2p2 (migration on
# qemu64) of pages on hmm_p2p0, and by hmm_p2p1 of system pages, while
# another thread toggles the protection of a page of the range every 100 us
# and every 1 ms (fault p50/p99/max, the achieved rate, retries; a fault
# that waits out the 1 s HMM retry timeout fails it), and first touch with
# and without HMM_P2P_IOC_PREFETCH. It pins itself (reader and storm on CPU
# 1: no TLB shootdown IPIs). hmmp2p.bench_importer=ARGS replaces its storm
# arguments.
# On the kernel command line, hmmp2p.bench=ARGS (make bench
# BENCH_ARGS="--quick"; '+' stands for a space there) replaces the hmm-bench
# arguments, hmmp2p.bench_rounds=N (make bench BENCH_ROUNDS=N) the rounds.

BENCH_ARGS="--sizes 2,8,64:6,256 --runs 4 --cpu 1"
BENCH_ROUNDS=2
BENCH_PEER="--peer /dev/hmm_p2p0,/dev/hmm_p2p1,/dev/hmm_p2p2 --peer-sizes 8,64"
BENCH_IMPORTER="--storm-us 100,1000 --storm-secs 4"
# shellcheck disable=SC2013 # the command line is one line of words
for _arg in $(cat /proc/cmdline); do
	case $_arg in
	hmmp2p.bench=*) BENCH_ARGS=$(echo "${_arg#*=}" | tr + ' ') ;;
	hmmp2p.bench_rounds=*) BENCH_ROUNDS=${_arg#*=} ;;
	hmmp2p.bench_importer=*) BENCH_IMPORTER=$(echo "${_arg#*=}" | tr + ' ') ;;
	esac
done
case $BENCH_ROUNDS in
''|*[!0-9]*|0) BENCH_ROUNDS=1 ;;
esac
BENCH_DEV=/dev/hmm_dmirror0
FAULT_AROUND=/sys/module/hmm_p2p/parameters/fault_around

# set_fault_around N: hmm_p2p's pages per CPU fault, read back.
set_fault_around() {
	echo "$1" > "$FAULT_AROUND" && [ "$(cat "$FAULT_AROUND")" = "$1" ]
}
BENCH_OUT=/tmp/bench
mkdir -p "$BENCH_OUT"
rm -f "$BENCH_OUT"/*.json

# bench_driver LABEL ROUND [ARGS...]: run hmm-bench on the loaded driver,
# with BENCH_ARGS and ARGS; its JSON is LABEL.ROUND.json.
bench_driver() {
	_label=$1 _r=$2
	shift 2
	say "hmm-bench $_label, round $_r: $BENCH_ARGS $*"
	_t0=$(date +%s)
	# shellcheck disable=SC2086
	check "hmm-bench-$_label-$_r" "$BINDIR/hmm-bench" --dev "$BENCH_DEV" --label "$_label" \
		--json "$BENCH_OUT/$_label.$_r.json" $BENCH_ARGS "$@"
	_rc=$?
	say "hmm-bench $_label, round $_r: $(( $(date +%s) - _t0 )) s"
	return $_rc
}

# bench_json LABEL.ROUND: print that JSON file, every line prefixed.
bench_json() {
	echo "HMMBENCH-JSON-BEGIN $1"
	if [ -f "$BENCH_OUT/$1.json" ]; then
		sed "s/^/HMMBENCH-JSON $1 /" "$BENCH_OUT/$1.json"
	else
		say "no JSON from the $1 run"
	fi
	echo "HMMBENCH-JSON-END $1"
}

if [ ! -x "$BINDIR/hmm-bench" ]; then
	check hmm-bench-present false
	exit 1
fi
say "THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"

SOFT_PERPAGE=/sys/module/hmm_p2p_test/parameters/soft_perpage

# set_soft_perpage 0|1: the soft backend's mode, read back.
set_soft_perpage() {
	echo "$1" > "$SOFT_PERPAGE" || return 1
	case $1$(cat "$SOFT_PERPAGE") in
	1Y | 0N) return 0 ;;
	esac
	return 1
}

# bench_upstream ROUND: upstream's test_hmm, the reference.
bench_upstream() {
	if setup "load-upstream-$1" load_upstream; then
		if setup "upstream-nodes-$1" dmirror_nodes_present 4; then
			bench_driver upstream "$1"
		fi
		setup "unload-upstream-$1" unload_upstream
	fi
}

# bench_ours ROUND: ours as the summary counts it, with a kernel page
# allocated per device page and freed with it (soft_perpage=1), as
# upstream's driver does; then at 64 MiB with fault_around=1 (ours-fa1),
# and as deployed, backing kept across free and reuse (ours-kept).
bench_ours() {
	setup "load-ours-$1" load_ours soft_perpage=1 || return
	if setup "ours-nodes-$1" dmirror_nodes_present 1; then
		# shellcheck disable=SC2086
		if setup "ours-p2p-nodes-$1" test -c /dev/hmm_p2p2; then
			bench_driver ours "$1" $BENCH_PEER
		else
			bench_driver ours "$1"
		fi
		_fa=$(cat "$FAULT_AROUND")
		if setup "ours-fault-around-1-$1" set_fault_around 1; then
			bench_driver ours-fa1 "$1" --sizes 64:6 --modes 4k \
				--variant "hmm_p2p fault_around=1 (default $_fa)"
		fi
		setup "ours-fault-around-$_fa-$1" set_fault_around "$_fa"
		if setup "ours-soft-kept-$1" set_soft_perpage 0; then
			bench_driver ours-kept "$1" --sizes 64:6 \
				--variant "soft backing kept across free and reuse (soft_perpage=0)"
		fi
	fi
	setup "unload-ours-$1" unload_ours
}

# Rounds alternate which driver goes first: a slow spell of the host, or
# whatever the first driver leaves behind (page cache, fragmentation),
# weighs on both alike.
_up='' _ours='' _fa1='' _kept='' _round=1
while [ "$_round" -le "$BENCH_ROUNDS" ]; do
	if [ $((_round % 2)) = 1 ]; then
		bench_upstream "$_round"
		bench_ours "$_round"
	else
		bench_ours "$_round"
		bench_upstream "$_round"
	fi
	_up=$_up${_up:+,}$BENCH_OUT/upstream.$_round.json
	_ours=$_ours${_ours:+,}$BENCH_OUT/ours.$_round.json
	_fa1=$_fa1${_fa1:+,}$BENCH_OUT/ours-fa1.$_round.json
	_kept=$_kept${_kept:+,}$BENCH_OUT/ours-kept.$_round.json
	_round=$((_round + 1))
done

# The importer, once.
if setup "load-ours-importer" load_ours; then
	if setup "ours-p2p-nodes-importer" test -c /dev/hmm_p2p2; then
		say "hmm-bench importer: $BENCH_IMPORTER"
		_t0=$(date +%s)
		# shellcheck disable=SC2086
		check "hmm-bench-importer" "$BINDIR/hmm-bench" \
			--importer /dev/hmm_p2p0,/dev/hmm_p2p1,/dev/hmm_p2p2 $BENCH_IMPORTER
		say "hmm-bench importer: $(( $(date +%s) - _t0 )) s"
	fi
	setup "unload-ours-importer" unload_ours
fi

_round=1
while [ "$_round" -le "$BENCH_ROUNDS" ]; do
	bench_json "upstream.$_round"
	bench_json "ours.$_round"
	bench_json "ours-fa1.$_round"
	bench_json "ours-kept.$_round"
	_round=$((_round + 1))
done
"$BINDIR/hmm-bench" --compare "$_up" "$_ours" "$_fa1" "$_kept"
# The comparison reports; the checks above count.
true
