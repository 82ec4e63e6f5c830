// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p migration: system memory to device memory and back.
 *
 * Every path runs one batch engine (struct hp_mig, struct hp_batch):
 * migrate_vma_setup() (or migrate_device_range() for eviction) -> allocate
 * destinations -> DMA-map the system side and start the devmem's copy op on
 * the batch (struct hmm_p2p_copy_job) -> wait for it -> migrate_vma_pages()
 * -> migrate_vma_finalize(). The user-sized paths overlap one batch's copy
 * with the next batch's setup (hp_mig_walk()). A destination that cannot
 * be allocated or filled is simply left out: its source stays where it was,
 * so no path loses data. Destinations that were allocated but not used are
 * released by finalize (device pages return to the allocator through the
 * pagemap's free callback).
 *
 * Batches are one PMD (512 pages), PMD aligned, so that a THP can move as one
 * 2 MiB device folio on kernels that support it (MIGRATE_VMA_SELECT_COMPOUND).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/sched/mm.h>
#include <linux/wait_bit.h>
#include "hmm_p2p_compat.h"
#include "internal.h"
#include "trace.h"

#define HP_BATCH	HP_PMD_NR

/*
 * Memory pressure: what each path does when a system page for data coming
 * back from the device cannot be had (docs/memory-pressure.md).
 *
 * - An explicit move (hmm_p2p_migrate_to_system(), MIGRATE_TO_SYS) may
 *   fail: HP_GFP_MAYFAIL reclaims hard but never invokes the OOM killer
 *   for it; pages it cannot place stay on the device, intact, and the
 *   caller gets -ENOMEM.
 * - A CPU fault cannot return an error. HP_GFP_FAULT lets the allocator
 *   reclaim and run the OOM killer as for any anonymous fault; if the page
 *   still cannot be had (the faulting task is the OOM victim, an injected
 *   failure), the fault returns VM_FAULT_SIGBUS. Never VM_FAULT_OOM: our
 *   allocation is not charged to a memcg (migration moves the device
 *   page's charge to the new page, over memory.max if need be), so no memcg
 *   OOM is pending and the #PF handler would only print "VM_FAULT_OOM
 *   leaked out" and retry for ever. The neighbours a fault brings along
 *   (fault-around) are optional: HP_GFP_AROUND tries once, no OOM kill.
 *   A PMD-mapped folio moved by a worker (hp_fault_defer()) uses
 *   HP_GFP_FAULT there; if even that fails, the fault is retried.
 * - Eviction (device removal, close, RELEASE) must not fail: a page left
 *   behind is data its process loses. HP_GFP_EVICT is __GFP_NOFAIL for
 *   4 KiB pages (the allocator loops, reclaiming and OOM-killing, rather
 *   than give up; a bounded loop of our own could only give up sooner).
 *   Eviction moves 4 KiB pages through the mirrored mms; hp_evict_chunk()
 *   does the same for 4 KiB pages, and for a 2 MiB folio (which only
 *   migrate_device_range() reaches, and only whole) tries a 2 MiB page with
 *   __GFP_RETRY_MAYFAIL (__GFP_NOFAIL is not for costly orders) and retries
 *   it per pass.
 */
#define HP_GFP_MAYFAIL	(GFP_HIGHUSER_MOVABLE | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)
#define HP_GFP_FAULT	GFP_HIGHUSER_MOVABLE
#define HP_GFP_AROUND	(GFP_HIGHUSER_MOVABLE | __GFP_NORETRY | __GFP_NOWARN)
#define HP_GFP_EVICT	(GFP_HIGHUSER_MOVABLE | __GFP_NOFAIL)

static void hp_put_dst(unsigned long *dst)
{
	struct page *page = migrate_pfn_to_page(*dst);

	if (page) {
		unlock_page(page);
		put_page(page);
	}
	*dst = 0;
}

/* Pages of one src entry: a compound entry stands for a whole PMD. */
static unsigned int hp_src_nr(unsigned long src)
{
	return (src & HP_PFN_COMPOUND) ? HP_PMD_NR : 1;
}

/*
 * The copy job of one batch for one devmem: the per-page addresses the
 * driver gets, the DMA mappings of the system pages behind them, and the
 * completion the library waits on before migrate_vma_pages().
 */
/* The P2P mapping of one peer source page (HMM_P2P_ADDR_PEER). */
struct hp_peer_sg {
	struct sg_table sgt;
	struct scatterlist sg;
};

struct hp_copy {
	struct hmm_p2p_copy_job job;
	struct hmm_p2p_devmem *dm;
	struct hmm_p2p_addr *src, *dst;
	unsigned long *failed;
	unsigned long *bounce;	/* peer pages with no P2P path here */
	struct hp_peer_sg *psg;	/* their mappings, allocated on first use */
	unsigned long cap;	/* pages the arrays hold */
	struct hp_dma_iova iova;
	bool use_iova;		/* the system pages are linked in @iova */
	bool guard;		/* in a dm->srcu read section, see hp_copy_start() */
	bool running;		/* started, not waited for */
	int srcu_idx;
};

/* Arrays for jobs of up to @npages pages. */
static int hp_copy_init(struct hp_copy *c, unsigned long npages, gfp_t gfp)
{
	size_t addrs = 2 * npages * sizeof(*c->src);

	memset(c, 0, sizeof(*c));
	c->src = kvmalloc(addrs + 2 * BITS_TO_LONGS(npages) * sizeof(long), gfp);
	if (!c->src)
		return -ENOMEM;
	c->dst = c->src + npages;
	c->failed = (unsigned long *)(c->dst + npages);
	c->bounce = c->failed + BITS_TO_LONGS(npages);
	c->cap = npages;
	return 0;
}

static void hp_copy_free(struct hp_copy *c)
{
	kvfree(c->src);
	kvfree(c->psg);
	c->src = NULL;
	c->psg = NULL;
}

/* Page @i cannot be copied (no DMA mapping): the driver skips it. */
static void hp_copy_drop(struct hp_copy *c, unsigned long i)
{
	set_bit(i, c->failed);
	c->src[i].type = HMM_P2P_ADDR_NONE;
	c->dst[i].type = HMM_P2P_ADDR_NONE;
}

/*
 * DMA-map the job's peer source pages (HMM_P2P_ADDR_PEER) for the devmem's
 * DMA device: the P2PDMA page behind each, through the DMA API, which gives
 * the kernel's P2P verdict (a bus address through a switch, a mapping
 * through the host bridge, or no path). A page with no path, or a peer
 * with no P2P memory behind it or going away, is dropped from the job and
 * marked for the bounce through system memory.
 */
static void hp_copy_map_peers(struct hp_copy *c, unsigned long n)
{
	struct device *dev = c->dm->desc.dma_dev;
	struct hmm_p2p_devmem *peer;
	unsigned long i;

	for (i = 0; i < n; i++) {
		struct hmm_p2p_addr *s = &c->src[i];
		struct hp_peer_sg *ps;
		struct page *p2p;

		if (s->type != HMM_P2P_ADDR_PEER)
			continue;
		if (dev && !c->psg)
			c->psg = kvcalloc(c->cap, sizeof(*c->psg), GFP_KERNEL);
		p2p = dev && c->psg ? hp_p2p_backing(s->page, &peer) : ERR_PTR(-EREMOTEIO);
		if (IS_ERR(p2p))
			goto bounce;
		ps = &c->psg[i];
		sg_init_table(&ps->sg, 1);
		sg_set_page(&ps->sg, p2p, PAGE_SIZE, 0);
		ps->sgt.sgl = &ps->sg;
		ps->sgt.nents = 1;
		ps->sgt.orig_nents = 1;
		if (dma_map_sgtable(dev, &ps->sgt, DMA_TO_DEVICE, 0))
			goto bounce;
		s->addr = sg_dma_address(&ps->sg);
		trace_hmm_p2p_p2p_map(c->dm, page_to_pfn(p2p), s->addr, true,
				      sg_dma_is_bus_address(&ps->sg) ? HP_TR_P2P_BUS :
				      s->addr != page_to_phys(p2p) ? HP_TR_P2P_IOVA :
				      HP_TR_P2P_HOST);
		continue;
bounce:
		trace_hmm_p2p_p2p_map(c->dm, page_to_pfn(s->page), DMA_MAPPING_ERROR, true,
				      p2p == ERR_PTR(-ENODEV) ? HP_TR_P2P_GONE :
				      HP_TR_P2P_REFUSED);
		set_bit(i, c->bounce);
		hp_copy_drop(c, i);
	}
}

/*
 * DMA-map the job's system pages for the devmem's DMA device: one IOVA
 * range for the batch where the device is behind an IOMMU (a physically
 * contiguous run linked at once, one sync for all), else page by page.
 * A page that cannot be mapped is dropped from the job.
 */
static void hp_copy_map(struct hp_copy *c, unsigned long n)
{
	struct device *dev = c->dm->desc.dma_dev;
	enum dma_data_direction dir = c->job.dir;
	struct hmm_p2p_addr *sys = dir == DMA_TO_DEVICE ? c->src : c->dst;
	unsigned long i, j, k, nsys = 0, first = n;
	dma_addr_t addr;

	if (dir == DMA_TO_DEVICE)
		hp_copy_map_peers(c, n);
	for (i = 0; i < n; i++) {
		if (sys[i].type != HMM_P2P_ADDR_SYSTEM)
			continue;
		if (!dev)
			sys[i].addr = page_to_phys(sys[i].page);
		if (first == n)
			first = i;
		nsys++;
	}
	if (!dev || !nsys)
		return;
	c->use_iova = hp_dma_iova_alloc(dev, &c->iova, page_to_phys(sys[first].page),
					nsys << PAGE_SHIFT);
	for (i = first; i < n; i = j) {
		j = i + 1;
		if (sys[i].type != HMM_P2P_ADDR_SYSTEM)
			continue;
		if (!c->use_iova) {
			sys[i].addr = hp_dma_map_sys(dev, sys[i].page, dir);
			if (dma_mapping_error(dev, sys[i].addr))
				hp_copy_drop(c, i);
			continue;
		}
		while (j < n && sys[j].type == HMM_P2P_ADDR_SYSTEM &&
		       page_to_pfn(sys[j].page) == page_to_pfn(sys[i].page) + (j - i))
			j++;
		addr = hp_dma_iova_link(dev, &c->iova, page_to_phys(sys[i].page),
					(j - i) << PAGE_SHIFT, dir);
		for (k = i; k < j; k++) {
			if (addr == DMA_MAPPING_ERROR)
				hp_copy_drop(c, k);
			else
				sys[k].addr = addr + ((k - i) << PAGE_SHIFT);
		}
	}
	if (c->use_iova && hp_dma_iova_sync(dev, &c->iova))
		for (i = 0; i < n; i++)
			if (sys[i].type == HMM_P2P_ADDR_SYSTEM)
				hp_copy_drop(c, i);
}

static void hp_copy_unmap(struct hp_copy *c, unsigned long n)
{
	struct device *dev = c->dm->desc.dma_dev;
	enum dma_data_direction dir = c->job.dir;
	const struct hmm_p2p_addr *sys = dir == DMA_TO_DEVICE ? c->src : c->dst;
	unsigned long i;

	if (!dev)
		return;
	for (i = 0; i < n && dir == DMA_TO_DEVICE; i++)
		if (c->src[i].type == HMM_P2P_ADDR_PEER)
			dma_unmap_sgtable(dev, &c->psg[i].sgt, DMA_TO_DEVICE, 0);
	if (c->use_iova) {
		hp_dma_iova_destroy(dev, &c->iova, dir);
		return;
	}
	for (i = 0; i < n; i++)
		if (sys[i].type == HMM_P2P_ADDR_SYSTEM)
			hp_dma_unmap_sys(dev, sys[i].addr, dir);
}

/**
 * hmm_p2p_copy_done() - a driver completes a copy job
 * @job: the job its &hmm_p2p_devmem_ops.copy took with -EIOCBQUEUED
 * @err: 0 (the pages in @job->failed excepted, all copied) or -errno
 *	(nothing copied)
 *
 * May be called from any context, interrupts included. The job belongs to
 * the library again when this returns: the driver must not touch it (nor
 * the addresses it held) after the call.
 */
void hmm_p2p_copy_done(struct hmm_p2p_copy_job *job, int err)
{
	job->status = err;
	complete(&job->done);
}
EXPORT_SYMBOL_GPL(hmm_p2p_copy_done);

/*
 * The SRCU read section around a copy job opens in hp_copy_start() and
 * closes in hp_copy_wait(): sparse cannot follow a section across
 * functions, so these tell it each half is balanced.
 */
static int hp_copy_guard(struct srcu_struct *ssp)
{
	int idx = srcu_read_lock(ssp);

	__release(ssp);
	return idx;
}

static void hp_copy_unguard(struct srcu_struct *ssp, int idx)
{
	__acquire(ssp);
	srcu_read_unlock(ssp, idx);
}

/*
 * Build and start the copy job of a batch (@src, @dst: its migrate pfns)
 * for @dm: with DMA_TO_DEVICE every destination (all @dm's pages), with
 * DMA_FROM_DEVICE the pages of @dm among the sources. With @guard the job
 * runs in an SRCU read section of @dm, unless @dm was orphaned (destroyed
 * with pinned pages: the driver may be gone), which hp_devmem_orphan()
 * waits for before the driver goes. hp_copy_wait() ends it.
 */
static void hp_copy_start(struct hp_copy *c, struct hmm_p2p_devmem *dm,
			  const unsigned long *src, const unsigned long *dst,
			  unsigned long npages, enum dma_data_direction dir, bool guard)
{
	bool to_dev = dir == DMA_TO_DEVICE;
	unsigned long i, k, span;
	int ret;

	c->dm = dm;
	c->use_iova = false;
	c->guard = false;
	c->job.dir = dir;
	c->job.npages = npages;
	c->job.src = c->src;
	c->job.dst = c->dst;
	c->job.failed = c->failed;
	c->job.status = 0;
	INIT_LIST_HEAD(&c->job.link);
	init_completion(&c->job.done);
	memset(c->src, 0, npages * sizeof(*c->src));
	memset(c->dst, 0, npages * sizeof(*c->dst));
	bitmap_zero(c->failed, npages);
	bitmap_zero(c->bounce, npages);

	for (i = 0; i < npages; i += span) {
		struct page *sp = migrate_pfn_to_page(src[i]);
		bool dcompound = dst[i] & HP_PFN_COMPOUND;
		struct page *dhead = dcompound ? migrate_pfn_to_page(dst[i]) : NULL;
		u8 sorder, dorder = dhead ? HP_PMD_ORDER : 0;

		span = min_t(unsigned long, hp_src_nr(src[i]), npages - i);
		sorder = span > 1 ? HP_PMD_ORDER : 0;
		if (!to_dev && (!sp || hmm_p2p_page_devmem(sp) != dm))
			continue;
		for (k = 0; k < span; k++) {
			struct page *dp = dhead ? dhead + k : migrate_pfn_to_page(dst[i + k]);
			struct hmm_p2p_addr *s = &c->src[i + k], *d = &c->dst[i + k];

			if (!dp)
				continue;
			d->page = dp;
			d->order = dorder;
			d->type = to_dev ? HMM_P2P_ADDR_LOCAL : HMM_P2P_ADDR_SYSTEM;
			if (sp) {
				s->page = sp + k;
				s->order = sorder;
				s->type = !to_dev ? HMM_P2P_ADDR_LOCAL :
					  is_zone_device_page(sp) ? HMM_P2P_ADDR_PEER :
					  HMM_P2P_ADDR_SYSTEM;
			}
		}
	}
	hp_copy_map(c, npages);
	c->running = true;

	if (guard) {
		c->srcu_idx = hp_copy_guard(&dm->srcu);
		c->guard = true;
		if (READ_ONCE(dm->orphaned)) {
			hmm_p2p_copy_done(&c->job, -ENODEV);
			return;
		}
	}
	ret = dm->desc.ops->copy(dm, &c->job);
	if (ret != -EIOCBQUEUED)
		hmm_p2p_copy_done(&c->job, ret);
}

/*
 * Wait for a job hp_copy_start() started (uninterruptibly: the device may
 * be writing the pages), unmap its addresses, and drop the destinations
 * of every page it did not copy, a whole source entry's (a folio's) if one
 * of its pages failed: their data stays where it was.
 *
 * Return: 0, the job's error, or -EIO when pages failed.
 */
static int hp_copy_wait(struct hp_copy *c, const unsigned long *src, unsigned long *dst,
			unsigned long npages)
{
	unsigned long i, k, span;
	int err, ret = 0;

	if (!c->running)
		return 0;
	wait_for_completion(&c->job.done);
	c->running = false;
	if (c->guard)
		hp_copy_unguard(&c->dm->srcu, c->srcu_idx);
	hp_copy_unmap(c, npages);
	err = c->job.status;
	if (!err && bitmap_empty(c->failed, npages))
		return 0;

	for (i = 0; i < npages; i += span) {
		bool mine = false, bad = err;

		span = min_t(unsigned long, hp_src_nr(src[i]), npages - i);
		for (k = i; k < i + span; k++) {
			if (!c->dst[k].page)
				continue;
			mine = true;
			bad |= test_bit(k, c->failed);
		}
		if (!mine || !bad)
			continue;
		for (k = i; k < i + span; k++)
			if (c->dst[k].page)
				hp_put_dst(&dst[k]);
		ret = err ?: -EIO;
	}
	return ret;
}

#define HP_MAX_PEERS	8	/* peer devmems copied from in one batch */

/*
 * The pages of peers (devmems sharing @dm's owner) in a batch moving to
 * system memory: each peer's by its own copy op, now, through @c.
 *
 * Return: 0, or the first copy's error (those pages stay on their device).
 */
static int hp_copy_peers(struct hmm_p2p_devmem *dm, struct migrate_vma *args,
			 struct hp_copy *c)
{
	struct hmm_p2p_devmem *done[HP_MAX_PEERS];
	unsigned long i, k, span;
	unsigned int nd = 0, j;
	int ret = 0, err;

	for (i = 0; i < args->npages; i += span) {
		struct page *sp = migrate_pfn_to_page(args->src[i]);
		struct hmm_p2p_devmem *pdm;

		span = min_t(unsigned long, hp_src_nr(args->src[i]), args->npages - i);
		pdm = sp ? hmm_p2p_page_devmem(sp) : NULL;
		if (!pdm || pdm == dm)
			continue;
		for (j = 0; j < nd && done[j] != pdm; j++)
			;
		if (j < nd)
			continue;
		if (nd == HP_MAX_PEERS) {
			/* more peers than we copy from at once: the rest stay */
			for (k = i; k < i + span; k++)
				hp_put_dst(&args->dst[k]);
			continue;
		}
		done[nd++] = pdm;
		hp_copy_start(c, pdm, args->src, args->dst, args->npages, DMA_FROM_DEVICE, true);
		err = hp_copy_wait(c, args->src, args->dst, args->npages);
		ret = ret ?: err;
	}
	return ret;
}

static struct folio *hp_alloc_sys_page(gfp_t gfp, struct vm_area_struct *vma,
				       unsigned long addr)
{
	struct page *page = alloc_page_vma(gfp, vma, addr);

	return page ? page_folio(page) : NULL;
}

/*
 * One locked destination of order @order for the source at @i: a device
 * folio of @dm, or a system folio allocated with the path's policy (see
 * "Memory pressure" above; a 2 MiB one is optional: no OOM kill for it).
 */
static struct page *hp_alloc_dst(struct hmm_p2p_devmem *dm, bool to_dev, bool no_thp,
				 gfp_t gfp, struct migrate_vma *args, unsigned long i,
				 unsigned int order)
{
	unsigned long addr = args->start + (i << PAGE_SHIFT);
	struct folio *folio;

	if (to_dev)
		return hp_alloc_device_page(dm, order);
	if (order && (no_thp || hp_inject_fail(dm, HP_INJ_SYS_THP)))
		return NULL;
	if (hp_inject_fail(dm, HP_INJ_SYS_PAGE))
		return NULL;
	if (order && args->vma)
		folio = hp_vma_alloc_folio(GFP_HIGHUSER_MOVABLE | __GFP_NOWARN, order,
					   args->vma, addr);
	else if (order)
		folio = folio_alloc(GFP_HIGHUSER_MOVABLE | __GFP_NOWARN | __GFP_RETRY_MAYFAIL,
				    order);
	else if (args->vma)
		folio = hp_alloc_sys_page(gfp, args->vma, addr);
	else
		folio = folio_alloc(gfp, 0);
	if (!folio)
		return NULL;
	folio_lock(folio);
	return &folio->page;
}

/*
 * Fill args->dst with locked destinations for the batch's sources: to
 * @dm's memory (@to_dev: every system page and hole collected; with @peers
 * the pages of other devmems too), or to
 * system memory (the pages of @dm; with @peers also those of devmems
 * sharing its owner, each copied later by its own copy op). Sources left
 * without a destination stay where they are.
 *
 * This is the one place a 2 MiB source that got no 2 MiB destination is
 * split: it moves as 4 KiB pages, all or nothing. For a compound source,
 * __migrate_device_pages() inserts a page for each of its 512 destinations
 * without looking for holes, so one missing destination must leave the
 * whole entry behind (so does one failed copy: hp_copy_wait()). A window of
 * pfns (no VMA: an eviction's migrate_device_range()) cannot split: its
 * 2 MiB folio moves whole or stays.
 *
 * Return: 0, or -ENOMEM when a source was left without a destination.
 */
static int hp_fill(struct hmm_p2p_devmem *dm, struct migrate_vma *args, bool to_dev,
		   bool peers, bool no_thp, gfp_t gfp)
{
	unsigned long i, j;
	int ret = 0;

	memset(args->dst, 0, args->npages * sizeof(*args->dst));
	for (i = 0; i < args->npages; ) {
		unsigned long src = args->src[i];
		struct page *spage = migrate_pfn_to_page(src);
		unsigned long write = src & MIGRATE_PFN_WRITE;
		unsigned int nr = hp_src_nr(src), order;
		struct hmm_p2p_devmem *pdm;
		struct page *dpage;

		if (!(src & MIGRATE_PFN_MIGRATE) || (!to_dev && !spage)) {
			i += to_dev ? nr : 1;
			continue;
		}
		if (to_dev) {
			bool devpage = spage && is_zone_device_page(spage);

			/* a hole is filled; a device page moves only with @peers */
			pdm = devpage ? hmm_p2p_page_devmem(spage) : NULL;
			if (devpage && (!peers || !pdm || pdm == dm)) {
				i += nr;
				continue;
			}
			nr = min_t(unsigned long, nr, args->npages - i);
			order = nr > 1 ? HP_PMD_ORDER : 0;
		} else {
			order = (src & HP_PFN_COMPOUND) ? folio_order(page_folio(spage)) : 0;
			nr = 1U << order;
			/* a peer's page with our owner: moved only if asked */
			pdm = hmm_p2p_page_devmem(spage);
			if (!pdm || (pdm != dm && !peers) || i + nr > args->npages) {
				i += nr;
				continue;
			}
		}

		dpage = hp_alloc_dst(dm, to_dev, no_thp, gfp, args, i, order);
		if (dpage) {
			args->dst[i] = migrate_pfn(page_to_pfn(dpage)) | write |
				       (order ? HP_PFN_COMPOUND : 0);
			i += nr;
			continue;
		}
		if (order && args->vma) {
			for (j = 0; j < nr; j++) {
				dpage = hp_alloc_dst(dm, to_dev, no_thp, gfp, args, i + j, 0);
				if (!dpage)
					break;
				args->dst[i + j] = migrate_pfn(page_to_pfn(dpage)) | write;
			}
			if (j == nr) {
				i += nr;
				continue;
			}
			while (j)
				hp_put_dst(&args->dst[i + --j]);
		}
		ret = -ENOMEM;
		i += nr;
	}
	return ret;
}

/* Pages that moved; call between migrate_vma_pages() and finalize. */
static unsigned long hp_count_moved(struct hmm_p2p_devmem *dm, const unsigned long *src,
				    const unsigned long *dst, unsigned long npages)
{
	unsigned long i, moved = 0;

	for (i = 0; i < npages; i++) {
		if (!(src[i] & MIGRATE_PFN_MIGRATE) || !migrate_pfn_to_page(dst[i]))
			continue;
		if (dst[i] & HP_PFN_COMPOUND) {
			moved += HP_PMD_NR;
			atomic64_inc(&dm->st_thp);
		} else {
			moved++;
		}
	}
	return moved;
}

/*
 * Charge the pages of peers (devmems sharing @dm's owner) that moved back to
 * system memory to their owners' counters; call between migrate_vma_pages()
 * and finalize, while the sources are still ours to look at.
 *
 * Return: how many of the moved pages were peers'.
 */
static unsigned long hp_account_peers(struct hmm_p2p_devmem *dm, const unsigned long *src,
				      const unsigned long *dst, unsigned long npages)
{
	unsigned long i, nr, peers = 0;

	for (i = 0; i < npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct hmm_p2p_devmem *pdm;

		if (!(src[i] & MIGRATE_PFN_MIGRATE) || !spage || !migrate_pfn_to_page(dst[i]))
			continue;
		pdm = hmm_p2p_page_devmem(spage);
		if (!pdm || pdm == dm)
			continue;
		nr = (dst[i] & HP_PFN_COMPOUND) ? HP_PMD_NR : 1;
		atomic64_add(nr, &pdm->st_to_sys);
		peers += nr;
	}
	return peers;
}

/*
 * Start one batch of a user-sized migration: a range may be as large as the
 * caller's address space, so the mmap lock is taken per batch (each batch's
 * migration is finished, setup to finalize, under one hold of it), mmap
 * writers get in between, and a fatal signal ends the walk.
 *
 * Return: 0 with the mmap lock held (for writing with @excl), or -EINTR
 * without it. With @evict, always 0: an eviction is neither killable nor
 * interruptible.
 */
static int hp_batch_lock(struct mm_struct *mm, bool excl, bool evict)
{
	cond_resched();
	if (evict) {
		/* an eviction must not fail: not even a killed caller stops it */
		if (excl)
			mmap_write_lock(mm);
		else
			mmap_read_lock(mm);
		return 0;
	}
	if (fatal_signal_pending(current))
		return -EINTR;
	return excl ? mmap_write_lock_killable(mm) : mmap_read_lock_killable(mm);
}

static void hp_batch_unlock(struct mm_struct *mm, bool excl)
{
	if (excl)
		mmap_write_unlock(mm);
	else
		mmap_read_unlock(mm);
}

/*
 * Moving a PMD-mapped device-private folio back leaves a PMD migration
 * entry that names the device-private folio until the move is done. 7.3's
 * zap_huge_pmd() (MADV_DONTNEED, which needs only the VMA's read lock, or
 * the OOM reaper) takes such an entry for a device-private mapping, by the
 * folio: it removes a mapcount and drops a reference the entry never held;
 * the folio is freed under the migration, reused, and freed again
 * (pages_in_use underflows, "Bad rss-counter state", VM_BUG_ON_PAGE in
 * __migrate_device_finalize). patches/ has the kernel fix. Until it is in,
 * such moves exclude zaps: the mmap lock is taken for writing and the VMA
 * write-locked for the batch. That excludes this mm's zaps only: a folio
 * another mm maps too (after fork) gets a PMD migration entry there as well,
 * so such a folio moves as 4 KiB pages (hp_vma_maybe_shared()). A CPU
 * fault on a PMD-mapped device folio holds the mmap lock for reading: it
 * hands the move to a worker (hp_fault_defer()); a fault that cannot be retried (hmm_range_fault()
 * with the caller's mmap lock held) stays exposed. An eviction moves 4 KiB
 * pages only (hp_migrate_to_sys()); the pagemap walk for pages no mirrored
 * mm maps (hp_evict_chunk()) stays exposed too.
 */
static bool hp_zap_workaround = true;
module_param_named(zap_workaround, hp_zap_workaround, bool, 0644);
MODULE_PARM_DESC(zap_workaround,
		 "Move 2 MiB device folios back under the mmap write lock (default Y; N only on a kernel with the zap_huge_pmd() fix)");

static bool hp_to_sys_excl(struct hmm_p2p_devmem *dm)
{
	return HP_DEVICE_THP && dm->thp && READ_ONCE(hp_zap_workaround);
}

/*
 * May another mm map anonymous pages of [@start, @end) in @vma (a forked
 * child, or the parent @vma's mm was forked from)? The rmap walk finds
 * every mapping of an anonymous folio among the VMAs on its anon_vma's
 * interval tree that cover its page offset, and that anon_vma is on the
 * chain of each VMA mapping the folio; so if no anon_vma on @vma's chain has
 * a VMA of another mm covering the range's offsets, no other mm maps a
 * folio of the range. Conservative: a child that has not touched the range
 * yet, or one still linked after it unmapped the range, counts too. Stable
 * under @vma's mmap write lock: only a fork of an mm already on these trees
 * can add another mm (fork holds the forking mm's mmap write lock).
 *
 * The trees are read under their root's rwsem, which every anon_vma on the
 * chain shares (mm/internal.h's anon_vma_lock_read() is not exported).
 */
#if HP_DEVICE_THP
static bool hp_vma_maybe_shared(struct vm_area_struct *vma, unsigned long start,
				unsigned long end)
{
	pgoff_t first = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT);
	pgoff_t last = first + ((end - start) >> PAGE_SHIFT) - 1;
	struct anon_vma *av = vma->anon_vma;
	struct anon_vma_chain *avc;
	bool shared = false;
	struct rb_node *n;

	mmap_assert_write_locked(vma->vm_mm);
	if (!av)
		return false;
	down_read(&av->root->rwsem);
	list_for_each_entry(avc, &vma->anon_vma_chain, same_vma) {
		for (n = rb_first_cached(&avc->anon_vma->rb_root); n && !shared; n = rb_next(n)) {
			struct vm_area_struct *v = rb_entry(n, struct anon_vma_chain, rb)->vma;

			shared = v->vm_mm != vma->vm_mm && v->vm_pgoff <= last &&
				 v->vm_pgoff + vma_pages(v) > first;
		}
		if (shared)
			break;
	}
	up_read(&av->root->rwsem);
	return shared;
}
#else
static bool hp_vma_maybe_shared(struct vm_area_struct *vma, unsigned long start,
				unsigned long end)
{
	return false;
}
#endif

