// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p mirror mappings through the two-step DMA API (7.3).
 *
 * The per-page path (mirror.c) gives every mirrored page a dma_map call of
 * its own: an IOVA allocation, a page table update and, when the entry
 * goes, an unmap with an IOTLB flush, each per page. Here a mirror's DMA
 * addresses live in windows instead: one per 2 MiB aligned piece of the
 * address space the mirror faulted (HP_WIN_NR pages), each one
 * hmm_dma_map_alloc() (one IOVA range of 2 MiB where the device sits behind
 * an IOMMU), allocated at the first fault that needs it and freed once an
 * invalidation has dropped its last entry. Page i of the window is slot i:
 *
 *  - a plain page (system, zero, coherent) is linked into its slot with
 *    dma_iova_link() and no IOTLB sync (physically contiguous pages of a
 *    run with one call, where the IOMMU's page sizes allow: HP_LINK_ORDER);
 *    a run of consecutive slots is synced once (dma_iova_sync()) when it
 *    ends. Its verdict needs no P2P lookup: it is no P2PDMA page;
 *  - a P2PDMA page, or the P2PDMA page behind a group peer's private page
 *    (the peer's p2p_page op: never the private page's own pfn), goes
 *    through hmm_dma_map_pfn(), which asks the kernel's pci_p2pdma_state()
 *    (not exported to modules): a bus address through a switch (nothing
 *    linked), a host-bridge mapping (linked with DMA_ATTR_MMIO), or no path;
 *  - without IOVA (no IOMMU translation) every page goes through
 *    hmm_dma_map_pfn(), which maps it directly.
 *
 * An invalidation unlinks a run of consecutive plain slots with one
 * dma_iova_unlink() (one IOTLB flush per run, where the per-page path
 * flushes per page); the others with hmm_dma_unmap_pfn(). The slot's hmm
 * pfn keeps the HMM_PFN_DMA_* bits the link set, as hmm_dma_unmap_pfn()
 * needs them.
 *
 * Memory: a window takes its struct and DMA address array (ours, charged to
 * the process: __GFP_ACCOUNT) and hmm_dma_map_alloc()'s own lists (not
 * charged: the kernel allocates them), about 8 KiB per 2 MiB mirrored. All
 * windows of one mirror may take at most mirror_map_max_kb; a fault that
 * needs a window past it fails with -ENOSPC. The mirror lock is taken by
 * invalidations from reclaim, so windows are allocated before the fault
 * round takes it (hp_win_prepare()) and only installed under it.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/hmm.h>
#include "hmm_p2p_compat.h"
#include "internal.h"
#include "trace.h"

#if HP_TWOSTEP

#include <linux/iommu.h>
#include <linux/swiotlb.h>

/**
 * struct hp_win - one window: DMA mappings of HP_WIN_NR consecutive pages
 * @map: hmm_dma_map_alloc()'s state; pfn_list[slot] is the slot's hmm pfn
 * @dma: the DMA address of each linked slot
 * @index: virtual address >> (PAGE_SHIFT + HP_WIN_ORDER)
 * @nr_used: slots with HMM_PFN_DMA_MAPPED
 * @cost: bytes charged against the mirror's bound
 * @coalesce: physically contiguous pages may share one dma_iova_link()
 */
struct hp_win {
	struct hmm_dma_map map;
	dma_addr_t *dma;
	unsigned long index;
	unsigned int nr_used;
	unsigned int cost;
	bool coalesce;
};

/*
 * One dma_iova_link() covers at most 2^HP_LINK_ORDER physically contiguous
 * pages, and only where the IOMMU maps no page size between 4 KiB and that
 * (Intel: 4 KiB, 2 MiB, 1 GiB): the range is then mapped with 4 KiB entries,
 * and unlinking one page of it later unmaps just that page.
 */
#define HP_LINK_ORDER	8

#define HP_WIN_MAPPED	(HMM_PFN_VALID | HMM_PFN_DMA_MAPPED)
#define HP_WIN_ATTRS	DMA_ATTR_REQUIRE_COHERENT

static unsigned int hp_win_max_kb = 32768;
module_param_named(mirror_map_max_kb, hp_win_max_kb, uint, 0644);
MODULE_PARM_DESC(mirror_map_max_kb,
		 "Memory all two-step windows of one mirror may take, in KiB (about 8 KiB per 2 MiB mirrored; default 32768)");

