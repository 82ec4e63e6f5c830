#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot a test kernel in QEMU and run one test plan, or several, in it.
#
# usage: tools/vm-run.sh --plan NAME[,NAME...] [--kernel 7.3|6.12] [--flavor normal|debug]
#            [--cpu MODEL] [--iommu] [--timeout S] [--append ARGS]
#            [--variant NAME] [--accel tcg|kvm] [--quiet|--plan-output] [--no-build]
#
#   --plan NAME     selftests/plans/NAME.sh (smoke, upstream, compat, demo, ...);
#                   NAME,NAME,...: the plans one after the other in one boot
#                   (a batch: one boot and one kmemleak check for all)
#   --kernel        kernel series (default $KERNEL or 7.3)
#   --flavor        normal or debug (default $FLAVOR or normal)
#   --cpu MODEL     guest CPU model (default qemu64: no P2P through the host
#                   bridge; EPYC, an AMD family 0x17, allows it)
#   --iommu         add an intel-iommu and boot with intel_iommu=on
#   --timeout S     hard limit for the whole VM run (default: per plan; at
#                   most 900 s a plan on the debug kernel; a batch's plans
#                   each keep their own limit). Shortly before it the
#                   guest's task stacks are dumped with sysrq (w, l, t)
#   --append ARGS   more kernel command line arguments
#   --variant NAME  suffix of the log name (default from --cpu/--iommu)
#   --accel         tcg (default; a KVM guest hangs on the project's machines)
#   --quiet         show only test results, not the whole console
#   --plan-output   show only what the plans print (make demo): not the boot,
#                   not kernel messages (booted with printk.time=1, which tells
#                   them apart); the whole console stays in the log
#   --no-build      use what is built; do not build kernel, modules or selftests
#
# Makes sure the kernel (tools/build-kernel.sh, or $KDIR), the modules (make
# modules), our selftests (make selftests) and the initramfs exist, boots
# q35 with the project's device topology, keeps the console in
# out/logs/<kernel>-<flavor>-<plan>[-<variant>].log, and checks it for kernel
# splats (tools/splat-check.sh, with tools/splat-allow/PLAN.txt as the
# allowlist when it exists). The run passes only if the guest's verdict
# (QEMU's exit status via isa-debug-exit) is "pass", the guest printed its
# HMMP2P-RESULT line and there is no splat. It ends with the line
#   HMMP2P-RUN run=NAME result=PASS|FAIL passed=N failed=N skipped=N housekeeping=N seconds=N
# (passed, failed, skipped: tests; housekeeping: setup steps that passed),
# and the same line is kept in out/logs/NAME.result. Exit status 0 on PASS.
#
# A batch (--plan A,B) boots once; its console is out/logs/<kernel>-<flavor>-
# batch[-variant].log, and each plan's part of it (the boot goes with the
# first plan) is cut out into the plan's own log, judged with the plan's own
# allowlist and result line, and given its own HMMP2P-RUN line and .result
# file, as if it had booted alone. On the debug kernel the kmemleak check
# after the last plan is a part of its own, "kmemleak". A plan that a crash
# or a timeout of an earlier one kept from running fails (no result line).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out_dir=${OUT:-$top/out}

kernel=${KERNEL:-7.3} flavor=${FLAVOR:-normal} plan='' cpu=qemu64 iommu=0
timeout='' append='' variant='' accel=tcg quiet=0 planout=0 build=1
while [ $# -gt 0 ]; do
	case $1 in
	--plan) plan=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--flavor) flavor=$2; shift 2 ;;
	--cpu) cpu=$2; shift 2 ;;
	--iommu) iommu=1; shift ;;
	--timeout) timeout=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--variant) variant=$2; shift 2 ;;
	--accel) accel=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	--plan-output) planout=1; shift ;;
	--no-build) build=0; shift ;;
	-h|--help) sed -n '3,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "vm-run: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done

say() { echo "vm-run: $*"; }
die() { echo "vm-run: $*" >&2; exit 2; }

[ -n "$plan" ] || die "--plan NAME is required (plans: $(cd "$top/selftests/plans" && ls *.sh | sed 's/\.sh$//' | tr '\n' ' '))"
plans=$(tr ',' ' ' <<<"$plan")
[[ $plan =~ ^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$ ]] || die "--plan takes NAME or NAME,NAME,..."
for p in $plans; do
	[ -f "$top/selftests/plans/$p.sh" ] || die "no plan selftests/plans/$p.sh"
