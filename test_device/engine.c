// SPDX-License-Identifier: GPL-2.0
/*
 * The test device's data path. The device reads and writes process memory
 * only through what its mirror holds: it looks each page up in the mirror,
 * under the mirror lock (which keeps the page from being unmapped, moved or
 * freed), and copies through a bounce window. Pages of its own device-private
 * memory are device-local and reached through the backend; everything else
 * is reached through the DMA address the mirror mapped for the device, which
 * the engine decodes as the bus would.
 */
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/uaccess.h>
#include <linux/sched/signal.h>
#include <linux/dma-direct.h>
#include <linux/iommu.h>
#include "hmm_p2p_compat.h"
#include "testdev.h"

#define TD_WINDOW	512UL	/* pages per bounce window */
#define TD_OWN_RETRIES	8
#define TD_BUSY_RETRIES	8

/**
 * td_inject_fail() - should this pass through an injection point fail?
 * @inj: the point
 *
 * Return: true when an armed injection fires.
 */
bool td_inject_fail(struct td_inject *inj)
{
	if (likely(!atomic_read(&inj->count)))
		return false;
	if (atomic_add_unless(&inj->skip, -1, 0))
		return false;
	return atomic_add_unless(&inj->count, -1, 0);
}

/**
 * td_inject_arm() - arm an injection point
 * @inj: the point
 * @count: failures to inject (0 disarms)
 * @skip: passes to let through first
 */
void td_inject_arm(struct td_inject *inj, unsigned int count, unsigned int skip)
{
	atomic_set(&inj->count, 0);
	atomic_set(&inj->skip, skip);
	atomic_set(&inj->count, count);
}

/**
 * td_page_device() - the test device whose memory a page is
 * @page: any page
 *
 * Return: the device, or NULL.
 */
struct td_device *td_page_device(struct page *page)
{
	struct hmm_p2p_devmem *dm = hmm_p2p_page_devmem(page);

	return dm ? hmm_p2p_devmem_priv(dm) : NULL;
}

/*
 * What the device's DMA engine would do with an address, as the hardware
 * would route it: a PCI device's request that falls in a peer's BAR below
 * the same switch goes to that peer (the switch routes it; no IOMMU sees
 * it); anything else goes upstream, through the IOMMU's page table when
 * the device's domain translates (an unmapped address faults: *@iommu is
 * set then), else straight to memory (on q35 a bus address is the CPU
 * physical address). The platform devices sit behind no IOMMU.
 */
static struct page *td_dma_decode(struct td_device *td, dma_addr_t addr, bool *iommu)
{
	struct device *dev = td_dma_dev(td);
	struct iommu_domain *dom;
	phys_addr_t phys = 0;

	if (td->pci)
		phys = td_pci_peer_window(td, addr);
	if (!phys) {
		dom = iommu_get_domain_for_dev(dev);
		if (dom && (dom->type & __IOMMU_DOMAIN_PAGING)) {
			phys = iommu_iova_to_phys(dom, addr);
			if (!phys) {
				*iommu = true;
				return NULL;
			}
		} else {
			phys = dma_to_phys(dev, addr);
		}
	}
	if (!pfn_valid(PHYS_PFN(phys)))
		return NULL;
	return pfn_to_page(PHYS_PFN(phys));
}

static struct page *td_dma_to_page(struct td_device *td, dma_addr_t addr)
{
	bool iommu = false;

	return td_dma_decode(td, addr, &iommu);
}

static struct page *td_own_data(struct td_device *td, struct page *page);

/**
 * td_dma_read() - the engine reads one page at a raw DMA address
 * @td: the device
 * @addr: the address, as the device would issue it
 * @ubuf: user buffer of one page
 *
 * Device memory (a BAR, coherent memory) is read only while its pagemap is
 * alive.
 *
 * Return: 0, -EFAULT when the address decodes to no memory (with an IOMMU:
 * is not mapped for the device), -ENOMEM.
 */
