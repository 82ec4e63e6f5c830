// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p peer to peer: who may reach whose memory, and at what address.
 *
 * A mirror meets two kinds of memory that live in another PCI device's BAR:
 *
 *  - PCI P2PDMA pages (a peer's pool mapped into the process, e.g. through
 *    sysfs p2pmem/allocate): struct pages over the BAR itself;
 *  - device-private pages of a peer that shares the mirror's pagemap owner
 *    (a P2P group): their physical address is fake. The peer's driver says
 *    which P2PDMA page of its BAR holds the data (hmm_p2p_devmem_ops.p2p_page);
 *    that page, never the private page, is what gets mapped.
 *
 * Either way the P2PDMA page goes through dma_map_sgtable() as a one-entry
 * sg_table, on 6.12 and 7.3 alike: it is the one DMA API call both kernels
 * make P2P-aware. It returns the bus address when provider and client sit
 * behind one switch (no IOMMU involved, even with one: the switch routes the
 * TLP), a normal (possibly IOMMU) mapping of the BAR's CPU physical address
 * when the host bridge may route it, and -EREMOTEIO when nothing may. On
 * 7.3 pci_p2pdma_map_type() and __pci_p2pdma_update_state() are not exported
 * to modules, and on 6.12 there is no per-page P2P mapping call at all.
 *
 * A peer's private page without a path is moved to system memory by the
 * mirror (counted as "no path"); one of another owner never shows up in a
 * mirror: hmm_range_fault() faults it back itself, with FAULT_FLAG_REMOTE.
 * The exporter's migrate_to_ram counts such faults, and, through the fault
 * context below, charges them to the importing mirror as "no path" too.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>
#include <linux/dma-mapping.h>
#include <linux/sched.h>
#include <linux/hash.h>
#include "hmm_p2p_compat.h"
#include "internal.h"
#include "trace.h"

/* One P2P mapping: the sg_table the DMA API needs back to unmap it. */
struct hp_p2p_map {
	struct sg_table sgt;
	struct scatterlist sg;
	struct hmm_p2p_devmem *peer;	/* exporter of a private page, or NULL */
};

/**
 * hp_p2p_wanted() - is this a page only a peer-to-peer mapping can reach?
 * @e: a classified entry
 *
 * Return: true for P2PDMA pages and for private pages of another devmem
 * with the mirror's owner (a peer in the same P2P group).
 */
bool hp_p2p_wanted(const struct hmm_p2p_entry *e)
{
	return e->class == HMM_P2P_PC_P2PDMA ||
	       (e->class == HMM_P2P_PC_PRIVATE_GROUP && !(e->flags & HMM_P2P_E_LOCAL));
}

/**
 * hp_p2p_backing() - the P2PDMA page holding a peer's private page's data
 * @page: a group peer's device-private page
 * @peer: out: its devmem
 *
 * The peer's op runs in an SRCU read section of its devmem, so a peer
 * orphaned meanwhile (its driver may be gone) is not called.
 *
 * Return: the page, or an ERR_PTR: -ENODEV when the peer is going away,
 * -EREMOTEIO when it has none.
 */
struct page *hp_p2p_backing(struct page *page, struct hmm_p2p_devmem **peer)
{
	struct hp_chunk *chunk = hp_page_chunk(page);
	struct hmm_p2p_devmem *dm;
	struct page *p2p = NULL;
	int idx;

	if (!chunk)
		return ERR_PTR(-EREMOTEIO);
	dm = chunk->dm;
	*peer = dm;
	if (READ_ONCE(dm->dying))
		return ERR_PTR(-ENODEV);
	if (!dm->desc.ops->p2p_page)
		return ERR_PTR(-EREMOTEIO);
	idx = srcu_read_lock(&dm->srcu);
	if (READ_ONCE(dm->orphaned)) {
		srcu_read_unlock(&dm->srcu, idx);
		return ERR_PTR(-ENODEV);
	}
	p2p = dm->desc.ops->p2p_page(dm, chunk->backend,
				     page_to_pfn(page) - chunk->pfn_first);
	srcu_read_unlock(&dm->srcu, idx);
	return p2p && is_pci_p2pdma_page(p2p) ? p2p : ERR_PTR(-EREMOTEIO);
}

