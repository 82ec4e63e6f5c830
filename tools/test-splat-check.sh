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

# expect NAME STATUS QUOTE [--allow]: fixture on stdin; splat-check must exit
# STATUS and, when QUOTE is not empty, print a line containing QUOTE.
expect() {
	local name=$1 want=$2 quote=$3 out rc=0
	shift 3
	cat > "$tmp/log"
	out=$("$check" "$@" "$tmp/log" 2>&1) || rc=$?
	if [ "$rc" = "$want" ] && { [ -z "$quote" ] || grep -qF -- "$quote" <<<"$out"; }; then
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
expect "timestamped BUG" 1 "BUG: kernel NULL pointer dereference, address: 0000000000000008" <<'EOF_'
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

# Many splats: all counted, the first ones quoted.
{ for i in $(seq 1 30); do echo "WARNING: CPU: 0 PID: $i at lib/foo.c:$i foo+0x1/0x2"; done; } >"$tmp/many"
expect "30 splats counted" 1 "30 splats" <"$tmp/many"

echo "# test-splat-check: $pass passed, $fail failed"
[ "$fail" = 0 ]
