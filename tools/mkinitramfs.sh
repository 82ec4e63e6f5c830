#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest's initramfs: busybox-static, the guest init, the plans, the
# modules for the booted kernel and the static test binaries.
#
# usage: tools/mkinitramfs.sh --modules DIR --out FILE [--kdir KDIR] [--bin FILE]...
#
#   /init            tools/guest/init
#   /bin/busybox     the host's busybox (must be static: busybox-static)
#   /bin/debug-exit  tools/guest/debug-exit.c, built static (the verdict)
#   /bin/hmm-demo    tools/guest/hmm-demo.c, built static (make demo)
#   /bin/hmm-tests   upstream's suite from KDIR (built by build-kernel.sh)
#   /bin/*           every executable in out/selftests/ and out/tools/, and --bin FILEs
#   /modules/*.ko    every module in --modules DIR
#   /plans/          selftests/plans/*.sh and tools/guest/lib.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out_dir=${OUT:-$top/out}
moddir='' out='' kdir='' extra=()

log() { echo "mkinitramfs: $*" >&2; }
die() { log "$*"; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--modules) moddir=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--kdir) kdir=$2; shift 2 ;;
	--bin) extra+=("$2"); shift 2 ;;
	*) die "unknown argument '$1' (see the header of $0)" ;;
	esac
done
[ -n "$moddir" ] && [ -n "$out" ] || die "usage: $0 --modules DIR --out FILE [--kdir KDIR] [--bin FILE]..."
[ -d "$moddir" ] || die "no module directory $moddir (run make modules)"

is_static() { ! readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; }

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (make deps installs busybox-static)"
is_static "$busybox" || die "$busybox is dynamically linked: install busybox-static (make deps)"

# The guest helpers (the verdict, the demo), rebuilt when their source changes.
helpers=()
for h in debug-exit hmm-demo; do
	src=$here/guest/$h.c bin=$out_dir/guest/$h
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] || [ "$top/uapi/hmm_p2p_test.h" -nt "$bin" ]; then
		mkdir -p "$out_dir/guest"
		gcc -static -O2 -Wall -I "$top/uapi" -o "$bin" "$src" ||
			die "cannot build $bin (static glibc: libc6-dev)"
	fi
	helpers+=("$bin")
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,modules,plans,root}
cp "$here/guest/init" "$stage/init"
cp "$busybox" "$stage/bin/busybox"
cp "${helpers[@]}" "$stage/bin/"
chmod 0755 "$stage/init" "$stage/bin/"*

bins=()
if [ -n "$kdir" ]; then
	if [ -x "$kdir/hmm-tests" ]; then bins+=("$kdir/hmm-tests")
	else log "warning: no $kdir/hmm-tests: the upstream suite will be missing"; fi
fi
for d in "$out_dir/selftests" "$out_dir/tools"; do
	[ -d "$d" ] || continue
	while IFS= read -r f; do bins+=("$f"); done < <(find "$d" -maxdepth 1 -type f -perm -u+x | sort)
done
bins+=(${extra[@]+"${extra[@]}"})
names=()
for b in ${bins[@]+"${bins[@]}"}; do
	[ -f "$b" ] || die "no such binary $b"
	is_static "$b" || log "warning: $b is dynamically linked and will not run in the guest"
	cp "$b" "$stage/bin/"
	names+=("$(basename "$b")")
done

mods=()
for m in "$moddir"/*.ko; do
	[ -f "$m" ] || continue
	cp "$m" "$stage/modules/"
	mods+=("$(basename "$m")")
done
[ ${#mods[@]} -gt 0 ] || die "no modules in $moddir"

cp "$here/guest/lib.sh" "$stage/plans/lib.sh"
for p in "$top"/selftests/plans/*.sh; do
	[ -f "$p" ] && cp "$p" "$stage/plans/"
done

# /dev/console for init's stdio before devtmpfs is mounted. Without root the
# kernel's built-in initramfs (which has one) provides it.
[ "$(id -u)" = 0 ] && mknod -m 600 "$stage/dev/console" c 5 1

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
log "$out ($(du -k "$out" | cut -f1) KiB): modules: ${mods[*]}; binaries: ${names[*]:-none}; plans: $(cd "$stage/plans" && ls *.sh | sed 's/\.sh$//' | grep -vx lib | tr '\n' ' ')"