/**
 * hp_p2p_map() - map a P2PDMA or peer private page for the mirror's device
 * @mirror: the mirror; its lock held
 * @e: the entry (hp_p2p_wanted()); on success @e->dma is set
 * @cookie: out: what hp_p2p_unmap() needs
 *
 * Return: 0; -EREMOTEIO when there is no path (or the peer has no P2P
 * memory behind the page); -ENODEV when the peer is going away; -ENOMEM.
 */
int hp_p2p_map(struct hmm_p2p_mirror *mirror, struct hmm_p2p_entry *e, void **cookie)
{
	struct hmm_p2p_devmem *peer = NULL;
	struct hp_p2p_map *m;
	struct page *page;
	int ret;

	lockdep_assert_held(&mirror->lock);
	if (!mirror->dma_dev)
		return -EREMOTEIO;
	page = pfn_to_page(e->pfn);
	if (e->class != HMM_P2P_PC_P2PDMA) {
		page = hp_p2p_backing(page, &peer);
		if (IS_ERR(page)) {
			trace_hmm_p2p_p2p_map(mirror->dm, e->pfn, DMA_MAPPING_ERROR, false,
					      PTR_ERR(page) == -ENODEV ? HP_TR_P2P_GONE :
					      HP_TR_P2P_REFUSED);
			return PTR_ERR(page);
		}
	}
	m = kzalloc(sizeof(*m), GFP_ATOMIC);
	if (!m)
		return -ENOMEM;
	sg_init_table(&m->sg, 1);
	sg_set_page(&m->sg, page, PAGE_SIZE, 0);
	m->sgt.sgl = &m->sg;
	m->sgt.nents = 1;
	m->sgt.orig_nents = 1;
	ret = dma_map_sgtable(mirror->dma_dev, &m->sgt, DMA_BIDIRECTIONAL, 0);
	if (ret) {
		kfree(m);
		if (ret == -EREMOTEIO)
			trace_hmm_p2p_p2p_map(mirror->dm, page_to_pfn(page), DMA_MAPPING_ERROR,
					      false, HP_TR_P2P_REFUSED);
		return ret == -EREMOTEIO ? ret : -ENOMEM;
	}
	m->peer = peer;
	e->dma = sg_dma_address(&m->sg);
	e->flags |= HMM_P2P_E_P2P;
	if (sg_dma_is_bus_address(&m->sg))
		e->flags |= HMM_P2P_E_P2P_BUS;
	atomic64_inc(&mirror->dm->st_p2p_maps);
	trace_hmm_p2p_p2p_map(mirror->dm, page_to_pfn(page), e->dma, false,
			      (e->flags & HMM_P2P_E_P2P_BUS) ? HP_TR_P2P_BUS :
			      e->dma != page_to_phys(page) ? HP_TR_P2P_IOVA : HP_TR_P2P_HOST);
	*cookie = m;
	return 0;
}

/**
 * hp_p2p_unmap() - undo hp_p2p_map()
 * @mirror: the mirror; its lock held
 * @cookie: from hp_p2p_map()
 *
 * A mapping of a private page whose exporter is going away counts as a
 * "peer gone" fallback: the page is on its way to system memory.
 */
void hp_p2p_unmap(struct hmm_p2p_mirror *mirror, void *cookie)
{
	struct hp_p2p_map *m = cookie;

	dma_unmap_sgtable(mirror->dma_dev, &m->sgt, DMA_BIDIRECTIONAL, 0);
	if (m->peer && READ_ONCE(m->peer->dying)) {
		atomic64_inc(&mirror->dm->st_p2p_gone);
		trace_hmm_p2p_p2p_fallback(mirror->dm, HP_TR_FB_GONE, 0, 1);
	}
	kfree(m);
}