done
[ "$(tr ' ' '\n' <<<"$plans" | sort | uniq -d)" = "" ] || die "--plan: a plan twice in one batch"
first=${plans%% *}
batch=0
[ "$first" = "$plans" ] || batch=1
case $flavor in normal|debug) ;; *) die "--flavor must be normal or debug" ;; esac
case $accel in tcg|kvm) ;; *) die "--accel must be tcg or kvm" ;; esac
[[ $timeout =~ ^[0-9]*$ ]] || die "--timeout takes seconds"

# Per-plan hard limits: generous, TCG is slow (upstream's suite: ~80 s on
# 7.3, ~380 s on the debug kernel) and the machine may be busy. The debug
# kernel gets four times as long, at most 900 s (its plans take 70-160 s):
# a hang there costs a quarter of an hour, not an hour.
# plan_limit NAME: a plan's own limit (in a batch, from its start line).
plan_limit() {
	local t
	case $1 in
	upstream|compat|ours|bench|fuzz|reload|stress) t=900 ;;
	*) t=300 ;;
	esac
	if [ "$flavor" = debug ]; then
		t=$((t * 4))
		[ "$t" -le 900 ] || t=900
	fi
	echo "$t"
}
if [ -z "$timeout" ]; then
	timeout=0
	for p in $plans; do timeout=$((timeout + $(plan_limit "$p"))); done
	# a batch's kmemleak scans, and its boot
	[ "$batch" = 0 ] || timeout=$((timeout + 300))
fi
[ "$timeout" -ge 2 ] || die "--timeout must be at least 2 s"
# Before the hard limit kills a guest, its task stacks are dumped (sysrq
# w: blocked tasks, l: all CPUs' backtraces, t: all tasks) through QEMU's
# monitor: this long before it (half the limit for a tiny one).
dump_lead=30
[ "$dump_lead" -le $((timeout / 2)) ] || dump_lead=$((timeout / 2))
# Boot watchdog: the guest's init says "plan NAME: start" before it loads any
# module. A guest that has not said it after this long hung in the kernel's
# own boot (seen once on the debug kernel under TCG, in early initcalls):
# it is killed and booted once more, and the run says so. A hang after the
# plan started is the run's own and only the hard limit above ends it.
# VM_BOOT_LIMIT=S overrides it (a tiny one shows the watchdog at work).
boot_limit=240
[ "$flavor" = debug ] && boot_limit=480
boot_limit=${VM_BOOT_LIMIT:-$boot_limit}
[[ $boot_limit =~ ^[0-9]+$ ]] || die "VM_BOOT_LIMIT takes seconds"

if [ -z "$variant" ]; then
	[ "$cpu" = qemu64 ] || variant=$cpu
	[ "$iommu" = 0 ] || variant=${variant:+$variant-}iommu
	[ "$accel" = tcg ] || variant=${variant:+$variant-}$accel
fi
if [ "$batch" = 1 ]; then
	name=$kernel-$flavor-batch${variant:+-$variant}
else
	name=$kernel-$flavor-$plan${variant:+-$variant}
fi
logdir=$out_dir/logs
log=$logdir/$name.log
mkdir -p "$logdir"
rm -f "$logdir/$name.result"
for p in $plans kmemleak; do rm -f "$logdir/$kernel-$flavor-$p${variant:+-$variant}.result"; done

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found: run 'make deps'"

# 1. Kernel, modules, selftests, initramfs.
if [ -n "${KDIR:-}" ]; then
	kdir=$KDIR
elif [ "$build" = 1 ]; then
	kdir=$("$top/tools/build-kernel.sh" "$kernel" "$flavor")
else
	# The newest finished build of that series and flavor.
	kdir=$(ls -dt "${HMM_P2P_CACHE:-$HOME/.cache/hmm-p2p}"/build/"$kernel".*-"$flavor"-*/.hmm-p2p-done 2>/dev/null |
		head -n 1 | xargs -r dirname)
	[ -n "$kdir" ] || die "no built $kernel $flavor kernel (drop --no-build)"
