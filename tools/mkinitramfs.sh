#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest's initramfs: busybox-static, the guest init, the plans, the
# modules for the booted kernel and the static test binaries.
#
# usage: tools/mkinitramfs.sh --modules DIR --out FILE [--kdir KDIR] [--bin FILE]...
#            [--dynbin FILE]...
#
#   /init            tools/guest/init
#   /bin/busybox     the host's busybox (must be static: busybox-static)
#   /bin/debug-exit  tools/guest/debug-exit.c, built static (the verdict)
#   /bin/hmm-demo    tools/guest/hmm-demo.c, built static (make demo)
#   /bin/hmm-tests   upstream's suite from KDIR (built by build-kernel.sh)
#   /bin/*           every executable in out/selftests/ and out/tools/, and --bin FILEs
#   /modules/*.ko    every module in --modules DIR
#   /modules/kdir/   the kernel's own modules some plans need (KDIR_MODULES
#                    below, from KDIR, with what modinfo says they depend on),
#                    when KDIR has them; kdir/order lists them in load order,
#                    kdir/NAME.deps each one's direct dependencies
#   /plans/          selftests/plans/*.sh and tools/guest/lib.sh
#
# Dynamic binaries: every executable in out/selftests-dynamic/, the host's
# rdma tool (iproute2) and --dynbin FILEs go to /bin with what ldd resolves
# for them, at the host's paths, and the loader. A binary linked against
# libibverbs also gets the providers in IBV_PROVIDERS (default rxe): the
# provider library, which libibverbs dlopens (ldd does not list it), with
# its own libraries, and its /etc/libibverbs.d/NAME.driver file.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out_dir=${OUT:-$top/out}
moddir='' out='' kdir='' extra=() dynextra=()

log() { echo "mkinitramfs: $*" >&2; }
die() { log "$*"; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--modules) moddir=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--kdir) kdir=$2; shift 2 ;;
	--bin) extra+=("$2"); shift 2 ;;
	--dynbin) dynextra+=("$2"); shift 2 ;;
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

# add_file SRC: SRC at its own path in the stage (the file, not a symlink).
add_file() {
	[ -e "$stage$1" ] && return 0
	mkdir -p "$stage$(dirname "$1")"
	cp -L "$1" "$stage$1"
}

# add_libs FILE: the loader FILE asks for and every library ldd resolves.
add_libs() {
	local interp lib
	interp=$(readelf -l "$1" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	[ -z "$interp" ] || add_file "$interp"
	while read -r lib; do
		add_file "$lib"
	done < <(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
}

# add_dynbin FILE: a dynamic binary in /bin, with its libraries (and
# libibverbs' providers).
dyn_names=()
add_dynbin() {
	local p drv lib deps ibv pattern
	[ -f "$1" ] || die "no such binary $1"
	cp "$1" "$stage/bin/"
	add_libs "$1"
	dyn_names+=("$(basename "$1")")
	deps=$(ldd "$1")
	ibv=$(awk '$1 ~ /^libibverbs\.so/ { print $3 }' <<<"$deps")
	[ -n "$ibv" ] || return 0
	# where libibverbs dlopens providers from (its built-in pattern)
	pattern=$(grep -m1 -ao '/[[:graph:]]*/lib%s-rdmav[0-9]*\.so' "$ibv" || true)
	[ -n "$pattern" ] || die "$ibv: no provider path pattern in it"
	for p in ${IBV_PROVIDERS:-rxe}; do
		drv=/etc/libibverbs.d/$p.driver
		# shellcheck disable=SC2059 # the pattern is libibverbs' own format
		lib=$(printf "$pattern" "$p")
		[ -f "$drv" ] && [ -f "$lib" ] ||
			die "no libibverbs provider '$p' ($drv, $lib): make deps installs ibverbs-providers"
		add_file "$drv"
		add_file "$lib"
		add_libs "$lib"
	done
}

dynbins=()
if [ -d "$out_dir/selftests-dynamic" ]; then
	while IFS= read -r f; do dynbins+=("$f"); done < <(find "$out_dir/selftests-dynamic" -maxdepth 1 -type f -perm -u+x | sort)
fi
rdma=$(command -v rdma || true)
[ -n "$rdma" ] && dynbins+=("$rdma")
dynbins+=(${dynextra[@]+"${dynextra[@]}"})
for b in ${dynbins[@]+"${dynbins[@]}"}; do
	add_dynbin "$b"
done

# The kernel's own modules (when KDIR built them: rdma.config), with their
# dependencies first, in load order.
KDIR_MODULES="ib_core ib_uverbs rdma_rxe dummy drm"
kmods=()
# kmod_path NAME: KDIR's NAME.ko (modules.order lists what it built), or "".
kmod_path() {
	local o
	o=$(awk -v n="$1" '{ b = $0; sub(/.*\//, "", b); sub(/\.(k)?o$/, "", b)
		if (b == n) { print; exit } }' "$kdir/modules.order" 2>/dev/null)
	[ -n "$o" ] && [ -f "$kdir/${o%.*}.ko" ] && echo "$kdir/${o%.*}.ko"
	return 0
}
add_kmod() {
	local name=$1 path dep k
	for k in ${kmods[@]+"${kmods[@]}"}; do [ "$k" = "$name" ] && return 0; done
	path=$(kmod_path "$name")
	[ -n "$path" ] || die "$name.ko, a dependency, is not in $kdir/modules.order"
	for dep in $(modinfo -F depends "$path" | tr ',' ' '); do
		add_kmod "$dep"
	done
	mkdir -p "$stage/modules/kdir"
	cp "$path" "$stage/modules/kdir/"
	# its direct dependencies, for lib.sh's kmod_load
	modinfo -F depends "$path" | tr ',' ' ' > "$stage/modules/kdir/$name.deps"
	kmods+=("$name")
	basename "$path" .ko >> "$stage/modules/kdir/order"
}
if [ -n "$kdir" ]; then
	for m in $KDIR_MODULES; do
		[ -z "$(kmod_path "$m")" ] || add_kmod "$m"
	done
fi

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
log "$out ($(du -k "$out" | cut -f1) KiB): modules: ${mods[*]}; kernel's: ${kmods[*]:-none}; binaries: ${names[*]:-none}; dynamic: ${dyn_names[*]:-none}; plans: $(cd "$stage/plans" && ls *.sh | sed 's/\.sh$//' | grep -vx lib | tr '\n' ' ')"
