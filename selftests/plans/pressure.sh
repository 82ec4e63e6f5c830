# SPDX-License-Identifier: GPL-2.0
# pressure: device memory under memory pressure (docs/memory-pressure.md;
# selftests/hmm_p2p_pressure.c does the work).
#
# A cgroup v2 memory cgroup (memory.max 96 MiB) holds the test process (16
# MiB on /dev/hmm_dmirror0, oom_score_adj -1000) and a hog it forks
# (oom_score_adj 1000) that fills the cgroup to its limit:
#  (a) an explicit MIGRATE_TO_SYS returns 0 or ENOMEM (ENOMEM when no system
#      page can be had), and no page is lost wherever it is;
#  (b) CPU faults on device pages at the limit bring the data back; the hog
#      growing past the limit is killed by the memcg OOM killer (SIGKILL);
#  (c) the modules are removed with the cgroup at its limit and the pages
#      still on the device: the removal completes and the data is intact.
# And a CPU fault that cannot get a system page at all (injection) kills the
# faulting process with SIGBUS, with no "VM_FAULT_OOM leaked out" retries.
#
# The memcg OOM killer prints its report ("invoked oom-killer", a Call
# Trace): allowed for this plan only by tools/splat-allow/pressure.txt.

BIN=$BINDIR/hmm_p2p_pressure
WORK=/tmp/pressure
CG=/sys/fs/cgroup
T=$CG/hmmp2p-pressure
rm -rf "$WORK"; mkdir -p "$WORK"
echo -1000 > /proc/self/oom_score_adj
t0=$(date +%s)

mkdir -p "$CG"
grep -q " $CG cgroup2 " /proc/mounts || mount -t cgroup2 none "$CG"
check "pressure: cgroup v2 with the memory controller" \
	sh -c "grep -qw memory $CG/cgroup.controllers && echo +memory > $CG/cgroup.subtree_control"
mkdir -p "$T"
echo $((96 << 20)) > "$T/memory.max"
check "pressure: load" load_ours

dmesg -c > /dev/null
# the test process joins the cgroup before it starts
sh -c "echo \$\$ > $T/cgroup.procs && exec $BIN test $WORK $T" > "$WORK/log" 2>&1 &
P=$!
_n=0
while [ ! -e "$WORK/ready" ] && kill -0 "$P" 2>/dev/null && [ "$_n" -lt 1200 ]; do
	sleep 0.1; _n=$((_n + 1))
done
check "pressure: (a), (b) done, (c) pages on the device with the cgroup at its limit" \
	test -e "$WORK/ready"
_t=$(date +%s)
check "pressure: (c) rmmod with the cgroup at its limit" unload_ours
say "pressure: (c) the unload took $(( $(date +%s) - _t )) s"
check "pressure: (c) modules gone" sh -c "[ ! -d /sys/module/hmm_p2p ] && [ ! -d /sys/module/hmm_p2p_test ]"
touch "$WORK/unloaded"
wait "$P"
rc=$?
sed 's/^/    /' "$WORK/log"
check "pressure: (a)-(c) every rule kept (see the lines above)" test "$rc" = 0
say "pressure: OOM kills in the cgroup: $(grep oom_kill "$T/memory.events" | tr '\n' ' ')"
dmesg | grep -E 'Killed process|invoked oom-killer' | sed 's/^/    dmesg: /'
check "pressure: no 'VM_FAULT_OOM leaked out'" sh -c "! dmesg | grep -q 'VM_FAULT_OOM leaked'"

# a CPU fault that cannot get a system page: SIGBUS (exit by signal 7)
check "pressure: load again" load_ours
dmesg -c > /dev/null
"$BIN" fault-inject > "$WORK/fi.log" 2>&1
rc=$?
sed 's/^/    /' "$WORK/fi.log"
say "pressure: fault-inject exit status $rc (135: SIGBUS)"
check "pressure: a CPU fault with no system page to be had gets SIGBUS" test "$rc" = 135
check "pressure: ... and no 'VM_FAULT_OOM leaked out'" sh -c "! dmesg | grep -q 'VM_FAULT_OOM leaked'"
check "pressure: unload" unload_ours
rmdir "$T" 2>/dev/null
say "pressure: $(( $(date +%s) - t0 )) s"
