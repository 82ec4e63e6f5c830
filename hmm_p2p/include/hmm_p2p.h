/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_p2p: process memory on devices. Public interface for drivers.
 */
#ifndef _HMM_P2P_H
#define _HMM_P2P_H

const char *hmm_p2p_version(void);

#endif /* _HMM_P2P_H */
