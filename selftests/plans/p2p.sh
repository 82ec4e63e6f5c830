# SPDX-License-Identifier: GPL-2.0
# p2p: peer to peer between the PCI test devices (/dev/hmm_p2pN, QEMU
# ivshmem-plain; README.md "Peer to peer"). Run it on each topology:
#   tools/vm-run.sh --plan p2p                       (qemu64: lone device has no path)
#   tools/vm-run.sh --plan p2p --cpu EPYC            (host-bridge path)
#   tools/vm-run.sh --plan p2p --cpu EPYC --iommu    (host bridge through the IOMMU)
# selftests/p2p_tests.c does the work; this plan adds the unbind test (last:
# it unbinds and rebinds a device) and the bad devices (module parameters
# that make a device look broken at probe).

P2P=$BINDIR/p2p_tests

p2p_nodes() {
	for _n in 0 1 2; do
		[ -c "/dev/hmm_p2p$_n" ] || { say "/dev/hmm_p2p$_n missing"; return 1; }
	done
}
p2p_nodes_gone() { ! ls /dev/hmm_p2p* >/dev/null 2>&1; }

# dmesg_has TEXT: the kernel said TEXT since the last dmesg -c.
dmesg_has() { dmesg | grep -F -- "$1"; }

say "cpu: $(grep -m1 'model name' /proc/cpuinfo); iommu: $(echo /sys/class/iommu/*)"
setup "p2p: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
setup "p2p: /dev/hmm_p2p0..2 exist" p2p_nodes
dmesg | grep -E 'hmm_p2p[0-9]|peer-to-peer' | sed 's/^/    /'

run_tap p2p_tests "$P2P" -T unbind_peer -T unbind_importer -T unbind_classify_race \
	-T unbind_read_race -T unbind_without_sys_thp -T unbind_while_opener_killed \
	-T unbind_async_prefetch -T dev_to_dev_unbind_source
# 7.3: the per-page mappings (hmm_p2p.mirror_map=perpage, kept for
# comparison) once more, in every topology: mappings, P2P, the IOMMU's view.
# Not on the debug kernel: its boot is make check's longest, and the
# per-page path runs there in every 6.12 test.
MIRROR_MAP=/sys/module/hmm_p2p/parameters/mirror_map
set_mirror_map() { echo "$1" > "$MIRROR_MAP" && [ "$(cat "$MIRROR_MAP")" = "$1" ]; }
if [ "$FLAVOR" = debug ]; then
	skip "p2p: per-page mappings once more" "not on the debug kernel (6.12 runs them)"
elif [ "$(cat "$MIRROR_MAP" 2>/dev/null)" = twostep ]; then
	if setup "p2p: mirror_map=perpage" set_mirror_map perpage; then
		run_tap --expect 6 p2p_tests-perpage "$P2P" -t switch_peer_rw -t host_bridge_peer_rw \
			-t nopath_fallback -t wrong_mapping -t iommu_unlink -t switch_peer_large
	fi
	setup "p2p: mirror_map=twostep" set_mirror_map twostep
else
	skip "p2p: per-page mappings once more" "mirror_map is $(cat "$MIRROR_MAP" 2>/dev/null) only"
fi
run_tap --expect 8 p2p_tests-unbind "$P2P" -t unbind_peer -t unbind_importer -t unbind_classify_race \
	-t unbind_read_race -t unbind_without_sys_thp -t unbind_while_opener_killed \
	-t unbind_async_prefetch -t dev_to_dev_unbind_source

setup "p2p: unload" unload_ours
check "p2p: /dev/hmm_p2p* gone" p2p_nodes_gone

