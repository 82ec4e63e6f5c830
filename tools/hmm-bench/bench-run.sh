#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: boot the 7.3 non-debug kernel once with the plan "bench", pull
# the hmm-bench JSON files (one per driver and round: upstream.1.json,
# ours.1.json, ...) out of the console log into $OUT/bench/, and print the
# comparison with the rounds' samples pooled (its last line is the summary).
# Then a second boot, with intel-iommu, for the plan "bench-mirror": the
# mirror-mapping benchmark (hmm-bench --mirror-map: per-page against
# two-step DMA mappings on a PCI test device behind the IOMMU); its lines
# ("two-step vs per-page: R.RRx" last) are printed before the comparison.
#
# usage: tools/hmm-bench/bench-run.sh [--timeout S] [--args ARGS] [--rounds N]
#                                     [--no-build] [--log LOG]
#   --timeout  VM time limit (default: vm-run.sh's for the plan, 900 s)
#   --args     hmm-bench arguments for every run instead of the plan's
#              (e.g. "--quick"; no '+' in them: it stands for a space)
#   --rounds   alternating rounds of upstream and ours (default: the plan's, 2)
#   --no-build passed to vm-run.sh: boot what is built
#   --log      skip the boots: extract from an existing console log (and
#              the mirror-map figures from --mirror-log LOG, if given)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${OUT:-$top/out}
bench=$out/bench
bin=$out/tools/hmm-bench
timeout='' args='' log='' nobuild='' rounds='' mlog=''

log() { echo "bench: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=$2; shift 2 ;;
	--args) args=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--no-build) nobuild=1; shift ;;
	--log) log=$2; shift 2 ;;
	--mirror-log) mlog=$2; shift 2 ;;
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
	append=''
	[ -n "$args" ] && append="hmmp2p.bench=${args// /+}"
	[ -n "$rounds" ] && append="$append${append:+ }hmmp2p.bench_rounds=$rounds"
	[ -n "$append" ] && vmargs+=(--append "$append")
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
	# The second boot: intel-iommu, the mirror-mapping benchmark.
	mvm=(--kernel 7.3 --flavor normal --plan bench-mirror --iommu --no-build)
	log "tools/vm-run.sh ${mvm[*]}"
	"$top/tools/vm-run.sh" "${mvm[@]}" 2>&1 | tee "$bench/vm-run-mirror.out"
	mrc=${PIPESTATUS[0]}
	mlog=$bench/vm-run-mirror.out
	if [ "$mrc" = 0 ]; then
		log "vm-run.sh bench-mirror: PASS"
	else
		log "vm-run.sh bench-mirror: FAIL (exit status $mrc, see above)"
		[ "$rc" = 0 ] && rc=$mrc
	fi
fi
[ -f "$log" ] || { log "no console log $log"; exit 2; }
cp "$log" "$bench/console.log" 2>/dev/null || true

when=$(date +%Y%m%d-%H%M%S)
rm -f "$bench"/upstream.json "$bench"/ours.json "$bench"/upstream.[0-9]*.json \
	"$bench"/ours.[0-9]*.json "$bench"/ours-fa1.[0-9]*.json "$bench"/ours-kept.[0-9]*.json
labels=$(tr -d '\r' < "$log" |
	sed -n 's/^HMMBENCH-JSON-END \(\(upstream\|ours\|ours-fa1\|ours-kept\)\.[0-9][0-9]*\)$/\1/p')
[ -n "$labels" ] || log "no complete JSON in $log"
up='' ours='' fa1='' kept=''
for label in $labels; do
	tr -d '\r' < "$log" | sed -n "s/^HMMBENCH-JSON $label //p" > "$bench/$label.json"
	[ -s "$bench/$label.json" ] || { rm -f "$bench/$label.json"; log "$label: the run wrote no JSON"; continue; }
	cp "$bench/$label.json" "$bench/$when-$label.json"
	case $label in
	upstream.*) up=$up${up:+,}$bench/$label.json ;;
	ours-fa1.*) fa1=$fa1${fa1:+,}$bench/$label.json ;;
	ours-kept.*) kept=$kept${kept:+,}$bench/$label.json ;;
	ours.*) ours=$ours${ours:+,}$bench/$label.json ;;
	esac
done
log "JSON: $bench/{upstream,ours}.N.json, one per round (copies: $bench/$when-*.json)"
# The ODP-style importer (ours only, hmm-bench --importer): its table and
# summary as the guest printed them, before the comparison.
tr -d '\r' < "$log" | grep -E '^importer( summary)?:' | tee "$bench/importer.txt" ||
	log "no importer figures in $log"
# The mirror-mapping benchmark (second boot, intel-iommu).
if [ -n "$mlog" ] && [ -f "$mlog" ]; then
	tr -d '\r' < "$mlog" | grep -E '^(mirror-map:|two-step vs per-page:)' |
		tee "$bench/mirror-map.txt" || log "no mirror-map figures in $mlog"
fi
# the variants: fault_around=1, then backing kept (an empty one: none)
if [ -n "$kept" ]; then
	"$bin" --compare "${up:-$bench/upstream.1.json}" "${ours:-$bench/ours.1.json}" "$fa1" "$kept"
else
	# shellcheck disable=SC2086 # $fa1: no argument when there is no variant
	"$bin" --compare "${up:-$bench/upstream.1.json}" "${ours:-$bench/ours.1.json}" $fa1
fi
crc=$?
[ "$rc" = 0 ] && rc=$crc
exit "$rc"