/* The src and dst arrays of a batch, in one allocation: kfree(args->src). */
static int hp_alloc_batch(struct migrate_vma *args)
{
	args->src = kcalloc(2 * HP_BATCH, sizeof(*args->src), GFP_KERNEL_ACCOUNT);
	if (!args->src)
		return -ENOMEM;
	args->dst = args->src + HP_BATCH;
	return 0;
}

/*
 * Set up the migration of one batch of [@addr, @end): from @addr to the end
 * of its PMD, its VMA or the range, whichever comes first (*@next), taking
 * the pages that @select chooses, into args->src (the caller allocated
 * args->src and args->dst). The mmap lock is held; with @excl for writing,
 * and the VMA is write-locked too (hp_to_sys_excl()). With @evict the VMA
 * need not be readable.
 *
 * Return: 0 (args->cpages pages collected), -EINVAL if @addr is not mapped
 * readable, or migrate_vma_setup()'s error.
 */
static int hp_setup_batch(struct hmm_p2p_devmem *dm, struct mm_struct *mm,
			  struct migrate_vma *args, unsigned long addr, unsigned long end,
			  unsigned long select, unsigned long *next, bool excl, bool evict)
{
	struct vm_area_struct *vma;

	mmap_assert_locked(mm);
	vma = vma_lookup(mm, addr);
	/* an eviction takes pages home from PROT_NONE mappings too */
	if (!vma || (!(vma->vm_flags & VM_READ) && !evict))
		return -EINVAL;
	*next = min3(end, vma->vm_end, ALIGN_DOWN(addr, PMD_SIZE) + PMD_SIZE);
	if (excl) {
		mmap_assert_write_locked(mm);
		vma_start_write(vma);
		/*
		 * A 2 MiB device folio another mm maps would get a PMD
		 * migration entry there too (try_to_migrate()), which that mm's
		 * zap, under its own locks only, frees under us (7.3's
		 * zap_huge_pmd(), see hp_to_sys_excl()). Move such a folio as
		 * 4 KiB pages: the kernel splits it first, in every mm, into
		 * PTE migration entries, which zap handles.
		 */
		if ((select & HP_SELECT_COMPOUND) && hp_vma_maybe_shared(vma, addr, *next))
			select &= ~HP_SELECT_COMPOUND;
	}

	args->vma = vma;
	args->start = addr;
	args->end = *next;
	args->pgmap_owner = dm->desc.owner;
	args->flags = select;
	args->fault_page = NULL;
	return migrate_vma_setup(args);
}