int td_dma_read(struct td_device *td, dma_addr_t addr, void __user *ubuf)
{
	struct dev_pagemap *pgmap = NULL;
	struct page *page;
	void *buf;
	int ret = 0;

	if (!PAGE_ALIGNED(addr))
		return -EINVAL;
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	page = td_dma_to_page(td, addr);
	if (page && is_zone_device_page(page)) {
		pgmap = hp_get_dev_pagemap(page_to_pfn(page));
		if (!pgmap || is_device_private_page(page))
			page = NULL;	/* gone, or no real address */
	}
	if (page)
		memcpy_from_page(buf, page, 0, PAGE_SIZE);
	else
		ret = -EFAULT;
	if (pgmap)
		put_dev_pagemap(pgmap);
	if (!ret && copy_to_user(ubuf, buf, PAGE_SIZE))
		ret = -EFAULT;
	kfree(buf);
	return ret;
}

/**
 * td_entry_data() - the page holding the data of a mirror entry
 * @td: the device
 * @e: the entry
 * @mode: TD_ACCESS_OWN: only this device's own memory
 *
 * Decodes the entry's DMA address as the device's hardware would.
 *
 * Return: the page, or NULL if unreachable.
 */
struct page *td_entry_data(struct td_device *td, const struct hmm_p2p_entry *e,
			   enum td_access mode)
{
	struct page *page;

	switch (e->class) {
	case HMM_P2P_PC_PRIVATE_GROUP:
		if (e->flags & HMM_P2P_E_LOCAL)
			return td_own_data(td, pfn_to_page(e->pfn));
		fallthrough;	/* a peer's page: peer to peer, if mapped */
	case HMM_P2P_PC_P2PDMA:
		if (mode == TD_ACCESS_OWN || !(e->flags & HMM_P2P_E_DMA))
			return NULL;
		return td_dma_to_page(td, e->dma);
	case HMM_P2P_PC_COHERENT:
		if (mode == TD_ACCESS_OWN && !(e->flags & HMM_P2P_E_LOCAL))
			return NULL;
		page = pfn_to_page(e->pfn);
		break;
	case HMM_P2P_PC_SYSTEM:
	case HMM_P2P_PC_ZERO:
		if (mode == TD_ACCESS_OWN)
			return NULL;
		page = pfn_to_page(e->pfn);
		break;
	default:
		return NULL;
	}
	/* memory outside the device: reached through the DMA address */
	if (e->flags & HMM_P2P_E_DMA)
		return td_dma_to_page(td, e->dma);
	return page;
}

/*
 * Copy between the pages the mirror holds for [addr, end) and @buf. Stops at
 * the first page the mirror does not hold (or may not write). Called with
 * the mirror lock held. Returns the bytes done; *@err is -EFAULT when a DMA
 * address the mirror gave decodes to no memory (a wrong mapping).
 */
static unsigned long td_xfer(struct td_file *tf, unsigned long addr, unsigned long end,
			     void *buf, bool write, enum td_access mode, int *err)
{
	unsigned long a;

	for (a = addr; a < end; a += PAGE_SIZE, buf += PAGE_SIZE) {
		struct hmm_p2p_entry e;
		struct page *data;

		if (!hmm_p2p_mirror_lookup(&tf->mirror, a, &e))
			break;
		if (write && !(e.flags & HMM_P2P_E_WRITE))
			break;
		data = td_entry_data(tf->dev, &e, mode);
		if (!data) {
			if ((e.flags & HMM_P2P_E_DMA) && mode != TD_ACCESS_OWN)
				*err = -EFAULT;
			break;
		}
		if (write)
			memcpy_to_page(data, 0, buf, PAGE_SIZE);
		else
			memcpy_from_page(buf, data, 0, PAGE_SIZE);
		if (e.flags & HMM_P2P_E_P2P)
			atomic64_add(PAGE_SIZE, &tf->dev->p2p_bytes);
	}
	return a - addr;
}

/* The page holding the data of a page of this device's own memory, or NULL. */
static struct page *td_own_data(struct td_device *td, struct page *page)
{
	if (hmm_p2p_page_devmem(page) != td->dm)
		return NULL;
	switch (td->backend) {
	case HMM_P2P_BACKEND_SOFT:
		return td_soft_data_page(page);
	case HMM_P2P_BACKEND_SPM:
		return page;
	case HMM_P2P_BACKEND_PCI:
		return td_pci_data_page(page);
	default:
		return NULL;
	}
}