/**
 * hp_p2p_dma() - the DMA address and flags of a P2P mapping
 * @cookie: from hp_p2p_map()
 * @flags: out: HMM_P2P_E_P2P, and HMM_P2P_E_P2P_BUS for a bus address
 *
 * Return: the DMA address.
 */
dma_addr_t hp_p2p_dma(void *cookie, u8 *flags)
{
	struct hp_p2p_map *m = cookie;

	*flags |= HMM_P2P_E_P2P;
	if (sg_dma_is_bus_address(&m->sg))
		*flags |= HMM_P2P_E_P2P_BUS;
	return sg_dma_address(&m->sg);
}

/*
 * Fault contexts: which mirror the current task is faulting for, so that a
 * FAULT_FLAG_REMOTE migrate_to_ram (run by that task, inside its mirror's
 * hmm_range_fault()) can charge the importer. No lock on the fault path: a
 * task's context sits in a slot of a small table, one of HP_CTX_PROBE slots
 * from the hash of its task pointer, claimed with cmpxchg(). Only the task
 * that claimed a slot reads or changes the context in it; other tasks only
 * compare the slot's task pointer with their own. A task that finds all its
 * slots taken (more faults in flight than the table holds near its hash)
 * puts its context on the overflow list, under a lock, which lookups only
 * take while that list is not empty.
 */
#define HP_CTX_BITS	8
#define HP_CTX_SLOTS	BIT(HP_CTX_BITS)
#define HP_CTX_PROBE	8

static struct task_struct *hp_ctx_task[HP_CTX_SLOTS];
static struct hp_fault_ctx *hp_ctx_slot[HP_CTX_SLOTS];
static DEFINE_SPINLOCK(hp_ctx_overflow_lock);	/* protects hp_ctx_overflow */
static LIST_HEAD(hp_ctx_overflow);
static atomic_t hp_ctx_nr_overflow;

static unsigned int hp_ctx_index(unsigned int i)
{
	return (hash_ptr(current, HP_CTX_BITS) + i) & (HP_CTX_SLOTS - 1);
}

/* The current task's innermost fault context, or NULL. */
static struct hp_fault_ctx *hp_ctx_find(void)
{
	struct hp_fault_ctx *ctx, *found = NULL;
	unsigned int i, s;

	for (i = 0; i < HP_CTX_PROBE; i++) {
		s = hp_ctx_index(i);
		if (READ_ONCE(hp_ctx_task[s]) == current)
			return hp_ctx_slot[s];
	}
	if (likely(!atomic_read(&hp_ctx_nr_overflow)))
		return NULL;
	spin_lock(&hp_ctx_overflow_lock);
	list_for_each_entry(ctx, &hp_ctx_overflow, link) {
		if (ctx->task == current) {
			found = ctx;
			break;
		}
	}
	spin_unlock(&hp_ctx_overflow_lock);
	return found;
}

/**
 * hp_p2p_ctx_enter() - the current task starts faulting for @mirror
 * @ctx: caller's storage, valid until hp_p2p_ctx_exit()
 * @mirror: the mirror
 */
void hp_p2p_ctx_enter(struct hp_fault_ctx *ctx, struct hmm_p2p_mirror *mirror)
{
	struct hp_fault_ctx *outer = hp_ctx_find();
	unsigned int i, s;

	ctx->task = current;
	ctx->dm = mirror->dm;
	ctx->stuck = false;
	ctx->outer = outer;
	if (outer && outer->slot >= 0) {
		/* nested in the same task: take over its slot until exit */
		ctx->slot = outer->slot;
		hp_ctx_slot[ctx->slot] = ctx;
		return;
	}
	for (i = 0; i < HP_CTX_PROBE; i++) {
		s = hp_ctx_index(i);
		if (!READ_ONCE(hp_ctx_task[s]) && !cmpxchg(&hp_ctx_task[s], NULL, current)) {
			ctx->slot = s;
			hp_ctx_slot[s] = ctx;
			return;
		}
	}
	ctx->slot = -1;
	spin_lock(&hp_ctx_overflow_lock);
	list_add(&ctx->link, &hp_ctx_overflow);
	atomic_inc(&hp_ctx_nr_overflow);
	spin_unlock(&hp_ctx_overflow_lock);
}

