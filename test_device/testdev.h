/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm-p2p test devices: shared definitions of the driver's files.
 */
#ifndef _HMM_P2P_TESTDEV_H
#define _HMM_P2P_TESTDEV_H

#include <linux/miscdevice.h>
#include <linux/platform_device.h>
#include <linux/atomic.h>
#include "hmm_p2p.h"
#include "hmm_p2p_test.h"

#define TD_NR_DEVICES	4

/* Injection points of the device itself (the library has the others). */
struct td_inject {
	atomic_t skip;
	atomic_t count;
};

/**
 * struct td_device - one /dev/hmm_dmirrorN
 * @index: N
 * @type: HMM_P2P_MEM_PRIVATE (0, 1) or HMM_P2P_MEM_COHERENT (2, 3)
 * @backend: HMM_P2P_BACKEND_SOFT or HMM_P2P_BACKEND_SPM
 * @name: node name
 * @misc: the character device
 * @pdev: the platform device the engine does DMA as (64-bit mask)
 * @dm: its device memory
 * @base: coherent: physical range start
 * @size: coherent: range size
 * @bytes_copied: bytes the engine copied (device accesses and migrations)
 * @inj_copy_to_dev: injected copy failures, system to device
 * @inj_copy_to_sys: injected copy failures, device to system
 */
struct td_device {
	int index;
	enum hmm_p2p_mem_type type;
	u32 backend;
	char name[16];
	struct miscdevice misc;
	struct platform_device *pdev;
	struct hmm_p2p_devmem *dm;
	phys_addr_t base;
	u64 size;
	atomic64_t bytes_copied;
	struct td_inject inj_copy_to_dev;
	struct td_inject inj_copy_to_sys;
};

/**
 * struct td_file - one open file of a device: a mirror of the opener's mm
 * @dev: the device
 * @mirror: the mirror
 * @flags: HMM_DMIRROR_FLAG_* set by HMM_DMIRROR_FLAGS
 */
struct td_file {
	struct td_device *dev;
	struct hmm_p2p_mirror mirror;
	u64 flags;
};

/* backend_soft.c, backend_spm.c */
extern const struct hmm_p2p_devmem_ops td_soft_ops;
extern const struct hmm_p2p_devmem_ops td_spm_ops;
struct page *td_soft_data_page(struct page *dpage);

/* engine.c */
enum td_access {
	TD_ACCESS_FAULT,	/* fault missing pages in */
	TD_ACCESS_PRESENT,	/* use what the mirror holds; missing: -ENOENT */
	TD_ACCESS_OWN,		/* only pages in this device's memory */
};

int td_engine_rw(struct td_file *tf, u64 start, u64 npages, void __user *ubuf,
		 bool write, enum td_access mode, unsigned int fault_flags,
		 u64 *cpages, u64 *faults);
bool td_inject_fail(struct td_inject *inj);
void td_inject_arm(struct td_inject *inj, unsigned int count, unsigned int skip);
struct td_device *td_page_device(struct page *page);

/* ioctl.c */
long td_ioctl(struct file *filp, unsigned int cmd, unsigned long arg);
int td_mmap(struct file *filp, struct vm_area_struct *vma);

#endif /* _HMM_P2P_TESTDEV_H */