/*
 * The batch engine every path runs: a batch is set up (migrate_vma_setup()
 * over at most one PMD of a VMA, or migrate_device_range() over a window
 * of pfns), given its destinations (hp_batch_fill()), its system side
 * DMA-mapped and its copy started (hp_batch_start()), then waited for,
 * moved and finalized (hp_batch_finish()). A 2 MiB folio that gets no
 * 2 MiB destination is split into 4 KiB destinations in one place,
 * hp_alloc_split(). The user-sized walks pipeline their batches
 * (hp_mig_walk()); a CPU fault, its fault-around and the pfn walk of an
 * eviction run one batch at a time (hp_mig_one()).
 */
struct hp_mig {
	struct hmm_p2p_devmem *dm;
	bool to_dev;
	bool peers;		/* HMM_P2P_MIG_PEERS: peers' pages too, by their copy ops */
	bool no_thp;		/* 4 KiB system pages only */
	bool guard;		/* copies in an SRCU section of @dm, see hp_copy_start() */
	bool stop;		/* the walk ends at the first batch with an error */
	bool evict;		/* an eviction: no -ENOMEM, never killable */
	gfp_t gfp;		/* 4 KiB system pages (see "Memory pressure") */
	struct rw_semaphore *sem;	/* held for reading across each hold of the mmap lock */
	struct hp_copy *peer_copy;
	long fault_idx;		/* a fault's page in its batch, or -1 */
	bool fault_moved;	/* ... which moved */
	unsigned long moved, own;	/* pages moved; those of @dm */
	/*
	 * To the device with peers: pages that cannot move device to device
	 * (another owner's, a peer's with no P2P path here) are faulted to
	 * system memory after their batch, and [@bstart, @bend) walked again.
	 */
	bool bounce;
	unsigned long bstart, bend, from_peer;
};

