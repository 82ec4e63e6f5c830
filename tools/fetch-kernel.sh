#!/usr/bin/env bash
# Fetch Debian's linux-source-<series> tarball without touching the system's
# apt sources: a private apt configuration is built under the cache, using
# the mirror URIs the system already uses, and several suites are searched.
#
# usage: tools/fetch-kernel.sh SERIES      (e.g. 7.3 or 6.12)
# prints the path of the unpacked source tree on stdout.
set -euo pipefail

series=${1:?usage: fetch-kernel.sh SERIES}
cache=${HMM_P2P_CACHE:-$HOME/.cache/hmm-p2p}
src_root=$cache/src
aptdir=$cache/apt
mkdir -p "$src_root" "$aptdir"

log() { echo "fetch-kernel: $*" >&2; }

# Already unpacked?
existing=$(find "$src_root" -maxdepth 1 -type d -name "linux-source-$series" 2>/dev/null | head -n1)
if [ -n "$existing" ] && [ -f "$existing/Makefile" ]; then
	echo "$existing"
	exit 0
fi

# 1. The system's own package (bookworm-security carries 6.12).
deb=""
if apt-cache show "linux-source-$series" >/dev/null 2>&1; then
	log "linux-source-$series is in the system's suites"
	(cd "$aptdir" && apt-get download "linux-source-$series" >&2) && \
		deb=$(ls -t "$aptdir"/linux-source-"$series"_*.deb 2>/dev/null | head -n1)
fi

# 2. A private apt configuration with newer suites.
if [ -z "$deb" ]; then
	mirror=$( (grep -rhoE '^(URIs:|deb)[[:space:]]+[^ ]+' /etc/apt/sources.list \
		/etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null || true) |
		awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
	[ -n "$mirror" ] || { log "no Debian mirror found in the system's apt sources"; exit 1; }
	mkdir -p "$aptdir/sources.list.d" "$aptdir/state/lists/partial" \
		"$aptdir/cache/archives/partial"
	cat > "$aptdir/sources.list.d/hmm-p2p.sources" <<SRC
Types: deb
URIs: $mirror
Suites: trixie-backports sid experimental trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	opts=(-o Dir::Etc::sourcelist=/dev/null
	      -o Dir::Etc::sourceparts="$aptdir/sources.list.d"
	      -o Dir::State="$aptdir/state" -o Dir::Cache="$aptdir/cache"
	      -o Dir::State::status=/var/lib/dpkg/status
	      -o APT::Architecture=amd64 -o Acquire::Languages=none)
	log "updating private apt lists from $mirror"
	apt-get "${opts[@]}" -qq update >&2 || log "warning: apt update reported errors"
	if apt-cache "${opts[@]}" show "linux-source-$series" >/dev/null 2>&1; then
		(cd "$aptdir" && apt-get "${opts[@]}" download "linux-source-$series" >&2)
		deb=$(ls -t "$aptdir"/linux-source-"$series"_*.deb 2>/dev/null | head -n1)
	else
		avail=$(apt-cache "${opts[@]}" pkgnames linux-source- 2>/dev/null | sort -V | tr '\n' ' ')
		log "linux-source-$series is in none of the suites searched"
		log "available series: ${avail:-none}"
		exit 1
	fi
fi
[ -n "$deb" ] || { log "download of linux-source-$series failed"; exit 1; }

log "unpacking $deb"
tmp=$(mktemp -d "$src_root/.unpack.XXXXXX")
dpkg-deb -x "$deb" "$tmp"
tarball=$(find "$tmp/usr/src" -maxdepth 1 -name 'linux-source-*.tar.*' | head -n1)
[ -n "$tarball" ] || { log "no tarball in $deb"; rm -rf "$tmp"; exit 1; }
tar -xf "$tarball" -C "$tmp"
dir=$(find "$tmp" -maxdepth 1 -type d -name 'linux-source-*' | head -n1)
rm -rf "${src_root:?}/linux-source-$series"
mv "$dir" "$src_root/linux-source-$series"
rm -rf "$tmp"
echo "$src_root/linux-source-$series"
