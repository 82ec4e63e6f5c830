#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Put hmm-p2p into a kernel source tree, so that make menuconfig offers it
# (CONFIG_HMM_P2P, CONFIG_HMM_P2P_TEST_DEVICE, CONFIG_HMM_P2P_DRM) and the
# kernel builds it in tree, like any driver of its own.
#
# usage: tools/intree.sh [--selftests] KSRC [DIR]
#   KSRC  the kernel source tree (written to)
#   DIR   where the sources go, relative to KSRC (default drivers/misc/hmm_p2p);
#         its parent's Kconfig sources DIR/Kconfig and its parent's Makefile
#         descends into DIR when CONFIG_HMM_P2P is set
#   --selftests  also copy selftests/ to tools/testing/selftests/hmm_p2p
#         (tools/ksft-install.sh), to run with
#         make -C tools/testing/selftests TARGETS=hmm_p2p run_tests
#
# Running it again refreshes the sources and wires nothing twice. Then, for
# example: make menuconfig (Device Drivers > Misc devices > hmm-p2p), or
#   scripts/config -m HMM_P2P -m HMM_P2P_TEST_DEVICE && make olddefconfig
#   make drivers/misc/hmm_p2p/        (or: make modules)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
die() { echo "intree: $*" >&2; exit 1; }

selftests=0
if [ "${1:-}" = --selftests ]; then selftests=1; shift; fi
[ $# -ge 1 ] || die "usage: tools/intree.sh [--selftests] KSRC [DIR]"
ksrc=$1
dir=${2:-drivers/misc/hmm_p2p}
dir=${dir%/}
parent=$(dirname "$dir")
[ -f "$ksrc/Makefile" ] && [ -f "$ksrc/Kconfig" ] || die "$ksrc is not a kernel source tree"
[ -f "$ksrc/$parent/Kconfig" ] && [ -f "$ksrc/$parent/Makefile" ] ||
	die "$ksrc/$parent has no Kconfig and Makefile to wire $dir into"

# The sources: the top-level Kbuild and Kconfig, the modules, the uapi.
mkdir -p "$ksrc/$dir"
(cd "$top" && rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
	--exclude '*.mod*' --exclude modules.order --exclude Module.symvers \
	--relative Kbuild Kconfig hmm_p2p/Kbuild hmm_p2p/*.[ch] hmm_p2p/include \
	test_device/Kbuild test_device/*.[ch] samples/Kbuild samples/*.c test_drm/Kbuild test_drm/*.c \
	uapi "$ksrc/$dir/")

# Kconfig: before the parent's closing endmenu, if it has one, else at the end.
src_line="source \"$dir/Kconfig\""
if ! grep -qxF "$src_line" "$ksrc/$parent/Kconfig"; then
	if [ "$(grep -v '^[[:space:]]*$' "$ksrc/$parent/Kconfig" | tail -n1)" = endmenu ]; then
		last=$(grep -n '^endmenu' "$ksrc/$parent/Kconfig" | tail -n1 | cut -d: -f1)
		sed -i "${last}i $src_line" "$ksrc/$parent/Kconfig"
	else
		printf '%s\n' "$src_line" >> "$ksrc/$parent/Kconfig"
	fi
fi
mk_line="obj-\$(CONFIG_HMM_P2P) += $(basename "$dir")/"
grep -qxF "$mk_line" "$ksrc/$parent/Makefile" || printf '%s\n' "$mk_line" >> "$ksrc/$parent/Makefile"

echo "intree: hmm-p2p in $ksrc/$dir ($parent/Kconfig and $parent/Makefile wired)"
if [ "$selftests" = 1 ]; then
	"$here/ksft-install.sh" "$ksrc"
fi
