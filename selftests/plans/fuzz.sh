# SPDX-License-Identifier: GPL-2.0
# fuzz: selftests/hmm_p2p_fuzz.c on every test device (dmirror0..3 and the
# PCI devices, and their DRM front end's render nodes), several processes and threads with the address space
# changing under them, then SIGKILL rounds. Afterwards every device's
# pages_in_use is 0 (the fuzzer checks), both modules unload, and
# /proc/iomem is what it was before they were loaded.
#
# Knobs (kernel command line, e.g. make check ... VMARGS="--append ..."):
#   hmmp2p.fuzz_secs=S   fuzzing time (default 90 s; 20 s on the debug kernel).
#                        90 s since the DMA-addressed copy engine made calls
#                        slower: at 40 s make check's three runs made 80k
#                        calls, at 60 s about 85k, under the 100k the
#                        reliability issue asks for. The normal kernels'
#                        boots are not make check's critical path (the debug
#                        kernel's is), so this costs no wall time.
#   hmmp2p.fuzz_seed=N   replay a seed the log printed
#   hmmp2p.fuzz_procs=P  processes (default 3)

BIN=$BINDIR/hmm_p2p_fuzz
arg() { sed -n "s/.*hmmp2p\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
secs=$(arg fuzz_secs) seed=$(arg fuzz_seed) procs=$(arg fuzz_procs)
dbg=""
if [ "$FLAVOR" = debug ]; then
	dbg=-d
	: "${secs:=20}"
fi
: "${secs:=90}" "${procs:=3}"

grep -v '^ *$' /proc/iomem > /tmp/iomem.before
setup "fuzz: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
# The DRM front end's render nodes get their commands too (uapi/hmm_p2p_drm.h),
# where the kernel has drm.ko.
drm_front_end() { kmod_load drm && _insmod hmm_p2p_drm; }
if [ -f "$MODDIR/kdir/drm.ko" ] && [ -f "$MODDIR/hmm_p2p_drm.ko" ]; then
	setup "fuzz: load drm.ko and hmm_p2p_drm.ko" drm_front_end
else
	say "fuzz: no drm.ko or hmm_p2p_drm.ko: no DRM commands"
fi
# A call that never returns is this plan's failure, not the VM's timeout:
# past its time plus a margin, the watchdog dumps every task's stack (sysrq
# w and t) and kills the fuzzer, so the log shows where it hung.
limit=$((secs + 90))
(
	sleep "$limit"
	say "fuzz: still running after $limit s: blocked tasks and all stacks follow"
	echo w > /proc/sysrq-trigger
	echo t > /proc/sysrq-trigger
	killall -9 hmm_p2p_fuzz
) &
wd=$!
# The fuzzer is root here: FAULT_INJECT, COPY_BENCH and DMA READ succeed too.
# shellcheck disable=SC2086
run_tap hmm_p2p_fuzz "$BIN" -t "$secs" -P "$procs" -k "$KERNEL_SERIES-$FLAVOR" $dbg \
	${seed:+-s "$seed"}
kill "$wd" 2>/dev/null
setup "fuzz: unload" unload_ours
is_loaded drm && setup "fuzz: unload drm.ko" sh -c 'rmmod drm && rmmod drm_panel_orientation_quirks'
grep -v '^ *$' /proc/iomem > /tmp/iomem.after
iomem_same() { diff /tmp/iomem.before /tmp/iomem.after; }
check "fuzz: /proc/iomem is as before the modules were loaded" iomem_same
