# SPDX-License-Identifier: GPL-2.0
# demo: the project's main job, shown. A process's buffer moves to device
# memory and back: device-private memory (the CPU faults pages back) and
# device-coherent memory (the CPU reads it in place). Uses hmm-p2p's test
# device when it can migrate, else upstream's lib/test_hmm as a stand-in.

: "${DEMO_MIB:=64}"

section() { echo; echo "=== $* ==="; }

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
if load_ours >/dev/null 2>&1 && hmm-demo -p 0 2>/dev/null; then
	driver=ours
	say "hmm-p2p's test device migrates: showing hmm_p2p.ko + hmm_p2p_test.ko"
else
	unload_ours >/dev/null 2>&1
	say "hmm-p2p's test device cannot migrate yet: showing upstream's lib/test_hmm.ko instead"
	load_upstream && driver=upstream
fi
setup "demo: a driver is loaded ($driver)" [ -n "$driver" ]
ls -l /dev/hmm_dmirror*

section "3. device memory with the driver loaded"
iomem

section "4. migrate a ${DEMO_MIB} MiB buffer to device-private memory and back"
check "demo: device-private round trip" hmm-demo -s "$DEMO_MIB" 0

section "5. the same with device-coherent memory"
check "demo: device-coherent round trip" hmm-demo -s "$DEMO_MIB" 2

section "6. device memory after the demo"
iomem

section "7. unload"
if [ "$driver" = ours ]; then setup "demo: unload" unload_ours
else setup "demo: unload" unload_upstream; fi
