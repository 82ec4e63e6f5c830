#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build (or find in the cache) a test kernel with kernel patches applied,
# configured and built exactly as tools/build-kernel.sh builds the plain one.
#
# usage: tools/patched-kernel.sh [--series 7.3] [--flavor normal] [--dry-run|--tree-only] PATCH...
#
#   PATCH        git-format patches against the cached source tree, applied
#                in the order given with patch -p1
#   --dry-run    only check that the patches apply (patch --dry-run on the
#                plain tree) and print where the tree and the build would go
#   --tree-only  make the patched tree (if needed) and print its path; no build
#
# The plain tree (tools/fetch-kernel.sh) is never written to. The patched
# one is $HMM_P2P_CACHE/patched/<version>-<phash>/src/linux-source-<series>,
# <phash> a hash of the patches' contents: a hard-link copy of the plain
# tree, with real copies of the files the patches touch, and a
# localversion-hmmfix file (uname -r: <version>-hmmfix-<phash>-hmmp2p), so
# modules built for the plain kernel do not load on it and logs tell them
# apart. It is built by tools/build-kernel.sh itself (a copy of it and of
# tools/configs, next to a fetch-kernel.sh that names the patched tree), with
# HMM_P2P_CACHE=$HMM_P2P_CACHE/patched/<version>-<phash>, so the build lands
# in .../build/<version>-<flavor>-<config hash> and, like the plain kernel,
# is built once per configuration. Never edit files of the patched tree in
# place: most are shared with the plain tree. Prints the build directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${HMM_P2P_CACHE:-$HOME/.cache/hmm-p2p}
series=7.3 flavor=normal dry=0 tree_only=0 patches=()

log() { echo "patched-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--series) series=$2; shift 2 ;;
	--flavor) flavor=$2; shift 2 ;;
	--dry-run) dry=1; shift ;;
	--tree-only) tree_only=1; shift ;;
	-h|--help) sed -n '3,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option '$1' (try --help)" ;;
	*) patches+=("$(readlink -f "$1")"); shift ;;
	esac
done
[ ${#patches[@]} -gt 0 ] || die "no patch given (usage: $0 [--series S] [--flavor F] PATCH...)"
for p in "${patches[@]}"; do
	[ -f "$p" ] || die "no patch $p"
done
case $flavor in normal|debug) ;; *) die "unknown flavor '$flavor' (normal or debug)" ;; esac

src=$("$here/fetch-kernel.sh" "$series")
ver=$(make -s -C "$src" kernelversion 2>/dev/null)
[ -n "$ver" ] || die "cannot read the kernel version of $src"
phash=$(cat "${patches[@]}" | sha256sum | cut -c1-12)
root=$cache/patched/$ver-$phash
psrc=$root/src/linux-source-$series

# Files a patch touches (-p1), from its ---/+++ lines.
touched() {
	sed -n 's/^\(---\|+++\) \([^\t]*\).*/\2/p' "$@" | grep -v '^/dev/null$' |
		sed 's|^[^/]*/||' | sort -u
}

if [ "$dry" = 1 ]; then
	log "plain tree $src (Linux $ver), patches (hash $phash):"
	for p in "${patches[@]}"; do
		log "  $p"
		# each patch alone against the plain tree: a series that builds on
		# itself is only checked for real when the tree is made
		patch --dry-run -p1 -N -s -d "$src" < "$p" >&2 || die "$p does not apply to $src"
	done
	log "touches: $(touched "${patches[@]}" | tr '\n' ' ')"
	log "patched tree: $psrc$([ -f "$root/.src-done" ] && echo ' (exists)')"
	log "build: $root/build/$ver-$flavor-<config hash> (tools/build-kernel.sh)"
	exit 0
fi

# 1. The patched tree, once per patch set.
if [ ! -f "$root/.src-done" ]; then
	log "making the patched tree $psrc"
	rm -rf "$root/src"
	mkdir -p "$root/src"
	tmp=$psrc.tmp
	cp -al "$src" "$tmp" 2>/dev/null || { rm -rf "$tmp"; cp -a "$src" "$tmp"; }
	# break the links of the files the patches touch before patch sees them
	while IFS= read -r f; do
		if [ -e "$tmp/$f" ]; then
			cp --remove-destination "$src/$f" "$tmp/$f"
		fi
	done < <(touched "${patches[@]}")
	for p in "${patches[@]}"; do
		log "applying $(basename "$p")"
		patch -p1 -N -s -d "$tmp" < "$p" >&2 || die "$p does not apply (see above)"
	done
	echo "-hmmfix-$phash" > "$tmp/localversion-hmmfix"
	mv "$tmp" "$psrc"
	printf '%s\n' "${patches[@]}" > "$root/patches.txt"
	touch "$root/.src-done"
fi
if [ "$tree_only" = 1 ]; then
	echo "$psrc"
	exit 0
fi

# 2. Built by build-kernel.sh, pointed at the patched tree.
tools=$root/tools
rm -rf "$tools"
mkdir -p "$tools"
cp "$here/build-kernel.sh" "$tools/"
cp -a "$here/configs" "$tools/"
cat > "$tools/fetch-kernel.sh" <<EOF
#!/bin/sh
# the patched tree (written by tools/patched-kernel.sh)
echo "$psrc"
EOF
chmod +x "$tools/fetch-kernel.sh"
log "Linux $ver ($flavor) with $(basename -a "${patches[@]}" | tr '\n' ' ')"
HMM_P2P_CACHE=$root "$tools/build-kernel.sh" "$series" "$flavor"
