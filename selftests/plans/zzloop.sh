# SPDX-License-Identifier: GPL-2.0
# temporary: run the stress many times, print failing seeds
STRESS=$BINDIR/hmm_p2p_stress
setup "zzloop: load" load_ours
n=0; bad=0
start=$(date +%s)
while [ $(( $(date +%s) - start )) -lt 1500 ]; do
	n=$((n + 1))
	$STRESS -n 1500 -t 120 -k loop > /tmp/st.out 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		bad=$((bad + 1))
		say "zzloop: run $n rc=$rc"
		grep -E "MISMATCH|history|mismatches|seed=|not ok|errno|^# [a-z_]+ +[0-9]+ +[0-9]+" /tmp/st.out | head -60
	fi
done
say "zzloop: runs=$n bad=$bad"
check "zzloop: no bad run" [ "$bad" -eq 0 ]
setup "zzloop: unload" unload_ours
