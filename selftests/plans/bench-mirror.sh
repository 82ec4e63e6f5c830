# SPDX-License-Identifier: GPL-2.0
# Plan "bench-mirror": hmm-bench --mirror-map (tools/hmm-bench/mirrormap.c)
# on /dev/hmm_p2p0, a PCI test device whose DMA goes through the IOMMU:
# make bench boots it a second time for this plan, with intel-iommu
# (tools/hmm-bench/bench-run.sh), as the main bench plan's boot has no
# IOMMU. A 64 MiB mirror faulted, mapped and invalidated with
# hmm_p2p.mirror_map=perpage against twostep, flipped between runs in this
# one boot; the last line of its output is "two-step vs per-page: R.RRx".
# hmm-bench runs on CPU 1 only (no TLB shootdown IPIs across vCPUs).

MM_DEV=/dev/hmm_p2p0

say "iommu: $(echo /sys/class/iommu/*); mirror_map: $(cat /sys/module/hmm_p2p/parameters/mirror_map 2>/dev/null)"
if [ ! -x "$BINDIR/hmm-bench" ]; then
	check hmm-bench-present false
	exit 1
fi
if setup "bench-mirror: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours; then
	if setup "bench-mirror: $MM_DEV exists" test -c "$MM_DEV"; then
		_t0=$(date +%s)
		check "hmm-bench-mirror-map" "$BINDIR/hmm-bench" --mirror-map "$MM_DEV" --cpu 1
		say "hmm-bench mirror-map: $(( $(date +%s) - _t0 )) s"
	fi
	setup "bench-mirror: unload" unload_ours
fi
