# SPDX-License-Identifier: GPL-2.0
# demo: the project's main job, shown. A process's buffer moves to device
# memory and back: device-private memory (the CPU faults pages back) and
# device-coherent memory (the CPU reads it in place); then a small buffer
# page by page, with a strip of each page's type after every step, and peer
# to peer: a PCI device's pages read by a peer through the PCIe switch and by
# one with no path (the counters say which path each read took). Uses
# hmm-p2p's test device when it can migrate, else upstream's lib/test_hmm as
# a stand-in (no page strips with P2P then). make demo shows this plan's own
# output only (tools/vm-run.sh --plan-output): the kernel messages it wants
# seen, it prints itself (kmsg_since).

: "${DEMO_MIB:=64}"

section() { echo; echo "=== $* ==="; }

# kmsg_mark, kmsg_since: the kernel's messages since the mark, indented,
# without timestamps (make demo hides the console's kernel lines). The mark
# empties the kernel's ring buffer; the console log keeps every message.
kmsg_mark() { dmesg -c >/dev/null; }
kmsg_since() { dmesg | sed 's/^\[ *[0-9]*\.[0-9]*\] //; s/^/  kernel: /'; }

iomem() {
	# Device memory as the kernel sees it: the PCI BARs of the ivshmem
	# devices, the reserved range for coherent memory, and the ZONE_DEVICE
	# regions the driver registered.
	grep -iE 'hmm|dmirror|reserved|1af4|ivshmem|^ *1[89ab]' /proc/iomem | grep -v '^ *0000' || true
	echo "(ivshmem BARs, 1 GiB each:)"
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] || continue
		echo "  $(basename "$d"): BAR2 $(sed -n 3p "$d/resource" | awk '{print $1 "-" $2}')"
	done
}

section "1. device memory before any driver"
iomem

section "2. load a driver"
driver=
kmsg_mark
if load_ours >/dev/null 2>&1 && hmm-demo -p 0 2>/dev/null; then
	driver=ours
	say "hmm-p2p's test device migrates: showing hmm_p2p.ko + hmm_p2p_test.ko"
else
	unload_ours >/dev/null 2>&1
	say "hmm-p2p's test device cannot migrate yet: showing upstream's lib/test_hmm.ko instead"
	kmsg_mark
	load_upstream && driver=upstream
fi
kmsg_since | grep -v 'loading out-of-tree module taints kernel'
setup "demo: a driver is loaded ($driver)" [ -n "$driver" ]
ls -l /dev/hmm_dmirror* /dev/hmm_p2p* 2>/dev/null

section "3. device memory with the driver loaded"
iomem

section "4. migrate a ${DEMO_MIB} MiB buffer to device-private memory and back"
check "demo: device-private round trip" hmm-demo -s "$DEMO_MIB" 0

section "5. the same with device-coherent memory"
check "demo: device-coherent round trip" hmm-demo -s "$DEMO_MIB" 2

section "6. page by page, and peer to peer"
if [ "$driver" = ours ]; then
	check "demo: page-type journey and P2P reads" hmm-demo -j
else
	say "(upstream's test_hmm has no PCI devices and no page classes: skipped)"
fi

section "7. unload"
if [ "$driver" = ours ]; then setup "demo: unload" unload_ours
else setup "demo: unload" unload_upstream; fi