/* Worst case: our struct, our DMA addresses, the kernel's pfn and dma lists. */
#define HP_WIN_COST	(sizeof(struct hp_win) + HP_WIN_NR * \
			 (sizeof(dma_addr_t) + sizeof(unsigned long) + sizeof(dma_addr_t)))

static void hp_win_free(struct hmm_p2p_mirror *mirror, struct hp_win *w)
{
	hmm_dma_map_free(mirror->dma_dev, &w->map);
	kvfree(w->dma);
	atomic_long_sub(w->cost, &mirror->win_bytes);
	kfree(w);
}

/*
 * An empty window goes back to the mirror's one spare slot, else is freed.
 * The spare keeps faults of pages that need no window (the device's own
 * memory) from allocating and freeing one every round.
 */
static void hp_win_release(struct hmm_p2p_mirror *mirror, struct hp_win *w)
{
	if (!cmpxchg(&mirror->win_spare, NULL, w))
		return;
	hp_win_free(mirror, w);
}

static void hp_win_refuse_log(struct hmm_p2p_mirror *mirror)
{
	dev_warn_once(mirror->dma_dev,
		      "hmm_p2p: DMA to this device needs syncs (bounce buffering): mirror mappings refused\n");
}

/*
 * Would the device's mappings need syncs or bounce buffers? hmm_dma_map_alloc()
 * asks dma_need_sync and dma_addressing_limited(), but a device under
 * swiotlb=force only loses its skip-sync flag at its first bounce; and
 * DMA_ATTR_REQUIRE_COHERENT, which our links pass, WARNs on an
 * addressing-limited device. So ask first.
 */
static bool hp_win_bounces(struct device *dev)
{
	return is_swiotlb_force_bounce(dev) || dma_addressing_limited(dev);
}

/* A new, empty window; may sleep and enter reclaim: no mirror lock held. */
static struct hp_win *hp_win_alloc(struct hmm_p2p_mirror *mirror, unsigned long index)
{
	long max = (long)READ_ONCE(hp_win_max_kb) << 10;
	struct hp_win *w;
	int ret;

	if (hp_win_bounces(mirror->dma_dev)) {
		hp_win_refuse_log(mirror);
		return ERR_PTR(-EOPNOTSUPP);
	}
	if (atomic_long_add_return(HP_WIN_COST, &mirror->win_bytes) > max) {
		atomic_long_sub(HP_WIN_COST, &mirror->win_bytes);
		dev_warn_ratelimited(mirror->dma_dev,
				     "hmm_p2p: mirror DMA windows reached hmm_p2p.mirror_map_max_kb=%ld: fault refused (-ENOSPC)\n",
				     max >> 10);
		return ERR_PTR(-ENOSPC);
	}
	w = kzalloc_obj(*w, GFP_KERNEL_ACCOUNT);
	if (!w)
		goto nomem;
	w->cost = HP_WIN_COST;
	w->index = index;
	w->dma = kvcalloc(HP_WIN_NR, sizeof(*w->dma), GFP_KERNEL_ACCOUNT);
	if (!w->dma)
		goto nomem;
	/*
	 * hmm_dma_map_alloc() refuses a device that would need DMA syncs or
	 * bounce buffering (dma_addressing_limited() included) before any
	 * mapping with DMA_ATTR_REQUIRE_COHERENT is tried: a window exists
	 * only for a device on which that attribute cannot warn.
	 */
	ret = hmm_dma_map_alloc(mirror->dma_dev, &w->map, HP_WIN_NR, PAGE_SIZE);
	if (ret) {
		kvfree(w->dma);
		kfree(w);
		atomic_long_sub(HP_WIN_COST, &mirror->win_bytes);
		if (ret == -EOPNOTSUPP)
			hp_win_refuse_log(mirror);
		return ERR_PTR(ret);
	}
	if (!w->map.dma_list) {
		w->cost -= HP_WIN_NR * sizeof(dma_addr_t);
		atomic_long_sub(HP_WIN_NR * sizeof(dma_addr_t), &mirror->win_bytes);
	}
	if (dma_use_iova(&w->map.state)) {
		struct iommu_domain *dom = iommu_get_domain_for_dev(mirror->dma_dev);

		w->coalesce = dom && !(dom->pgsize_bitmap &
				       GENMASK_ULL(PAGE_SHIFT + HP_LINK_ORDER, PAGE_SHIFT + 1));
	}
	return w;
nomem:
	kfree(w);
	atomic_long_sub(HP_WIN_COST, &mirror->win_bytes);
	return ERR_PTR(-ENOMEM);
}

