# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=dash
# hmm-p2p test plan library: sourced by the guest's /init and by every plan
# (selftests/plans/README.md describes the interface). POSIX sh, busybox ash.
#
# Guest shell: busybox ash (POSIX sh plus 'local').
# Counters live in files under $HMMP2P_STATE, so a plan may run in its own
# shell (sh /plans/NAME.sh) and still add to the totals that /init reports.

[ -n "${HMMP2P_LIB_LOADED:-}" ] && return 0
HMMP2P_LIB_LOADED=1

: "${MODDIR:=/modules}"
: "${BINDIR:=/bin}"
: "${HMMP2P_STATE:=/tmp/hmmp2p}"
# Coherent memory the runner reserves (memmap=1G$0x180000000): 512 MiB each
# for upstream test_hmm's two coherent devices (dmirror 2 and 3).
: "${SPM_ADDR_DEV0:=0x180000000}"
: "${SPM_ADDR_DEV1:=0x1a0000000}"
export MODDIR BINDIR HMMP2P_STATE SPM_ADDR_DEV0 SPM_ADDR_DEV1
mkdir -p "$HMMP2P_STATE"

say() { echo "hmmp2p: $*"; }

# _add COUNTER N: add N to a counter file (passed, failed, skipped,
# housekeeping, ntest).
_add() {
	_libv=$(cat "$HMMP2P_STATE/$1" 2>/dev/null || echo 0)
	echo $((_libv + $2)) > "$HMMP2P_STATE/$1"
}
_get() { cat "$HMMP2P_STATE/$1" 2>/dev/null || echo 0; }

# _tapno: the next test number for check/skip lines.
_tapno() { _add ntest 1; _get ntest; }

# check NAME CMD...: one test, ok when CMD exits 0. CMD's output is shown.
check() {
	local _libname _librc
	_libname=$1; shift
	"$@"
	_librc=$?
	if [ "$_librc" = 0 ]; then
		echo "ok $(_tapno) $_libname"
		_add passed 1
		return 0
	fi
	echo "not ok $(_tapno) $_libname (exit $_librc: $*)"
	_add failed 1
	return 1
}

# setup NAME CMD...: a housekeeping step (load or unload the modules, check
# that the device nodes exist...), not a test: ok when CMD exits 0, and then
# counted as housekeeping, not as a passed test. A failed step is a failure
# like any other.
setup() {
	local _libname _librc
	_libname=$1; shift
	"$@"
	_librc=$?
	if [ "$_librc" = 0 ]; then
		echo "ok $(_tapno) $_libname # setup"
		_add housekeeping 1
		return 0
	fi
	echo "not ok $(_tapno) $_libname # setup (exit $_librc: $*)"
	_add failed 1
	return 1
}

# skip NAME REASON: a test that cannot run here.
skip() {
	echo "ok $(_tapno) $1 # SKIP $2"
	_add skipped 1
}

# run_tap [--expect N] NAME CMD...: run a kselftest binary, show its TAP,
# and add its "# Totals:" line (pass+xfail, fail+xpass+error, skip) to the
# plan's totals. A binary that dies without totals, or exits non-zero with no
# failure in its totals, counts one failure; so does one that ran no test at
# all (a filter that matched nothing), or, with --expect N (or
# RUN_TAP_EXPECT=N), ran other than N tests (skipped ones ran). With
# RUN_TAP_COUNT=0 the totals are printed but not counted (a reference run);
# a wrong number of tests still counts its one failure.
run_tap() {
	local _libname _libout _libt0 _librc _libsecs _libtot _libp _libf _libs _libx _libexp _libn _libbad
	_libexp=${RUN_TAP_EXPECT:-}
	if [ "$1" = --expect ]; then
		_libexp=$2; shift 2
	fi
	case $_libexp in
	''|*[!0-9]*) [ -z "$_libexp" ] || { say "run_tap: --expect '$_libexp' is not a number"; _libexp=-1; } ;;
	esac
	_libname=$1; shift
	_libout=$HMMP2P_STATE/tap-$_libname.out
	say "run_tap $_libname: $*"
	_libt0=$(date +%s)
	{ "$@" 2>&1; echo $? > "$_libout.rc"; } | tee "$_libout"
	_librc=$(cat "$_libout.rc")
	_libsecs=$(( $(date +%s) - _libt0 ))
	_libtot=$(grep '^# Totals:' "$_libout" | tail -n 1)
	if [ -z "$_libtot" ]; then
		say "run_tap $_libname: no '# Totals:' line (exit $_librc): counted as one failure"
		_libp=0 _libf=1 _libs=0
	else
		_field() {
			_libx=$(echo "$_libtot" | sed -n "s/.* $1:\([0-9]*\).*/\1/p")
			echo "${_libx:-0}"
		}
		_libp=$(( $(_field pass) + $(_field xfail) ))
		_libf=$(( $(_field fail) + $(_field xpass) + $(_field error) ))
		_libs=$(_field skip)
		if [ "$_librc" != 0 ] && [ "$_librc" != 4 ] && [ "$_libf" = 0 ]; then
			say "run_tap $_libname: exit status $_librc with no failure in its totals: counted as one failure"
			_libf=1
		fi
	fi
	# tests that ran: what the totals add up to
	_libn=$((_libp + _libf + _libs))
	_libbad=0
	if [ -n "$_libtot" ] && [ "$_libn" = 0 ]; then
		say "run_tap $_libname: ran no test (a filter that matched nothing?): counted as one failure"
		_libbad=1
	elif [ -n "$_libtot" ] && [ -n "$_libexp" ] && [ "$_libn" != "$_libexp" ]; then
		say "run_tap $_libname: ran $_libn tests, expected $_libexp: counted as one failure"
		_libbad=1
	fi
	echo "HMMP2P-TAP name=$_libname pass=$_libp fail=$_libf skip=$_libs ran=$_libn${_libexp:+ expected=$_libexp}$([ "$_libbad" = 0 ] || echo " wrong_count=1") exit=$_librc seconds=$_libsecs counted=${RUN_TAP_COUNT:-1}"
	if [ "${RUN_TAP_COUNT:-1}" != 0 ]; then
		_add passed "$_libp"; _add failed "$_libf"; _add skipped "$_libs"
	fi
	[ "$_libbad" = 0 ] || _add failed 1
	[ "$_libf" = 0 ] && [ "$_libbad" = 0 ]
}

