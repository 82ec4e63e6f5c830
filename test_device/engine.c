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
#include <linux/uaccess.h>
#include <linux/sched/signal.h>
#include <linux/dma-direct.h>
#include <linux/iommu.h>
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
 * What the device's DMA engine would do with an address: the platform
 * device sits behind no IOMMU (direct mapping, possibly with an offset);
 * were it translated, the IOMMU's page table says where the address goes.
 */
static struct page *td_dma_to_page(struct td_device *td, dma_addr_t addr)
{
	struct device *dev = &td->pdev->dev;
	struct iommu_domain *dom = iommu_get_domain_for_dev(dev);
	phys_addr_t phys;

	phys = dom ? iommu_iova_to_phys(dom, addr) : dma_to_phys(dev, addr);
	if (!pfn_valid(PHYS_PFN(phys)))
		return NULL;
	return pfn_to_page(PHYS_PFN(phys));
}

/* The page holding the data of a mirror entry, or NULL if unreachable. */
static struct page *td_entry_data(struct td_device *td, const struct hmm_p2p_entry *e,
				  enum td_access mode)
{
	struct page *page;

	switch (e->class) {
	case HMM_P2P_PC_PRIVATE_OWN:
		if (!(e->flags & HMM_P2P_E_OWN))
			return NULL;	/* a peer's page: the P2P path's business */
		return td_soft_data_page(pfn_to_page(e->pfn));
	case HMM_P2P_PC_COHERENT:
		if (mode == TD_ACCESS_OWN && !(e->flags & HMM_P2P_E_OWN))
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
 * the mirror lock held. Returns the bytes done.
 */
static unsigned long td_xfer(struct td_file *tf, unsigned long addr, unsigned long end,
			     void *buf, bool write, enum td_access mode)
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
		if (!data)
			break;
		if (write)
			memcpy_to_page(data, 0, buf, PAGE_SIZE);
		else
			memcpy_from_page(buf, data, 0, PAGE_SIZE);
	}
	return a - addr;
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

	bounce = kvmalloc(min_t(u64, npages, TD_WINDOW) << PAGE_SHIFT, GFP_KERNEL);
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
		done = td_xfer(tf, addr, wend, bounce, write, mode);
		hmm_p2p_mirror_unlock(&tf->mirror);
		if (done) {
			atomic64_add(done, &tf->dev->bytes_copied);
			if (!write && copy_to_user(uptr, bounce, done)) {
				ret = -EFAULT;
				break;
			}
			*cpages += done >> PAGE_SHIFT;
			addr += done;
			continue;
		}

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
	kvfree(bounce);
	return ret;
}