struct hp_batch {
	struct migrate_vma args;	/* args.vma NULL: a window of pfns */
	struct hp_copy copy;
	int err;		/* destinations that could not be had */
	bool live;		/* set up, not finished */
	u64 trace_t0;		/* hmm_p2p_migrate_batch: set up at, and */
	unsigned long trace_collected;	/* ... pages collected */
};

/* Give the batch's sources their destinations. */
static void hp_batch_fill(struct hp_mig *m, struct hp_batch *b)
{
	hp_trace_batch_begin(&b->args, &b->trace_t0, &b->trace_collected);
	b->err = hp_fill(m->dm, &b->args, m->to_dev, m->peers, m->no_thp, m->gfp);
}

/* Start its copies: peers' pages now (each by its devmem), @m->dm's in the background. */
static void hp_batch_start(struct hp_mig *m, struct hp_batch *b)
{
	struct migrate_vma *a = &b->args;

	if (!m->to_dev && m->peers) {
		int err = hp_copy_peers(m->dm, a, m->peer_copy);

		b->err = b->err ?: err;
	}
	hp_copy_start(&b->copy, m->dm, a->src, a->dst, a->npages,
		      m->to_dev ? DMA_TO_DEVICE : DMA_FROM_DEVICE, m->guard);
	b->live = true;
}

static void hp_batch_pages(struct migrate_vma *a)
{
	if (a->vma)
		migrate_vma_pages(a);
	else
		migrate_device_pages(a->src, a->dst, a->npages);
}

static void hp_batch_finalize(struct migrate_vma *a)
{
	if (a->vma)
		migrate_vma_finalize(a);
	else
		migrate_device_finalize(a->src, a->dst, a->npages);
	a->cpages = 0;
}