/**
 * hp_win_prepare() - allocate the windows a fault round over [start, end)
 *	may need and the mirror lacks
 * @mirror: a two-step mirror; its lock not held
 * @c: the round's context; takes the new windows as spares
 * @start: first byte
 * @end: end; [start, end) spans at most two windows
 *
 * A device that needs DMA syncs does not fail the round here: only a page
 * that needs a mapping does (@c->refused).
 *
 * Return: 0, -ENOSPC past the bound, -ENOMEM.
 */
int hp_win_prepare(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c,
		   unsigned long start, unsigned long end)
{
	unsigned long i, first = start >> (PAGE_SHIFT + HP_WIN_ORDER);
	unsigned long last = (end - 1) >> (PAGE_SHIFT + HP_WIN_ORDER);
	unsigned int k = 0;

	for (i = first; i <= last && k < ARRAY_SIZE(c->spare); i++) {
		struct hp_win *w;

		if (xa_load(&mirror->win, i))
			continue;	/* racy hint: hp_win_install() decides */
		if (READ_ONCE(mirror->win_refused)) {
			c->refused = true;
			return 0;
		}
		w = xchg(&mirror->win_spare, NULL);
		if (!w)
			w = hp_win_alloc(mirror, i);
		if (IS_ERR(w)) {
			if (PTR_ERR(w) != -EOPNOTSUPP) {
				hp_win_discard(mirror, c);
				return PTR_ERR(w);
			}
			/* the device needs syncs for good: no more tries */
			WRITE_ONCE(mirror->win_refused, true);
			c->refused = true;
			return 0;
		}
		w->index = i;
		c->spare[k++] = w;
	}
	return 0;
}

/**
 * hp_win_install() - give the mirror the spare windows it still lacks
 * @mirror: a two-step mirror; its lock held
 * @c: the round's context
 *
 * Return: 0 or -ENOMEM.
 */
int hp_win_install(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c)
{
	unsigned int k;

	lockdep_assert_held(&mirror->lock);
	for (k = 0; k < ARRAY_SIZE(c->spare); k++) {
		struct hp_win *w = c->spare[k];
		int ret;

		if (!w || xa_load(&mirror->win, w->index))
			continue;
		/* no reclaim under the mirror lock */
		ret = xa_insert(&mirror->win, w->index, w, GFP_NOWAIT | __GFP_ACCOUNT);
		if (ret)
			return ret == -EBUSY ? 0 : ret;
		c->spare[k] = NULL;
	}
	return 0;
}

/**
 * hp_win_discard() - free the spares hp_win_install() did not use
 * @mirror: the mirror; its lock not needed
 * @c: the round's context
 */
void hp_win_discard(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c)
{
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(c->spare); k++) {
		if (c->spare[k])
			hp_win_release(mirror, c->spare[k]);
		c->spare[k] = NULL;
	}
}

static int hp_win_link_errno(struct hmm_p2p_mirror *mirror, int ret)
{
	/* -EPERM, -EOPNOTSUPP: it would bounce (an untrusted device) */
	if (ret == -EPERM || ret == -EOPNOTSUPP) {
		hp_win_refuse_log(mirror);
		return -EOPNOTSUPP;
	}
	return ret == -ENOMEM ? -ENOMEM : -EIO;
}

/*
 * Link the pages of the run not linked yet: the last @c->link_n slots of
 * the run, physically contiguous from @c->link_phys. On failure they leave
 * the run, unmapped.
 */
static int hp_win_link_flush(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c)
{
	struct hp_win *w = c->run_win;
	unsigned int i, n = c->link_n, first;
	int ret;

	if (!n)
		return 0;
	c->link_n = 0;
	first = c->run_first + c->run_n - n;
	ret = dma_iova_link(mirror->dma_dev, &w->map.state, c->link_phys,
			    (size_t)first << PAGE_SHIFT, (size_t)n << PAGE_SHIFT,
			    DMA_BIDIRECTIONAL, HP_WIN_ATTRS);
	if (!ret)
		return 0;
	for (i = first; i < first + n; i++)
		w->map.pfn_list[i] = 0;
	w->nr_used -= n;
	c->run_n -= n;
	return hp_win_link_errno(mirror, ret);
}

