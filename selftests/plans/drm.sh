# SPDX-License-Identifier: GPL-2.0
# drm: the DRM front end (hmm_p2p_drm.ko, uapi/hmm_p2p_drm.h), driven by
# tools/hmm-drm, a libdrm client linked statically against Debian's
# libdrm: it finds the render nodes with drmGetDevices2(), checks
# drmGetVersion()'s driver name and runs the test ABI's migration and P2P
# cases through the DRM driver ioctls (its last case: every device page is
# home once the files are closed). Then the module unloads and its nodes go.
#
# Needs the kernel's drm.ko (CONFIG_DRM=m: /modules/kdir, with its
# dependencies); a kernel without it skips.

HMMDRM=$BINDIR/hmm-drm

drm_nodes() {
	ls -l /dev/dri/ 2>/dev/null | sed 's/^/    /'
	for _r in /sys/class/drm/renderD*; do
		[ -e "$_r" ] || continue
		say "$(basename "$_r"): $(readlink -f "$_r/device")"
	done
	# one render node per test device: 4 dmirror (2 without coherent) + PCI
	_want=$(( $(ls -d /dev/hmm_dmirror* 2>/dev/null | wc -l) + $(ls -d /dev/hmm_p2p[0-9] 2>/dev/null | wc -l) ))
	_got=$(ls -d /dev/dri/renderD* 2>/dev/null | wc -l)
	say "render nodes: $_got, test devices: $_want"
	[ "$_got" = "$_want" ] && [ "$_got" -gt 0 ]
}
drm_nodes_gone() { ! ls /dev/dri/renderD* >/dev/null 2>&1; }

if [ ! -f "$MODDIR/kdir/drm.ko" ] || [ ! -f "$MODDIR/hmm_p2p_drm.ko" ]; then
	skip "drm: the DRM front end" "no drm.ko or hmm_p2p_drm.ko for this kernel"
else
	setup "drm: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
	setup "drm: load the kernel's drm.ko" kmod_load drm
	setup "drm: load hmm_p2p_drm.ko" _insmod hmm_p2p_drm
	check "drm: a render node per test device" drm_nodes
	run_tap --expect 11 hmm-drm "$HMMDRM"
	check "drm: a node is busy while open" sh -c "exec 3<> /dev/dri/renderD128; ! rmmod hmm_p2p_drm"
	check "drm: the front end unloads" _rmmod hmm_p2p_drm
	check "drm: its nodes are gone" drm_nodes_gone
	check "drm: the test device unloads after it" unload_ours
	setup "drm: unload drm.ko" sh -c 'rmmod drm && rmmod drm_panel_orientation_quirks; true'
fi