/* Pages of other devmems that moved to ours; between pages and finalize. */
static unsigned long hp_count_from_peers(const struct migrate_vma *a)
{
	unsigned long i, n = 0;

	for (i = 0; i < a->npages; i++) {
		struct page *spage = migrate_pfn_to_page(a->src[i]);

		if ((a->src[i] & MIGRATE_PFN_MIGRATE) && spage && is_zone_device_page(spage) &&
		    migrate_pfn_to_page(a->dst[i]))
			n += hp_src_nr(a->dst[i]);
	}
	return n;
}

/*
 * Mark, in the batch's bounce bitmap, the pages that did not come here
 * because no path leads here from where they are: entries migrate_vma did
 * not collect (another owner's device pages; swapped-out pages too) and
 * peer pages with no P2P path (hp_copy_map_peers()). Before finalize.
 */
static void hp_bounce_mark(struct hp_batch *b)
{
	struct migrate_vma *a = &b->args;
	unsigned long i;

	/* the entries after a compound one are its pages, not holes */
	for (i = 0; i < a->npages; i += hp_src_nr(a->src[i]))
		if (!a->src[i])
			set_bit(i, b->copy.bounce);
}

/*
 * Fault the marked pages to system memory, as a CPU access would (their
 * owners' migrate_to_ram), under the walk's mmap read lock, which the fault
 * does not drop; the walk's second pass takes them from there. After
 * finalize: the batch's pages are unlocked and mapped again.
 */
static void hp_bounce_fault(struct hp_mig *m, struct hp_batch *b)
{
	struct migrate_vma *a = &b->args;
	unsigned long i, addr;

	mmap_assert_locked(a->vma->vm_mm);
	for_each_set_bit(i, b->copy.bounce, a->npages) {
		addr = a->start + (i << PAGE_SHIFT);
		if (fixup_user_fault(a->vma->vm_mm, addr, FAULT_FLAG_REMOTE, NULL))
			continue;	/* stays: a second pass would not move it */
		if (!m->bstart || addr < m->bstart)
			m->bstart = addr;
		m->bend = max(m->bend, addr + PAGE_SIZE);
	}
}

/* Wait for a batch's copy and move what was copied; counted in @m. */
static int hp_batch_finish(struct hp_mig *m, struct hp_batch *b)
{
	struct migrate_vma *a = &b->args;
	unsigned long n;
	int err;

	err = hp_copy_wait(&b->copy, a->src, a->dst, a->npages);
	hp_batch_pages(a);
	n = hp_count_moved(m->dm, a->src, a->dst, a->npages);
	trace_hmm_p2p_migrate_batch(m->dm, m->to_dev, m->evict, a, n, b->trace_t0,
				    b->trace_collected);
	m->moved += n;
	if (m->peers && !m->to_dev)
		n -= hp_account_peers(m->dm, a->src, a->dst, a->npages);
	if (m->peers && m->to_dev)
		m->from_peer += hp_count_from_peers(a);
	m->own += n;
	if (m->fault_idx >= 0)
		m->fault_moved = (a->src[m->fault_idx] & MIGRATE_PFN_MIGRATE) &&
				 migrate_pfn_to_page(a->dst[m->fault_idx]);
	if (m->bounce)
		hp_bounce_mark(b);
	hp_batch_finalize(a);
	if (m->bounce)
		hp_bounce_fault(m, b);
	b->live = false;
	return b->err ?: err;
}

/*
 * Give up a batch that was set up (its copy perhaps running): wait for the
 * copy, then move nothing. Every page stays where it was, with its data;
 * the destinations are freed.
 */
static void hp_batch_abort(struct hp_batch *b)
{
	struct migrate_vma *a = &b->args;
	unsigned long i;

	hp_copy_wait(&b->copy, a->src, a->dst, a->npages);
	for (i = 0; i < a->npages; i++)
		hp_put_dst(&a->dst[i]);
	hp_batch_pages(a);
	hp_batch_finalize(a);
	b->live = false;
}

/*
 * One batch, set up by the caller (args.cpages pages collected), now: fill,
 * copy, wait, move. Without memory for the copy job nothing moves.
 *
 * Return: 0, -ENOMEM (destinations or the job could not be had), or the
 * copy's error; the pages that did not move stay where they were.
 */
static int hp_mig_one(struct hp_mig *m, struct hp_batch *b)
{
	bool own_copy = !b->copy.src;

	if (own_copy && hp_copy_init(&b->copy, b->args.npages, GFP_KERNEL)) {
		memset(b->args.dst, 0, b->args.npages * sizeof(*b->args.dst));
		b->err = -ENOMEM;
		b->live = true;
	} else {
		hp_batch_fill(m, b);
		hp_batch_start(m, b);
	}
	b->err = hp_batch_finish(m, b);
	if (own_copy)
		hp_copy_free(&b->copy);
	return b->err;
}

/*
 * The pipeline of the user-sized walks: batch N's copy runs (on the
 * device) while batch N+1 is set up, given its destinations and mapped,
 * then N is waited for and finished. Batches cover disjoint ranges, and
 * each keeps its pages locked until its finalize. The mmap lock is held
 * across HP_PIPE_BATCHES batches at most, and dropped sooner when a writer
 * or an eviction waits or a fatal signal is pending; the pipeline is
 * drained before it is dropped.
 */
#define HP_PIPE_BATCHES	8

struct hp_pipe {
	struct hp_batch b[2];
	struct hp_copy peers;	/* HMM_P2P_MIG_PEERS: peers' pages, copied at once */
	unsigned int next;	/* b[] slot of the next batch */
	struct hp_batch *pending;
};

static void hp_pipe_free(struct hp_pipe *p)
{
	int i;

	for (i = 0; i < 2; i++) {
		kfree(p->b[i].args.src);
		hp_copy_free(&p->b[i].copy);
	}
	hp_copy_free(&p->peers);
	kfree(p);
}

static struct hp_pipe *hp_pipe_alloc(bool peers)
{
	struct hp_pipe *p = kmalloc_obj(*p, GFP_KERNEL_ACCOUNT);
	int i;

	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	for (i = 0; i < 2; i++)
		if (hp_alloc_batch(&p->b[i].args) ||
		    hp_copy_init(&p->b[i].copy, HP_BATCH, GFP_KERNEL_ACCOUNT))
			goto fail;
	if (peers && hp_copy_init(&p->peers, HP_BATCH, GFP_KERNEL_ACCOUNT))
		goto fail;
	return p;
fail:
	hp_pipe_free(p);
	return NULL;
}

/* The error a walk goes by: an eviction goes on past pages that stay. */
static int hp_mig_error(struct hp_mig *m, int err)
{
	return err == -ENOMEM && m->evict ? 0 : err;
}

/* Finish the pending batch, if any. */
static int hp_pipe_drain(struct hp_mig *m, struct hp_pipe *p)
{
	struct hp_batch *b = p->pending;

	p->pending = NULL;
	return b ? hp_mig_error(m, hp_batch_finish(m, b)) : 0;
}

/* Should the pipeline let go of the mmap lock after @held batches? */
static bool hp_pipe_yield(struct hp_mig *m, struct mm_struct *mm, unsigned int held)
{
	return held >= HP_PIPE_BATCHES || fatal_signal_pending(current) ||
	       mmap_lock_is_contended(mm) || (m->sem && rwsem_is_contended(m->sem)) ||
	       need_resched();
}

static int hp_walk_lock(struct hp_mig *m, struct mm_struct *mm, bool excl)
{
	int err = 0;

	if (m->sem)
		err = down_read_killable(m->sem);
	if (!err)
		err = hp_batch_lock(mm, excl, m->evict);
	if (err && m->sem)
		up_read(m->sem);
	return err;
}

static void hp_walk_unlock(struct hp_mig *m, struct mm_struct *mm, bool excl)
{
	hp_batch_unlock(mm, excl);
	if (m->sem)
		up_read(m->sem);
}

/*
 * Walk [@start, @end) batch by batch through the pipeline, taking the pages
 * @select chooses; the mmap lock for writing with @excl (hp_to_sys_excl()).
 * A batch with an error ends the walk with @m->stop (the batch set up
 * behind it, its copy overlapping, stays too), else the walk goes on and
 * reports the first error at the end; a batch that cannot be set up (a
 * hole, no read access) always ends it.
 *
 * Return: 0 or the error; the pages moved are counted in @m.
 */
static int hp_mig_walk(struct hp_mig *m, struct mm_struct *mm, unsigned long start,
		       unsigned long end, unsigned long select, bool excl)
{
	unsigned long addr, next = end;
	unsigned int held = 0;
	bool locked = false;
	struct hp_pipe *p;
	int ret = 0, err;

	p = hp_pipe_alloc(m->peers);
	if (!p)
		return -ENOMEM;
	m->peer_copy = &p->peers;
	for (addr = start; addr < end && !(ret && m->stop); addr = next) {
		struct hp_batch *b = &p->b[p->next];

		if (!locked) {
			err = hp_walk_lock(m, mm, excl);
			if (err) {
				ret = err;
				break;
			}
			locked = true;
			held = 0;
		}
		err = hp_setup_batch(m->dm, mm, &b->args, addr, end, select, &next, excl, m->evict);
		if (err) {
			ret = err;
			break;
		}
		if (b->args.cpages) {
			hp_batch_fill(m, b);
			hp_batch_start(m, b);
		} else if (m->bounce) {
			/* nothing collected: perhaps all another owner's pages */
			bitmap_zero(b->copy.bounce, b->args.npages);
			hp_bounce_mark(b);
			hp_bounce_fault(m, b);
		}
		err = hp_pipe_drain(m, p);
		if (b->live && err && m->stop) {
			hp_batch_abort(b);
		} else if (b->live) {
			p->pending = b;
			p->next ^= 1;
		}
		ret = ret ?: err;
		if (!(ret && m->stop) && next < end && !hp_pipe_yield(m, mm, ++held))
			continue;
		err = hp_pipe_drain(m, p);
		ret = ret ?: err;
		hp_walk_unlock(m, mm, excl);
		locked = false;
	}
	if (locked) {
		err = hp_pipe_drain(m, p);
		ret = ret ?: err;
		hp_walk_unlock(m, mm, excl);
	}
	m->peer_copy = NULL;
	hp_pipe_free(p);
	return ret;
}

