/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_p2p: every difference between the kernels we build for (6.12 LTS and
 * 7.3) lives here, and only here: the library's and its drivers'.
 *
 * HP_NEW_MM is set for kernels with folio based ZONE_DEVICE callbacks, large
 * device-private folios (MIGRATE_VMA_SELECT_COMPOUND), page_pgmap(),
 * make_device_exclusive() and hmm_range_fault_unlocked_timeout(). All of those
 * arrived between 6.12 and 7.3; we only claim to support those two.
 */
#ifndef _HMM_P2P_COMPAT_H
#define _HMM_P2P_COMPAT_H

#include <linux/version.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/hmm.h>
#include <linux/rmap.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/jiffies.h>
#include <linux/sched/signal.h>
#include <linux/huge_mm.h>
#include <linux/slab.h>
#include <linux/dma-mapping.h>

/* The one version test; checkpatch dislikes it, but it is the point here. */
#if KERNEL_VERSION(7, 0, 0) <= LINUX_VERSION_CODE
#define HP_NEW_MM 1
#else
#define HP_NEW_MM 0
#endif

/*
 * Two-pass interval notifiers (invalidate_start/invalidate_finish, since
 * 7.1): a mirror's invalidation starts the driver's flush in the first pass
 * and waits for it in the second, so the flushes of every notifier of the
 * range overlap. 6.12 has one pass: start and wait back to back.
 */
#if KERNEL_VERSION(7, 1, 0) <= LINUX_VERSION_CODE
#define HP_TWO_PASS_NOTIFIER 1
#else
#define HP_TWO_PASS_NOTIFIER 0
#endif

/* 7.x allocation helpers, for the older kernel */
#ifndef kzalloc_obj
#define kzalloc_obj(P, ...)	kzalloc(sizeof(P), GFP_KERNEL)
#endif
#ifndef kmalloc_obj
#define kmalloc_obj(P, gfp)	kmalloc(sizeof(P), gfp)
#endif

#if HP_NEW_MM

#define HP_DEVICE_THP		1
#define HP_SELECT_COMPOUND	MIGRATE_VMA_SELECT_COMPOUND
#define HP_PFN_COMPOUND		MIGRATE_PFN_COMPOUND

static inline struct dev_pagemap *hp_page_pgmap(struct page *page)
{
	return page_pgmap(page);
}

/* Make a free device page (or 2^order pages) a locked folio, refcount 1. */
static inline void hp_device_folio_init(struct page *page, struct dev_pagemap *pgmap,
					unsigned int order)
{
	zone_device_folio_init((struct folio *)page, pgmap, order);
}

/*
 * The pagemap's ops @name: @free_fn(struct folio *) frees a device page (7.3
 * calls it once per, possibly large, folio), @fault_fn is migrate_to_ram.
 */
#define HP_DEFINE_PGMAP_OPS(name, free_fn, fault_fn)		\
	static const struct dev_pagemap_ops name = {		\
		.folio_free = free_fn,				\
		.migrate_to_ram = fault_fn,			\
	}

/*
 * One page made exclusive for device access: the page, or an ERR_PTR. On
 * success *foliop is locked and referenced; release it with folio_unlock()
 * and folio_put().
 */
static inline struct page *hp_make_exclusive(struct mm_struct *mm, unsigned long addr,
					     void *owner, struct folio **foliop)
{
	return make_device_exclusive(mm, addr, owner, foliop);
}

static inline int hp_range_fault_unlocked(struct hmm_range *range,
					  unsigned long timeout)
{
	return hmm_range_fault_unlocked_timeout(range, timeout);
}

#define hp_vma_alloc_folio(gfp, order, vma, addr) vma_alloc_folio(gfp, order, vma, addr)