fi
bzimage=$kdir/arch/x86/boot/bzImage
[ -f "$bzimage" ] || die "no $bzimage"
moddir=$out_dir/$kernel-$flavor/modules
if [ "$build" = 1 ]; then
	say "building modules for $kernel-$flavor"
	make -s -C "$top" modules KERNEL="$kernel" FLAVOR="$flavor" KDIR="$kdir" >&2 ||
		die "make modules failed"
	if [ -f "$top/selftests/selftests.mk" ]; then
		make -s -C "$top" selftests >&2 || die "make selftests failed"
	fi
	if [ -f "$top/tools/hmm-bench/bench.mk" ]; then
		make -s -C "$top" hmm-bench >&2 || die "make hmm-bench failed"
	fi
	if [ -f "$top/tools/hmm-drm/drm.mk" ]; then
		make -s -C "$top" hmm-drm >&2 || die "make hmm-drm failed"
	fi
fi
initrd=$out_dir/initramfs/$kernel-$flavor.cpio.gz
"$here/mkinitramfs.sh" --kdir "$kdir" --modules "$moddir" --out "$initrd"

# 2. The machine. Coherent memory: memmap reserves 1 GiB at 6 GiB of guest
# RAM; upstream test_hmm's coherent devices (and ours) take 512 MiB each.
# watchdog_thresh=20: a soft lockup is reported after 40 s (twice the
# threshold), well past what a loaded 2-core TCG host stalls a CPU for; the
# hung-task timeout (180 s) is in tools/configs/base.config.
cmdline="console=ttyS0 transparent_hugepage=madvise hugepages=16 memmap=1G\$0x180000000"
cmdline+=" watchdog_thresh=20"
cmdline+=" oops=panic panic=-1 hmmp2p.plan=$plan hmmp2p.series=$kernel hmmp2p.flavor=$flavor"
qemu=(qemu-system-x86_64 -M q35 -accel "$accel" -cpu "$cpu" -smp 2 -m 6G
	-display none -serial stdio -no-reboot
	-kernel "$bzimage" -initrd "$initrd")
if [ "$iommu" = 1 ]; then
	qemu+=(-device intel-iommu)
	cmdline+=" intel_iommu=on"
fi
# Device memory: three ivshmem-plain BARs of 1 GiB. dn0/dn1 sit behind one
# PCIe switch (P2P path through it); the third has its own root port (no
# P2P path unless the CPU lets the host bridge do it: see --cpu).
for i in 0 1 2; do
	qemu+=(-object "memory-backend-ram,id=vram$i,size=1G,share=on")
done
# shellcheck disable=SC2054 # commas belong to the QEMU arguments
qemu+=(-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1
	-device x3130-upstream,id=up0,bus=rp0
	-device xio3130-downstream,id=dn0,bus=up0,chassis=2,slot=0
	-device xio3130-downstream,id=dn1,bus=up0,chassis=3,slot=1
	-device ivshmem-plain,memdev=vram0,bus=dn0
	-device ivshmem-plain,memdev=vram1,bus=dn1
	-device pcie-root-port,id=rp1,bus=pcie.0,chassis=4
	-device ivshmem-plain,memdev=vram2,bus=rp1
	-device isa-debug-exit,iobase=0xf4,iosize=0x04)
# --plan-output: kernel messages get a timestamp, the plans' lines none
[ "$planout" = 0 ] || cmdline+=" printk.time=1"
[ -n "$append" ] && cmdline+=" $append"
qemu+=(-append "$cmdline")

qver=$(qemu-system-x86_64 --version | head -n 1)
{
	if [ "$batch" = 1 ]; then
		say "run $name: plans $plans in one boot on Linux $kernel ($flavor), timeout ${timeout}s (each plan: its own limit)"
	else
		say "run $name: plan $plan on Linux $kernel ($flavor), timeout ${timeout}s"
	fi
	say "$qver; machine q35, accel $accel, cpu $cpu, smp 2, mem 6G, iommu $([ "$iommu" = 1 ] && echo intel-iommu || echo none)"
	say "kernel $bzimage"
	say "append $cmdline"
} | tee "$log"

