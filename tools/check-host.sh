#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host-side checks, no VM: how users build hmm-p2p outside the project.
#
# usage: tools/check-host.sh [dkms] [intree] [kselftest] [docs]   (default: all)
#
#   dkms       dkms add/build/install (dkms.conf, make dkms-install) against
#              the 7.3 and 6.12 build trees, with private --dkmstree,
#              --sourcetree and --installtree in a temporary directory, and
#              a tree without CONFIG_DEVICE_PRIVATE skipped with dkms's
#              BUILD_EXCLUSIVE message; nothing written to /var/lib/dkms,
#              /usr/src or /lib/modules (checked)
#   intree     tools/intree.sh into an overlay of the cached 7.3 source and
#              build trees, in a mount namespace of its own (the cache is
#              never written): the options appear (listnewconfig, .config)
#              and drivers/misc/hmm_p2p builds in tree, .ko files included
#   kselftest  selftests/ copied (tools/ksft-install.sh) into an overlay of
#              the 7.3 source tree and built there with
#              make -C tools/testing/selftests TARGETS=hmm_p2p
#   docs       docs/abi.md against uapi/hmm_p2p_test.h, docs/drm-abi.md against
#              uapi/hmm_p2p_drm.h (tools/gen-abi-doc.py
#              --check)
#
# Prints "ok N name (S s)" or "not ok N name (S s)" per check (a failure
# quotes the end of its log, out/logs/host-NAME.log), then the plain line
# "N passed, N failed". Exit status 0 only when nothing failed. Needs root
# (mounts; dkms's package) for dkms and intree.
set -uo pipefail
# $flags: dkms options, one word each
# shellcheck disable=SC2086

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
logdir=${OUT:-$top/out}/logs
mkdir -p "$logdir"
tmp=$(mktemp -d /tmp/hmm-p2p-host.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

n=0 passed=0 failed=0
# t NAME CMD...: one check, its output in out/logs/host-NAME.log.
t() {
	local name=$1 log=$logdir/host-$1.log start rc
	shift
	n=$((n + 1))
	start=$(date +%s)
	"$@" > "$log" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		passed=$((passed + 1))
		echo "ok $n $name ($(( $(date +%s) - start )) s)"
	else
		failed=$((failed + 1))
		echo "not ok $n $name ($(( $(date +%s) - start )) s, exit $rc; $log)"
		tail -n 15 "$log" | sed 's/^/#   /'
	fi
}
say() { echo "check-host: $*"; }
fail() { echo "check-host: FAIL: $*"; return 1; }

# tree SERIES: the cached build tree of SERIES (built on first use).
tree() { "$here/build-kernel.sh" "$1" normal 2>/dev/null; }
kver() { make -s -C "$1" kernelversion 2>/dev/null; }

# What dkms and the kernel build must leave alone.
system_state() {
	{ find /var/lib/dkms /usr/src /lib/modules -maxdepth 3 2>/dev/null || true; } | sort
}

# --- dkms -------------------------------------------------------------------

# dkms_tree SERIES: make dkms-install for SERIES's build tree, private trees.
dkms_tree() {
	local b v d=$tmp/dkms-$1 flags
	b=$(tree "$1") || fail "no $1 build tree" || return 1
	v=$(sed -n 's/^CONFIG_LOCALVERSION="\(.*\)"$/\1/p' "$b/.config")
	v=$(cat "$b/include/config/kernel.release" 2>/dev/null || echo "$(kver "$b")$v")
	say "kernel $v, tree $b"
	mkdir -p "$d/source" "$d/dkms" "$d/install/$v"
	flags="--dkmstree $d/dkms --sourcetree $d/source --installtree $d/install --kernelsourcedir $b --no-depmod"
	system_state > "$d/before"
	make -C "$top" --no-print-directory dkms-install DKMS_KVER="$v" \
		DKMS_SOURCETREE="$d/source" DKMS_FLAGS="$flags" || fail "make dkms-install" || return 1
	dkms status -m hmm_p2p $flags | tee "$d/status"
	grep -q "$v, .*: installed" "$d/status" || fail "dkms status does not say installed" || return 1
	# the DRM front end too: both test kernels have CONFIG_DRM=m
	for m in hmm_p2p hmm_p2p_test hmm_p2p_drm; do
		f=$d/install/$v/updates/dkms/$m.ko
		[ -f "$f" ] || fail "no $f" || return 1
		modinfo -F vermagic "$f" | grep -q "^$v " || fail "$m.ko: vermagic $(modinfo -F vermagic "$f"), not $v" || return 1
	done
	modinfo -F depends "$d/install/$v/updates/dkms/hmm_p2p_test.ko" | grep -qx hmm_p2p ||
		fail "hmm_p2p_test.ko does not depend on hmm_p2p" || return 1
	make -C "$top" --no-print-directory dkms-uninstall DKMS_SOURCETREE="$d/source" DKMS_FLAGS="$flags" ||
		fail "make dkms-uninstall" || return 1
	[ ! -e "$d/install/$v/updates/dkms/hmm_p2p.ko" ] || fail "dkms remove left hmm_p2p.ko" || return 1
	system_state | diff "$d/before" - || fail "the system's dkms, /usr/src or /lib/modules changed" || return 1
	say "built, installed and removed for $v in private trees; system untouched"
}

# dkms_skip: a kernel without CONFIG_DEVICE_PRIVATE (Debian's) is skipped by
# BUILD_EXCLUSIVE_CONFIG with dkms's message, and make dkms-install says so
# and succeeds (a kernel upgrade's autoinstall goes on the same way: 77).
dkms_skip() {
	local b d=$tmp/dkms-skip fake flags rc=0 opt
	b=$(tree 7.3) || fail "no 7.3 build tree" || return 1
	fake=$d/kernel
	mkdir -p "$d/source" "$d/dkms" "$d/install/0.0.0-nodp" "$fake/include"
	grep -v '^CONFIG_DEVICE_PRIVATE=' "$b/.config" > "$fake/.config"
	flags="--dkmstree $d/dkms --sourcetree $d/source --installtree $d/install --kernelsourcedir $fake --no-depmod"
	make -C "$top" --no-print-directory dkms-src DKMS_SOURCETREE="$d/source"
	dkms add -m hmm_p2p -v "$(dkms_version)" $flags
	dkms build -m hmm_p2p -v "$(dkms_version)" -k 0.0.0-nodp $flags > "$d/out" 2>&1 || rc=$?
	cat "$d/out"
	[ "$rc" = 77 ] || fail "dkms build exited $rc, not 77 (skipped)" || return 1
	grep -q "BUILD_EXCLUSIVE directive which does not match" "$d/out" || fail "no BUILD_EXCLUSIVE message" || return 1
	make -C "$top" --no-print-directory dkms-install DKMS_KVER=0.0.0-nodp \
		DKMS_SOURCETREE="$d/source" DKMS_FLAGS="$flags" > "$d/make" 2>&1 || { cat "$d/make"; fail "make dkms-install failed on a skipped kernel"; return 1; }
	cat "$d/make"
	grep -q "lacks an option of BUILD_EXCLUSIVE_CONFIG" "$d/make" || fail "make dkms-install did not say it skipped" || return 1
	# Every "depends on" of Kconfig must be in BUILD_EXCLUSIVE_CONFIG.
	for opt in $(sed -n 's/^[[:space:]]*depends on //p' "$top/Kconfig" | tr -c 'A-Z0-9_\n' ' '); do
		# our own options; DRM: only hmm_p2p_drm.ko needs it (dkms.conf adds it then)
		case $opt in HMM_P2P|HMM_P2P_TEST_DEVICE|DRM) continue ;; esac
		grep -q "^BUILD_EXCLUSIVE_CONFIG=.*CONFIG_${opt}[ \"]" "$top/dkms.conf" ||
			fail "Kconfig depends on $opt, dkms.conf's BUILD_EXCLUSIVE_CONFIG lacks CONFIG_$opt" || return 1
	done
}
dkms_version() { sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/dkms.conf"; }

# --- in tree ------------------------------------------------------------------

# overlay_run SRC BUILD SCRIPT: run SCRIPT (bash) in a mount namespace of its
# own where SRC (and BUILD, unless -) are overlays whose writes go to $tmp.
overlay_run() {
	local s=$1 b=$2 script=$3 o=$tmp/ovl-$RANDOM
	mkdir -p "$o/su" "$o/sw" "$o/bu" "$o/bw"
	{
		echo "set -euo pipefail"
		echo "mount -t overlay overlay -o lowerdir='$s',upperdir='$o/su',workdir='$o/sw' '$s'"
		[ "$b" = - ] || echo "mount -t overlay overlay -o lowerdir='$b',upperdir='$o/bu',workdir='$o/bw' '$b'"
		cat "$script"
	} > "$o/run.sh"
	unshare -m --propagation private bash "$o/run.sh"
}

intree() {
	local b s
	b=$(tree 7.3) || fail "no 7.3 build tree" || return 1
	s=$(readlink -f "$b/source")
	[ -f "$s/Makefile" ] || fail "no source tree for $b" || return 1
	system_state > "$tmp/intree-before"
	(cd "$s" && find . -newer "$b/.hmm-p2p-done" -print -quit) > "$tmp/intree-src-newer"
	cat > "$tmp/intree.sh" <<-EOS
	S='$s' B='$b' TOP='$top'
	"\$TOP/tools/intree.sh" "\$S"
	echo "listnewconfig:"
	make -s -C "\$S" O="\$B" listnewconfig | tee /dev/stderr | grep -qx 'CONFIG_HMM_P2P=n'
	"\$S/scripts/config" --file "\$B/.config" -m HMM_P2P -m HMM_P2P_TEST_DEVICE -m HMM_P2P_DRM
	make -s -C "\$S" O="\$B" olddefconfig
	grep -x 'CONFIG_HMM_P2P=m' "\$B/.config"
	grep -x 'CONFIG_HMM_P2P_TEST_DEVICE=m' "\$B/.config"
	grep -x 'CONFIG_HMM_P2P_DRM=m' "\$B/.config"
	j=-j\$((\$(nproc) + 1))
	make -C "\$S" O="\$B" \$j drivers/misc/hmm_p2p/
	# single modules' modpost knows only the listed modules' symbols:
	# hmm_p2p_drm.ko's DRM ones come with drm.ko (and what drm.ko needs)
	make -C "\$S" O="\$B" \$j drivers/misc/hmm_p2p/hmm_p2p/hmm_p2p.ko \
		drivers/misc/hmm_p2p/test_device/hmm_p2p_test.ko drivers/misc/hmm_p2p/test_drm/hmm_p2p_drm.ko \
		drivers/gpu/drm/drm.ko drivers/gpu/drm/drm_panel_orientation_quirks.ko drivers/i2c/i2c-core.ko
	for m in hmm_p2p/hmm_p2p test_device/hmm_p2p_test test_drm/hmm_p2p_drm; do
		f=\$B/drivers/misc/hmm_p2p/\$m.ko
		modinfo "\$f" | grep -E '^(name|intree|depends|vermagic):'
		[ "\$(modinfo -F intree "\$f")" = Y ] || { echo "\$f: not built in tree"; exit 1; }
	done
	EOS
	overlay_run "$s" "$b" "$tmp/intree.sh" || fail "in-tree build" || return 1
	[ ! -e "$s/drivers/misc/hmm_p2p" ] && [ ! -e "$b/drivers/misc/hmm_p2p" ] &&
		! grep -q hmm_p2p "$s/drivers/misc/Kconfig" "$b/.config" ||
		fail "the cached tree was written to" || return 1
	system_state | diff "$tmp/intree-before" - || fail "the system's /usr/src or /lib/modules changed" || return 1
	say "in-tree build of drivers/misc/hmm_p2p passed; cached trees untouched"
}

# --- kselftest ----------------------------------------------------------------

# selftests/ as a kselftest target of the 7.3 source tree (an overlay):
# built and installed with the kernel's selftests Makefile, static as the
# project's VMs need them, against the build tree's installed headers.
kselftest() {
	local b s inst=$tmp/ksft-install
	b=$(tree 7.3) || fail "no 7.3 build tree" || return 1
	s=$(readlink -f "$b/source")
	cat > "$tmp/ksft.sh" <<-EOS
	S='$s' B='$b' TOP='$top' INST='$inst'
	"\$TOP/tools/ksft-install.sh" "\$S"
	make -C "\$S/tools/testing/selftests" TARGETS=hmm_p2p \
		KHDR_INCLUDES="-isystem \$B/usr/include" LDFLAGS=-static -j\$((\$(nproc) + 1))
	make -C "\$S/tools/testing/selftests" TARGETS=hmm_p2p \
		KHDR_INCLUDES="-isystem \$B/usr/include" LDFLAGS=-static INSTALL_PATH="\$INST" install
	EOS
	overlay_run "$s" - "$tmp/ksft.sh" || fail "kselftest build" || return 1
	cat "$inst/kselftest-list.txt"
	grep -qx 'hmm_p2p:run_hmm_p2p.sh' "$inst/kselftest-list.txt" ||
		fail "kselftest-list.txt has no hmm_p2p:run_hmm_p2p.sh" || return 1
	for p in hmm_p2p_tests hmm_p2p_defects p2p_tests hmm_p2p_fuzz hmm_thp_subrange \
		hmm_p2p_holder hmm_p2p_pin hmm_p2p_pressure hmm_p2p_reload run_hmm_p2p.sh; do
		[ -x "$inst/hmm_p2p/$p" ] || fail "not installed: hmm_p2p/$p" || return 1
	done
	file "$inst/hmm_p2p/hmm_p2p_tests" | grep -q 'statically linked' ||
		fail "hmm_p2p_tests is not static" || return 1
	"$inst/hmm_p2p/hmm_p2p_tests" -l > "$tmp/ksft-list" 2>&1 || true	# -l exits 1
	grep -q enomem_chunk_grow "$tmp/ksft-list" || fail "hmm_p2p_tests -l lists no enomem_chunk_grow" || return 1
	[ ! -e "$s/tools/testing/selftests/hmm_p2p" ] || fail "the cached source tree was written to" || return 1
	say "selftests built and installed as kselftest target hmm_p2p of $s (overlay)"
}

# --- docs -------------------------------------------------------------------

# docs/abi.md and docs/drm-abi.md match their headers, and the check fails
# on a header with one ioctl more or one struct field more (it can fail).
docs_check() {
	local h=$tmp/abi-h
	"$here/gen-abi-doc.py" --check || return 1
	sed 's|^#define HMM_P2P_IOC_DMA\t|#define HMM_P2P_IOC_NEW _IOW('"'H'"', 0x7f, struct hmm_p2p_info)\n&|' \
		"$top/uapi/hmm_p2p_test.h" > "$h.1"
	grep -q HMM_P2P_IOC_NEW "$h.1" || fail "test header not made" || return 1
	! "$here/gen-abi-doc.py" --check "$h.1" >/dev/null || fail "no failure on a new ioctl" || return 1
	sed 's|^\t__u64 cpages;$|&\n\t__u64 newfield;|' "$top/uapi/hmm_p2p_test.h" > "$h.2"
	grep -q newfield "$h.2" || fail "test header not made" || return 1
	! "$here/gen-abi-doc.py" --check "$h.2" >/dev/null || fail "no failure on a new field" || return 1
	# the DRM front end's header (DRM_IOWR(DRM_COMMAND_BASE + n, ...)) and docs/drm-abi.md
	sed 's|^#define DRM_HMM_P2P_NR\t|#define DRM_HMM_P2P_NEW\t0x10\n#define DRM_IOCTL_HMM_P2P_NEW DRM_IOW(DRM_COMMAND_BASE + DRM_HMM_P2P_NEW, struct drm_hmm_p2p_unbind)\n&|' \
		"$top/uapi/hmm_p2p_drm.h" > "$h.3"
	grep -q DRM_IOCTL_HMM_P2P_NEW "$h.3" || fail "DRM test header not made" || return 1
	! "$here/gen-abi-doc.py" --check "$h.3" "$top/docs/drm-abi.md" >/dev/null ||
		fail "no failure on a new DRM ioctl" || return 1
	say "docs/abi.md and docs/drm-abi.md match; a new ioctl or field in a header fails the check"
}

# --- main ---------------------------------------------------------------------

what=${*:-dkms intree kselftest docs}
for w in $what; do
	case $w in
	dkms)
		command -v dkms >/dev/null || "$here/deps.sh" >/dev/null
		t dkms-7.3 dkms_tree 7.3
		t dkms-6.12 dkms_tree 6.12
		t dkms-skip-no-device-private dkms_skip ;;
	intree) t intree-7.3 intree ;;
	kselftest) t kselftest-7.3 kselftest ;;
	docs) t docs-abi docs_check ;;
	*) echo "check-host: unknown check '$w'" >&2; exit 2 ;;
	esac
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