/**
 * hp_win_sync() - link what is pending and sync the IOTLB for the run
 * @mirror: a two-step mirror; its lock held
 * @c: the context
 *
 * One dma_iova_sync() per run of consecutive slots. On failure the pages
 * concerned are unlinked: their entries then have no DMA address.
 *
 * Return: 0, -EOPNOTSUPP (a link would bounce), -ENOMEM or -EIO.
 */
int hp_win_sync(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c)
{
	struct hp_win *w = c->run_win;
	int lret, ret;
	unsigned int i;

	lockdep_assert_held(&mirror->lock);
	if (!w)
		return 0;
	lret = hp_win_link_flush(mirror, c);
	c->run_win = NULL;
	if (!c->run_n)
		return lret;
	ret = dma_iova_sync(mirror->dma_dev, &w->map.state, (size_t)c->run_first << PAGE_SHIFT,
			    (size_t)c->run_n << PAGE_SHIFT);
	if (!ret)
		return lret;
	dma_iova_unlink(mirror->dma_dev, &w->map.state, (size_t)c->run_first << PAGE_SHIFT,
			(size_t)c->run_n << PAGE_SHIFT, DMA_BIDIRECTIONAL, HP_WIN_ATTRS);
	for (i = c->run_first; i < c->run_first + c->run_n; i++)
		w->map.pfn_list[i] = 0;
	w->nr_used -= c->run_n;
	return -EIO;
}

/* The window of page @idx, or NULL; @c caches the last one (mirror lock held). */
static struct hp_win *hp_win_find(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c,
				  unsigned long idx)
{
	unsigned long i = idx >> HP_WIN_ORDER;
	struct hp_win *w;

	if (c && c->last && c->last->index == i)
		return c->last;
	w = xa_load(&mirror->win, i);
	if (c)
		c->last = w;
	return w;
}

/**
 * hp_win_map() - give page @idx of the mirror its DMA address
 * @mirror: a two-step mirror; its lock held
 * @c: the round's context (a pending run, the P2P lookup state)
 * @idx: virtual page number
 * @e: the entry (hp_p2p_wanted(), or a page the device reaches by DMA);
 *	on success @e->dma and HMM_P2P_E_DMA are set
 *
 * The slot must be unmapped (its old entry erased).
 *
 * Return: 0; -EREMOTEIO (no P2P path, or no P2P memory behind a peer's
 * page), -ENODEV (the peer is going away), -EOPNOTSUPP (the device needs
 * syncs), -EAGAIN (the window went away before the round took the lock),
 * -EIO, -ENOMEM.
 */
int hp_win_map(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c, unsigned long idx,
	       struct hmm_p2p_entry *e)
{
	unsigned int slot = idx & (HP_WIN_NR - 1);
	struct hmm_p2p_devmem *peer = NULL;
	struct device *dev = mirror->dma_dev;
	struct hp_win *w;
	dma_addr_t dma;
	int ret;

	lockdep_assert_held(&mirror->lock);
	w = hp_win_find(mirror, c, idx);
	if (!w)
		return c->refused ? -EOPNOTSUPP : -EAGAIN;
	if (WARN_ON_ONCE(w->map.pfn_list[slot] & HMM_PFN_DMA_MAPPED))
		return -EIO;