/*
 * The DMA engine. Each device runs its copy jobs (struct hmm_p2p_copy_job)
 * one after the other on its own ordered workqueue, apart from the CPU that
 * queued them, and touches system memory only through the DMA addresses
 * in the job, decoded as the hardware would (td_dma_decode()): with an
 * IOMMU, an address it does not map faults, and that page fails.
 */
#define TD_PLANT_OFFSET	BIT_ULL(40)	/* where no mapping of a batch reaches */
#define TD_DMA_INLINE_PAGES	16	/* hmm_p2p's largest fault-around */

/* One page of a job; -EFAULT when its system address decodes to nothing. */
static int td_dma_page(struct td_device *td, enum dma_data_direction dir,
		       const struct hmm_p2p_addr *s, const struct hmm_p2p_addr *d, bool plant)
{
	const struct hmm_p2p_addr *sys = dir == DMA_TO_DEVICE ? s : d;
	const struct hmm_p2p_addr *local = dir == DMA_TO_DEVICE ? d : s;
	struct page *page = NULL;
	bool iommu = false;
	dma_addr_t addr;

	if (local->type != HMM_P2P_ADDR_LOCAL || hmm_p2p_page_devmem(local->page) != td->dm)
		return -EINVAL;
	if (sys->type == HMM_P2P_ADDR_SYSTEM ||
	    (sys->type == HMM_P2P_ADDR_PEER && dir == DMA_TO_DEVICE)) {
		addr = sys->addr + (plant ? TD_PLANT_OFFSET : 0);
		page = td_dma_decode(td, addr, &iommu);
		/* a system address must reach RAM, a peer's a peer's BAR */
		if (page && (sys->type == HMM_P2P_ADDR_PEER ? !is_pci_p2pdma_page(page) :
			     is_zone_device_page(page)))
			page = NULL;
		if (!page) {
			atomic64_inc(&td->dma_faults);
			if (iommu)
				atomic64_inc(&td->dma_iommu_faults);
			pr_warn_ratelimited("%s: DMA fault: %s address %pad %s\n", td->name,
					    dir == DMA_TO_DEVICE ? "read" : "write", &addr,
					    iommu ? "not mapped by the IOMMU" :
					    "reaches no memory");
			return -EFAULT;
		}
	} else if (sys->type != HMM_P2P_ADDR_NONE || dir != DMA_TO_DEVICE) {
		return -EINVAL;
	}
	if (sys->type == HMM_P2P_ADDR_PEER) {
		atomic64_add(PAGE_SIZE, &td->p2p_bytes);
		/*
		 * A peer's BAR to ours through the engine's own staging page,
		 * as a DMA engine moves data through its buffer: under TCG a
		 * CPU copy straight from one ivshmem BAR to another ran at a
		 * sixth of the rate of one through RAM (64 MiB: 330-540 ms
		 * against 60-100 ms). Jobs run one at a time: one page does.
		 */
		copy_highpage(td->dma_stage, page);
		page = td->dma_stage;
	}
	if (dir == DMA_TO_DEVICE)
		return td->page_ops->to_dev(local->page, page);
	return td->page_ops->to_sys(page, local->page);
}

/*
 * Run one job. A unit (a destination folio, or a page) fails as a whole
 * when an armed copy injection fires; an armed plant makes the first read
 * address of the next unit point outside every mapping.
 */