/**
 * hmm_p2p_migrate_to_device() - move a range of process memory to @dm
 * @dm: device memory
 * @mm: address space; the caller holds a reference to its users
 * @start: first byte, page aligned
 * @end: end of the range, page aligned
 * @flags: HMM_P2P_MIG_PEERS or 0
 *
 * Anonymous private memory moves; what cannot (shared or file pages, pinned
 * pages, pages on another device) stays. With HMM_P2P_MIG_PEERS, pages on
 * other devmems move too: a peer's (the same owner) device to device, the
 * destination's copy op reading the peer's memory at its P2P address
 * (HMM_P2P_ADDR_PEER), a 2 MiB folio whole where this devmem has one; a
 * peer's page with no P2P path to this device, and another owner's page,
 * through system memory (faulted there by its owner, then moved here in a
 * second pass). Device-coherent pages of other devmems stay. The mmap lock is taken inside, a
 * few batches (of at most 2 MiB) at a time, and a fatal signal stops the
 * walk. Each batch is copied by one call of the devmem's copy op, which may
 * run while the next batch is set up. When device memory runs out or a copy
 * fails, those pages stay in system memory and the whole range is still
 * walked.
 *
 * Return: pages moved; -EINVAL if part of the range is not mapped readable
 * (pages before it may have moved); -EINTR on a fatal signal (likewise);
 * -ENOMEM if device memory ran out, or the copy's error (the other pages
 * moved).
 */
long hmm_p2p_migrate_to_device(struct hmm_p2p_devmem *dm, struct mm_struct *mm,
			       unsigned long start, unsigned long end,
			       unsigned int flags)
{
	/* no new device page while an eviction runs */
	struct hp_mig m = {
		.dm = dm, .to_dev = true, .sem = &dm->evict_sem, .fault_idx = -1,
		.peers = flags & HMM_P2P_MIG_PEERS, .bounce = flags & HMM_P2P_MIG_PEERS,
	};
	unsigned long select = MIGRATE_VMA_SELECT_SYSTEM | (dm->thp ? HP_SELECT_COMPOUND : 0);
	unsigned long moved;
	int ret;

	/* a peer's private pages have our owner: migrate_vma collects them */
	if (m.peers)
		select |= MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
	ret = hp_mig_walk(&m, mm, start, end, select, false);
	moved = m.moved;
	if (m.bend && ret != -EINTR) {
		struct hp_mig again = m;
		int err;

		again.bounce = false;
		again.moved = 0;
		err = hp_mig_walk(&again, mm, m.bstart, m.bend, select, false);
		ret = ret ?: err;
		moved += again.moved;
		atomic64_add(again.moved, &dm->st_bounced);
		m.from_peer = again.from_peer;
	}
	atomic64_add(moved, &dm->st_to_dev);
	atomic64_add(m.from_peer, &dm->st_from_peer);
	/*
	 * A page the second pass moved again (something took it back in
	 * between) counts once: at most the range's pages moved.
	 */
	return ret ? ret : min(moved, (end - start) >> PAGE_SHIFT);
}
EXPORT_SYMBOL_GPL(hmm_p2p_migrate_to_device);

static unsigned long hp_select_device(struct hmm_p2p_devmem *dm)
{
	return (dm->desc.type == HMM_P2P_MEM_PRIVATE ? MIGRATE_VMA_SELECT_DEVICE_PRIVATE :
		MIGRATE_VMA_SELECT_DEVICE_COHERENT) | (dm->thp ? HP_SELECT_COMPOUND : 0);
}

/* A migration of @dm's pages to system memory, allocating with @gfp. */
static struct hp_mig hp_mig_to_sys(struct hmm_p2p_devmem *dm, unsigned int flags, gfp_t gfp)
{
	return (struct hp_mig) {
		.dm = dm,
		.peers = flags & HMM_P2P_MIG_PEERS,
		.no_thp = flags & HMM_P2P_MIG_4K,
		.guard = true,
		.stop = true,
		.gfp = gfp,
		.fault_idx = -1,
	};
}

static long hp_migrate_to_sys(struct hmm_p2p_devmem *dm, struct mm_struct *mm,
			      unsigned long start, unsigned long end,
			      unsigned int flags, bool evict, gfp_t gfp)
{
	struct hp_mig m = hp_mig_to_sys(dm, flags, gfp);
	/*
	 * A peer's folios may be large even if ours are not. An eviction moves
	 * 4 KiB pages only: the kernel splits a 2 MiB device folio (in every
	 * mm mapping it, a forked child's too) before it moves, so no PMD
	 * migration entry appears and the read lock is enough (hp_to_sys_excl()).
	 */
	bool excl = !evict &&
		    (hp_to_sys_excl(dm) || (HP_DEVICE_THP && (flags & HMM_P2P_MIG_PEERS)));
	unsigned long select = hp_select_device(dm) & (evict ? ~HP_SELECT_COMPOUND : ~0UL);
	int ret;

	m.evict = evict;
	ret = hp_mig_walk(&m, mm, start, end, select, excl);
	atomic64_add(m.own, &dm->st_to_sys);
	if (evict)
		atomic64_add(m.own, &dm->st_evicted);
	return ret ? ret : m.moved;
}

/**
 * hmm_p2p_migrate_to_system() - move @dm's pages in a range back to RAM
 * @dm: device memory
 * @mm: address space; the caller holds a reference to its users
 * @start: first byte, page aligned
 * @end: end of the range, page aligned
 * @flags: HMM_P2P_MIG_*
 *
 * Only pages of @dm move (with HMM_P2P_MIG_PEERS, also those of devmems
 * sharing its owner, each copied by its own devmem). A 2 MiB device folio
 * moves as a THP, or as 4 KiB pages when no THP can be allocated (or with
 * HMM_P2P_MIG_4K).
 *
 * The mmap lock is taken a few batches at a time; a fatal signal stops the
 * walk, and so does a batch with an error (a failed copy, no system page):
 * the pages after it stay on the device, even those whose copy had started.
 *
 * Return: pages moved, -EINVAL if part of the range is not mapped readable,
 * -EINTR on a fatal signal, -ENOMEM if system memory ran out (those pages
 * stay on the device).
 */
long hmm_p2p_migrate_to_system(struct hmm_p2p_devmem *dm, struct mm_struct *mm,
			       unsigned long start, unsigned long end,
			       unsigned int flags)
{
	return hp_migrate_to_sys(dm, mm, start, end, flags, false, HP_GFP_MAYFAIL);
}
EXPORT_SYMBOL_GPL(hmm_p2p_migrate_to_system);

#define HP_FAULT_AROUND	16	/* pages: 64 KiB, like the page cache's fault-around */

static unsigned int hp_fault_around_pages = HP_FAULT_AROUND;

static int hp_fault_around_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret = kstrtouint(val, 0, &n);

	if (ret)
		return ret;
	if (!n || n > HP_FAULT_AROUND || !is_power_of_2(n))
		return -EINVAL;
	WRITE_ONCE(hp_fault_around_pages, n);
	return 0;
}

static const struct kernel_param_ops hp_fault_around_ops = {
	.set = hp_fault_around_set,
	.get = param_get_uint,
};
module_param_cb(fault_around, &hp_fault_around_ops, &hp_fault_around_pages, 0644);
MODULE_PARM_DESC(fault_around,
		 "Pages one CPU fault on a 4 KiB device page brings back (1, 2, 4, 8, 16; default 16)");

/*
 * Move the aligned window around a faulting 4 KiB page (fault_around pages,
 * 64 KiB by default) in one migration: the faulting page and those of its
 * neighbours that are ours. A CPU that touches device memory tends to touch
 * the next pages too, and one migration of 16 pages costs far less than 16
 * faults. So does a mirror with no P2P path to us: hmm_range_fault() faults
 * a range one page at a time (FAULT_FLAG_REMOTE), restarting its walk after
 * each. Neighbours that cannot move (busy, no memory) stay on the device.
 *
 * Return: true when the faulting page moved; otherwise the caller moves it
 * alone (a neighbour's trouble must not hold up the faulting page).
 */