/**
 * hp_p2p_ctx_exit() - undo hp_p2p_ctx_enter()
 * @ctx: as given to hp_p2p_ctx_enter()
 */
void hp_p2p_ctx_exit(struct hp_fault_ctx *ctx)
{
	if (ctx->slot < 0) {
		spin_lock(&hp_ctx_overflow_lock);
		list_del(&ctx->link);
		atomic_dec(&hp_ctx_nr_overflow);
		spin_unlock(&hp_ctx_overflow_lock);
	} else if (ctx->outer && ctx->outer->slot == ctx->slot) {
		hp_ctx_slot[ctx->slot] = ctx->outer;
	} else {
		hp_ctx_slot[ctx->slot] = NULL;
		/* the slot's context cleared before another task may claim it */
		smp_store_release(&hp_ctx_task[ctx->slot], NULL);
	}
}

/**
 * hp_p2p_remote_fault() - a mirror's hmm_range_fault() took @nr pages of
 *	@dm back to system memory (owners differ: no P2P path; or a write)
 * @dm: the exporter
 * @nr: pages moved
 */
void hp_p2p_remote_fault(struct hmm_p2p_devmem *dm, unsigned long nr)
{
	struct hp_fault_ctx *ctx;

	atomic64_add(nr, &dm->st_cpu_faults_for_mirrors);
	ctx = hp_ctx_find();
	if (!ctx)
		return;
	/*
	 * Another owner: no path. The same owner (a peer): the kernel faults
	 * a read-only page we asked to write (hmm_range_fault() faults the
	 * rest of a range after the first page that needs it).
	 */
	if (ctx->dm->desc.owner != dm->desc.owner) {
		atomic64_add(nr, &ctx->dm->st_p2p_no_path);
		trace_hmm_p2p_p2p_fallback(ctx->dm, HP_TR_FB_NO_PATH, 0, nr);
	} else if (ctx->dm != dm) {
		atomic64_add(nr, &ctx->dm->st_p2p_write);
		trace_hmm_p2p_p2p_fallback(ctx->dm, HP_TR_FB_WRITE, 0, nr);
	}
}

/**
 * hp_p2p_ctx_current() - is the current task faulting for one of our mirrors?
 *
 * Return: true inside hp_p2p_ctx_enter() .. hp_p2p_ctx_exit().
 */
bool hp_p2p_ctx_current(void)
{
	return hp_ctx_find();
}

/**
 * hp_p2p_ctx_stuck() - the current task's mirror fault failed on a page
 *	that stayed busy (hp_fault_stuck()): a transient state, not a bad
 *	address; hp_range_fault() reports it as -EBUSY, not -EFAULT
 */
void hp_p2p_ctx_stuck(void)
{
	struct hp_fault_ctx *ctx = hp_ctx_find();

	if (ctx)
		ctx->stuck = true;
}

/**
 * hmm_p2p_reachable() - may two PCI devices DMA to each other's BARs?
 * @a: one device
 * @b: the other
 *
 * Asks pci_p2pdma_distance() both ways (provider @a, client @b and the
 * reverse). Devices for which this is true may share a pagemap owner.
 *
 * Return: the larger of the two distances, or -1 if either way has no path.
 */
int hmm_p2p_reachable(struct pci_dev *a, struct pci_dev *b)
{
	int ab, ba;

	ab = pci_p2pdma_distance(a, &b->dev, false);
	ba = pci_p2pdma_distance(b, &a->dev, false);
	if (ab < 0 || ba < 0)
		return -1;
	return max(ab, ba);
}
EXPORT_SYMBOL_GPL(hmm_p2p_reachable);
