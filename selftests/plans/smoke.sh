# SPDX-License-Identifier: GPL-2.0
# smoke: our two modules load, create /dev/hmm_dmirror0..3, the nodes open,
# the modules unload and the nodes go away. (The guest's init then asks
# kmemleak, on kernels that have it, whether anything leaked.)

setup "smoke: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
setup "smoke: /dev/hmm_dmirror0..3 exist" dmirror_nodes_present 4
for i in 0 1 2 3; do
	check "smoke: open and close /dev/hmm_dmirror$i" sh -c "exec 3<>/dev/hmm_dmirror$i"
done
setup "smoke: unload both modules" unload_ours
check "smoke: /dev/hmm_dmirror* gone" dmirror_nodes_gone
