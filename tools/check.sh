#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run test plans on several kernels and sum them up: the engine of make check.
#
# usage: tools/check.sh [--configs "7.3-normal 7.3-debug 6.12-normal"] [--plans "ours compat"]
#
#   --configs  kernel-flavor pairs (default: all three; with $KDIR set, only
#              $KERNEL-$FLAVOR, since one tree is one kernel)
#   --plans    plans to run (default: ours, or smoke while selftests/plans/ours.sh
#              does not exist, compat, p2p, defects, fuzz, stress, reload, pressure,
#              iouring, rxe (7.3 only; 6.12 skips it), sample (the sample
#              driver, docs/driver-guide.md), trace (the tracepoints and
#              debugfs), swiotlb (which boots with swiotlb=force), and drm
#              (the DRM front end, tools/hmm-drm through libdrm). The
#              debug flavor skips swiotlb (a boot of its own for one DMA
#              policy) and runs compat without the hmm-tests cases that
#              cannot finish in their compiled-in 30 s there
#              (selftests/plans/compat.sh).
#              p2p runs once per P2P topology: on 7.3-normal with the default
#              CPU (qemu64: the lone device has no P2P path), with -cpu EPYC
#              (a host-bridge path) and with -cpu EPYC plus intel-iommu;
#              elsewhere with the default CPU only.
#
# Every run is a tools/vm-run.sh; the counts are the guest's (a run that
# fails without a failed test, e.g. a splat or a timeout, adds one failure).
# On each config the plans that boot the default machine with no kernel
# argument of their own share one boot (vm-run.sh --plan A,B,...), judged
# plan by plan: each has its own console log, allowlist and row; on the
# debug kernel the kmemleak check after them has a row of its own. The
# others (p2p's CPU variants, swiotlb) boot alone. The debug config runs in
# the background next to the others (CHECK_SERIAL=1: one after the other).
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
plans=${PLANS:-$ours compat p2p defects fuzz stress reload pressure iouring rxe sample trace swiotlb drm}

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

# batchable PLAN VARIANT: may the plan share a boot with others? Those that
# need a machine or a kernel argument of their own boot alone.
batchable() {
	[ "$2" = - ] && [ "$1" != swiotlb ]
}