/* DMA-map one CPU addressable page (7.3 refuses ZONE_DEVICE pages by page). */
static inline dma_addr_t hp_dma_map_page(struct device *dev, unsigned long pfn)
{
	return dma_map_phys(dev, PFN_PHYS(pfn), PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
}

static inline void hp_dma_unmap_page(struct device *dev, dma_addr_t addr)
{
	dma_unmap_phys(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
}

/* Undo a mapping nobody used: no copy back from a bounce buffer. */
static inline void hp_dma_unmap_page_nosync(struct device *dev, dma_addr_t addr)
{
	dma_unmap_phys(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
}

/* A live reference to the pagemap of a ZONE_DEVICE pfn, or NULL. */
static inline struct dev_pagemap *hp_get_dev_pagemap(unsigned long pfn)
{
	return get_dev_pagemap(pfn);
}

/*
 * A migration batch's system pages mapped for a device in one IOVA range
 * (the two-step DMA API), where the device sits behind a translating
 * IOMMU. hp_dma_iova_alloc() says false elsewhere: map page by page.
 */
struct hp_dma_iova {
	struct dma_iova_state state;
	size_t len;		/* bytes linked from the start of the range */
};

static inline bool hp_dma_iova_alloc(struct device *dev, struct hp_dma_iova *io,
				     phys_addr_t phys, size_t size)
{
	memset(io, 0, sizeof(*io));
	return dma_iova_try_alloc(dev, &io->state, phys, size);
}

/* Link @size bytes at @phys after what is linked: their address, or DMA_MAPPING_ERROR. */
static inline dma_addr_t hp_dma_iova_link(struct device *dev, struct hp_dma_iova *io,
					  phys_addr_t phys, size_t size,
					  enum dma_data_direction dir)
{
	dma_addr_t addr = io->state.addr + io->len;

	if (dma_iova_link(dev, &io->state, phys, io->len, size, dir, 0))
		return DMA_MAPPING_ERROR;
	io->len += size;
	return addr;
}

static inline int hp_dma_iova_sync(struct device *dev, struct hp_dma_iova *io)
{
	return io->len ? dma_iova_sync(dev, &io->state, 0, io->len) : 0;
}

/* Unlink everything linked and free the range. */
static inline void hp_dma_iova_destroy(struct device *dev, struct hp_dma_iova *io,
				       enum dma_data_direction dir)
{
	dma_iova_destroy(dev, &io->state, io->len, dir, 0);
}

/* One system page mapped for @dev in direction @dir. */
static inline dma_addr_t hp_dma_map_sys(struct device *dev, struct page *page,
					enum dma_data_direction dir)
{
	return dma_map_phys(dev, page_to_phys(page), PAGE_SIZE, dir, 0);
}

static inline void hp_dma_unmap_sys(struct device *dev, dma_addr_t addr,
				    enum dma_data_direction dir)
{
	dma_unmap_phys(dev, addr, PAGE_SIZE, dir, 0);
}

#else /* 6.12 */

#define HP_DEVICE_THP		0
#define HP_SELECT_COMPOUND	0
#define HP_PFN_COMPOUND		0

static inline struct dev_pagemap *hp_page_pgmap(struct page *page)
{
	return page->pgmap;
}

static inline void hp_device_folio_init(struct page *page, struct dev_pagemap *pgmap,
					unsigned int order)
{
	/* 6.12: no large device folios; pgmap was set by memremap_pages() */
	zone_device_page_init(page);
}

/* 6.12 calls page_free on page 0: free_fn##_page wraps it into the folio form. */
#define HP_DEFINE_PGMAP_OPS(name, free_fn, fault_fn)		\
	static void free_fn##_page(struct page *page)		\
	{							\
		free_fn(page_folio(page));			\
	}							\
	static const struct dev_pagemap_ops name = {		\
		.page_free = free_fn##_page,			\
		.migrate_to_ram = fault_fn,			\
	}

static inline struct page *hp_make_exclusive(struct mm_struct *mm, unsigned long addr,
					     void *owner, struct folio **foliop)
{
	struct page *page = NULL;
	int ret;

	ret = make_device_exclusive_range(mm, addr, addr + PAGE_SIZE, &page, owner);
	if (ret < 0)
		return ERR_PTR(ret);
	if (ret != 1 || !page)
		return ERR_PTR(-EBUSY);
	*foliop = page_folio(page);
	return page;
}

/*
 * 6.12 has no fault path that may drop the mmap lock: take it around
 * hmm_range_fault() and retry while the range keeps being invalidated.
 */
static inline int hp_range_fault_unlocked(struct hmm_range *range,
					  unsigned long timeout)
{
	struct mm_struct *mm = range->notifier->mm;
	unsigned long until = jiffies + timeout;
	int ret;

	do {
		if (timeout && time_after(jiffies, until))
			return -EBUSY;
		if (fatal_signal_pending(current))
			return -EINTR;
		range->notifier_seq = mmu_interval_read_begin(range->notifier);
		mmap_read_lock(mm);
		ret = hmm_range_fault(range);
		mmap_read_unlock(mm);
	} while (ret == -EBUSY);
	return ret;
}

static inline struct folio *hp_vma_alloc_folio(gfp_t gfp, int order,
					       struct vm_area_struct *vma, unsigned long addr)
{
	return vma_alloc_folio(gfp, order, vma, addr, order > 0);
}

static inline dma_addr_t hp_dma_map_page(struct device *dev, unsigned long pfn)
{
	return dma_map_page(dev, pfn_to_page(pfn), 0, PAGE_SIZE, DMA_BIDIRECTIONAL);
}

static inline void hp_dma_unmap_page(struct device *dev, dma_addr_t addr)
{
	dma_unmap_page(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL);
}

static inline void hp_dma_unmap_page_nosync(struct device *dev, dma_addr_t addr)
{
	dma_unmap_page_attrs(dev, addr, PAGE_SIZE, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
}

static inline struct dev_pagemap *hp_get_dev_pagemap(unsigned long pfn)
{
	return get_dev_pagemap(pfn, NULL);
}

/* 6.12 has no two-step DMA API: every page is mapped by itself. */
struct hp_dma_iova {
	size_t len;
};

static inline bool hp_dma_iova_alloc(struct device *dev, struct hp_dma_iova *io,
				     phys_addr_t phys, size_t size)
{
	io->len = 0;
	return false;
}

static inline dma_addr_t hp_dma_iova_link(struct device *dev, struct hp_dma_iova *io,
					  phys_addr_t phys, size_t size,
					  enum dma_data_direction dir)
{
	return DMA_MAPPING_ERROR;
}

static inline int hp_dma_iova_sync(struct device *dev, struct hp_dma_iova *io)
{
	return 0;
}

static inline void hp_dma_iova_destroy(struct device *dev, struct hp_dma_iova *io,
				       enum dma_data_direction dir)
{
}

static inline dma_addr_t hp_dma_map_sys(struct device *dev, struct page *page,
					enum dma_data_direction dir)
{
	return dma_map_page(dev, page, 0, PAGE_SIZE, dir);
}

static inline void hp_dma_unmap_sys(struct device *dev, dma_addr_t addr,
				    enum dma_data_direction dir)
{
	dma_unmap_page(dev, addr, PAGE_SIZE, dir);
}

#endif

#endif /* _HMM_P2P_COMPAT_H */
