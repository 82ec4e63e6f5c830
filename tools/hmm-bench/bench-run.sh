#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: boot the 7.3 non-debug kernel once with the plan "bench", pull
# both hmm-bench JSON files out of the console log into $OUT/bench/, and
# print the comparison (its last line is the summary).
#
# usage: tools/hmm-bench/bench-run.sh [--timeout S] [--args ARGS] [--log LOG]
#   --timeout  VM time limit (default: vm-run.sh's for the plan, 900 s)
#   --args     hmm-bench arguments for both runs instead of the plan's
#              (e.g. "--quick"; no '+' in them: it stands for a space)
#   --no-build passed to vm-run.sh: boot what is built
#   --log      skip the boot: extract from an existing console log
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${OUT:-$top/out}
bench=$out/bench
bin=$out/tools/hmm-bench
timeout='' args='' log='' nobuild=''

log() { echo "bench: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=$2; shift 2 ;;
	--args) args=$2; shift 2 ;;
	--no-build) nobuild=1; shift ;;
	--log) log=$2; shift 2 ;;
	*) log "unknown argument '$1'"; exit 2 ;;
	esac
done
[ -x "$bin" ] || { log "no $bin (make hmm-bench)"; exit 2; }
mkdir -p "$bench"

rc=0
if [ -z "$log" ]; then
	[ -x "$top/tools/vm-run.sh" ] || { log "no tools/vm-run.sh"; exit 2; }
	stamp=$(mktemp)
	vmargs=(--kernel 7.3 --flavor normal --plan bench)
	[ -n "$timeout" ] && vmargs+=(--timeout "$timeout")
	[ -n "$nobuild" ] && vmargs+=(--no-build)
	[ -n "$args" ] && vmargs+=(--append "hmmp2p.bench=${args// /+}")
	log "tools/vm-run.sh ${vmargs[*]}"
	"$top/tools/vm-run.sh" "${vmargs[@]}" 2>&1 | tee "$bench/vm-run.out"
	rc=${PIPESTATUS[0]}
	# The console log vm-run.sh keeps (written during this run), else its
	# own output, which echoes the console.
	log=$out/logs/7.3-normal-bench.log
	if [ ! -f "$log" ] || [ ! "$log" -nt "$stamp" ] ||
	   ! grep -q HMMBENCH-JSON-BEGIN "$log"; then
		log=$bench/vm-run.out
	fi
	rm -f "$stamp"
	if [ "$rc" = 0 ]; then
		log "vm-run.sh: PASS; console log $log"
	else
		log "vm-run.sh: FAIL (exit status $rc: a run failed, see above); console log $log"
	fi
fi
[ -f "$log" ] || { log "no console log $log"; exit 2; }
cp "$log" "$bench/console.log" 2>/dev/null || true

when=$(date +%Y%m%d-%H%M%S)
for label in upstream ours; do
	rm -f "$bench/$label.json"
	if ! grep -q "HMMBENCH-JSON-END $label" "$log"; then
		log "no complete $label JSON in $log"
		continue
	fi
	tr -d '\r' < "$log" | sed -n "s/^HMMBENCH-JSON $label //p" > "$bench/$label.json"
	[ -s "$bench/$label.json" ] || { rm -f "$bench/$label.json"; log "$label: the run wrote no JSON"; continue; }
	cp "$bench/$label.json" "$bench/$when-$label.json"
done
log "JSON: $bench/upstream.json $bench/ours.json (copies: $bench/$when-*.json)"
"$bin" --compare "$bench/upstream.json" "$bench/ours.json"
crc=$?
[ "$rc" = 0 ] && rc=$crc
exit "$rc"