	if (hp_p2p_wanted(e)) {
		struct page *page = pfn_to_page(e->pfn);

		if (e->class != HMM_P2P_PC_P2PDMA) {
			page = hp_p2p_backing(page, &peer);
			if (IS_ERR(page)) {
				trace_hmm_p2p_p2p_map(mirror->dm, e->pfn, DMA_MAPPING_ERROR, false,
						      PTR_ERR(page) == -ENODEV ? HP_TR_P2P_GONE :
						      HP_TR_P2P_REFUSED);
				return PTR_ERR(page);
			}
		}
		w->map.pfn_list[slot] = HMM_PFN_VALID | page_to_pfn(page);
		dma = hmm_dma_map_pfn(dev, &w->map, slot, &c->p2p.s);
		if (dma_mapping_error(dev, dma)) {
			w->map.pfn_list[slot] = 0;
			trace_hmm_p2p_p2p_map(mirror->dm, page_to_pfn(page), DMA_MAPPING_ERROR,
					      false, HP_TR_P2P_REFUSED);
			return -EREMOTEIO;
		}
		if (peer) {
			void *old = xa_store(&mirror->dma, idx, peer, GFP_NOWAIT);

			if (xa_is_err(old)) {
				hmm_dma_unmap_pfn(dev, &w->map, slot);
				w->map.pfn_list[slot] = 0;
				return xa_err(old);
			}
		}
		atomic64_inc(&mirror->dm->st_p2p_maps);
		trace_hmm_p2p_p2p_map(mirror->dm, page_to_pfn(page), dma, false,
				      (w->map.pfn_list[slot] & HMM_PFN_P2PDMA_BUS) ? HP_TR_P2P_BUS :
				      dma_use_iova(&w->map.state) ? HP_TR_P2P_IOVA :
				      HP_TR_P2P_HOST);
	} else if (!dma_use_iova(&w->map.state)) {
		w->map.pfn_list[slot] = HMM_PFN_VALID | e->pfn;
		dma = hmm_dma_map_pfn(dev, &w->map, slot, &c->p2p.s);
		if (dma_mapping_error(dev, dma) || offset_in_page(dma)) {
			if (!dma_mapping_error(dev, dma))
				hmm_dma_unmap_pfn(dev, &w->map, slot);
			w->map.pfn_list[slot] = 0;
			return -EIO;
		}
	} else {
		phys_addr_t phys = PFN_PHYS(e->pfn);

		/*
		 * No P2PDMA page: no verdict to ask for. Physically contiguous
		 * pages share a link, consecutive slots an IOTLB sync.
		 */
		if (c->run_win && (c->run_win != w || c->run_first + c->run_n != slot)) {
			ret = hp_win_sync(mirror, c);
			if (ret)
				return ret;
		}
		if (!c->run_win) {
			c->run_win = w;
			c->run_first = slot;
			c->run_n = 0;
			c->link_n = 0;
		}
		if (c->link_n && (!w->coalesce || c->link_n >= BIT(HP_LINK_ORDER) ||
				  c->link_phys + ((phys_addr_t)c->link_n << PAGE_SHIFT) != phys)) {
			ret = hp_win_link_flush(mirror, c);
			if (ret)
				return ret;
		}
		if (!c->link_n)
			c->link_phys = phys;
		c->link_n++;
		c->run_n++;
		w->map.pfn_list[slot] = HP_WIN_MAPPED | e->pfn;
		dma = w->map.state.addr + ((dma_addr_t)slot << PAGE_SHIFT);
	}
	w->nr_used++;
	w->dma[slot] = dma;
	e->dma = dma;
	e->flags |= HMM_P2P_E_DMA;
	return 0;
}

static void hp_win_unrun_flush(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c)
{
	struct hp_win *w = c->unrun_win;
	unsigned int i;

	if (!w)
		return;
	c->unrun_win = NULL;
	dma_iova_unlink(mirror->dma_dev, &w->map.state, c->unrun_first << PAGE_SHIFT,
			c->unrun_n << PAGE_SHIFT, DMA_BIDIRECTIONAL, HP_WIN_ATTRS);
	for (i = c->unrun_first; i < c->unrun_first + c->unrun_n; i++)
		w->map.pfn_list[i] = 0;
	w->nr_used -= c->unrun_n;
}

/**
 * hp_win_unmap() - drop the DMA mapping of page @idx
 * @mirror: a two-step mirror; its lock held
 * @c: NULL: unlink now; else add a plain link to @c's run of unlinks,
 *	which hp_win_unmap_flush() ends
 * @idx: virtual page number
 *
 * A P2P mapping of a private page whose exporter is going away counts as a
 * "peer gone" fallback, as in hp_p2p_unmap().
 */