# 3. Boot. QEMU's exit status carries the guest's verdict: isa-debug-exit
# makes it (value << 1) | 1, so 33 = pass, 35 = fail (tools/guest/debug-exit.c).
# 0 = the guest rebooted (a panic: oops=panic panic=-1 -no-reboot) or powered
# off without a verdict; 124 = killed by the timeout.
pidfile=$logdir/$name.qemu.pid
hung=$logdir/$name.boot-hang
dumped=$logdir/$name.stacks-dumped
plan_timeout=$logdir/$name.plan-timeout
# QEMU's human monitor on a unix socket (sun_path has 108 bytes), for sysrq.
mon=$logdir/$name.mon
[ ${#mon} -lt 100 ] || mon=/tmp/hmmp2p-$$.mon
qemu+=(-monitor "unix:$mon,server=on,wait=off")

# hmp CMD...: send QEMU monitor commands, one after the other.
hmp() {
	python3 - "$mon" "$@" <<'PY_' 2>&1
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
def drain():
    time.sleep(0.5)
    try:
        s.recv(65536)
    except OSError:
        pass
drain()
for cmd in sys.argv[2:]:
    s.sendall((cmd + "\n").encode())
    drain()
s.close()
PY_
}

# dump_stacks WHY: the guest's task stacks into the console log, with sysrq
# keys (the guest kernels have MAGIC_SYSRQ, all functions enabled, and an
# i8042 keyboard).
dump_stacks() {
	local k err
	echo "vm-run: TIMEOUT in ${dump_lead}s$1: dumping the guest's task stacks (sysrq w, l, t)" | tee -a "$log"
	for k in w l t; do
		err=$(hmp "sendkey alt-sysrq-$k") || { echo "vm-run: sysrq $k: monitor failed: $err" | tee -a "$log"; return 0; }
		sleep $((dump_lead / 6 > 0 ? dump_lead / 6 : 1))
	done
	touch "$dumped"
}

# current_plan: the plan whose start line the console showed last.
current_plan() {
	sed -n 's/^hmmp2p: plan \([A-Za-z0-9_-]*\): start$/\1/p' "$log" | tail -n 1
}

# hang_watch: shortly before the hard limit, dump the guest's task stacks. In
# a batch, also each plan's own limit from its start line: past it, the
# stacks are dumped and the guest is killed ($plan_timeout names the plan).
hang_watch() {
	local now cur='' since=0 lim p end=$(($(date +%s) + timeout - dump_lead))
	# short sleeps: a killed watch leaves no long sleep behind
	while :; do
		sleep 2
		now=$(date +%s)
		[ "$now" -lt "$end" ] || break
		[ "$batch" = 1 ] || continue
		p=$(current_plan)
		if [ -n "$p" ] && [ "$p" != "$cur" ]; then cur=$p since=$now; fi
		[ -n "$cur" ] || continue
		if [ "$cur" = kmemleak ]; then lim=300; else lim=$(plan_limit "$cur"); fi
		[ $((now - since)) -ge $((lim - dump_lead)) ] || continue
		dump_stacks " (plan $cur's limit, ${lim}s)"
		while [ "$(date +%s)" -lt $((since + lim)) ]; do sleep 2; done
		[ "$(current_plan)" = "$cur" ] || continue
		echo "$cur $lim" > "$plan_timeout"
		echo "vm-run: TIMEOUT: plan $cur ran past its ${lim}s: guest killed" | tee -a "$log"
		kill "$(cat "$pidfile")" 2>/dev/null || true
		return 0
	done
	[ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null || return 0
	dump_stacks ""
}

# boot_watch START_LINE: kill the guest unless the plan starts in time.
boot_watch() {
	_w=0
	while [ "$_w" -lt "$boot_limit" ]; do
		sleep 5
		_w=$((_w + 5))
		# awk reads the whole file: no early-exit pipe (pipefail, SIGPIPE)
		awk -v from="$1" -v want="hmmp2p: plan $first: start" \
			'NR >= from && index($0, want) == 1 { found = 1; exit }
			 END { exit !found }' "$log" && return 0
	done
	[ -s "$pidfile" ] || return 0
	# (no line yet is no error: set -e and pipefail hold in here too)
	{ tail -n +"$1" "$log" | grep -av '^$' | tail -n 1 || true; } > "$hung"
	kill "$(cat "$pidfile")" 2>/dev/null || true
}

start=$(date +%s)
boots=0
while :; do
	boots=$((boots + 1))
	rm -f "$pidfile" "$hung" "$dumped" "$mon" "$plan_timeout"
	boot_watch "$(($(wc -l < "$log") + 1))" &
	watch=$!
	hang_watch &
	hwatch=$!
	set +e
	timeout -k 10 "$timeout" "${qemu[@]}" -pidfile "$pidfile" </dev/null 2>&1 |
		sed -u 's/\r$//' | tee -a "$log" |
		if [ "$quiet" = 1 ]; then
			grep --line-buffered -E '^(not )?ok [0-9]+ |^HMMP2P-|^hmmp2p: (plan|run_tap|kmemleak)|Kernel panic|qemu-system'
		elif [ "$planout" = 1 ]; then
			sed -u -n '/^hmmp2p: plan [A-Za-z0-9_-]*: start$/,$p;/qemu-system/p' |
				grep -a --line-buffered -Ev '^\[ *[0-9]+\.[0-9]+\] '
		else
			cat
		fi
	status=${PIPESTATUS[0]}
	kill "$watch" "$hwatch" 2>/dev/null
	wait "$watch" "$hwatch" 2>/dev/null
	set -e
	[ -f "$hung" ] || break
	echo "vm-run: BOOT HANG: boot $boots: no \"plan $first: start\" after ${boot_limit}s, guest killed; its last line: $(if [ -s "$hung" ]; then cat "$hung"; else echo "(none yet)"; fi)" |
		tee -a "$log"
	[ "$boots" -lt 2 ] || { status=boot-hang; break; }
	echo "vm-run: booting once more (the plan had not started: no module was loaded)" | tee -a "$log"
done
stacks=
[ -f "$dumped" ] && stacks=", task stacks dumped above (sysrq w, l, t)"
ptimed=
[ -s "$plan_timeout" ] && ptimed=$(cat "$plan_timeout")
rm -f "$pidfile" "$hung" "$dumped" "$mon" "$plan_timeout"
secs=$(( $(date +%s) - start ))

case $status in
33) verdict=pass; why="guest verdict: pass" ;;
35) verdict=fail; why="guest verdict: fail" ;;
124|137) verdict=fail; why="TIMEOUT: no verdict after ${timeout}s, guest killed$stacks" ;;
0) verdict=fail; why="guest ended without a verdict (kernel panic, or init died)" ;;
boot-hang) verdict=fail; why="the kernel hung while booting, twice (BOOT HANG above)" ;;
*) verdict=fail; why="QEMU failed with exit status $status" ;;
esac
[ -z "$ptimed" ] || { verdict=fail; why="TIMEOUT: plan ${ptimed% *} ran past its ${ptimed#* }s, guest killed$stacks"; }
echo "vm-run: QEMU exit status $status ($why), ${secs}s" | tee -a "$log"