static void td_dma_run(struct td_device *td, struct hmm_p2p_copy_job *job)
{
	bool to_dev = job->dir == DMA_TO_DEVICE;
	struct td_inject *inj = to_dev ? &td->inj_copy_to_dev : &td->inj_copy_to_sys;
	unsigned long i, k, nr, done = 0;

	for (i = 0; i < job->npages; i += nr) {
		const struct hmm_p2p_addr *d = &job->dst[i];
		bool plant;

		nr = 1;
		if (d->type == HMM_P2P_ADDR_NONE)
			continue;
		nr = min_t(unsigned long, 1UL << d->order, job->npages - i);
		if (td_inject_fail(inj)) {
			/* as one copy of the source folio: its rest is not tried */
			nr = max_t(unsigned long, nr, ALIGN(i + 1, 1UL << job->src[i].order) - i);
			nr = min(nr, job->npages - i);
			bitmap_set(job->failed, i, nr);
			continue;
		}
		plant = to_dev && td_inject_fail(&td->inj_dma_plant);
		for (k = i; k < i + nr; k++) {
			if (td_dma_page(td, job->dir, &job->src[k], &job->dst[k], plant && k == i))
				set_bit(k, job->failed);
			else
				done++;
		}
		if (!(i % TD_WINDOW))
			cond_resched();
	}
	atomic64_add((u64)done << PAGE_SHIFT, &td->bytes_copied);
}

static void td_dma_work(struct work_struct *work)
{
	struct td_device *td = container_of(work, struct td_device, dma_work);
	struct hmm_p2p_copy_job *job;

	for (;;) {
		spin_lock(&td->dma_lock);
		job = list_first_entry_or_null(&td->dma_jobs, struct hmm_p2p_copy_job, link);
		if (job)
			list_del_init(&job->link);
		spin_unlock(&td->dma_lock);
		if (!job)
			break;
		td_dma_run(td, job);
		hmm_p2p_copy_done(job, 0);
		cond_resched();
	}
}

/**
 * td_dma_copy() - &hmm_p2p_devmem_ops.copy of every backend
 * @dm: the device's memory
 * @job: the batch
 *
 * Queues the job for the device's engine; a small job back to system
 * memory (a CPU fault's: fault_around pages at most) is run at once by the
 * submitting CPU instead, the way a driver copies a few pages itself rather
 * than pay a round trip to its engine. Under TCG that round trip (a wakeup
 * of the engine's thread on the other vCPU and one back) made a served
 * 4 KiB fault four times as slow as lib/test_hmm's.
 *
 * Return: 0 (run at once), or -EIOCBQUEUED (the engine completes it with
 * hmm_p2p_copy_done()).
 */
int td_dma_copy(struct hmm_p2p_devmem *dm, struct hmm_p2p_copy_job *job)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);

	/* no peer source (the staging page is the engine thread's): to system only */
	if (job->dir == DMA_FROM_DEVICE && job->npages <= TD_DMA_INLINE_PAGES) {
		td_dma_run(td, job);
		return 0;
	}

	spin_lock(&td->dma_lock);
	list_add_tail(&job->link, &td->dma_jobs);
	spin_unlock(&td->dma_lock);
	queue_work(td->dma_wq, &td->dma_work);
	return -EIOCBQUEUED;
}

/**
 * td_engine_init() - start a device's DMA engine
 * @td: the device (@td->name set)
 *
 * Return: 0 or -ENOMEM.
 */
int td_engine_init(struct td_device *td)
{
	spin_lock_init(&td->dma_lock);
	INIT_LIST_HEAD(&td->dma_jobs);
	INIT_WORK(&td->dma_work, td_dma_work);
	td->dma_stage = alloc_page(GFP_KERNEL);
	if (!td->dma_stage)
		return -ENOMEM;
	/* reclaim may wait for a copy back to system memory: a rescuer */
	td->dma_wq = alloc_ordered_workqueue("%s_dma", WQ_MEM_RECLAIM, td->name);
	if (!td->dma_wq) {
		__free_page(td->dma_stage);
		td->dma_stage = NULL;
		return -ENOMEM;
	}
	return 0;
}

/**
 * td_engine_fini() - stop it, once its device memory is gone (no job left)
 * @td: the device
 */
void td_engine_fini(struct td_device *td)
{
	if (td->dma_wq)
		destroy_workqueue(td->dma_wq);
	td->dma_wq = NULL;
	if (td->dma_stage)
		__free_page(td->dma_stage);
	td->dma_stage = NULL;
}

