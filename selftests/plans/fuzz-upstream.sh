# SPDX-License-Identifier: GPL-2.0
# fuzz-upstream: the fuzzer's deterministic probe (hmm_p2p_fuzz -u: one
# process, one thread, no races, the upstream commands 0x00-0x09 only, each
# call logged before it is made) against upstream's lib/test_hmm.ko, for the
# comparison table in docs/reliability.md. A reference: not part of make
# check (make check-fuzz-upstream). Upstream's module may hang or oops on it:
# a call that has not returned after the probe's time plus a margin is
# reported with the call it hung in and the blocked tasks (sysrq w); an oops
# ends the boot (oops=panic) and the run fails, which is the finding.
#
# Knobs: hmmp2p.fuzz_secs=S (default 30), hmmp2p.fuzz_seed=N (default 1).

BIN=$BINDIR/hmm_p2p_fuzz
arg() { sed -n "s/.*hmmp2p\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
secs=$(arg fuzz_secs) seed=$(arg fuzz_seed)
: "${secs:=30}" "${seed:=1}"
log=/tmp/fuzz-upstream.log

setup "fuzz-upstream: load upstream's test_hmm.ko" load_upstream
# every call is on the console before it is made: an oops names its call
"$BIN" -u -v -t "$secs" -s "$seed" -k "$KERNEL_SERIES-$FLAVOR-test_hmm" 2>&1 | tee "$log" &
pid=$!
n=0
while kill -0 "$pid" 2>/dev/null && [ "$n" -lt $((secs + 60)) ]; do
	sleep 1
	n=$((n + 1))
done
if kill -0 "$pid" 2>/dev/null; then
	say "fuzz-upstream: HUNG: no return after $n s; the call it is in:"
	grep '^# call' "$log" | tail -n 1
	say "fuzz-upstream: SIGKILL, 5 s to end:"
	kill -9 "$pid"
	sleep 5
	if kill -0 "$pid" 2>/dev/null; then
		say "fuzz-upstream: still there after SIGKILL (unkillable); blocked tasks:"
		echo w > /proc/sysrq-trigger
	fi
	check "fuzz-upstream: every call of the probe returned" false
else
	wait "$pid"
	say "fuzz-upstream: probe finished (exit $?); its summary:"
	grep -v '^# call' "$log"
	check "fuzz-upstream: every call of the probe returned" true
fi
check "fuzz-upstream: unload test_hmm" unload_upstream
