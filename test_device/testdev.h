/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm-p2p test devices: shared definitions of the driver's files.
 */
#ifndef _HMM_P2P_TESTDEV_H
#define _HMM_P2P_TESTDEV_H

#include <linux/miscdevice.h>
#include <linux/platform_device.h>
#include <linux/pci.h>
#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/spinlock.h>
#include "hmm_p2p.h"
#include "hmm_p2p_test.h"

#define TD_NR_DEVICES	4
#define TD_PCI_MAX	8	/* PCI devices: /dev/hmm_p2p0..7, index 4..11 */

/* Injection points of the device (HMM_P2P_IOC_FAULT_INJECT). */
struct td_inject {
	atomic_t skip;
	atomic_t count;
};

/**
 * struct td_page_ops - a backend's access to one page of its device memory
 * @to_dev: fill device page @dst from system page @src, or zero it (@src NULL)
 * @to_sys: copy device page @src to system page @dst
 *
 * Both return 0 or -EIO. Every backend's devmem copy operation is
 * td_dma_copy(): the device's DMA engine (engine.c) decodes each job's
 * addresses and calls these page by page.
 */
struct td_page_ops {
	int (*to_dev)(struct page *dst, struct page *src);
	int (*to_sys)(struct page *dst, struct page *src);
};

/**
 * struct td_device - one /dev/hmm_dmirrorN
 * @index: N (PCI devices: TD_NR_DEVICES + the N of /dev/hmm_p2pN)
 * @type: HMM_P2P_MEM_PRIVATE (0, 1) or HMM_P2P_MEM_COHERENT (2, 3)
 * @backend: HMM_P2P_BACKEND_SOFT, _SPM or _PCI
 * @page_ops: the backend's page access
 * @name: node name
 * @misc: the character device
 * @pdev: the platform device the engine does DMA as (64-bit mask); NULL for
 *	PCI devices
 * @pci: the PCI device (backend_pci.c), or NULL
 * @group: P2P group (devices of one group share a pagemap owner)
 * @dm: its device memory
 * @base: coherent: physical range start
 * @size: coherent: range size
 * @chunk_size: bytes per pagemap chunk of @dm (for HMM_P2P_IOC_INFO)
 * @bytes_copied: bytes the engine copied (device accesses and migrations)
 * @p2p_bytes: of those, bytes the engine moved peer to peer
 * @inj_alloc_page: injected device page allocation failures (the devmem's
 *	alloc_backing op fails)
 * @inj_chunk_grow: injected chunk growth failures (chunk_init fails)
 * @inj_copy_to_dev: injected copy failures, system to device
 * @inj_copy_to_sys: injected copy failures, device to system
 * @inj_dma_plant: planted bad read addresses (HMM_P2P_FAULT_DMA_PLANT)
 * @fail_thp: the next 2 MiB device folio allocation fails (FAIL_ALLOC)
 * @dma_wq: the DMA engine's ordered workqueue (engine.c)
 * @dma_lock: protects @dma_jobs
 * @dma_jobs: copy jobs queued for the engine
 * @dma_work: the engine's work: runs the queued jobs
 * @dma_stage: the engine's staging page for peer-to-peer copies (engine.c)
 * @dma_faults: pages the engine failed because an address reached nothing
 * @dma_iommu_faults: of those, addresses the IOMMU did not map
 * @pf_pages: pages HMM_P2P_IOC_PREFETCH populated (prefetch.c)
 * @pf_queued: asynchronous prefetch requests queued
 * @pf_done: ... that populated their whole range
 * @pf_failed: ... that ended with an error, or were cancelled
 * @jobs_fenced: device jobs an invalidation fenced (jobs.c)
 */
struct td_device {
	int index;
	enum hmm_p2p_mem_type type;
	u32 backend;
	const struct td_page_ops *page_ops;
	char name[16];
	struct miscdevice misc;
	struct platform_device *pdev;
	struct pci_dev *pci;
	int group;
	struct hmm_p2p_devmem *dm;
	phys_addr_t base;
	u64 size;
	u64 chunk_size;
	atomic64_t bytes_copied;
	atomic64_t p2p_bytes;
	struct td_inject inj_alloc_page;
	struct td_inject inj_chunk_grow;
	struct td_inject inj_copy_to_dev;
	struct td_inject inj_copy_to_sys;
	struct td_inject inj_dma_plant;
	atomic_t fail_thp;
	struct workqueue_struct *dma_wq;
	spinlock_t dma_lock;	/* protects dma_jobs */
	struct list_head dma_jobs;
	struct work_struct dma_work;
	struct page *dma_stage;
	atomic64_t dma_faults;
	atomic64_t dma_iommu_faults;
	atomic64_t pf_pages;
	atomic64_t pf_queued;
	atomic64_t pf_done;
	atomic64_t pf_failed;
	atomic64_t jobs_fenced;
};

/**
 * struct td_file - one open file of a device: a mirror of the opener's mm
 * @dev: the device
 * @mirror: the mirror
 * @flags: HMM_DMIRROR_FLAG_* set by HMM_DMIRROR_FLAGS
 * @obs_lock: serializes HMM_P2P_IOC_OBSERVE's changes of @obs
 * @obs: invalidation observers (observe.c), NULL for a free slot
 * @pf_lock: protects @pf_works, @pf_nr and @pf_stop (prefetch.c)
 * @pf_works: asynchronous prefetch requests queued or run, not yet reaped
 * @pf_nr: entries on @pf_works
 * @pf_stop: the file is closing or its device going away: no new request,
 *	a running one stops at its next batch
 * @jobs_lock: protects @jobs and the jobs' fence state (jobs.c)
 * @jobs: device jobs that may touch memory (HMM_P2P_IOC_JOB)
 * @jobs_wq: woken when a job ends a page or ends
 */
