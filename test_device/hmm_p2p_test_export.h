/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm-p2p test devices: the interface hmm_p2p_test.ko exports to other
 * modules (the DRM front end, test_drm/). A context is what an open device
 * node is: a mirror of one process's address space on one test device; the
 * commands are the test ABI's (uapi/hmm_p2p_test.h), run on kernel copies
 * of their structures.
 */
#ifndef _HMM_P2P_TEST_EXPORT_H
#define _HMM_P2P_TEST_EXPORT_H

#include <linux/types.h>

/* Device indexes: 0..3 /dev/hmm_dmirrorN, 4..11 /dev/hmm_p2p(N - 4). */
#define HMM_P2P_TEST_NR_DMIRROR	4
#define HMM_P2P_TEST_NR_INDEX	12

struct device;
struct td_file;

bool hmm_p2p_test_present(unsigned int index);
struct device *hmm_p2p_test_parent(unsigned int index);
struct td_file *hmm_p2p_test_open(unsigned int index);
void hmm_p2p_test_close(struct td_file *ctx);
long hmm_p2p_test_cmd(struct td_file *ctx, unsigned int cmd, void *karg);

#endif /* _HMM_P2P_TEST_EXPORT_H */