void hp_win_unmap(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c, unsigned long idx)
{
	unsigned int slot = idx & (HP_WIN_NR - 1);
	struct hmm_p2p_devmem *peer;
	unsigned long pfn;
	struct hp_win *w;

	lockdep_assert_held(&mirror->lock);
	w = hp_win_find(mirror, c, idx);
	if (!w)
		return;
	pfn = w->map.pfn_list[slot];
	if ((pfn & HP_WIN_MAPPED) != HP_WIN_MAPPED)
		return;
	if (dma_use_iova(&w->map.state) && !(pfn & (HMM_PFN_P2PDMA | HMM_PFN_P2PDMA_BUS))) {
		if (c && c->unrun_win == w && c->unrun_first + c->unrun_n == slot) {
			c->unrun_n++;
			return;
		}
		if (c) {
			hp_win_unrun_flush(mirror, c);
			c->unrun_win = w;
			c->unrun_first = slot;
			c->unrun_n = 1;
			return;
		}
	}
	hmm_dma_unmap_pfn(mirror->dma_dev, &w->map, slot);
	w->map.pfn_list[slot] = 0;
	w->nr_used--;
	if (pfn & (HMM_PFN_P2PDMA | HMM_PFN_P2PDMA_BUS)) {
		peer = xa_erase(&mirror->dma, idx);
		if (peer && READ_ONCE(peer->dying)) {
			atomic64_inc(&mirror->dm->st_p2p_gone);
			trace_hmm_p2p_p2p_fallback(mirror->dm, HP_TR_FB_GONE, 0, 1);
		}
	}
}

/**
 * hp_win_unmap_flush() - end the run of unlinks hp_win_unmap() gathered
 * @mirror: a two-step mirror; its lock held
 * @c: the context
 */
void hp_win_unmap_flush(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c)
{
	lockdep_assert_held(&mirror->lock);
	hp_win_unrun_flush(mirror, c);
}

/**
 * hp_win_trim() - free the windows of [start, end) that map nothing
 * @mirror: a two-step mirror; its lock held
 * @c: the context whose cached window may go, or NULL
 * @start: first byte
 * @end: end of the range
 */
void hp_win_trim(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c, unsigned long start,
		 unsigned long end)
{
	unsigned long i;
	struct hp_win *w;

	lockdep_assert_held(&mirror->lock);
	if (end <= start)
		return;
	xa_for_each_range(&mirror->win, i, w, start >> (PAGE_SHIFT + HP_WIN_ORDER),
			  (end - 1) >> (PAGE_SHIFT + HP_WIN_ORDER)) {
		if (w->nr_used)
			continue;
		xa_erase(&mirror->win, i);
		if (c && c->last == w)
			c->last = NULL;
		hp_win_release(mirror, w);
	}
}

/**
 * hp_win_lookup() - the DMA address of page @idx
 * @mirror: a two-step mirror; its lock held
 * @idx: virtual page number
 * @dma: out: the address
 * @flags: out: HMM_P2P_E_P2P (and _P2P_BUS) added for a P2P mapping
 *
 * Return: true if the page is mapped.
 */
bool hp_win_lookup(struct hmm_p2p_mirror *mirror, unsigned long idx, dma_addr_t *dma,
		   u8 *flags)
{
	unsigned int slot = idx & (HP_WIN_NR - 1);
	unsigned long pfn;
	struct hp_win *w;

	lockdep_assert_held(&mirror->lock);
	w = xa_load(&mirror->win, idx >> HP_WIN_ORDER);
	if (!w)
		return false;
	pfn = w->map.pfn_list[slot];
	if ((pfn & HP_WIN_MAPPED) != HP_WIN_MAPPED)
		return false;
	*dma = w->dma[slot];
	if (pfn & (HMM_PFN_P2PDMA | HMM_PFN_P2PDMA_BUS))
		*flags |= HMM_P2P_E_P2P;
	if (pfn & HMM_PFN_P2PDMA_BUS)
		*flags |= HMM_P2P_E_P2P_BUS;
	return true;
}

/**
 * hp_win_fini() - free every window of a mirror whose entries are gone
 * @mirror: a two-step mirror; its lock not held, no user left
 */
void hp_win_fini(struct hmm_p2p_mirror *mirror)
{
	unsigned long i;
	struct hp_win *w;

	xa_for_each(&mirror->win, i, w) {
		WARN_ON_ONCE(w->nr_used);
		xa_erase(&mirror->win, i);
		hp_win_free(mirror, w);
	}
	xa_destroy(&mirror->win);
	w = xchg(&mirror->win_spare, NULL);
	if (w)
		hp_win_free(mirror, w);
}

#endif /* HP_TWOSTEP */
