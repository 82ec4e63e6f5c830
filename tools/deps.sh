#!/usr/bin/env bash
# Install the Debian packages hmm-p2p needs, only those missing, and print
# the versions of the tools found. Runs as root or through sudo.
set -euo pipefail

pkgs=(build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils kmod
      rsync python3 busybox-static qemu-system-x86 sparse dwarves gzip
      libc6-dev
      libibverbs-dev ibverbs-providers iproute2 dkms libdrm-dev)
# libibverbs-dev, ibverbs-providers: selftests/rxe_odp.c (dynamic, with
# libibverbs and its rxe provider, carried into the guest); iproute2: the
# rdma tool that adds the soft-RoCE device in the guest (plan rxe); dkms:
# make check-dkms builds the modules with it (private trees only);
# libdrm-dev: tools/hmm-drm, linked statically against its libdrm.a.
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
fi

echo "deps: $(qemu-system-x86_64 --version | head -n1)"
echo "deps: $(gcc --version | head -n1)"
echo "deps: $(ld --version | head -n1)"
echo "deps: $(make --version | head -n1)"
echo "deps: busybox $(busybox 2>/dev/null | head -n1 | awk '{print $2}')"
