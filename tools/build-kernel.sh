#!/usr/bin/env bash
# Build (or find in the cache) a test kernel for hmm-p2p.
#
# usage: tools/build-kernel.sh SERIES [FLAVOR]
#   SERIES  7.3 (default) or 6.12
#   FLAVOR  normal (default) or debug
#
# The kernel is configured from tinyconfig, the kernel's own
# tools/testing/selftests/mm/config and the fragments in tools/configs/,
# built out of tree under $HMM_P2P_CACHE/build/<version>-<flavor>-<hash>,
# where <hash> covers the fragments and the build recipe. A finished build is
# never rebuilt. Besides bzImage and test_hmm.ko the directory holds the
# upstream hmm-tests, built static from the same tree, and is a valid KDIR
# for building our modules. Prints the build directory on stdout.
#
# The kernel's build output goes to <build directory>/build.log; the
# terminal gets progress instead: on a TTY one live line (elapsed time,
# files compiled, objects linked), else (CI, a log) a line a minute. A
# failed build shows the log's last lines.
set -euo pipefail

series=${1:-7.3}
flavor=${2:-normal}
here=$(cd "$(dirname "$0")" && pwd)
cache=${HMM_P2P_CACHE:-$HOME/.cache/hmm-p2p}
jobs=${JOBS:-$(($(nproc) + 1))}

log() { echo "build-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

case $flavor in normal|debug) ;; *) die "unknown flavor '$flavor' (normal or debug)";; esac

src=$("$here/fetch-kernel.sh" "$series")
ver=$(make -s -C "$src" kernelversion 2>/dev/null)
[ -n "$ver" ] || die "cannot read the kernel version of $src"

frags=("$here/configs/base.config")
[ "$series" = 6.12 ] || frags+=("$here/configs/rdma.config")
[ "$flavor" = debug ] && frags+=("$here/configs/debug.config")
mmcfg=$src/tools/testing/selftests/mm/config

# Bump RECIPE when a change to this script changes what a build produces;
# other edits to the script keep the cached kernels.
RECIPE=1
hash=$( (echo "recipe $RECIPE"; cat "$mmcfg" "${frags[@]}") | sha256sum | cut -c1-12)
out=$cache/build/$ver-$flavor-$hash
if [ -f "$out/.hmm-p2p-done" ]; then
	log "cached: $out"
	echo "$out"
	exit 0
fi

log "building Linux $ver ($flavor) in $out with -j$jobs"
start=$(date +%s)
mkdir -p "$out"
blog=$out/build.log
: > "$blog"

# progress WHAT: read kbuild's output and show how far it is: on a TTY a
# line rewritten every second (a quiet link step too), else a line a minute.
progress() {
	local line cc=0 ld=0 now last=0 every=60 el tty=0 msg rc
	[ -t 2 ] && { tty=1; every=1; }
	while :; do
		# (a line cut by the timeout counts as two: only the count suffers)
		if IFS= read -r -t 1 line; then
			case $line in
			"  CC "*) cc=$((cc + 1)) ;;	# also "  CC [M]  "
			"  LD "*) ld=$((ld + 1)) ;;
			esac
		else
			rc=$?
			[ "$rc" -gt 128 ] || break	# end of the output, not a timeout
		fi
		printf -v now '%(%s)T' -1
		[ $((now - last)) -ge "$every" ] || continue
		last=$now
		el=$((now - start))
		msg=$(printf 'building Linux %s (%s): %dm%02ds, %d files compiled, %d linked' \
			"$ver" "$flavor" $((el / 60)) $((el % 60)) "$cc" "$ld")
		if [ "$tty" = 1 ]; then
			printf '\rbuild-kernel: %s\033[K' "$msg" >&2
		else
			log "$msg"
		fi
	done
	[ "$tty" = 0 ] || printf '\n' >&2
	log "$1: $cc files compiled, $ld linked in $(($(date +%s) - start)) s (output: $blog)"
}

# kbuild TARGET...: make TARGET... in the build directory, with progress.
kbuild() {
	if ! make -C "$src" O="$out" -j"$jobs" "$@" 2>&1 | tee -a "$blog" | progress "$*"; then
		log "make $* failed; the last lines of $blog:"
		tail -n 40 "$blog" >&2
		exit 1
	fi
}
make -s -C "$src" O="$out" tinyconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$mmcfg" "${frags[@]}" >/dev/null
make -s -C "$src" O="$out" olddefconfig >&2

# Every option a fragment asks for must be in the final configuration.
missing=0
for f in "${frags[@]}"; do
	while IFS= read -r line; do
		case $line in
		CONFIG_*=n) opt=${line%%=*}
			if grep -q "^$opt=[ym]" "$out/.config"; then
				log "config: $opt is set but $f asks for n"; missing=1
			fi ;;
		CONFIG_*=*)
			if ! grep -qx -- "$line" "$out/.config"; then
				log "config: '$line' from $(basename "$f") did not survive olddefconfig"
				missing=1
			fi ;;
		esac
	done < "$f"
done
[ "$missing" = 0 ] || die "configuration incomplete (see above)"

kbuild bzImage modules
make -s -C "$src" O="$out" headers_install >&2

# The upstream reference: hmm-tests, static, from the same tree.
mmdir=$src/tools/testing/selftests/mm
helpers=("$mmdir/vm_util.c")
for h in hugepage_settings.c thp_settings.c; do
	[ -f "$mmdir/$h" ] && helpers+=("$mmdir/$h")
done
gcc -static -Wall -O2 -U_FORTIFY_SOURCE -no-pie \
	-I "$src" -isystem "$out/usr/include" -I "$src/tools/include" \
	-I "$src/tools/testing/selftests" \
	-o "$out/hmm-tests" "$mmdir/hmm-tests.c" "${helpers[@]}" \
	-lrt -lpthread -lm >&2

# Module build needs only the object tree; keep it, drop nothing.
touch "$out/.hmm-p2p-done"
log "built Linux $ver ($flavor) in $(( $(date +%s) - start )) s"
echo "$out"
