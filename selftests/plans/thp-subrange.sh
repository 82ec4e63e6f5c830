# SPDX-License-Identifier: GPL-2.0
# thp-subrange: device reads of ranges that start inside a 2 MiB
# device-private THP mapped by a PMD (selftests/hmm_thp_subrange.c), on
# upstream's lib/test_hmm.ko and then on ours, both on /dev/hmm_dmirror0.
#
# Linux 7.3's hmm_vma_handle_absent_pmd() gives a range that starts inside
# such a PMD the PFNs of the THP's first pages; patches/0001-mm-hmm-*.patch
# is the fix (make check-hmm-fix boots a 7.3 with it).
#  - upstream test_hmm is a control: it answers these reads from the table it
#    filled while migrating the THP and never walks the PMD for them, so it
#    passes with or without the fix. It shows that the test itself is sound.
#  - ours fills its mirror with hmm_range_fault() from the read's address:
#    without hmm_p2p's workaround (PMD-aligned faults) the reads at pages 1,
#    16, 368 and 500 get the THP's first pages on an unpatched 7.3 (the bug,
#    shown), and pass on a patched one.
# On 6.12 (no device-private PMDs) the reads are skipped.
#
# Kernel command line knobs (make vm PLAN=thp-subrange VMARGS="--append '...'"):
#   hmmp2p.pmd_workaround=0|1  load hmm_p2p.ko with hmm_pmd_workaround=N and
#                              check it took it (default: the module's own)
#   hmmp2p.thp_expect=bug      ours is expected to show the bug (unpatched
#                              kernel, workaround off): its TAP is shown, not
#                              counted, and one check passes only when a read
#                              returned another page's data
# (PMD_WORKAROUND= and THP_EXPECT= in the environment do the same.)

THP_TEST=$BINDIR/hmm_thp_subrange
THP_DEV=/dev/hmm_dmirror0
PMD_WORKAROUND=${PMD_WORKAROUND:-}
THP_EXPECT=${THP_EXPECT:-pass}
# shellcheck disable=SC2013 # the command line is one line of words
for _arg in $(cat /proc/cmdline); do
	case $_arg in
	hmmp2p.pmd_workaround=*) PMD_WORKAROUND=${_arg#*=} ;;
	hmmp2p.thp_expect=*) THP_EXPECT=${_arg#*=} ;;
	esac
done
WA_PARAM=/sys/module/hmm_p2p/parameters/hmm_pmd_workaround

case $PMD_WORKAROUND in
''|0|1) ;;
*) check "thp-subrange: hmmp2p.pmd_workaround='$PMD_WORKAROUND' is 0 or 1" false; exit 1 ;;
esac
case $THP_EXPECT in
pass|bug) ;;
*) check "thp-subrange: hmmp2p.thp_expect='$THP_EXPECT' is pass or bug" false; exit 1 ;;
esac
say "thp-subrange: Linux $(uname -r), THP $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)," \
	"pmd_workaround=${PMD_WORKAROUND:-default}, expect=$THP_EXPECT"
if [ ! -x "$THP_TEST" ]; then
	check "thp-subrange: $THP_TEST is in the initramfs" false
	exit 1
fi

# wa_took N: hmm_p2p.ko knows hmm_pmd_workaround and has the value N.
wa_took() {
	if dmesg | grep -q "hmm_p2p: unknown parameter 'hmm_pmd_workaround'"; then
		say "this hmm_p2p.ko has no hmm_pmd_workaround parameter"
		return 1
	fi
	if [ ! -r "$WA_PARAM" ]; then
		say "hmm_pmd_workaround is not in sysfs; hmm_p2p.ko took it without complaint"
		return 0
	fi
	_wa=$(cat "$WA_PARAM")
	say "hmm_p2p hmm_pmd_workaround=$_wa"
	case $1:$_wa in
	0:0|0:N|0:n|1:1|1:Y|1:y) return 0 ;;
	esac
	return 1
}

# bug_shown: ours failed (exit 1) because a read gave another page's stamp.
bug_shown() {
	_out=$HMMP2P_STATE/tap-thp-subrange-ours.out
	[ "$(cat "$_out.rc" 2>/dev/null)" = 1 ] || { say "exit status $(cat "$_out.rc" 2>/dev/null), not 1"; return 1; }
	tap_lines thp-subrange-ours 'read pages .* holds the stamp of page ' | grep '^not ok'
}

# 1. Upstream's test_hmm: the control.
if setup "thp-subrange: load test_hmm.ko" load_upstream; then
	run_tap thp-subrange-upstream "$THP_TEST" "$THP_DEV"
	setup "thp-subrange: unload test_hmm.ko" unload_upstream
fi

# 2. Ours, with the workaround as asked.
if [ -n "$PMD_WORKAROUND" ]; then
	HMM_P2P_PARAMS="${HMM_P2P_PARAMS:-}${HMM_P2P_PARAMS:+ }hmm_pmd_workaround=$PMD_WORKAROUND"
	export HMM_P2P_PARAMS
fi
if setup "thp-subrange: load hmm_p2p.ko${HMM_P2P_PARAMS:+ ($HMM_P2P_PARAMS)} and hmm_p2p_test.ko" load_ours; then
	if [ -n "$PMD_WORKAROUND" ]; then
		setup "thp-subrange: hmm_p2p runs with hmm_pmd_workaround=$PMD_WORKAROUND" \
			wa_took "$PMD_WORKAROUND"
	fi
	if [ "$THP_EXPECT" = bug ]; then
		RUN_TAP_COUNT=0 run_tap thp-subrange-ours "$THP_TEST" "$THP_DEV"
		check "thp-subrange: ours shows the bug (a read returned another page's data)" bug_shown
	else
		run_tap thp-subrange-ours "$THP_TEST" "$THP_DEV"
	fi
	setup "thp-subrange: unload hmm_p2p_test.ko and hmm_p2p.ko" unload_ours
fi

# 3. The zap_huge_pmd() bug (patches/0002-*): a 2 MiB device folio moved
# back while MADV_DONTNEED zaps exactly its PMD (hmm_p2p_defects
# thp_zap_race). With hmmp2p.zap_workaround=0 hmm_p2p.ko moves it under the
# mmap read lock only, as it did before its workaround: on a patched kernel
# the test passes; on the plain 7.3 it hangs in a soft lockup.
ZAP_WORKAROUND=
# shellcheck disable=SC2013 # the command line is one line of words
for _arg in $(cat /proc/cmdline); do
	case $_arg in hmmp2p.zap_workaround=*) ZAP_WORKAROUND=${_arg#*=} ;; esac
done
if [ -n "$ZAP_WORKAROUND" ]; then
	HMM_P2P_PARAMS="zap_workaround=$ZAP_WORKAROUND"
	export HMM_P2P_PARAMS
	if setup "thp-subrange: load hmm_p2p.ko ($HMM_P2P_PARAMS) and hmm_p2p_test.ko" load_ours; then
		setup "thp-subrange: hmm_p2p runs with zap_workaround=$ZAP_WORKAROUND" \
			grep -qx "$( [ "$ZAP_WORKAROUND" = 0 ] && echo N || echo Y)" \
			/sys/module/hmm_p2p/parameters/zap_workaround
		run_tap --expect 1 thp-subrange-zap "$BINDIR/hmm_p2p_defects" -t thp_zap_race
		setup "thp-subrange: unload" unload_ours
	fi
fi
