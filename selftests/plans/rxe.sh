# SPDX-License-Identifier: GPL-2.0
# rxe: a third-party ODP consumer on our device memory. rdma_rxe
# (soft-RoCE) over a dummy netdev, an ODP memory region (rdma-core's
# libibverbs) over pages selftests/rxe_odp.c moves into device memory and
# back between RDMA WRITEs and READs. Needs the kernel's RDMA modules
# (tools/configs/rdma.config: 7.3 only); a kernel without them skips.
#
# The kernel's modules are in /modules/kdir/, listed in load order in
# /modules/kdir/order (tools/mkinitramfs.sh resolves their dependencies).

KMODS=$MODDIR/kdir
RXE=$BINDIR/rxe_odp

# kmods_load: every module of $KMODS/order, in order.
kmods_load() {
	while read -r _m; do
		is_loaded "$_m" && continue
		say "insmod kdir/$_m.ko"
		insmod "$KMODS/$_m.ko" || return 1
	done < "$KMODS/order"
}

# rxe_up: dummy0 up with an address, rxe0 on it, its port active.
rxe_up() {
	ip link add dummy0 type dummy 2>/dev/null || ip link show dummy0 >/dev/null || return 1
	ip addr add 10.11.0.1/24 dev dummy0 || return 1
	ip link set dummy0 mtu 9000 || return 1
	ip link set dummy0 up || return 1
	rdma link add rxe0 type rxe netdev dummy0 || return 1
	_i=0
	while [ "$_i" -lt 50 ]; do
		grep -q ACTIVE /sys/class/infiniband/rxe0/ports/1/state 2>/dev/null && break
		sleep 0.2
		_i=$((_i + 1))
	done
	rdma link show
	cat /sys/class/infiniband/rxe0/ports/1/state
	grep -q ACTIVE /sys/class/infiniband/rxe0/ports/1/state
}

rxe_down() {
	rdma link delete rxe0 && ip link delete dummy0
}

if [ ! -f "$KMODS/order" ] || ! grep -qx rdma_rxe "$KMODS/order"; then
	skip "rxe: rdma_rxe ODP over device memory" \
		"no rdma_rxe.ko for Linux $KERNEL_SERIES (only 7.3 builds tools/configs/rdma.config)"
else
	setup "rxe: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
	setup "rxe: load the kernel's RDMA modules ($(tr '\n' ' ' < "$KMODS/order"))" kmods_load
	setup "rxe: rxe0 on dummy0 (MTU 9000), port active" rxe_up
	setup "rxe: rxe_odp is there (dynamic, with libibverbs and its rxe provider)" test -x "$RXE"
	run_tap --expect 9 rxe_odp "$RXE"
	setup "rxe: remove rxe0 and dummy0" rxe_down
	setup "rxe: unload ours" unload_ours
fi