static bool hp_fault_around(struct vm_fault *vmf, struct hmm_p2p_devmem *dm)
{
	unsigned long n = READ_ONCE(hp_fault_around_pages);
	unsigned long src[HP_FAULT_AROUND], dst[HP_FAULT_AROUND];
	unsigned long win = ALIGN_DOWN(vmf->address, n << PAGE_SHIFT);
	struct hp_mig m = hp_mig_to_sys(dm, 0, HP_GFP_AROUND);
	struct vm_area_struct *vma = vmf->vma;
	struct hp_batch b = { };
	struct migrate_vma *a = &b.args;

	a->start = max(win, vma->vm_start);
	a->end = min(win + (n << PAGE_SHIFT), vma->vm_end);
	if (a->end - a->start <= PAGE_SIZE)
		return false;
	m.fault_idx = (vmf->address - a->start) >> PAGE_SHIFT;
	a->vma = vma;
	a->src = src;
	a->dst = dst;
	a->pgmap_owner = dm->desc.owner;
	a->flags = hp_select_device(dm) & ~HP_SELECT_COMPOUND;
	a->fault_page = vmf->page;
	if (migrate_vma_setup(a) || !a->cpages)
		return false;

	/* the neighbours are optional: their errors do not fail the fault */
	hp_mig_one(&m, &b);
	trace_hmm_p2p_cpu_fault(dm, vmf->address, 0, HP_TR_FAULT_AROUND, m.moved,
				m.fault_moved ? 0 : -EAGAIN);
	atomic64_add(m.moved, &dm->st_to_sys);
	if (m.fault_moved)
		atomic64_inc(&dm->st_cpu_faults);
	/* hmm_range_fault() of a mirror with another owner: no P2P path */
	if (m.moved && (vmf->flags & FAULT_FLAG_REMOTE))
		hp_p2p_remote_fault(dm, m.moved);
	return m.fault_moved;
}

/* A PMD-mapped device folio a CPU fault asked to have moved back. */
struct hp_fault_work {
	struct work_struct work;
	struct list_head link;		/* on hp_fault_works while pending */
	struct hmm_p2p_devmem *dm;
	struct mm_struct *mm;
	unsigned long start;
	bool remote;
};

/*
 * Pending fault works, one per (mm, PMD) at most: a retried fault whose
 * move is still pending waits for it instead of queueing another, which
 * could run after the fault is done and take back a THP moved to the device
 * since.
 */
static LIST_HEAD(hp_fault_works);
static DEFINE_SPINLOCK(hp_fault_works_lock);

static void hp_fault_work_fn(struct work_struct *work)
{
	struct hp_fault_work *w = container_of(work, struct hp_fault_work, work);
	long moved;

	moved = hp_migrate_to_sys(w->dm, w->mm, w->start, w->start + PMD_SIZE, 0, false,
				  HP_GFP_FAULT);
	trace_hmm_p2p_cpu_fault(w->dm, w->start, HP_PMD_ORDER, HP_TR_FAULT_WORKER, max(moved, 0L),
				min(moved, 0L));
	if (moved > 0) {
		atomic64_inc(&w->dm->st_cpu_faults);
		/* hmm_range_fault() of a mirror with another owner: no P2P path */
		if (w->remote)
			hp_p2p_remote_fault(w->dm, moved);
	}
	spin_lock(&hp_fault_works_lock);
	list_del(&w->link);
	spin_unlock(&hp_fault_works_lock);
	mmput_async(w->mm);
	if (atomic_dec_and_test(&w->dm->fault_works))
		wake_up_var(&w->dm->fault_works);
	kfree(w);
}

/* Add @w unless a work for the same PMD is pending. */
static bool hp_fault_work_add(struct hp_fault_work *w)
{
	struct hp_fault_work *o;

	spin_lock(&hp_fault_works_lock);
	list_for_each_entry(o, &hp_fault_works, link) {
		if (o->mm == w->mm && o->start == w->start) {
			spin_unlock(&hp_fault_works_lock);
			return false;
		}
	}
	list_add(&w->link, &hp_fault_works);
	spin_unlock(&hp_fault_works_lock);
	return true;
}

/*
 * A CPU fault on a PMD-mapped device folio holds the mmap lock for reading,
 * so it cannot exclude the zap that hp_to_sys_excl() guards against. Where
 * the fault may be retried, hand the move to a worker that takes the mmap
 * lock for writing, drop the lock and have the fault retried: the retry
 * waits for the worker's write lock and then finds the THP in system
 * memory (or comes here again, if the worker could not lock the folio yet:
 * the faulting thread still holds it until this returns). A fault that
 * cannot be retried but comes from one of our mirrors (hmm_range_fault()
 * under the mirror's mmap read lock) queues the same work and fails this
 * round, which the mirror reports as -EBUSY and retries once it dropped the
 * lock (hp_fault_defer_mirror()). Any other fault that cannot be retried
 * (another driver's hmm_range_fault()) moves the folio in place and stays
 * exposed. If the worker cannot move the folio (no memory), the fault
 * retries until it can, or until the faulting task is killed.
 * hmm_p2p_devmem_shutdown() waits for the workers.
 *
 * Return: true when the lock was dropped and the fault must return
 * VM_FAULT_RETRY.
 */
static bool hp_fault_queue(struct vm_fault *vmf, struct hmm_p2p_devmem *dm,
			   unsigned long start);

static bool hp_fault_defer(struct vm_fault *vmf, struct hmm_p2p_devmem *dm,
			   unsigned long start)
{
	if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY) || (vmf->flags & FAULT_FLAG_RETRY_NOWAIT))
		return false;
	if (!hp_fault_queue(vmf, dm, start))
		return false;
	release_fault_lock(vmf);
	cond_resched();
	return true;
}

/*
 * The move of the PMD-mapped device folio at @start by a worker (the fault
 * keeps its locks), unless one is pending already. Return: true when a
 * worker will move it.
 */
static bool hp_fault_queue(struct vm_fault *vmf, struct hmm_p2p_devmem *dm,
			   unsigned long start)
{
	struct mm_struct *mm = vmf->vma->vm_mm;
	struct hp_fault_work *w;

	atomic_inc(&dm->fault_works);
	/*
	 * Counted before dying is read: pairs with the barrier between
	 * setting dying and waiting for fault_works in shutdown.
	 */
	smp_mb__after_atomic();
	if (READ_ONCE(dm->dying))
		goto undo;
	w = kmalloc_obj(*w, GFP_KERNEL | __GFP_NOWARN);
	if (!w)
		goto undo;
	INIT_WORK(&w->work, hp_fault_work_fn);
	w->dm = dm;
	w->mm = mm;
	w->start = start;
	w->remote = vmf->flags & FAULT_FLAG_REMOTE;
	if (!hp_fault_work_add(w)) {
		/* its move is pending: wait for it in the retry */
		kfree(w);
		if (atomic_dec_and_test(&dm->fault_works))
			wake_up_var(&dm->fault_works);
	} else if (!mmget_not_zero(mm)) {
		spin_lock(&hp_fault_works_lock);
		list_del(&w->link);
		spin_unlock(&hp_fault_works_lock);
		kfree(w);
		goto undo;
	} else {
		queue_work(hp_wq, &w->work);
	}
	return true;
undo:
	if (atomic_dec_and_test(&dm->fault_works))
		wake_up_var(&dm->fault_works);
	return false;
}

/*
 * A fault that cannot be retried, on a PMD-mapped device folio, from one of
 * our mirrors: a worker moves the folio under the mmap write lock (so no
 * zap races it, hp_to_sys_excl()), and this round of the mirror's fault
 * fails with -EBUSY (hp_p2p_ctx_stuck()): the mirror drops the mmap lock,
 * which lets the worker in, and faults again. Return: true when the fault
 * must fail this way.
 */
static bool hp_fault_defer_mirror(struct vm_fault *vmf, struct hmm_p2p_devmem *dm,
				  unsigned long start)
{
	if ((vmf->flags & FAULT_FLAG_ALLOW_RETRY) || !hp_p2p_ctx_current())
		return false;
	if (!hp_fault_queue(vmf, dm, start))
		return false;
	hp_p2p_ctx_stuck();
	return true;
}

/*
 * A fault that may not retry found its page busy (collected, but the
 * kernel's unmap or reference check refused it). Such a fault comes from
 * GUP with no lock to drop (make_device_exclusive() while its caller holds
 * the mmap lock) or from hmm_range_fault(); both fault again at once, GUP
 * for as long as the page stays busy, with every mmap writer, and so every
 * eviction and migration behind them, waiting; and what keeps the page busy
 * may itself be waiting for that mmap lock. Busy for a moment is normal
 * (retry: 0); the same page failing for a second fails the fault (GUP gets
 * -EFAULT, its caller an errno; a mirror's fault reports -EBUSY, try again:
 * hp_p2p_ctx_stuck()). Approximate across CPUs, on purpose: it only has to
 * end a loop.
 */
static vm_fault_t hp_fault_stuck(struct hmm_p2p_devmem *dm, unsigned long pfn)
{
	if (READ_ONCE(dm->stuck_pfn) != pfn) {
		WRITE_ONCE(dm->stuck_since, jiffies);
		WRITE_ONCE(dm->stuck_pfn, pfn);
		return 0;
	}
	if (time_before(jiffies, READ_ONCE(dm->stuck_since) + HZ))
		return 0;
	WRITE_ONCE(dm->stuck_pfn, 0);
	hp_p2p_ctx_stuck();
	pr_warn_ratelimited("hmm_p2p: %s: pfn %#lx stayed busy for a second under a fault that cannot retry: failed\n",
			    dm->name, pfn);
	return VM_FAULT_SIGBUS;
}

