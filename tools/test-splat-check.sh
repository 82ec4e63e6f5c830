#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Self-test of tools/splat-check.sh on console fixtures in both kernels'
# formats (6.12 and 7.3 print WARNINGs differently). Needs no VM.
#
# usage: tools/test-splat-check.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
check=$here/splat-check.sh
allow=$here/splat-allow/upstream.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

# expect NAME STATUS QUOTE [--allow FILE]: fixture on stdin; splat-check must
# exit STATUS and print a line containing each line of QUOTE (none if empty).
# "N splat" in QUOTE is the count: ": 1 splat" is exactly one.
expect() {
	local name=$1 want=$2 quote=$3 out rc=0 q ok=1
	shift 3
	cat > "$tmp/log"
	out=$("$check" "$@" "$tmp/log" 2>&1) || rc=$?
	[ "$rc" = "$want" ] || ok=0
	while IFS= read -r q; do
		[ -z "$q" ] || grep -qF -- "$q" <<<"$out" || ok=0
	done <<<"$quote"
	if [ "$ok" = 1 ]; then
		echo "ok $((pass + fail + 1)) $name"
		pass=$((pass + 1))
	else
		echo "not ok $((pass + fail + 1)) $name (exit $rc, want $want; quote '$quote')"
		sed 's/^/#   /' <<<"$out"
		fail=$((fail + 1))
	fi
}

# A clean boot and test run, with words that must not trip the matcher.
expect "clean log" 0 "no splat" <<'EOF_'
Linux version 7.3.4-hmmp2p (root@build) (gcc (Debian 12.2.0-14) 12.2.0) #1 SMP
kasan: KernelAddressSanitizer initialized (generic)
kmemleak: Kernel memory leak detector initialized (mem pool available: 15722)
hmmp2p: kmemleak: no leaks reported
#  RUN           hmm.hmm_device_private.open_close ...
#            OK  hmm.hmm_device_private.open_close
ok 1 hmm.hmm_device_private.open_close
ok 2 hmm.hmm_device_private.anon_write_hugetlbfs # SKIP Huge page could not be allocated
# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:1 error:0
HMMP2P-RESULT plan=upstream passed=1 failed=0 skipped=1
EOF_

# 7.3's WARNING format: the line a planted WARN_ON(1) in the test device's
# init printed (a real console line, 7.3.4).
expect "7.3 WARNING in a module" 1 "line 3: WARNING: test_device/main.c:30 at testdev_init+0xa/0x1000 [hmm_p2p_test], CPU#0: insmod/67" <<'EOF_'
hmmp2p: insmod hmm_p2p_test.ko
------------[ cut here ]------------
WARNING: test_device/main.c:30 at testdev_init+0xa/0x1000 [hmm_p2p_test], CPU#0: insmod/67
Modules linked in: hmm_p2p_test(O+) hmm_p2p(O)
CPU: 1 UID: 0 PID: 61 Comm: insmod Tainted: G           O        7.3.4-hmmp2p #1 PREEMPT(voluntary)
RIP: 0010:testdev_init+0x15/0x1000 [hmm_p2p_test]
Call Trace:
 <TASK>
 do_one_initcall+0x4a/0x1e0
 </TASK>
---[ end trace 0000000000000000 ]---
EOF_

# 6.12's WARNING format: the same planted WARN_ON(1), a real 6.12.117 line
# (6.12 prints the full path of an out-of-tree module's source).
expect "6.12 WARNING" 1 "WARNING: CPU: 0 PID: 61 at /tmp/skel/out/6.12-normal/src/test_device/main.c:30 testdev_init+0xa/0x1000 [hmm_p2p_test]" <<'EOF_'
------------[ cut here ]------------
WARNING: CPU: 0 PID: 61 at /tmp/skel/out/6.12-normal/src/test_device/main.c:30 testdev_init+0xa/0x1000 [hmm_p2p_test]
Modules linked in: hmm_p2p_test(O+) hmm_p2p(O)
Call Trace:
 <TASK>
---[ end trace 0000000000000000 ]---
EOF_

# A WARNING printed in the middle of a test's output line (no newline).
expect "WARNING mid-line" 1 "ok 3 hmm.hmm_device_private.migrateWARNING: mm/migrate_device.c:" <<'EOF_'
ok 3 hmm.hmm_device_private.migrateWARNING: mm/migrate_device.c:870 at migrate_vma_pages+0x2a/0x40, CPU#0: hmm-tests/70
EOF_