/**
 * td_alloc_backing_fail() - should this allocation of a 2 MiB device folio
 *	fail (HMM_DMIRROR_FLAG_FAIL_ALLOC armed it)?
 * @dm: the device's memory
 * @order: the allocation's order
 *
 * Return: true once per arming, for a 2 MiB folio.
 */
bool td_alloc_backing_fail(struct hmm_p2p_devmem *dm, unsigned int order)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);

	return order && atomic_xchg(&td->fail_thp, 0);
}

/**
 * td_engine_rw() - the device reads or writes a user range
 * @tf: the open device (its mirror)
 * @start: first byte of the range, page aligned
 * @npages: pages
 * @ubuf: user buffer of @npages pages to fill (read) or take data from (write)
 * @write: direction
 * @mode: how missing pages are handled (enum td_access)
 * @fault_flags: HMM_P2P_FAULT_* for TD_ACCESS_FAULT
 * @cpages: out: pages transferred
 * @faults: out: fault rounds taken
 *
 * Return: 0 or -errno; -ENOENT when the mirror lacks a page in the PRESENT
 * and OWN modes.
 */
int td_engine_rw(struct td_file *tf, u64 start, u64 npages, void __user *ubuf,
		 bool write, enum td_access mode, unsigned int fault_flags,
		 u64 *cpages, u64 *faults)
{
	unsigned long end = start + (npages << PAGE_SHIFT);
	unsigned long addr = start;
	int own_retries = 0, busy_retries = 0;
	void *bounce;
	int ret = 0;

	/*
	 * vmalloc, not kvmalloc, as lib/test_hmm's bounce: the window is
	 * copied to user space, and under TCG a copy_to_user() from the
	 * direct map ran at a tenth of the rate (measured: 500 ms against
	 * 33 ms for 64 MiB), which made MIGRATE_TO_DEV's read-back twice as
	 * slow as the migration.
	 */
	bounce = __vmalloc(min_t(u64, npages, TD_WINDOW) << PAGE_SHIFT, GFP_KERNEL_ACCOUNT);
	if (!bounce)
		return -ENOMEM;

	while (addr < end) {
		unsigned long wend = min(end, addr + (TD_WINDOW << PAGE_SHIFT));
		void __user *uptr = ubuf + (addr - start);
		unsigned long done;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (write && copy_from_user(bounce, uptr, wend - addr)) {
			ret = -EFAULT;
			break;
		}
		hmm_p2p_mirror_lock(&tf->mirror);
		done = td_xfer(tf, addr, wend, bounce, write, mode, &ret);
		hmm_p2p_mirror_unlock(&tf->mirror);
		if (done) {
			atomic64_add(done, &tf->dev->bytes_copied);
			if (!write && copy_to_user(uptr, bounce, done)) {
				ret = -EFAULT;
				break;
			}
			*cpages += done >> PAGE_SHIFT;
			addr += done;
			if (ret)
				break;
			continue;
		}
		if (ret)
			break;

		/* the mirror lacks the page at addr */
		if (mode == TD_ACCESS_PRESENT) {
			ret = -ENOENT;
			break;
		}
		if (mode == TD_ACCESS_OWN) {
			/* look (without faulting) whether it is on this device */
			if (++own_retries > TD_OWN_RETRIES) {
				ret = -ENOENT;
				break;
			}
			ret = hmm_p2p_mirror_fault(&tf->mirror, addr, end, HMM_P2P_FAULT_NOFAULT);
			if (ret)
				break;
			continue;
		}
		ret = hmm_p2p_mirror_fault(&tf->mirror, addr, end,
					   fault_flags | (write ? HMM_P2P_FAULT_WRITE : 0));
		/*
		 * -EBUSY: the range kept being invalidated for a second (an
		 * eviction by another process's close() moving it, say). The
		 * device is patient a few times more before it gives up.
		 */
		if (ret == -EBUSY && ++busy_retries <= TD_BUSY_RETRIES) {
			ret = 0;
			continue;
		}
		if (ret)
			break;
		(*faults)++;
	}
	vfree(bounce);
	return ret;
}