# judge PART LOG SECS: the verdict on one plan's console (PART: the plan, or
# kmemleak): its splats, with the plan's allowlist if it has one (what it
# allowed is reported), and its counts. Prints the HMMP2P-RUN line and keeps
# it in out/logs/<kernel>-<flavor>-PART[-variant].result; returns 1 on FAIL.
# A lone plan's console also holds the kmemleak check: its counts add to the
# plan's, and the run needs the guest's verdict. A batch's part passes on
# its own result line (another part's failure is that part's).
judge() {
	local part=$1 plog=$2 psecs=$3 allow=() allowfile pname res line reasons=() result=PASS
	local passed=0 failed=0 skipped=0 housekeeping=0 splat_status=0 f
	pname=$kernel-$flavor-$part${variant:+-$variant}
	allowfile=$here/splat-allow/$part.txt
	if [ -f "$allowfile" ]; then
		allow=(--allow "$allowfile")
		say "$part: splat allowlist: tools/splat-allow/$part.txt" | tee -a "$plog"
	else
		say "$part: splat allowlist: none (no tools/splat-allow/$part.txt)" | tee -a "$plog"
	fi
	"$here/splat-check.sh" ${allow[@]+"${allow[@]}"} "$plog" || splat_status=$?

	if [ "$batch" = 1 ]; then
		res=$(grep -a "^HMMP2P-RESULT plan=$part " "$plog" | tail -n 1 || true)
	else
		res=$(grep -a '^HMMP2P-RESULT ' "$plog" || true)
	fi
	while read -r line; do
		[ -n "$line" ] || continue
		for f in passed failed skipped housekeeping; do
			v=$(sed -n "s/.* $f=\([0-9]*\).*/\1/p" <<<"$line")
			eval "$f=\$(($f + ${v:-0}))"
		done
	done <<<"$res"
	{ grep -a '^HMMP2P-TAP ' "$plog" || true; } | while read -r _ t; do say "TAP totals: $t"; done
	# kselftest names are fixture.variant.test: sum them per fixture.variant.
	{ grep -aE '^(not )?ok [0-9]+ [A-Za-z0-9_]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+' "$plog" || true; } | awk '
		{ notok = ($1 == "not"); n = notok ? $4 : $3; split(n, p, "."); v = p[1] "." p[2]
		  if (!(v in seen)) { seen[v] = 1; order[++nv] = v }
		  if (notok) fail[v]++; else if ($0 ~ /# SKIP/) skip[v]++; else pass[v]++
		  if (notok && ++nf[v] <= 8) failed[v] = failed[v] " " p[3]
		  else if (notok && nf[v] == 9) failed[v] = failed[v] " ..." }
		END { for (i = 1; i <= nv; i++) { v = order[i]
			printf "vm-run:   %-32s pass %3d  fail %3d  skip %3d%s\n", v, pass[v], fail[v], skip[v],
				failed[v] != "" ? "  failed:" failed[v] : "" } }'

	if [ "$batch" = 0 ] && [ "$verdict" != pass ]; then
		result=FAIL; reasons+=("$why")
	fi
	[ "$splat_status" = 0 ] || { result=FAIL; reasons+=("kernel splat (quoted above)"); }
	if [ -z "$res" ]; then
		result=FAIL
		reasons+=("the guest printed no HMMP2P-RESULT line${part:+ for $part}")
		[ "$batch" = 0 ] || [ "$verdict" = pass ] || reasons+=("the boot: $why")
	elif [ "$failed" != 0 ]; then
		result=FAIL
	fi
	# A failed run always counts at least one failure.
	[ "$result" = PASS ] || [ "$failed" != 0 ] || failed=1
	line="HMMP2P-RUN run=$pname result=$result passed=$passed failed=$failed skipped=$skipped housekeeping=$housekeeping seconds=$psecs"
	[ ${#reasons[@]} = 0 ] || say "$pname failed: $(IFS=';'; echo "${reasons[*]}" | sed 's/;/; /g')"
	say "log: $plog"
	echo "$line" | tee "$logdir/$pname.result"
	[ "$result" = PASS ]
}

if [ "$batch" = 0 ]; then
	judge "$plan" "$log" "$secs"
	exit
fi

# A batch: cut the console into its parts (the header and the boot go with
# the first plan, the end of the run with the last part), judge each.
parts=$plans
grep -aq '^hmmp2p: kmemleak: scan before the plans' "$log" && parts="$parts kmemleak"
for p in $parts; do : > "$logdir/$kernel-$flavor-$p${variant:+-$variant}.log"; done
awk -v dir="$logdir/" -v pre="$kernel-$flavor-" -v suf="${variant:+-$variant}.log" \
	-v first="$first" -v parts=" $parts " '
	BEGIN { cur = first }
	/^hmmp2p: plan [A-Za-z0-9_-]+: start$/ {
		p = $3; sub(/:$/, "", p)
		if (index(parts, " " p " ")) cur = p
	}
	{ print > (dir pre cur suf) }
	' "$log"
# every part log starts with the run header
for p in ${parts#"$first"}; do
	plog=$logdir/$kernel-$flavor-$p${variant:+-$variant}.log
	{ head -n 4 "$log"; cat "$plog"; } > "$plog.tmp" && mv "$plog.tmp" "$plog"
done
rc=0
tp=0 tf=0 ts=0 th=0
for p in $parts; do
	plog=$logdir/$kernel-$flavor-$p${variant:+-$variant}.log
	psecs=$(sed -n "s/^hmmp2p: plan $p: exit status [0-9]* after \([0-9]*\) s$/\1/p" "$plog" | tail -n 1)
	[ "$p" != kmemleak ] || psecs=$(sed -n 's/^hmmp2p: kmemleak: two scans after the plans (\([0-9]*\) s)$/\1/p' "$plog")
	out=$(judge "$p" "$plog" "${psecs:-0}") || rc=1
	echo "$out"
	line=$(tail -n 1 <<<"$out")
	f() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"; }
	tp=$((tp + $(f passed))) tf=$((tf + $(f failed))) ts=$((ts + $(f skipped))) th=$((th + $(f housekeeping)))
done
result=PASS
[ "$rc" = 0 ] && [ "$verdict" = pass ] || result=FAIL
[ "$result" = PASS ] || [ "$tf" != 0 ] || tf=1
say "batch log: $log"
echo "HMMP2P-RUN run=$name result=$result passed=$tp failed=$tf skipped=$ts housekeeping=$th seconds=$secs" |
	tee "$logdir/$name.result"
[ "$result" = PASS ]