# printk timestamps and caller ids in front.
expect "timestamped BUG and its Oops: one splat" 1 ": 1 splat
BUG: kernel NULL pointer dereference, address: 0000000000000008
+ line 3: [   12.345700] Oops: Oops: 0000 [#1] SMP NOPTI" <<'EOF_'
[   12.345678] [    T70] BUG: kernel NULL pointer dereference, address: 0000000000000008
[   12.345690] [    T70] #PF: supervisor read access in kernel mode
[   12.345700] Oops: Oops: 0000 [#1] SMP NOPTI
EOF_

expect "KASAN report (7.3 debug)" 1 "BUG: KASAN: slab-use-after-free in rmap_walk_anon+0x4d5/0x540" <<'EOF_'
==================================================================
BUG: KASAN: slab-use-after-free in rmap_walk_anon+0x4d5/0x540
Read of size 8 at addr ffff888104a3c8d8 by task hmm-tests/412
Call Trace:
 <TASK>
 dump_stack_lvl+0x5d/0x80
==================================================================
EOF_

expect "Oops alone" 1 "Oops: general protection fault, probably for non-canonical address" <<'EOF_'
Oops: general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] SMP KASAN
EOF_

expect "kernel BUG at" 1 "kernel BUG at mm/migrate_device.c:300!" <<'EOF_'
------------[ cut here ]------------
kernel BUG at mm/migrate_device.c:300!
EOF_

expect "lockdep circular dependency" 1 "WARNING: possible circular locking dependency detected" <<'EOF_'
======================================================
WARNING: possible circular locking dependency detected
7.3.4-hmmp2p #1 Not tainted
------------------------------------------------------
hmm-tests/77 is trying to acquire lock:
EOF_

expect "lockdep non-static key" 1 "INFO: trying to register non-static key." <<'EOF_'
INFO: trying to register non-static key.
The code is fine but needs lockdep annotation, or maybe
EOF_

expect "sleeping in atomic" 1 "BUG: sleeping function called from invalid context at mm/slub.c:4152" <<'EOF_'
BUG: sleeping function called from invalid context at mm/slub.c:4152
EOF_

expect "hung task" 1 "INFO: task hmm-tests:90 blocked for more than 120 seconds." <<'EOF_'
INFO: task hmm-tests:90 blocked for more than 120 seconds.
EOF_

expect "kmemleak report" 1 "unreferenced object 0xffff888103c2a000 (size 4096):" <<'EOF_'
hmmp2p: kmemleak report:
unreferenced object 0xffff888103c2a000 (size 4096):
  comm "insmod", pid 61, jiffies 4294680123
  backtrace (crc 0):
    __kmalloc_cache_noprof+0x2b3/0x3a0
EOF_

expect "stack dump without headline" 1 "(stack dump with no headline)" <<'EOF_'
CPU: 0 UID: 0 PID: 1 Comm: sh Not tainted 7.3.4-hmmp2p #1
Call Trace:
 <TASK>
EOF_

# The upstream allowlist: test_hmm's coherent chunk exhaustion, both formats.
memremap73='WARNING: mm/memremap.c:158 at memremap_pages+0x4e7/0x5b0, CPU#0: hmm-tests/177'
memremap612='WARNING: CPU: 1 PID: 180 at mm/memremap.c:184 memremap_pages+0x3f0/0x6e0'
for m in "$memremap73" "$memremap612"; do
	fix="------------[ cut here ]------------
Conflicting mapping in same section
$m
Modules linked in: test_hmm
Call Trace:
 <TASK>
 dmirror_allocate_chunk+0x1c4/0x3a0 [test_hmm]
 </TASK>
---[ end trace 0000000000000000 ]---
ok 40 hmm.hmm_device_coherent.benchmark_thp_migration"
	expect "memremap WARNING fails without the allowlist (${m:0:22})" 1 "$m" <<<"$fix"
	expect "memremap WARNING allowed and reported (${m:0:22})" 0 "first at line 3: $m" --allow "$allow" <<<"$fix"
done

# The allowlist covers that WARNING only: anything else still counts.
expect "allowlist does not hide other splats" 1 "BUG: KASAN: slab-use-after-free in rmap_walk_anon" --allow "$allow" <<EOF_
$memremap73
Call Trace:
BUG: KASAN: slab-use-after-free in rmap_walk_anon+0x4d5/0x540
Call Trace:
---[ end trace 0000000000000000 ]---
EOF_
expect "allowlist does not cover other WARNINGs" 1 "WARNING: mm/migrate_device.c:870" --allow "$allow" <<'EOF_'
WARNING: mm/migrate_device.c:870 at migrate_vma_pages+0x2a/0x40, CPU#0: hmm-tests/70
EOF_

# ---- Each headline, in both kernels' formats (kernel format strings of
# 7.3.4 and 6.12.117: mm/page_alloc.c bad_page, mm/debug.c dump_page,
# lib/refcount.c, lib/list_debug.c, lib/ubsan.c, kernel/hung_task.c,
# kernel/watchdog.c, kernel/rcu/tree_stall.h, mm/oom_kill.c), each counted
# once with the lines of its report.
for k in "7.3.4-hmmp2p #1 PREEMPT(voluntary)" "6.12.117-hmmp2p #1"; do
kv=${k%%-*}
expect "Bad page state and its page dump: one splat ($kv)" 1 ": 1 splat
line 1: BUG: Bad page state in process hmm-tests  pfn:1a0400
+ line 6: page dumped because: nonzero mapcount" <<EOF_
BUG: Bad page state in process hmm-tests  pfn:1a0400
page: refcount:0 mapcount:1 mapping:0000000000000000 index:0x7f3c2a400 pfn:0x1a0400
flags: 0x17ffffc0000000(node=0|zone=2|lastcpupid=0x1fffff)
raw: 0017ffffc0000000 dead000000000100 dead000000000122 0000000000000000
raw: 00000007f3c2a400 0000000000000000 0000000000000000 0000000000000000
page dumped because: nonzero mapcount
Modules linked in: hmm_p2p_test(O) hmm_p2p(O)
CPU: 1 UID: 0 PID: 91 Comm: hmm-tests Tainted: G    B      O        $k
Tainted: [B]=BAD_PAGE, [O]=OOT_MODULE
Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.3-debian-1.16.3-2 04/01/2014
Call Trace:
 <TASK>
 dump_stack_lvl+0x5d/0x80
 bad_page+0x6e/0x120
 free_unref_folios+0x2b1/0x6a0
 </TASK>
EOF_
expect "page dumped because, kernel BUG at, Oops, panic: one splat ($kv)" 1 ": 1 splat
line 3: page dumped because: VM_BUG_ON_FOLIO(!folio_test_locked(folio))
+ line 5: kernel BUG at mm/migrate_device.c:300!" <<EOF_
page: refcount:513 mapcount:0 mapping:0000000000000000 index:0x7f3c2a200 pfn:0x180200
head: order:9 mapcount:0 entire_mapcount:0 nr_pages_mapped:0 pincount:0
page dumped because: VM_BUG_ON_FOLIO(!folio_test_locked(folio))
------------[ cut here ]------------
kernel BUG at mm/migrate_device.c:300!
Oops: invalid opcode: 0000 [#1] SMP NOPTI
CPU: 0 UID: 0 PID: 88 Comm: hmm-tests Tainted: G           O        $k
RIP: 0010:migrate_vma_collect_pmd+0x8f1/0x900
Call Trace:
 <TASK>
 walk_pmd_range.isra.0+0xfa/0x260
 </TASK>
---[ end trace 0000000000000000 ]---
Kernel panic - not syncing: Fatal exception
EOF_
done

expect "page dumped because and its WARNING (6.12): one splat" 1 ": 1 splat
page dumped because: VM_WARN_ON_FOLIO(folio_test_large(folio))" <<'EOF_'
page: refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x180200
page dumped because: VM_WARN_ON_FOLIO(folio_test_large(folio))
------------[ cut here ]------------
WARNING: CPU: 0 PID: 88 at mm/migrate_device.c:577 migrate_vma_insert_page+0x3a1/0x4c0
Call Trace:
---[ end trace 0000000000000000 ]---
EOF_

expect "refcount_t and its WARNING (7.3): one splat" 1 ": 1 splat
line 2: refcount_t: underflow; use-after-free.
+ line 3: WARNING: lib/refcount.c:28 at refcount_warn_saturate+0xbe/0x110, CPU#1: hmm-tests/93" <<'EOF_'
------------[ cut here ]------------
refcount_t: underflow; use-after-free.
WARNING: lib/refcount.c:28 at refcount_warn_saturate+0xbe/0x110, CPU#1: hmm-tests/93
Modules linked in: hmm_p2p_test(O) hmm_p2p(O)
CPU: 1 UID: 0 PID: 93 Comm: hmm-tests Tainted: G           O        7.3.4-hmmp2p #1 PREEMPT(voluntary)
RIP: 0010:refcount_warn_saturate+0xbe/0x110
Call Trace:
 <TASK>
 hp_mirror_release+0x51/0x90 [hmm_p2p]
 </TASK>
---[ end trace 0000000000000000 ]---
EOF_
expect "refcount_t and its WARNING (6.12): one splat" 1 ": 1 splat
refcount_t: addition on 0; use-after-free." <<'EOF_'
------------[ cut here ]------------
refcount_t: addition on 0; use-after-free.
WARNING: CPU: 1 PID: 93 at lib/refcount.c:25 refcount_warn_saturate+0x12e/0x150
Modules linked in: hmm_p2p_test(O) hmm_p2p(O)
Call Trace:
---[ end trace 0000000000000000 ]---
EOF_
expect "list_add corruption and its WARNING (7.3): one splat" 1 ": 1 splat
list_add corruption. prev->next should be next (ffff888104a3c8d8), but was ffff888104a3c000. (prev=ffff888104a3c8d0)." <<'EOF_'
------------[ cut here ]------------
list_add corruption. prev->next should be next (ffff888104a3c8d8), but was ffff888104a3c000. (prev=ffff888104a3c8d0).
WARNING: lib/list_debug.c:32 at __list_add_valid_or_report+0x9c/0xb0, CPU#0: kworker/0:1/12
Call Trace:
---[ end trace 0000000000000000 ]---
EOF_
expect "list_del corruption and its WARNING (6.12): one splat" 1 ": 1 splat
list_del corruption, ffff888104a3c8d8->next is LIST_POISON1 (dead000000000100)" <<'EOF_'
------------[ cut here ]------------
list_del corruption, ffff888104a3c8d8->next is LIST_POISON1 (dead000000000100)
WARNING: CPU: 0 PID: 12 at lib/list_debug.c:56 __list_del_entry_valid_or_report+0x7d/0xc0
Call Trace:
---[ end trace 0000000000000000 ]---
EOF_
expect "list_del corruption with BUG_ON_DATA_CORRUPTION: one splat" 1 ": 1 splat
list_del corruption. next->prev should be ffff888104a3c8d8, but was ffff888104a3c000. (next=ffff888104a3c900)
+ line 3: kernel BUG at lib/list_debug.c:67!" <<'EOF_'
list_del corruption. next->prev should be ffff888104a3c8d8, but was ffff888104a3c000. (next=ffff888104a3c900)
------------[ cut here ]------------
kernel BUG at lib/list_debug.c:67!
Oops: invalid opcode: 0000 [#1] SMP NOPTI
EOF_
expect "UBSAN (7.3 debug)" 1 ": 1 splat
UBSAN: array-index-out-of-bounds in test_device/main.c:210:14" <<'EOF_'
------------[ cut here ]------------
UBSAN: array-index-out-of-bounds in test_device/main.c:210:14
index 4 is out of range for type 'struct td_dev *[4]'
CPU: 0 UID: 0 PID: 70 Comm: hmm-tests Tainted: G           O        7.3.4-hmmp2p #1 PREEMPT(full)
Call Trace:
 <TASK>
 __ubsan_handle_out_of_bounds+0xa7/0xe0
 </TASK>
---[ end trace ]---
EOF_
expect "UBSAN (6.12)" 1 "UBSAN: shift-out-of-bounds in /tmp/skel/out/6.12-normal/src/hmm_p2p/devmem.c:301:22" <<'EOF_'
UBSAN: shift-out-of-bounds in /tmp/skel/out/6.12-normal/src/hmm_p2p/devmem.c:301:22
shift exponent 64 is too large for 64-bit type 'unsigned long'
EOF_

expect "hung task and its blocker (7.3): one splat" 1 ": 1 splat
INFO: task hmm-tests:93 blocked for more than 181 seconds.
+ line 10: INFO: task hmm-tests:93 is blocked on a mutex likely owned by task rmmod:95." <<'EOF_'
INFO: task hmm-tests:93 blocked for more than 181 seconds.
      Tainted: G           O        7.3.4-hmmp2p #1
"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
task:hmm-tests       state:D stack:0     pid:93    tgid:93    ppid:1      task_flags:0x400100 flags:0x00004002
Call Trace:
 <TASK>
 __schedule+0x3e1/0xc30
 schedule+0x27/0xd0
 </TASK>
INFO: task hmm-tests:93 is blocked on a mutex likely owned by task rmmod:95.
task:rmmod           state:D stack:0     pid:95    tgid:95    ppid:1      task_flags:0x400100 flags:0x00004002
Call Trace:
 <TASK>
 </TASK>
INFO: lockdep is turned off.
EOF_
expect "hung task in I/O wait (7.3)" 1 "INFO: task kworker/u8:3:57 blocked in I/O wait for more than 181 seconds." <<'EOF_'
INFO: task kworker/u8:3:57 blocked in I/O wait for more than 181 seconds.
EOF_
expect "two hung tasks (6.12): two splats" 1 ": 2 splats
INFO: task hmm-tests:93 blocked for more than 122 seconds.
INFO: task rmmod:95 blocked for more than 122 seconds." <<'EOF_'
INFO: task hmm-tests:93 blocked for more than 122 seconds.
      Not tainted 6.12.117-hmmp2p #1
"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
task:hmm-tests       state:D stack:0     pid:93    tgid:93    ppid:1      flags:0x00004002
Call Trace:
 <TASK>
 </TASK>
INFO: task rmmod:95 blocked for more than 122 seconds.
      Not tainted 6.12.117-hmmp2p #1
"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
task:rmmod           state:D stack:0     pid:95    tgid:95    ppid:1      flags:0x00004002
Call Trace:
EOF_

expect "RCU stall on CPUs (7.3): one splat" 1 ": 1 splat
rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:" <<'EOF_'
rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: 	1-...!: (1 GPs behind) idle=b8c4/1/0x4000000000000000 softirq=2093/2094 fqs=0
rcu: 	(detected by 0, t=21003 jiffies, g=3537, q=154 ncpus=2)
Sending NMI from CPU 0 to CPUs 1:
NMI backtrace for cpu 1
CPU: 1 UID: 0 PID: 93 Comm: hmm-tests Tainted: G           O        7.3.4-hmmp2p #1 PREEMPT(voluntary)
RIP: 0010:hp_migrate_chunk+0x41/0x90 [hmm_p2p]
Call Trace:
 <TASK>
 </TASK>
rcu: rcu_preempt kthread starved for 21003 jiffies! g3537 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x0 ->cpu=1
rcu: 	Unless rcu_preempt kthread gets sufficient CPU time, OOM is now expected behavior.
rcu: RCU grace-period kthread stack dump:
task:rcu_preempt     state:R  running task     stack:0     pid:16    tgid:16    ppid:2      task_flags:0x208040 flags:0x00004000
Call Trace:
 <TASK>
 </TASK>
EOF_
expect "RCU self-detected stall (6.12): one splat" 1 ": 1 splat
rcu: INFO: rcu_sched self-detected stall on CPU" <<'EOF_'
rcu: INFO: rcu_sched self-detected stall on CPU
rcu: 	0-....: (20999 ticks this GP) idle=7e4c/1/0x4000000000000000 softirq=1101/1101 fqs=5250
rcu: 	(t=21000 jiffies g=4589 q=41 ncpus=2)
CPU: 0 UID: 0 PID: 93 Comm: hmm-tests Tainted: G           O       6.12.117-hmmp2p #1
RIP: 0010:hp_migrate_chunk+0x41/0x90 [hmm_p2p]
Call Trace:
EOF_
expect "RCU expedited stall (7.3)" 1 "rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 1-.... } 21030 jiffies s: 389 root: 0x2/." <<'EOF_'
rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 1-.... } 21030 jiffies s: 389 root: 0x2/.
EOF_
expect "RCU tasks stall" 1 "INFO: rcu_tasks detected stalls on tasks:" <<'EOF_'
INFO: rcu_tasks detected stalls on tasks:
EOF_

for k in "7.3.4-hmmp2p #1 PREEMPT(voluntary)" "6.12.117-hmmp2p #1"; do
kv=${k%%-*}
expect "soft lockup, and its panic: one splat ($kv)" 1 ": 1 splat
watchdog: BUG: soft lockup - CPU#1 stuck for 45s! [hmm-tests:93]" <<EOF_
watchdog: BUG: soft lockup - CPU#1 stuck for 45s! [hmm-tests:93]
Modules linked in: hmm_p2p_test(O) hmm_p2p(O)
CPU: 1 UID: 0 PID: 93 Comm: hmm-tests Tainted: G           O L      $k
RIP: 0010:zap_huge_pmd+0x1c3/0x3f0
Call Trace:
 <IRQ>
 </IRQ>
Kernel panic - not syncing: softlockup: hung tasks
EOF_
done
expect "hard lockup (7.3)" 1 ": 1 splat
watchdog: CPU0: Watchdog detected hard LOCKUP on cpu 1" <<'EOF_'
watchdog: CPU0: Watchdog detected hard LOCKUP on cpu 1
Modules linked in: hmm_p2p_test(O) hmm_p2p(O)
NMI backtrace for cpu 1
Call Trace:
 <NMI>
EOF_
expect "hard lockup (6.12)" 1 "watchdog: Watchdog detected hard LOCKUP on cpu 1" <<'EOF_'
watchdog: Watchdog detected hard LOCKUP on cpu 1
EOF_

# hmm_p2p's own warnings (hmm_p2p/devmem.c, test_device/main.c and
# backend_pci.c).
expect "pages still busy" 1 "hmm_p2p: hmm_dmirror2: 1 pages still busy, retrying" <<'EOF_'
hmm_p2p: hmm_dmirror2: 1 pages still busy, retrying
EOF_
expect "pages stay pinned" 1 "hmm_p2p: hmm_dmirror2: 1 pages stay pinned (first pfn 0x180000, 3 references)" <<'EOF_'
hmm_p2p: hmm_dmirror2: 1 pages stay pinned (first pfn 0x180000, 3 references): its memory stays registered, and hmm_p2p loaded, until they are freed
EOF_
expect "eviction at close left pages (dmirror)" 1 "hmm_dmirror0: eviction at close left pages on the device (-16)" <<'EOF_'
hmm_dmirror0: eviction at close left pages on the device (-16)
EOF_
expect "eviction at close left pages (PCI)" 1 "hmm_p2p_test 0000:03:00.0: hmm_p2p0: eviction at close left pages (-16)" <<'EOF_'
hmm_p2p_test 0000:03:00.0: hmm_p2p0: eviction at close left pages (-16)
EOF_

# Oops with KASAN's decoding of the address: one report.
expect "gpf Oops and its KASAN line: one splat" 1 ": 1 splat" <<'EOF_'
Oops: general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] SMP KASAN NOPTI
KASAN: null-ptr-deref in range [0x0000000000000008-0x000000000000000f]
CPU: 0 UID: 0 PID: 93 Comm: hmm-tests Not tainted 7.3.4-hmmp2p #1 PREEMPT(full)
Call Trace:
EOF_
expect "panic alone" 1 "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)" <<'EOF_'
Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)
EOF_
expect "page allocation failure" 1 ": 1 splat
hmm-tests: page allocation failure: order:9, mode:0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), nodemask=(null),cpuset=/,mems_allowed=0" <<'EOF_'
hmm-tests: page allocation failure: order:9, mode:0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), nodemask=(null),cpuset=/,mems_allowed=0
CPU: 0 UID: 0 PID: 93 Comm: hmm-tests Not tainted 7.3.4-hmmp2p #1 PREEMPT(voluntary)
Call Trace:
EOF_