# Bad devices: each fails its probe with a clear message; the others work.
dmesg -c >/dev/null
setup "p2p: load with a device without BAR2" load_ours pci_sim_nobar=0
check "p2p: ... says so" dmesg_has "hmm_p2p0: no memory BAR2"
check "p2p: ... and has no node" test ! -e /dev/hmm_p2p0
check "p2p: ... the others do" test -c /dev/hmm_p2p1
setup "p2p: unload" unload_ours
dmesg -c >/dev/null
setup "p2p: load with a BAR2 too small" load_ours pci_sim_small=1
check "p2p: ... says so" dmesg_has "hmm_p2p1: BAR2 is 16 MiB, need at least 256 MiB"
check "p2p: ... and has no node" test ! -e /dev/hmm_p2p1
setup "p2p: unload" unload_ours
dmesg -c >/dev/null
setup "p2p: load with a device without P2P memory" load_ours pci_sim_nop2p=2
check "p2p: ... says so" dmesg_has "hmm_p2p2: BAR2 cannot be P2P memory"
check "p2p: ... and has no node" test ! -e /dev/hmm_p2p2
check "p2p: ... the switch pair still works" "$P2P" -t switch_peer_rw
setup "p2p: unload" unload_ours
check "p2p: /dev/hmm_p2p* gone" p2p_nodes_gone

# Binding is opt-in (a machine may use ivshmem for other things): without
# pci_all= or pci_devs= the driver takes no device; driver_override and a
# sysfs bind take one; pci_devs= takes exactly the devices it names.
PCIDRV=/sys/bus/pci/drivers/hmm_p2p_pci
ivshmem_devs() {
	for _d in /sys/bus/pci/devices/*; do
		[ "$(cat "$_d/vendor")" = 0x1af4 ] && [ "$(cat "$_d/device")" = 0x1110 ] &&
			basename "$_d"
	done
}
# bound_devs: the devices bound to hmm_p2p_pci, one per line.
bound_devs() { for _b in "$PCIDRV"/0000:*; do [ -e "$_b" ] && basename "$_b"; done; }
bound_is() {
	_got=$(bound_devs | tr '\n' ' ')
	say "bound to hmm_p2p_pci: '${_got}', expected '$1 '"
	[ "$_got" = "$1 " ]
}
bound_none() { _got=$(bound_devs); say "bound to hmm_p2p_pci: '${_got}'"; [ -z "$_got" ]; }
override_bind() {
	echo hmm_p2p_pci > "/sys/bus/pci/devices/$1/driver_override" && echo "$1" > "$PCIDRV/bind"
}
IVDEVS=$(ivshmem_devs | tr '\n' ' ')
IV1=$(echo "$IVDEVS" | cut -d' ' -f1)
IV2=$(echo "$IVDEVS" | cut -d' ' -f2)
say "ivshmem devices: $IVDEVS"
if [ -n "$IV1" ] && [ -n "$IV2" ] && [ "$IV1" != "$IV2" ]; then
	setup "p2p: load without pci_all or pci_devs" load_ours pci_all=0
	check "p2p: ... binds no ivshmem device" bound_none
	check "p2p: ... and makes no node" p2p_nodes_gone
	check "p2p: driver_override and bind take $IV2" override_bind "$IV2"
	check "p2p: ... only it" bound_is "$IV2"
	check "p2p: ... as /dev/hmm_p2p0" sh -c "[ -c /dev/hmm_p2p0 ] && [ ! -e /dev/hmm_p2p1 ]"
	setup "p2p: unload" unload_ours
	setup "p2p: clear $IV2's driver_override" sh -c "echo > /sys/bus/pci/devices/$IV2/driver_override"
	setup "p2p: load with pci_devs=$IV1" load_ours pci_all=0 pci_devs="$IV1"
	check "p2p: ... binds only $IV1" bound_is "$IV1"
	check "p2p: ... as /dev/hmm_p2p0" sh -c "[ -c /dev/hmm_p2p0 ] && [ ! -e /dev/hmm_p2p1 ]"
	setup "p2p: unload" unload_ours
	check "p2p: /dev/hmm_p2p* gone" p2p_nodes_gone
else
	skip "p2p: opt-in binding" "fewer than 2 ivshmem devices"
fi