# run_config CONFIG ROWS: every plan on one config; each plan's table row goes
# to the file ROWS. The plans a config boots with the default machine run in
# one boot (tools/vm-run.sh --plan A,B,...: each still judged on its own
# part of the console, with its own allowlist), the others alone.
run_config() {
	local c=$1 rows=$2 kernel flavor plan v vmargs name batch=() boots=() b parts p
	kernel=${c%-*} flavor=${c##*-}
	: > "$rows"
	for plan in $plans; do
		if [ "$flavor" = debug ] && [ "$plan" = upstream ]; then
			printf '%-12s %-18s %s\n' "$c" "$plan" "not run: the reference is judged on non-debug kernels only" >> "$rows"
			continue
		fi
		# a boot for one policy (swiotlb=force): what it checks is DMA
		# policy, not memory safety
		if [ "$flavor" = debug ] && [ "$plan" = swiotlb ]; then
			printf '%-12s %-18s %s\n' "$c" "$plan" "not run: a boot of its own for one policy, run on the non-debug kernels" >> "$rows"
			continue
		fi
		for v in $(variants "$c" "$plan"); do
			if batchable "$plan" "$v"; then batch+=("$plan"); else boots+=("$plan:$v"); fi
		done
	done
	[ ${#batch[@]} = 0 ] || boots=("$(IFS=,; echo "${batch[*]}"):-" ${boots[@]+"${boots[@]}"})
	for b in ${boots[@]+"${boots[@]}"}; do
		plan=${b%:*} v=${b##*:}
		vmargs=() name=$plan
		if [ "$v" != - ]; then
			vmargs=(--cpu "${v%+iommu}")
			[ "${v%+iommu}" = "$v" ] || vmargs+=(--iommu)
			name=$plan-${v/+/-}
		fi
		# plans that need a kernel argument of their own
		[ "$plan" = swiotlb ] && vmargs+=(--append swiotlb=force)
		echo "check: ==== $c: $(case $plan in *,*) echo plans;; *) echo plan;; esac) ${plan//,/, }${vmargs[*]:+ (${vmargs[*]})} ===="
		"$here/vm-run.sh" --quiet --kernel "$kernel" --flavor "$flavor" --plan "$plan" \
			${vmargs[@]+"${vmargs[@]}"} || true
		parts=${plan//,/ }
		# the batch's kmemleak check (debug kernels), or where it would be
		if [ "$flavor" = debug ]; then
			case $plan in *,*) parts="$parts kmemleak" ;; esac
		fi
		for p in $parts; do
			res=$logdir/$c-${name/#$plan/$p}.result
			if [ -f "$res" ]; then
				line=$(cat "$res")
			else
				# vm-run could not even boot (build failure, missing tool).
				line="HMMP2P-RUN run=$c-$p result=FAIL passed=0 failed=1 skipped=0 housekeeping=0 seconds=0"
			fi
			f() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
			[ "$(f result)" = PASS ] || [ "$(f failed)" != 0 ] || line=${line/failed=0/failed=1}
			printf '%-12s %-18s %-4s %4d passed %4d failed %4d skipped | %3d housekeeping %5ss%s\n' \
				"$c" "${name/#$plan/$p}" "$(f result)" "$(f passed)" "$(f failed)" "$(f skipped)" \
				"$(f housekeeping)" "$(f seconds)" "$( [ "$plan" = "$p" ] || echo " (in one boot)")" >> "$rows"
		done
	done
}

# The debug kernel's boot runs next to the others (it is the longest, and
# TCG guests leave a core idle a good part of the time); its console goes
# to a file and is shown at the end.
start=$(date +%s)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bg=() fg=() kds=()
for c in $configs; do
	case $c in *-normal|*-debug) ;; *) echo "check: config '$c' is not KERNEL-normal or KERNEL-debug" >&2; exit 2 ;; esac
	if [ "${c##*-}" = debug ] && [ "${CHECK_SERIAL:-0}" = 0 ] && [ "$configs" != "$c" ]; then
		bg+=("$c")
	else
		fg+=("$c")
	fi
done
# the tools of every config are built before the boots start (vm-run
# builds what it needs: two at once must not build the same thing)
for c in $configs; do
	kd=$("$here/build-kernel.sh" "${c%-*}" "${c##*-}")
	make -s -C "$top" modules KERNEL="${c%-*}" FLAVOR="${c##*-}" KDIR="$kd" >&2
	kds+=("$kd")
done
make -s -C "$top" selftests >&2
[ ! -f "$top/tools/hmm-bench/bench.mk" ] || make -s -C "$top" hmm-bench >&2
# (and the guest helpers the initramfs carries)
i=0
for c in $configs; do
	"$here/mkinitramfs.sh" --kdir "${kds[$i]}" --modules "${OUT:-$top/out}/$c/modules" \
		--out "${OUT:-$top/out}/initramfs/$c.cpio.gz" 2>/dev/null
	i=$((i + 1))
done
# The debug config's boot is the longest: it starts first, before the host
# checks (they work in their own temporary trees and overlays).
pids=()
for c in ${bg[@]+"${bg[@]}"}; do
	echo "check: $c runs in the background (its console: $logdir/$c-*.log; its output at the end)"
	run_config "$c" "$tmp/rows-$c" > "$tmp/out-$c" 2>&1 &
	pids+=($!)
done
# The host-side checks (no VM): DKMS, the in-tree build, the kselftest
# shape, the ABI reference (tools/check-host.sh), before the other boots
# start. CHECK_HOST=0 leaves them out.
: > "$tmp/rows-host"
if [ "${CHECK_HOST:-1}" != 0 ] && [ -x "$here/check-host.sh" ]; then
	echo "check: ==== host: DKMS, in-tree, kselftest, ABI reference (tools/check-host.sh) ===="
	"$here/check-host.sh" | tee "$tmp/out-host" || true
	sed -n 's/^\(not \)\{0,1\}ok [0-9]* \([^ ]*\) (\([0-9]*\) s)$/\1 \2 \3/p' "$tmp/out-host" |
		while read -r a b c; do
			if [ -z "$c" ]; then
				printf '%-12s %-18s PASS %4d passed %4d failed %4d skipped | %3d housekeeping %5ss\n' \
					host "$a" 1 0 0 0 "$b"
			else
				printf '%-12s %-18s FAIL %4d passed %4d failed %4d skipped | %3d housekeeping %5ss\n' \
					host "$b" 0 1 0 0 "$c"
			fi
		done >> "$tmp/rows-host"
	# a check-host.sh that failed without a "not ok" line
	grep -q '^[0-9]* passed, 0 failed$' "$tmp/out-host" || grep -q '^not ok' "$tmp/out-host" ||
		printf '%-12s %-18s FAIL %4d passed %4d failed %4d skipped | %3d housekeeping %5ss\n' \
			host check-host.sh 0 1 0 0 0 >> "$tmp/rows-host"
fi
for c in ${fg[@]+"${fg[@]}"}; do
	run_config "$c" "$tmp/rows-$c"
done
for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" || true; done
for c in ${bg[@]+"${bg[@]}"}; do
	echo "check: ==== output of $c (background) ===="
	cat "$tmp/out-$c"
done

total_p=0 total_f=0 total_s=0 total_h=0
echo
echo "check: summary ($(( $(date +%s) - start )) s; logs in $logdir)"
for c in $configs host; do
	while IFS= read -r r; do
		echo "  $r"
		read -ra w <<<"$r"
		[ "${w[4]:-}" = passed ] || continue
		total_p=$((total_p + w[3])) total_f=$((total_f + w[5])) total_s=$((total_s + w[7]))
		total_h=$((total_h + w[10]))
	done < "$tmp/rows-$c"
done
echo "check: tests: $total_p passed, $total_f failed, $total_s skipped; housekeeping: $total_h setup steps passed (not tests)"
echo "$total_p passed, $total_f failed"
[ "$total_f" = 0 ]