# Ordinary lines with the same words: no splat.
expect "ordinary lines with splat words" 0 "no splat" <<'EOF_'
rcu: Hierarchical RCU implementation.
rcu: 	RCU event tracing is enabled.
rcu: RCU calculated value of scheduler-enlistment delay is 100 jiffies.
NMI watchdog: Perf NMI watchdog permanently disabled
watchdog: Delayed init of the lockup detector failed: -19
OOM killer enabled.
hung_task: detector enabled
sysrq: SysRq : HELP : loglevel(0-9) reboot(b) crash(c)
hmm_p2p: hmm_dmirror0: 512 pages evicted
hmmp2p: run_tap hmm_p2p_tests: /bin/hmm_p2p_tests -T enomem_chunk_grow
#  RUN           dm.private_4k.refcount_after_unmap ...
#            OK  dm.private_4k.refcount_after_unmap
ok 12 dm.private_4k.refcount_after_unmap
ok 13 dm.private_4k.list_del_after_close
# enomem_partial: Out of memory as expected (-12)
ok 14 pinned: the log says what is pinned
not ok 15 pinned: the log says what is pinned (exit 1: sh -c dmesg | grep -F 'stay pinned')
not ok 16 ours: eviction leaves pages still busy (exit 1: busy_check)
oom_reaper: reaped process 120 (hmm-tests), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB
HMMP2P-RESULT plan=ours passed=12 failed=1 skipped=0 housekeeping=3
EOF_

