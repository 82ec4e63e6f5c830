#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run test plans on several kernels and sum them up: the engine of make check.
#
# usage: tools/check.sh [--configs "7.3-normal 7.3-debug 6.12-normal"] [--plans "ours compat"]
#
#   --configs  kernel-flavor pairs (default: all three; with $KDIR set, only
#              $KERNEL-$FLAVOR, since one tree is one kernel)
#   --plans    plans to run (default: ours, or smoke while selftests/plans/ours.sh
#              does not exist, compat, p2p, defects, fuzz, reload, pressure,
#              iouring, and swiotlb, which boots with swiotlb=force). The
#              debug flavor skips iouring and swiotlb (one-test boots) and
#              pressure (a policy test: what dies under a memcg limit), and
#              runs compat without the hmm-tests cases that cannot finish in
#              their compiled-in 30 s there (selftests/plans/compat.sh).
#              p2p runs once per P2P topology: on 7.3-normal with the default
#              CPU (qemu64: the lone device has no P2P path), with -cpu EPYC
#              (a host-bridge path) and with -cpu EPYC plus intel-iommu;
#              elsewhere with the default CPU only.
#
# Every run is a tools/vm-run.sh; the counts are the guest's (a run that
# fails without a failed test, e.g. a splat or a timeout, adds one failure).
# Prints a table (tests passed, failed and skipped; housekeeping: setup steps
# such as loading the modules, not tests) and, last, the plain line
# "N passed, N failed": tests passed, and failures of any kind. Exit status
# 0 only when nothing failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
logdir=${OUT:-$top/out}/logs

ours=smoke
[ -f "$top/selftests/plans/ours.sh" ] && ours=ours
if [ -n "${KDIR:-}" ]; then
	configs=${CONFIGS:-${KERNEL:-7.3}-${FLAVOR:-normal}}
else
	configs=${CONFIGS:-7.3-normal 7.3-debug 6.12-normal}
fi
plans=${PLANS:-$ours compat p2p defects fuzz reload pressure iouring swiotlb}

# VM variants of a plan on a config: "-" is the default machine, else
# CPU[+iommu]. Only p2p depends on the topology.
variants() {
	if [ "$2" = p2p ] && [ "$1" = 7.3-normal ]; then
		echo "- EPYC EPYC+iommu"
	else
		echo "-"
	fi
}
while [ $# -gt 0 ]; do
	case $1 in
	--configs) configs=$2; shift 2 ;;
	--plans) plans=$2; shift 2 ;;
	*) echo "check: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

total_p=0 total_f=0 total_s=0 total_h=0
rows=()
start=$(date +%s)
for c in $configs; do
	kernel=${c%-*} flavor=${c##*-}
	case $c in *-normal|*-debug) ;; *) echo "check: config '$c' is not KERNEL-normal or KERNEL-debug" >&2; exit 2 ;; esac
	for plan in $plans; do
		if [ "$flavor" = debug ] && [ "$plan" = upstream ]; then
			rows+=("$(printf '%-12s %-18s %s' "$c" "$plan" "not run: the reference is judged on non-debug kernels only")")
			continue
		fi
		# one-test boots: what they check is lifetime and DMA policy, not
		# memory safety; a debug boot costs a minute each (warm make check
		# must stay under 15 minutes)
		if [ "$flavor" = debug ] && { [ "$plan" = iouring ] || [ "$plan" = swiotlb ] ||
			[ "$plan" = pressure ]; }; then
			rows+=("$(printf '%-12s %-18s %s' "$c" "$plan" "not run: a boot for one policy, run on the non-debug kernels")")
			continue
		fi
		for v in $(variants "$c" "$plan"); do
			vmargs=() name=$plan
			if [ "$v" != - ]; then
				vmargs=(--cpu "${v%+iommu}")
				[ "${v%+iommu}" = "$v" ] || vmargs+=(--iommu)
				name=$plan-${v/+/-}
			fi
			# plans that need a kernel argument of their own
			[ "$plan" = swiotlb ] && vmargs+=(--append swiotlb=force)
			echo "check: ==== $c: plan $plan${vmargs[*]:+ (${vmargs[*]})} ===="
			rc=0
			"$here/vm-run.sh" --quiet --kernel "$kernel" --flavor "$flavor" --plan "$plan" \
				${vmargs[@]+"${vmargs[@]}"} || rc=$?
			res=$logdir/$c-$name.result
			if [ -f "$res" ]; then
				line=$(cat "$res")
			else
				# vm-run could not even boot (build failure, missing tool).
				line="HMMP2P-RUN run=$c-$name result=FAIL passed=0 failed=1 skipped=0 housekeeping=0 seconds=0"
			fi
			f() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
			p=$(f passed) fl=$(f failed) s=$(f skipped) h=$(f housekeeping)
			h=${h:-0}
			[ "$rc" = 0 ] || [ "$fl" != 0 ] || fl=1
			total_p=$((total_p + p)) total_f=$((total_f + fl)) total_s=$((total_s + s))
			total_h=$((total_h + h))
			rows+=("$(printf '%-12s %-18s %-4s %4d passed %4d failed %4d skipped | %3d housekeeping %5ss' \
				"$c" "$name" "$(f result)" "$p" "$fl" "$s" "$h" "$(f seconds)")")
		done
	done
done

echo
echo "check: summary ($(( $(date +%s) - start )) s; logs in $logdir)"
for r in "${rows[@]}"; do echo "  $r"; done
echo "check: tests: $total_p passed, $total_f failed, $total_s skipped; housekeeping: $total_h setup steps passed (not tests)"
echo "$total_p passed, $total_f failed"
[ "$total_f" = 0 ]