struct td_file {
	struct td_device *dev;
	struct hmm_p2p_mirror mirror;
	u64 flags;
	struct mutex obs_lock;	/* protects obs */
	struct td_observer *obs[HMM_P2P_OBS_MAX];
	struct mutex pf_lock;	/* protects pf_works, pf_nr, pf_stop */
	struct list_head pf_works;
	unsigned int pf_nr;
	bool pf_stop;
	spinlock_t jobs_lock;	/* protects jobs and their fence state */
	struct list_head jobs;
	wait_queue_head_t jobs_wq;
};

/* backend_soft.c, backend_spm.c */
extern const struct hmm_p2p_devmem_ops td_soft_ops;
extern const struct td_page_ops td_soft_page_ops;
extern const struct hmm_p2p_devmem_ops td_spm_ops;
extern const struct td_page_ops td_spm_page_ops;
struct page *td_soft_data_page(struct page *dpage);

/* backend_pci.c */
int td_pci_init(void);
void td_pci_exit(void);
struct page *td_pci_data_page(struct page *dpage);
int td_pci_bar_index(phys_addr_t phys);
phys_addr_t td_pci_peer_window(struct td_device *td, dma_addr_t addr);
struct td_file *td_pci_file_open_slot(int slot);
bool td_pci_present(int slot);
void td_pci_file_close(struct td_file *tf);
long td_pci_file_cmd(struct td_file *tf, unsigned int cmd, void *karg);

/* The device the engine does DMA as. */
static inline struct device *td_dma_dev(struct td_device *td)
{
	return td->pci ? &td->pci->dev : &td->pdev->dev;
}

/* engine.c */
enum td_access {
	TD_ACCESS_FAULT,	/* fault missing pages in */
	TD_ACCESS_PRESENT,	/* use what the mirror holds; missing: -ENOENT */
	TD_ACCESS_OWN,		/* only pages in this device's memory */
};

int td_engine_rw(struct td_file *tf, u64 start, u64 npages, void __user *ubuf,
		 bool write, enum td_access mode, unsigned int fault_flags,
		 u64 *cpages, u64 *faults);
int td_dma_read(struct td_device *td, dma_addr_t addr, void __user *ubuf);
struct page *td_entry_data(struct td_device *td, const struct hmm_p2p_entry *e,
			   enum td_access mode);
bool td_inject_fail(struct td_inject *inj);
int td_dma_copy(struct hmm_p2p_devmem *dm, struct hmm_p2p_copy_job *job);
int td_engine_init(struct td_device *td);
void td_engine_fini(struct td_device *td);
bool td_alloc_backing_fail(struct hmm_p2p_devmem *dm, unsigned int order);
void td_inject_arm(struct td_inject *inj, unsigned int count, unsigned int skip);
struct td_device *td_page_device(struct page *page);

/* main.c */
extern umode_t td_node_mode;
struct td_device *td_dmirror_device(int index);
struct td_file *td_file_open(struct td_device *td);
void td_file_close(struct td_file *tf);
int td_inject_chunk_init(struct hmm_p2p_devmem *dm, unsigned long pfn,
			 unsigned long npages, void **data);
int td_inject_alloc_backing(struct hmm_p2p_devmem *dm, void *data,
			    unsigned long index, unsigned int order);
void td_inject_disarm(struct td_device *td);

/* observe.c */
struct td_observer;
int td_observe(struct td_file *tf, void __user *uarg);
void td_observe_init(struct td_file *tf);
void td_observe_release(struct td_file *tf);

/* ioctl.c */
int td_check_range(u64 addr, u64 npages);
long td_ioctl(struct file *filp, unsigned int cmd, unsigned long arg);
long td_cmd(struct td_file *tf, unsigned int cmd, void *karg);
int td_mmap(struct file *filp, struct vm_area_struct *vma);

/* jobs.c: HMM_P2P_IOC_JOB and the mirror ops that fence jobs */
extern const struct hmm_p2p_mirror_ops td_mirror_ops;
int td_jobs_module_init(void);
void td_jobs_module_exit(void);
void td_jobs_file_init(struct td_file *tf);
int td_job(struct td_file *tf, void __user *uarg);
int td_job_do(struct td_file *tf, struct hmm_p2p_job_cmd *c);

/* prefetch.c: HMM_P2P_IOC_PREFETCH and the importer's counters */
int td_prefetch_module_init(void);
void td_prefetch_module_exit(void);
void td_prefetch_file_init(struct td_file *tf);
void td_prefetch_stop(struct td_file *tf);
int td_prefetch(struct td_file *tf, void __user *uarg);
int td_prefetch_do(struct td_file *tf, struct hmm_p2p_prefetch_cmd *c);
void td_importer_stats(struct td_device *td, const struct hmm_p2p_devmem_stats *ds,
		       struct hmm_p2p_stats *st, bool reset);

#endif /* _HMM_P2P_TESTDEV_H */