# ---- The OOM killer (7.3 global, then a 6.12 memory cgroup): one report,
# up to its "Killed process" line; the plan "pressure" allows it.
oom_report() { # $1: kernel version string
	cat <<EOF_
hmm-tests invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0
CPU: 1 UID: 0 PID: 120 Comm: hmm-tests Not tainted $1
Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.3-debian-1.16.3-2 04/01/2014
Call Trace:
 <TASK>
 dump_stack_lvl+0x5d/0x80
 dump_header+0x43/0x1b0
 oom_kill_process+0x10d/0x1c0
 out_of_memory+0x249/0x580
 __alloc_pages_slowpath.constprop.0+0xc2d/0xe40
 </TASK>
Mem-Info:
active_anon:1487402 inactive_anon:0 isolated_anon:0
 active_file:0 inactive_file:0 isolated_file:0
 unevictable:0 dirty:0 writeback:0
 slab_reclaimable:2064 slab_unreclaimable:6163
 free:12740 free_pcp:62 free_cma:0
Node 0 active_anon:5949608kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:4kB dirty:0kB writeback:0kB shmem:4584kB all_unreclaimable? yes
Node 0 DMA free:14336kB boost:0kB min:128kB low:160kB high:192kB reserved_highatomic:0KB active_anon:1536kB inactive_anon:0kB present:15992kB managed:15360kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 2964 5897 5897 5897
Node 0 DMA: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 0*128kB 0*256kB 0*512kB 0*1024kB 1*2048kB (M) 3*4096kB (M) = 14336kB
Node 0 hugepages_total=16 hugepages_free=16 hugepages_surp=0 hugepages_size=2048kB
1146 total pagecache pages
0 pages in swap cache
Free swap  = 0kB
Total swap = 0kB
1572862 pages RAM
0 pages HighMem/MovableOnly
49436 pages reserved
Tasks state (memory values in pages):
[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name
[      1]     0     1      592      224       32      192         0    49152        0             0 sh
[    120]     0   120  1488001  1487361  1487360        1         0 11943936        0             0 hmm-tests
oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=hmm-tests,pid=120,uid=0
Out of memory: Killed process 120 (hmm-tests) total-vm:5952004kB, anon-rss:5949440kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:11664kB oom_score_adj:0
oom_reaper: reaped process 120 (hmm-tests), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB
EOF_
}
memcg_oom() {
	cat <<'EOF_'
hmm-tests invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
CPU: 0 UID: 0 PID: 130 Comm: hmm-tests Not tainted 6.12.117-hmmp2p #1
Call Trace:
 <TASK>
 mem_cgroup_out_of_memory+0xe2/0x110
 </TASK>
memory: usage 65536kB, limit 65536kB, failcnt 38
swap: usage 0kB, limit 9007199254740988kB, failcnt 0
Memory cgroup stats for /pressure:
anon 66822144
Tasks state (memory values in pages):
[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name
[    130]     0   130    16941    16385    16384        1         0   188416        0             0 hmm-tests
oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/pressure,task_memcg=/pressure,task=hmm-tests,pid=130,uid=0
Memory cgroup out of memory: Killed process 130 (hmm-tests) total-vm:67764kB, anon-rss:65536kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:184kB oom_score_adj:0
EOF_
}
pressure=$here/splat-allow/pressure.txt
oom_report "7.3.4-hmmp2p #1 PREEMPT(voluntary)" >"$tmp/oom73"
oom_report "6.12.117-hmmp2p #1" >"$tmp/oom612"
memcg_oom >"$tmp/memcg"
for f in oom73 oom612 memcg; do
	expect "OOM report without an allowlist: one splat ($f)" 1 ": 1 splat
invoked oom-killer: gfp_mask=" <"$tmp/$f"
	expect "OOM report allowed for pressure ($f)" 0 "no splat
: 1 splat allowed
first at line 1: hmm-tests invoked oom-killer: gfp_mask=" --allow "$pressure" <"$tmp/$f"
done
expect "OOM rate-limited to its Killed process line: allowed" 0 "1 x /(^|[] ])Out of memory( \\([a-z_]+\\))?: Killed process" --allow "$pressure" <<'EOF_'
Out of memory: Killed process 120 (hmm-tests) total-vm:5952004kB, anon-rss:5949440kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:11664kB oom_score_adj:0
EOF_
expect "OOM rate-limited (memcg), no allowlist" 1 "Memory cgroup out of memory: Killed process 130" <<'EOF_'
Memory cgroup out of memory: Killed process 130 (hmm-tests) total-vm:67764kB, anon-rss:65536kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:184kB oom_score_adj:0
EOF_
# The allowed OOM report ends at its Killed process line: a stack dump
# right after it is a splat of its own.
{ cat "$tmp/oom73"; echo "CPU: 0 UID: 0 PID: 93 Comm: hmm-tests Not tainted 7.3.4-hmmp2p #1"; echo "Call Trace:"; } >"$tmp/fix"
expect "stack dump after an allowed OOM report counts" 1 ": 1 splat
(stack dump with no headline)" --allow "$pressure" <"$tmp/fix"
{ cat "$tmp/oom73"; echo "WARNING: mm/page_alloc.c:4781 at __alloc_frozen_pages_noprof+0x2f1/0x360, CPU#1: hmm-tests/120"; } >"$tmp/fix"
expect "pressure allowlist does not hide a WARNING" 1 ": 1 splat
WARNING: mm/page_alloc.c:4781" --allow "$pressure" <"$tmp/fix"
{ sed -n 1,20p "$tmp/oom73"; echo "BUG: KASAN: use-after-free in dump_tasks+0x1a/0x240"; sed -n '21,$p' "$tmp/oom73"; } >"$tmp/fix"
expect "pressure allowlist does not hide a KASAN report inside the OOM report" 1 ": 1 splat
BUG: KASAN: use-after-free in dump_tasks" --allow "$pressure" <"$tmp/fix"

# ---- The defects plan's pinned page across unload: allowed for defects,
# also as dmesg prints it; nothing else is.
defects=$here/splat-allow/defects.txt
expect "defects: pinned page warnings allowed" 0 "no splat
4 splats allowed
first at line 2: hmm_p2p: hmm_dmirror2: 1 pages still busy, retrying
first at line 4: hmm_p2p: hmm_dmirror2: 1 pages stay pinned" --allow "$defects" <<'EOF_'
hmmp2p: rmmod hmm_p2p_test
hmm_p2p: hmm_dmirror2: 1 pages still busy, retrying
hmm_p2p: hmm_dmirror2: 1 pages still busy, retrying
hmm_p2p: hmm_dmirror2: 1 pages stay pinned (first pfn 0x180000, 3 references): its memory stays registered, and hmm_p2p loaded, until they are freed
ok 23 pinned: rmmod hmm_p2p_test returns
[   45.123456] hmm_p2p: hmm_dmirror2: 1 pages stay pinned (first pfn 0x180000, 3 references): its memory stays registered, and hmm_p2p loaded, until they are freed
ok 24 pinned: the log says what is pinned
EOF_
expect "defects: evictions at close count (close no longer retries)" 1 ": 2 splats
hmm_dmirror0: eviction at close left pages on the device (-12)
hmm_p2p_test 0000:03:00.0: hmm_p2p0: eviction at close left pages (-16)" --allow "$defects" <<'EOF_'
hmm_dmirror0: eviction at close left pages on the device (-12)
hmm_p2p_test 0000:03:00.0: hmm_p2p0: eviction at close left pages (-16)
EOF_
expect "defects: a WARNING still counts" 1 "WARNING: hmm_p2p/devmem.c:612" --allow "$defects" <<'EOF_'
hmm_p2p: hmm_dmirror2: 1 pages stay pinned (first pfn 0x180000, 3 references): its memory stays registered, and hmm_p2p loaded, until they are freed
WARNING: hmm_p2p/devmem.c:612 at hp_devmem_orphan+0x1a/0x90 [hmm_p2p], CPU#0: rmmod/99
Call Trace:
EOF_
expect "a report inside a sysrq dump counts" 1 ": 1 splat
INFO: task hmm-tests:93 blocked for more than 181 seconds." <<'EOF_'
sysrq: Show State
task:init            state:S stack:0     pid:1     tgid:1     ppid:0      task_flags:0x400100 flags:0x00004002
Call Trace:
INFO: task hmm-tests:93 blocked for more than 181 seconds.
task:hmm-tests       state:D stack:0     pid:93    tgid:93    ppid:1      task_flags:0x400100 flags:0x00004002
Call Trace:
EOF_
expect "sysrq dump ends at the harness's next line" 1 ": 1 splat
line 5: Call Trace: (stack dump with no headline)" <<'EOF_'
sysrq: Show State
task:init            state:S stack:0     pid:1     tgid:1     ppid:0      task_flags:0x400100 flags:0x00004002
Call Trace:
hmmp2p: plan ours: exit status 0 after 12 s
Call Trace:
EOF_

# Many splats: all counted, the first ones quoted.
{ for i in $(seq 1 30); do echo "WARNING: CPU: 0 PID: $i at lib/foo.c:$i foo+0x1/0x2"; done; } >"$tmp/many"
expect "30 splats counted" 1 "30 splats" <"$tmp/many"

echo "# test-splat-check: $pass passed, $fail failed"
[ "$fail" = 0 ]
