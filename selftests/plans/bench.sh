# SPDX-License-Identifier: GPL-2.0
# Plan "bench": hmm-bench on /dev/hmm_dmirror0 (device-private), first on
# upstream's test_hmm, then on ours, in one boot; both JSON files are printed
# between marker lines (every line prefixed, so the host can pull them out of
# the console log: tools/hmm-bench/bench-run.sh), then the comparison, whose
# last line is the summary ("ratio vs upstream: ...").
#
# Runs: 7 per size and mode (2, 8, 64, 256 MiB), 11 at 64 MiB, the size of
# the summary line; upstream takes about 2 min under TCG. hmmp2p.bench=ARGS
# on the kernel command line (make bench BENCH_ARGS="--quick"; '+' stands for
# a space there) replaces the hmm-bench arguments.

BENCH_ARGS="--sizes 2,8,64:11,256 --runs 7"
# shellcheck disable=SC2013 # the command line is one line of words
for _arg in $(cat /proc/cmdline); do
	case $_arg in
	hmmp2p.bench=*) BENCH_ARGS=$(echo "${_arg#*=}" | tr + ' ') ;;
	esac
done
BENCH_DEV=/dev/hmm_dmirror0
BENCH_OUT=/tmp/bench
mkdir -p "$BENCH_OUT"
rm -f "$BENCH_OUT"/*.json

# bench_driver LABEL: run hmm-bench on the loaded driver.
bench_driver() {
	say "hmm-bench $1: $BENCH_ARGS"
	_t0=$(date +%s)
	# shellcheck disable=SC2086
	check "hmm-bench-$1" "$BINDIR/hmm-bench" --dev "$BENCH_DEV" --label "$1" \
		--json "$BENCH_OUT/$1.json" $BENCH_ARGS
	_rc=$?
	say "hmm-bench $1: $(( $(date +%s) - _t0 )) s"
	return $_rc
}

# bench_json LABEL: print the JSON of LABEL, every line prefixed.
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

# Upstream's test_hmm, the reference.
if check load-upstream load_upstream; then
	if check upstream-nodes dmirror_nodes_present 4; then
		bench_driver upstream
	fi
	check unload-upstream unload_upstream
fi

# Ours.
if check load-ours load_ours; then
	if check ours-nodes dmirror_nodes_present 1; then
		bench_driver ours
	fi
	check unload-ours unload_ours
fi

bench_json upstream
bench_json ours
"$BINDIR/hmm-bench" --compare "$BENCH_OUT/upstream.json" "$BENCH_OUT/ours.json"
# The comparison reports; the checks above count.
true