# tap_lines NAME PATTERN: the TAP result lines of run_tap NAME matching PATTERN.
tap_lines() { grep -E "^(not )?ok [0-9]+ $2" "$HMMP2P_STATE/tap-$1.out"; }

# is_loaded NAME: the module is loaded (a file's dashes are underscores in
# /sys/module: i2c-core.ko is i2c_core).
is_loaded() { [ -d "/sys/module/$(echo "$1" | tr - _)" ]; }

_insmod() {
	_libko=$MODDIR/$1.ko; shift
	[ -f "$_libko" ] || { say "no module $_libko"; return 1; }
	say "insmod $(basename "$_libko") $*"
	insmod "$_libko" "$@"
}

_rmmod() {
	is_loaded "$1" || return 0
	say "rmmod $1"
	rmmod "$1"
}

# load_ours [PARAMS...]: hmm_p2p.ko (params in $HMM_P2P_PARAMS), then the
# test device hmm_p2p_test.ko with PARAMS. pci_all=1: the test VM's ivshmem
# devices are all ours (binding is opt-in, backend_pci.c); a later
# pci_all=0 in PARAMS overrides it.
load_ours() {
	# shellcheck disable=SC2086
	_insmod hmm_p2p ${HMM_P2P_PARAMS:-} && _insmod hmm_p2p_test pci_all=1 "$@"
}

unload_ours() { _rmmod hmm_p2p_drm && _rmmod hmm_p2p_test && _rmmod hmm_p2p; }

# kmod_load NAME: the kernel's module NAME from $MODDIR/kdir (what
# tools/mkinitramfs.sh put there), after its dependencies (kdir/NAME.deps).
kmod_load() {
	is_loaded "$1" && return 0
	[ -f "$MODDIR/kdir/$1.ko" ] || { say "no kernel module kdir/$1.ko"; return 1; }
	for _libd in $(cat "$MODDIR/kdir/$1.deps" 2>/dev/null); do
		kmod_load "$_libd" || return 1
	done
	say "insmod kdir/$1.ko"
	insmod "$MODDIR/kdir/$1.ko"
}

# load_upstream [PARAMS...]: upstream lib/test_hmm.ko, its two coherent
# devices on the reserved range (later PARAMS override these).
load_upstream() {
	_insmod test_hmm spm_addr_dev0="$SPM_ADDR_DEV0" spm_addr_dev1="$SPM_ADDR_DEV1" "$@"
}

unload_upstream() { _rmmod test_hmm; }

# dmirror_nodes_present N: /dev/hmm_dmirror0..N-1 all exist as char devices.
dmirror_nodes_present() {
	_libi=0
	while [ "$_libi" -lt "$1" ]; do
		[ -c "/dev/hmm_dmirror$_libi" ] || { say "/dev/hmm_dmirror$_libi missing"; return 1; }
		_libi=$((_libi + 1))
	done
}

# dmirror_nodes_gone: no /dev/hmm_dmirror* left.
dmirror_nodes_gone() {
	for _libn in /dev/hmm_dmirror*; do
		[ -e "$_libn" ] && { say "$_libn still present"; return 1; }
	done
	return 0
}