/**
 * hp_migrate_to_ram() - the pagemap's CPU fault handler
 * @vmf: the fault on a device-private page of ours
 *
 * Moves the faulting page with its neighbours in the same aligned window
 * (the fault_around parameter: 64 KiB by default), or its whole 2 MiB folio
 * when it is mapped by a PMD, to system memory.
 *
 * Return: 0, VM_FAULT_RETRY (the mmap lock dropped: hp_fault_defer()) or
 * VM_FAULT_SIGBUS (no memory after the allocator's reclaim and OOM kill, a
 * failed copy, removed device memory); never VM_FAULT_OOM.
 */
vm_fault_t hp_migrate_to_ram(struct vm_fault *vmf)
{
	struct page *page = vmf->page;
	struct hp_chunk *chunk = hp_page_chunk(page);
	struct vm_area_struct *vma = vmf->vma;
	unsigned long src1 = 0, dst1 = 0;
	struct hp_batch b = { };
	struct migrate_vma *a = &b.args;
	struct hmm_p2p_devmem *dm;
	struct hp_mig m;
	unsigned int order = 0;
	vm_fault_t ret = 0;
	int err;

	if (WARN_ON_ONCE(!chunk))
		return VM_FAULT_SIGBUS;
	dm = chunk->dm;
	/* destroyed with pinned pages: the driver that held the data is gone */
	if (READ_ONCE(dm->orphaned)) {
		pr_warn_ratelimited("hmm_p2p: %s: CPU fault on a page of removed device memory\n",
				    dm->name);
		return VM_FAULT_SIGBUS;
	}

	/* a PTE-mapped piece of a large folio moves alone */
	if (HP_DEVICE_THP && !vmf->pte)
		order = folio_order(page_folio(page));
	a->start = ALIGN_DOWN(vmf->address, PAGE_SIZE << order);
	a->end = a->start + (PAGE_SIZE << order);
	if (a->start < vma->vm_start || a->end > vma->vm_end) {
		order = 0;
		a->start = vmf->address & PAGE_MASK;
		a->end = a->start + PAGE_SIZE;
	}
	/*
	 * Fault-around only from a 4 KiB folio. Collecting a window splits
	 * every PTE-mapped large folio in it with a blocking folio_lock() while
	 * the kernel holds the faulting folio's lock: two faults on pieces of
	 * two large folios mapped side by side (mremap) would each wait for
	 * the other's. A piece of a large folio moves alone (the kernel splits
	 * its own folio without a second lock); a fault on a 4 KiB folio may
	 * wait for a large neighbour, whose holder never waits on a 4 KiB
	 * folio's lock but with trylock.
	 */
	if (!order && !folio_test_large(page_folio(page)) && hp_fault_around(vmf, dm))
		return 0;
	if (order && hp_to_sys_excl(dm) && hp_fault_defer(vmf, dm, a->start))
		return VM_FAULT_RETRY;
	if (order && hp_to_sys_excl(dm) && hp_fault_defer_mirror(vmf, dm, a->start))
		return VM_FAULT_SIGBUS;
	if (order) {
		a->src = kcalloc(1UL << order, sizeof(*a->src), GFP_KERNEL);
		a->dst = kcalloc(1UL << order, sizeof(*a->dst), GFP_KERNEL);
		if (!a->src || !a->dst) {
			/* no memcg charge failed: VM_FAULT_OOM would loop in the #PF handler */
			ret = VM_FAULT_SIGBUS;
			goto out;
		}
	} else {
		a->src = &src1;
		a->dst = &dst1;
	}
	a->vma = vma;
	a->pgmap_owner = dm->desc.owner;
	a->flags = hp_select_device(dm);
	if (!order)
		a->flags &= ~HP_SELECT_COMPOUND;
	a->fault_page = page;

	if (migrate_vma_setup(a)) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	atomic64_inc(&dm->st_cpu_faults);
	if (!a->cpages)
		goto out;	/* someone else moved it: the fault is retried */

	m = hp_mig_to_sys(dm, 0, HP_GFP_FAULT);
	err = hp_mig_one(&m, &b);
	trace_hmm_p2p_cpu_fault(dm, vmf->address, order, HP_TR_FAULT_PAGE, m.moved, err);
	atomic64_add(m.moved, &dm->st_to_sys);
	/* hmm_range_fault() of a mirror with another owner: no P2P path */
	if (vmf->flags & FAULT_FLAG_REMOTE)
		hp_p2p_remote_fault(dm, m.moved);
	/*
	 * The page could not come back: retrying the fault would not help.
	 * Out of memory too: the allocator has reclaimed and had its OOM kill
	 * (HP_GFP_FAULT), and VM_FAULT_OOM outside a memcg charge only makes
	 * the #PF handler retry for ever ("VM_FAULT_OOM leaked out").
	 */
	if (err)
		ret = VM_FAULT_SIGBUS;
	else if (!m.moved && !(vmf->flags & FAULT_FLAG_ALLOW_RETRY))
		ret = hp_fault_stuck(dm, page_to_pfn(page));
	else if (m.moved && READ_ONCE(dm->stuck_pfn) == page_to_pfn(page))
		WRITE_ONCE(dm->stuck_pfn, 0);
out:
	if (order) {
		kfree(a->src);
		kfree(a->dst);
	}
	return ret;
}

/**
 * hp_evict_mm() - move @dm's pages mapped by @mm to system memory
 * @dm: device memory
 * @mm: an address space; the caller holds a reference to its users
 *
 * Walks every VMA that can hold anonymous pages with migrate_vma, batch by
 * batch under the mmap lock, so the VMA (and its anon_vma) cannot go while a
 * page moves. Pages move as 4 KiB pages (hp_migrate_to_sys()), so a 2 MiB
 * device folio needs no THP in system memory. Pages that cannot move stay;
 * the caller retries.
 *
 * Return: pages moved.
 */
long hp_evict_mm(struct hmm_p2p_devmem *dm, struct mm_struct *mm)
{
	unsigned long addr = 0, start, end;
	struct vm_area_struct *vma;
	long moved = 0, ret;
	bool anon;

	for (;;) {
		mmap_read_lock(mm);
		vma = find_vma(mm, addr);
		if (vma) {
			start = max(addr, vma->vm_start);
			end = vma->vm_end;
			/*
			 * Device pages are anonymous: only a VMA with an
			 * anon_vma can hold one (a private file mapping's CoW
			 * pages too); one never faulted costs nothing.
			 */
			anon = vma->anon_vma && !(vma->vm_flags & VM_SPECIAL) &&
			       !is_vm_hugetlb_page(vma);
		}
		mmap_read_unlock(mm);
		if (!vma || !atomic64_read(&dm->in_use))
			break;
		if (anon) {
			ret = hp_migrate_to_sys(dm, mm, start, end, 0, true, HP_GFP_EVICT);
			if (ret > 0)
				moved += ret;
		}
		addr = end;
		cond_resched();
	}
	return moved;
}

/* Does any page of a window hold a reference (is any of it allocated)? */
static bool hp_window_in_use(unsigned long pfn, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		if (page_ref_count(pfn_to_page(pfn + i)))
			return true;
	return false;
}

/**
 * hp_evict_chunk() - move every allocated page of a chunk to system memory
 * @chunk: the chunk
 *
 * Uses migrate_device_range() over PMD-aligned windows, so a 2 MiB device
 * folio is always seen whole. Busy pages are skipped (the caller retries).
 *
 * Return: pages moved, or -ENOMEM.
 */
long hp_evict_chunk(struct hp_chunk *chunk)
{
	struct hmm_p2p_devmem *dm = chunk->dm;
	unsigned long pfn = chunk->pfn_first, last = chunk->pfn_first + chunk->npages;
	/* the driver is shutting the devmem down: no SRCU section needed */
	struct hp_mig m = {
		.dm = dm, .evict = true, .gfp = HP_GFP_EVICT, .fault_idx = -1,
	};
	struct hp_batch b = { };

	if (!atomic_long_read(&chunk->in_use))
		return 0;
	if (hp_alloc_batch(&b.args))
		return -ENOMEM;
	if (hp_copy_init(&b.copy, HP_PMD_NR, GFP_KERNEL)) {
		kfree(b.args.src);
		return -ENOMEM;
	}

	while (pfn < last && atomic_long_read(&chunk->in_use)) {
		unsigned long n = min(ALIGN(pfn + 1, HP_PMD_NR), last) - pfn;

		if (!hp_window_in_use(pfn, n)) {
			pfn += n;
			continue;
		}
		/* a window of pfns: args.vma stays NULL */
		b.args.npages = n;
		migrate_device_range(b.args.src, pfn, n);
		/* pages that cannot move stay; retried by the caller */
		hp_mig_one(&m, &b);
		pfn += n;
		cond_resched();
	}
	hp_copy_free(&b.copy);
	kfree(b.args.src);
	atomic64_add(m.moved, &dm->st_evicted);
	atomic64_add(m.moved, &dm->st_to_sys);
	return m.moved;
}
