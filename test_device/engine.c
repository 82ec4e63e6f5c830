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
 * the device's domain translates (an unmapped address faults), else
 * straight to memory (on q35 a bus address is the CPU physical address).
 * The platform devices sit behind no IOMMU.
 */
static struct page *td_dma_to_page(struct td_device *td, dma_addr_t addr)
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
			if (!phys)
				return NULL;
		} else {
			phys = dma_to_phys(dev, addr);
		}
	}
	if (!pfn_valid(PHYS_PFN(phys)))
		return NULL;
	return pfn_to_page(PHYS_PFN(phys));
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
 * Copy @nr pages with one of the backend's page operations (@access): fails
 * as a whole when an armed @inj fires, stops at the first page that fails.
 */
static int td_copy(struct td_device *td, struct td_inject *inj,
		   int (*access)(struct page *dst, struct page *src),
		   struct page *dst, struct page *src, unsigned int nr)
{
	unsigned int i;
	int ret;

	if (td_inject_fail(inj))
		return -EIO;
	for (i = 0; i < nr; i++) {
		ret = access(dst + i, src ? src + i : NULL);
		if (ret)
			return ret;
	}
	atomic64_add((u64)nr << PAGE_SHIFT, &td->bytes_copied);
	return 0;
}

/**
 * td_copy_to_dev() - &hmm_p2p_devmem_ops.copy_to_dev of every backend
 * @dm: the device's memory
 * @dst: first device page
 * @src: first system page, or NULL to zero fill
 * @nr: pages
 *
 * Return: 0, or -EIO (an injected failure, or a page without backing).
 */
int td_copy_to_dev(struct hmm_p2p_devmem *dm, struct page *dst, struct page *src,
		   unsigned int nr)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);

	return td_copy(td, &td->inj_copy_to_dev, td->page_ops->to_dev, dst, src, nr);
}

/**
 * td_copy_to_sys() - &hmm_p2p_devmem_ops.copy_to_sys of every backend
 * @dm: the device's memory
 * @dst: first system page
 * @src: first device page
 * @nr: pages
 *
 * Return: 0, or -EIO (an injected failure, or a page without backing).
 */
int td_copy_to_sys(struct hmm_p2p_devmem *dm, struct page *dst, struct page *src,
		   unsigned int nr)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);

	return td_copy(td, &td->inj_copy_to_sys, td->page_ops->to_sys, dst, src, nr);
}

/**
 * td_engine_read_moved() - the device reads back the pages it just took in
 * @tf: the open device (its mirror)
 * @start: first byte of the range, page aligned
 * @npages: pages
 * @pages: per page, the device page holding it, referenced, or NULL (as
 *	hmm_p2p_migrate_to_device_pages() fills them); the caller drops the
 *	references afterwards (td_put_pages())
 * @ubuf: user buffer of @npages pages to fill; it must not overlap the range
 *	(a fault on a referenced page could not be served)
 * @cpages: out: pages transferred
 * @faults: out: fault rounds taken
 *
 * Pages with a slot are read straight from device memory: the reference
 * keeps each one, and its data, where it is, so no mirror entry is needed.
 * The others are read through the mirror as TD_ACCESS_OWN.
 *
 * Return: 0 or -errno; -ENOENT when a page is not in this device's memory.
 */
int td_engine_read_moved(struct td_file *tf, u64 start, u64 npages, struct page **pages,
			 void __user *ubuf, u64 *cpages, u64 *faults)
{
	u64 i = 0, j, done = 0;
	int ret = 0;

	while (i < npages && !ret) {
		struct page *data;
		unsigned long left;
		void *kaddr;

		if (!pages[i]) {
			for (j = i + 1; j < npages && !pages[j]; j++)
				;
			ret = td_engine_rw(tf, start + (i << PAGE_SHIFT), j - i,
					   ubuf + (i << PAGE_SHIFT), false, TD_ACCESS_OWN, 0,
					   cpages, faults);
			i = j;
			continue;
		}
		data = td_own_data(tf->dev, pages[i]);
		if (!data) {
			ret = -ENOENT;
			break;
		}
		kaddr = kmap_local_page(data);
		left = copy_to_user(ubuf + (i << PAGE_SHIFT), kaddr, PAGE_SIZE);
		kunmap_local(kaddr);
		if (left) {
			ret = -EFAULT;
			break;
		}
		(*cpages)++;
		done++;
		if (!(++i % TD_WINDOW))
			cond_resched();
	}
	atomic64_add(done << PAGE_SHIFT, &tf->dev->bytes_copied);
	return ret;
}

/**
 * td_put_pages() - drop the references td_engine_read_moved() read through
 * @pages: the slots; NULL ones are skipped
 * @npages: slots
 */
void td_put_pages(struct page **pages, u64 npages)
{
	u64 i;

	for (i = 0; i < npages; i++)
		if (pages[i])
			put_page(pages[i]);
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

	bounce = kvmalloc(min_t(u64, npages, TD_WINDOW) << PAGE_SHIFT, GFP_KERNEL_ACCOUNT);
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
	kvfree(bounce);
	return ret;
}
