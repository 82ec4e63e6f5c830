// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p mirrors: a device's view of one address space.
 *
 * Entries live in an xarray indexed by virtual page number, each a packed
 * value (pfn, class, order, flags); the DMA addresses of those the device
 * reaches by DMA live in a second one. They hold no page references: the mmu
 * interval notifier drops them, under the mirror lock, before any page they
 * name can be unmapped, migrated or freed. So a user of the entries holds
 * the mirror lock for as long as it touches the pages they name, or, for a
 * device with accesses in flight after the lock is released, gives the
 * mirror ops that end them (struct hmm_p2p_mirror_ops): the invalidation
 * calls them under the lock, hides the range from lookups, waits for the
 * device (in the notifier's second pass where the kernel has one), and
 * only then drops the entries.
 *
 * Filling follows the hmm_range_fault() protocol: read_begin, fault (mmap
 * lock held, or dropped and retaken inside on 7.3's unlocked path), take the
 * mirror lock, and commit only if no invalidation came in between.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/hmm.h>
#include <linux/ktime.h>
#include "hmm_p2p_compat.h"
#include "internal.h"
#include "trace.h"

#define HP_FAULT_BATCH		HP_PMD_NR
#define HP_RETRY_LIMIT		64

/*
 * How a mirror with a DMA device maps its pages: each page on its own
 * (dma_map_phys()/dma_map_page(), the only way on 6.12), or in IOVA windows
 * through 7.3's two-step DMA API (twostep.c). A mirror keeps the mode it was
 * created with, so both can be compared in one boot.
 */
enum { HP_MAP_PERPAGE, HP_MAP_TWOSTEP };
static const char * const hp_map_names[] = { "perpage", "twostep" };
static int hp_mirror_map = HP_TWOSTEP ? HP_MAP_TWOSTEP : HP_MAP_PERPAGE;

static int hp_mirror_map_set(const char *val, const struct kernel_param *kp)
{
	int i = sysfs_match_string(hp_map_names, val);

	if (i < 0)
		return -EINVAL;
	if (i == HP_MAP_TWOSTEP && !HP_TWOSTEP)
		return -EOPNOTSUPP;
	WRITE_ONCE(hp_mirror_map, i);
	return 0;
}

static int hp_mirror_map_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", hp_map_names[READ_ONCE(hp_mirror_map)]);
}

static const struct kernel_param_ops hp_mirror_map_ops = {
	.set = hp_mirror_map_set,
	.get = hp_mirror_map_get,
};
module_param_cb(mirror_map, &hp_mirror_map_ops, NULL, 0644);
MODULE_PARM_DESC(mirror_map,
		 "DMA mappings of new mirrors: perpage or twostep (7.3 only; the default there)");

/* Entry packing: class 0-3, flags 4-7, order 8-12, pfn from 13. */
static void *hp_pack(const struct hmm_p2p_entry *e)
{
	return xa_mk_value((e->pfn << 13) | ((unsigned long)(e->order & 0x1f) << 8) |
			   ((unsigned long)(e->flags & 0xf) << 4) | (e->class & 0xf));
}

static void hp_unpack(void *x, struct hmm_p2p_entry *e)
{
	unsigned long v = xa_to_value(x);

	e->pfn = v >> 13;
	e->order = (v >> 8) & 0x1f;
	e->flags = (v >> 4) & 0xf;
	e->class = v & 0xf;
	e->dma = 0;
}

/*
 * A writable entry may have been written by the device, and nothing else
 * tells core mm: hmm_range_fault() reports a clean writable PTE as writable,
 * so a page the device wrote may still look clean (after MADV_FREE, a clean
 * lazyfree folio is discarded by reclaim). So, as RDMA ODP does when it
 * unmaps, a writable entry dirties its folio when it is dropped. The page is
 * still mapped here: entries are dropped from the notifier before the page
 * is unmapped, or replaced while their sequence is still valid. Dirtying an
 * anon folio is a flag operation; a file folio is dirtied without its lock,
 * as set_page_dirty() in ODP does, which is safe while it is still mapped.
 */
static void hp_entry_dirty(const struct hmm_p2p_entry *e)
{
	if (!(e->flags & HMM_P2P_E_WRITE) ||
	    (e->class != HMM_P2P_PC_SYSTEM && e->class != HMM_P2P_PC_COHERENT))
		return;
	folio_mark_dirty(page_folio(pfn_to_page(e->pfn)));
}

/*
 * Drop one entry (and its DMA mapping); with @live, the page it names is
 * still mapped and is dirtied if the device could write it. Mirror lock held.
 */
static void hp_mirror_erase(struct hmm_p2p_mirror *mirror, unsigned long idx, void *x,
			    bool live, struct hp_map_ctx *c)
{
	struct hmm_p2p_entry e;

	lockdep_assert_held(&mirror->lock);
	hp_unpack(x, &e);
	if (live)
		hp_entry_dirty(&e);
	if ((e.flags & HMM_P2P_E_DMA) && hp_twostep(mirror)) {
		hp_win_unmap(mirror, c, idx);
	} else if (e.flags & HMM_P2P_E_DMA) {
		void *d = xa_erase(&mirror->dma, idx);

		if (d && xa_is_value(d))
			hp_dma_unmap_page(mirror->dma_dev,
					  (dma_addr_t)xa_to_value(d) << PAGE_SHIFT);
		else if (d)
			hp_p2p_unmap(mirror, d);	/* a P2P mapping (p2p.c) */
	}
	xa_erase(&mirror->pt, idx);
}

/*
 * Drop the entries of [start, end). A two-step mirror unlinks runs of
 * consecutive pages at once and, with @may_free (the caller may sleep),
 * frees the windows left empty.
 */
static void hp_mirror_drop(struct hmm_p2p_mirror *mirror, unsigned long start,
			   unsigned long end, bool live, bool may_free)
{
	struct hp_map_ctx c = { };
	unsigned long idx;
	void *entry;

	lockdep_assert_held(&mirror->lock);
	xa_for_each_range(&mirror->pt, idx, entry, start >> PAGE_SHIFT,
			  (end - 1) >> PAGE_SHIFT)
		hp_mirror_erase(mirror, idx, entry, live, &c);
	if (hp_twostep(mirror)) {
		hp_win_unmap_flush(mirror, &c);
		if (may_free)
			hp_win_trim(mirror, &c, start, end);
	}
}

/* Pages the device reaches by DMA (its own private memory it reaches locally). */
static bool hp_needs_dma(const struct hmm_p2p_entry *e)
{
	return e->class == HMM_P2P_PC_SYSTEM || e->class == HMM_P2P_PC_ZERO ||
	       e->class == HMM_P2P_PC_COHERENT;
}

/* A round is over, its mirror lock released: free its unused spare windows. */
static void hp_map_done(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c)
{
	if (hp_twostep(mirror))
		hp_win_discard(mirror, c);
}

/*
 * hp_mirror_store() for a two-step mirror: the page gets its slot in its
 * window (twostep.c); links of plain pages are synced per run, when @c's
 * run ends (hp_win_sync()).
 */
static int hp_mirror_store_win(struct hmm_p2p_mirror *mirror, unsigned long idx,
			       struct hmm_p2p_entry *e, struct hp_map_ctx *c)
{
	void *old;
	int ret;

	if (hp_p2p_wanted(e) || hp_needs_dma(e)) {
		ret = hp_win_map(mirror, c, idx, e);
		if (ret)
			return ret;
	}
	old = xa_store(&mirror->pt, idx, hp_pack(e), GFP_ATOMIC);
	if (xa_is_err(old)) {
		if (e->flags & HMM_P2P_E_DMA) {
			hp_win_sync(mirror, c);
			hp_win_unmap(mirror, NULL, idx);
		}
		return xa_err(old);
	}
	return 0;
}

/*
 * Store (or, for NONE/ERROR, drop) the entry of page @idx, DMA-mapping the
 * page for the mirror's device. Mirror lock held; allocations are atomic
 * because reclaim may call our own invalidation, which takes that lock.
 */
static int hp_mirror_store(struct hmm_p2p_mirror *mirror, unsigned long idx,
			   struct hmm_p2p_entry *e, struct hp_map_ctx *c)
{
	dma_addr_t dma = DMA_MAPPING_ERROR;
	void *old;

	lockdep_assert_held(&mirror->lock);
	old = xa_load(&mirror->pt, idx);
	if (old)
		hp_mirror_erase(mirror, idx, old, true, NULL);
	if (e->class == HMM_P2P_PC_NONE || e->class == HMM_P2P_PC_ERROR)
		return 0;
	if (hp_twostep(mirror))
		return hp_mirror_store_win(mirror, idx, e, c);

	if (mirror->dma_dev && hp_p2p_wanted(e)) {
		void *cookie;
		int ret = hp_p2p_map(mirror, e, &cookie);

		if (ret)
			return ret;
		old = xa_store(&mirror->dma, idx, cookie, GFP_ATOMIC);
		if (xa_is_err(old)) {
			hp_p2p_unmap(mirror, cookie);
			return xa_err(old);
		}
		e->flags |= HMM_P2P_E_DMA;
	} else if (mirror->dma_dev && hp_needs_dma(e)) {
		dma = hp_dma_map_page(mirror->dma_dev, e->pfn);
		if (dma_mapping_error(mirror->dma_dev, dma))
			return -EIO;
		/*
		 * A mirror mapping lives while the CPU keeps using the page
		 * through its PTE, with no sync in between. Where the mapping
		 * needs syncs (a bounce buffer: swiotlb=force, a confidential
		 * guest, a DMA mask that cannot reach the page; or a device
		 * that is not DMA coherent) the device would see the copy taken
		 * now, and the unmap would copy it back over newer CPU writes.
		 * hmm_dma_map_alloc() refuses this case; so do we.
		 */
		if (dma_need_sync(mirror->dma_dev, dma)) {
			hp_dma_unmap_page_nosync(mirror->dma_dev, dma);
			dev_warn_once(mirror->dma_dev,
				      "hmm_p2p: DMA to this device needs syncs (bounce buffering): mirror mappings refused\n");
			return -EOPNOTSUPP;
		}
		if (offset_in_page(dma)) {
			hp_dma_unmap_page(mirror->dma_dev, dma);
			return -EIO;
		}
		old = xa_store(&mirror->dma, idx, xa_mk_value(dma >> PAGE_SHIFT), GFP_ATOMIC);
		if (xa_is_err(old)) {
			hp_dma_unmap_page(mirror->dma_dev, dma);
			return xa_err(old);
		}
		e->flags |= HMM_P2P_E_DMA;
		e->dma = dma;
	}
	old = xa_store(&mirror->pt, idx, hp_pack(e), GFP_ATOMIC);
	if (xa_is_err(old)) {
		if (e->flags & HMM_P2P_E_DMA) {
			void *d = xa_erase(&mirror->dma, idx);

			if (d && !xa_is_value(d))
				hp_p2p_unmap(mirror, d);
			else
				hp_dma_unmap_page(mirror->dma_dev, dma);
		}
		return xa_err(old);
	}
	return 0;
}

/*
 * An invalidation between its start and its drop, on the mirror's list:
 * lookups of its range find nothing meanwhile (hp_mirror_invalidating()).
 * On 7.1 and later it carries the notifier's state to the second pass.
 */
struct hp_inval {
#if HP_TWO_PASS_NOTIFIER
	struct mmu_interval_notifier_finish finish;
#endif
	struct list_head link;
	struct hmm_p2p_mirror *mirror;
	struct hmm_p2p_inval inv;
};

/* Is @addr in a range being invalidated? Mirror lock held. */
static bool hp_mirror_invalidating(struct hmm_p2p_mirror *mirror, unsigned long addr)
{
	struct hp_inval *iv;

	lockdep_assert_held(&mirror->lock);
	list_for_each_entry(iv, &mirror->invals, link)
		if (addr >= iv->inv.start && addr < iv->inv.end)
			return true;
	return false;
}

static void hp_inval_wait(struct hmm_p2p_mirror *mirror, const struct hmm_p2p_inval *inv)
{
	if (mirror->ops && mirror->ops->invalidate_wait)
		mirror->ops->invalidate_wait(mirror, inv);
}

/* The end of every invalidation: the entries go. Mirror lock held. */
static void hp_inval_drop(struct hmm_p2p_mirror *mirror, const struct hmm_p2p_inval *inv)
{
	lockdep_assert_held(&mirror->lock);
	hp_mirror_drop(mirror, inv->start, inv->end, true, inv->blockable);
	atomic64_inc(&mirror->dm->st_invalidations);
	trace_hmm_p2p_invalidate(mirror->dm, inv);
}

/*
 * The first pass: take the lock, let the driver fence its accesses, raise
 * the sequence. Then either finish here (one pass: with @iv NULL, or a
 * non-blockable invalidation) or leave @iv on the list for the second
 * pass. Returns false only for a non-blockable invalidation that would
 * have to sleep; nothing changed then.
 */
static bool hp_inval_start(struct hmm_p2p_mirror *mirror, const struct mmu_notifier_range *range,
			   unsigned long cur_seq, struct hp_inval *iv)
{
	struct hp_inval one = {
		.inv = {
			.start = range->start,
			.end = range->end,
			.event = range->event,
			.blockable = mmu_notifier_range_blockable(range),
		},
	};

	if (one.inv.blockable)
		mutex_lock(&mirror->lock);
	else if (!mutex_trylock(&mirror->lock))
		return false;
	if (mirror->ops && mirror->ops->invalidate_start &&
	    mirror->ops->invalidate_start(mirror, &one.inv)) {
		mutex_unlock(&mirror->lock);
		return false;
	}
	mmu_interval_set_seq(&mirror->notifier, cur_seq);
	if (!one.inv.blockable) {
		hp_inval_wait(mirror, &one.inv);
		hp_inval_drop(mirror, &one.inv);
		mutex_unlock(&mirror->lock);
		return true;
	}
	if (!iv)
		iv = &one;
	iv->inv = one.inv;
	iv->mirror = mirror;
	list_add(&iv->link, &mirror->invals);
	mutex_unlock(&mirror->lock);
	if (iv != &one)
		return true;	/* the second pass finishes it */

	hp_inval_wait(mirror, &one.inv);
	mutex_lock(&mirror->lock);
	list_del(&one.link);
	hp_inval_drop(mirror, &one.inv);
	mutex_unlock(&mirror->lock);
	return true;
}

/* our own make_device_exclusive(): the entries are being set up */
static bool hp_inval_own_exclusive(struct hmm_p2p_mirror *mirror,
				   const struct mmu_notifier_range *range)
{
	return range->event == MMU_NOTIFY_EXCLUSIVE && range->owner == mirror;
}

#if HP_TWO_PASS_NOTIFIER
static bool hp_mirror_invalidate_start(struct mmu_interval_notifier *mni,
				       const struct mmu_notifier_range *range,
				       unsigned long cur_seq,
				       struct mmu_interval_notifier_finish **finish)
{
	struct hmm_p2p_mirror *mirror = container_of(mni, struct hmm_p2p_mirror, notifier);
	struct hp_inval *iv = NULL;

	if (hp_inval_own_exclusive(mirror, range))
		return true;
	/* no second pass without memory for it: then one pass does it all */
	if (mmu_notifier_range_blockable(range))
		iv = kmalloc(sizeof(*iv), GFP_NOWAIT | __GFP_NOWARN);
	if (!hp_inval_start(mirror, range, cur_seq, iv)) {
		kfree(iv);
		return false;
	}
	if (iv)
		*finish = &iv->finish;	/* on the list: the second pass ends it */
	return true;
}

static void hp_mirror_invalidate_finish(struct mmu_interval_notifier_finish *finish)
{
	struct hp_inval *iv = container_of(finish, struct hp_inval, finish);
	struct hmm_p2p_mirror *mirror = iv->mirror;

	hp_inval_wait(mirror, &iv->inv);
	mutex_lock(&mirror->lock);
	list_del(&iv->link);
	hp_inval_drop(mirror, &iv->inv);
	mutex_unlock(&mirror->lock);
	kfree(iv);
}

static const struct mmu_interval_notifier_ops hp_mirror_ops = {
	.invalidate_start = hp_mirror_invalidate_start,
	.invalidate_finish = hp_mirror_invalidate_finish,
};
#else
static bool hp_mirror_invalidate(struct mmu_interval_notifier *mni,
				 const struct mmu_notifier_range *range,
				 unsigned long cur_seq)
{
	struct hmm_p2p_mirror *mirror = container_of(mni, struct hmm_p2p_mirror, notifier);

	if (hp_inval_own_exclusive(mirror, range))
		return true;
	return hp_inval_start(mirror, range, cur_seq, NULL);
}

static const struct mmu_interval_notifier_ops hp_mirror_ops = {
	.invalidate = hp_mirror_invalidate,
};
#endif

/**
 * hmm_p2p_mirror_init() - start mirroring @mm for the device owning @dm
 * @mirror: the mirror, embedded in the driver's structure
 * @dm: device memory of the device; its owner decides which device-private
 *	pages the mirror sees instead of faulting them back
 * @mm: the address space
 * @dma_dev: the device that reaches system and coherent memory by DMA; the
 *	mirror maps each such page for it while the page's entry lives
 *	(&hmm_p2p_entry.dma). NULL: entries carry no DMA address.
 * @ops: the driver's invalidation callbacks (struct hmm_p2p_mirror_ops), for
 *	a device that accesses the pages without the mirror lock; or NULL
 *
 * The mirror holds the mm_struct (mmgrab()), not its address space: as
 * upstream's mirrors do, every operation takes a reference to the users
 * for its own duration (the mirror operations below do it themselves; a
 * driver calling hmm_p2p_migrate_to_device() or _to_system() does it
 * around the call, with mmget_not_zero()). So an open file of the device
 * never keeps an exited process's memory (and device pages) alive: with
 * the file held elsewhere (an io_uring fixed file, a child that inherited
 * it), the address space is torn down at exit as usual, and the release
 * notification drops every entry. Eviction finds the mirrored address
 * spaces through the devmem's list of mirrors.
 *
 * Return: 0, -EINVAL if @mm is exiting, or the notifier's error.
 */
int hmm_p2p_mirror_init(struct hmm_p2p_mirror *mirror, struct hmm_p2p_devmem *dm,
			struct mm_struct *mm, struct device *dma_dev,
			const struct hmm_p2p_mirror_ops *ops)
{
	int ret;

	mutex_init(&mirror->lock);
	/*
	 * The invalidation takes the mirror lock, and reclaim invalidates:
	 * no allocation that may enter reclaim is allowed under it. Tell
	 * lockdep, so the debug kernel checks that rule on every run, not
	 * only when reclaim happens to meet the lock. It is the only lock
	 * of the library an invalidation takes.
	 */
	if (IS_ENABLED(CONFIG_LOCKDEP)) {
		fs_reclaim_acquire(GFP_KERNEL);
		might_lock(&mirror->lock);
		fs_reclaim_release(GFP_KERNEL);
	}
	xa_init(&mirror->pt);
	xa_init(&mirror->dma);
	xa_init(&mirror->win);
	atomic_long_set(&mirror->win_bytes, 0);
	mirror->win_spare = NULL;
	mirror->win_refused = false;
	mirror->twostep = dma_dev && READ_ONCE(hp_mirror_map) == HP_MAP_TWOSTEP;
	INIT_LIST_HEAD(&mirror->dm_link);
	INIT_LIST_HEAD(&mirror->invals);
	mirror->ops = ops;
	mirror->dma_dev = dma_dev;
	mirror->dm = dm;
	mirror->owner = dm->desc.owner;
	mirror->mm = mm;
	if (!mm || !mmget_not_zero(mm))
		return -EINVAL;
	ret = mmu_interval_notifier_insert(&mirror->notifier, mm, 0, ULONG_MAX & PAGE_MASK,
					   &hp_mirror_ops);
	if (!ret) {
		mmgrab(mm);
		mutex_lock(&dm->mirrors_lock);
		list_add_tail(&mirror->dm_link, &dm->mirrors);
		mutex_unlock(&dm->mirrors_lock);
	}
	mmput(mm);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_p2p_mirror_init);

/**
 * hmm_p2p_mirror_fini() - stop mirroring
 * @mirror: an initialised mirror
 *
 * Drops all entries, removes the notifier and the mirror's hold on the
 * mm_struct. May sleep.
 */
void hmm_p2p_mirror_fini(struct hmm_p2p_mirror *mirror)
{
	mutex_lock(&mirror->dm->mirrors_lock);
	list_del_init(&mirror->dm_link);
	mutex_unlock(&mirror->dm->mirrors_lock);
	/*
	 * While the notifier is registered every entry names a mapped page:
	 * drop them (dirtying what the device may have written) first. Once
	 * it is gone, entries stored meanwhile may name freed pages: those
	 * are only unmapped for DMA.
	 */
	mutex_lock(&mirror->lock);
	hp_mirror_drop(mirror, 0, ULONG_MAX, true, true);
	mutex_unlock(&mirror->lock);
	mmu_interval_notifier_remove(&mirror->notifier);
	mutex_lock(&mirror->lock);
	hp_mirror_drop(mirror, 0, ULONG_MAX, false, true);
	mutex_unlock(&mirror->lock);
	if (hp_twostep(mirror))
		hp_win_fini(mirror);
	xa_destroy(&mirror->pt);
	xa_destroy(&mirror->dma);
	mmdrop(mirror->mm);
}
EXPORT_SYMBOL_GPL(hmm_p2p_mirror_fini);

/**
 * hp_mirrored_mm_exiting() - is an address space a mirror of @dm follows
 *	being torn down?
 * @dm: device memory
 *
 * Its users are gone, its mirror not yet (the file is closed after the
 * address space in do_exit()): exit_mmap() may be freeing its anon_vmas,
 * and its pages with them.
 *
 * Return: true if some mirrored mm has no users left.
 */
bool hp_mirrored_mm_exiting(struct hmm_p2p_devmem *dm)
{
	struct hmm_p2p_mirror *mirror;
	bool exiting = false;

	mutex_lock(&dm->mirrors_lock);
	list_for_each_entry(mirror, &dm->mirrors, dm_link) {
		if (!atomic_read(&mirror->mm->mm_users)) {
			exiting = true;
			break;
		}
	}
	mutex_unlock(&dm->mirrors_lock);
	return exiting;
}

/**
 * hp_evict_mirrored() - move @dm's pages home from every mirrored mm
 * @dm: device memory; its evict_sem held for writing
 *
 * Each address space a mirror of @dm mirrors is walked with its users
 * pinned and its mmap lock held per batch, so its VMAs and anon_vmas stay
 * alive while its pages move (migrate_device_range() takes no anon_vma
 * reference: the chunk walk is left for pages no mirrored mm maps).
 *
 * Return: pages moved.
 */
long hp_evict_mirrored(struct hmm_p2p_devmem *dm)
{
	struct hmm_p2p_mirror *mirror;
	struct mm_struct **mms;
	unsigned int n = 0, i, j;
	long moved = 0, ret;

	lockdep_assert_held_write(&dm->evict_sem);
	mutex_lock(&dm->mirrors_lock);
	list_for_each_entry(mirror, &dm->mirrors, dm_link)
		n++;
	mms = n ? kmalloc_array(n, sizeof(*mms), GFP_KERNEL) : NULL;
	n = 0;
	if (mms) {
		list_for_each_entry(mirror, &dm->mirrors, dm_link) {
			for (j = 0; j < n && mms[j] != mirror->mm; j++)
				;
			if (j == n && mmget_not_zero(mirror->mm))
				mms[n++] = mirror->mm;
		}
	}
	mutex_unlock(&dm->mirrors_lock);

	for (i = 0; i < n; i++) {
		ret = hp_evict_mm(dm, mms[i]);
		if (ret > 0)
			moved += ret;
		mmput(mms[i]);
	}
	kfree(mms);
	return moved;
}

/**
 * hmm_p2p_mirror_lock() - hold the mirror's entries stable
 * @mirror: the mirror
 */
void hmm_p2p_mirror_lock(struct hmm_p2p_mirror *mirror)
{
	mutex_lock(&mirror->lock);
}
EXPORT_SYMBOL_GPL(hmm_p2p_mirror_lock);

/**
 * hmm_p2p_mirror_unlock() - release hmm_p2p_mirror_lock()
 * @mirror: the mirror
 */
void hmm_p2p_mirror_unlock(struct hmm_p2p_mirror *mirror)
{
	mutex_unlock(&mirror->lock);
}
EXPORT_SYMBOL_GPL(hmm_p2p_mirror_unlock);

/**
 * hmm_p2p_mirror_lookup() - the entry for one page
 * @mirror: the mirror; its lock held
 * @addr: virtual address
 * @entry: out: the entry
 *
 * Return: true if the mirror has an entry for @addr (and no invalidation of
 * it has started). The page it names stays valid until the mirror lock is
 * released, or, for a driver with &hmm_p2p_mirror_ops, until its
 * invalidate_start op is called for it.
 */
bool hmm_p2p_mirror_lookup(struct hmm_p2p_mirror *mirror, unsigned long addr,
			   struct hmm_p2p_entry *entry)
{
	void *x;

	lockdep_assert_held(&mirror->lock);
	x = xa_load(&mirror->pt, addr >> PAGE_SHIFT);
	if (!x || hp_mirror_invalidating(mirror, addr))
		return false;
	hp_unpack(x, entry);
	if ((entry->flags & HMM_P2P_E_DMA) && hp_twostep(mirror)) {
		/* an unlinked slot (its run's IOTLB sync failed) has none */
		if (!hp_win_lookup(mirror, addr >> PAGE_SHIFT, &entry->dma, &entry->flags))
			entry->flags &= ~HMM_P2P_E_DMA;
	} else if (entry->flags & HMM_P2P_E_DMA) {
		x = xa_load(&mirror->dma, addr >> PAGE_SHIFT);
		if (x && !xa_is_value(x))
			entry->dma = hp_p2p_dma(x, &entry->flags);
		else
			entry->dma = (dma_addr_t)xa_to_value(x) << PAGE_SHIFT;
	}
	return true;
}
EXPORT_SYMBOL_GPL(hmm_p2p_mirror_lookup);

/**
 * hmm_p2p_mirror_has_exclusive() - does the mirror map a page exclusively?
 * @mirror: the mirror
 * @start: first byte, page aligned
 * @end: end of the range
 *
 * Return: true if any page in the range still has an exclusive entry.
 */
bool hmm_p2p_mirror_has_exclusive(struct hmm_p2p_mirror *mirror, unsigned long start,
				  unsigned long end)
{
	unsigned long idx;
	bool found = false;
	void *x;

	if (end <= start)
		return false;
	mutex_lock(&mirror->lock);
	xa_for_each_range(&mirror->pt, idx, x, start >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT) {
		struct hmm_p2p_entry e;

		hp_unpack(x, &e);
		if (e.flags & HMM_P2P_E_EXCLUSIVE) {
			found = true;
			break;
		}
	}
	mutex_unlock(&mirror->lock);
	return found;
}
EXPORT_SYMBOL_GPL(hmm_p2p_mirror_has_exclusive);

/*
 * A page of our owner the device wants to write but may only read, or 0.
 * *@peer: it is a peer's (same owner, other devmem), @order its mapping.
 */
static unsigned long hp_find_ro_own(struct hmm_p2p_mirror *mirror, struct hmm_range *range,
				    bool *peer, unsigned int *order)
{
	unsigned long i, n = (range->end - range->start) >> PAGE_SHIFT;

	for (i = 0; i < n; i++) {
		unsigned long p = range->hmm_pfns[i];
		struct page *page;

		if (!(p & HMM_PFN_VALID) || (p & HMM_PFN_WRITE))
			continue;
		page = hmm_pfn_to_page(p);
		if (!is_device_private_page(page))
			continue;
		*peer = hmm_p2p_page_devmem(page) != mirror->dm;
		*order = hmm_pfn_to_map_order(p);
		return range->start + (i << PAGE_SHIFT);
	}
	return 0;
}

/* hmm_range_fault() for @mirror, known to the FAULT_FLAG_REMOTE accounting. */
static int hp_range_fault(struct hmm_p2p_mirror *mirror, struct hmm_range *range,
			  unsigned int flags)
{
	struct hp_fault_ctx ctx;
	int ret;

	hp_p2p_ctx_enter(&ctx, mirror);
	if (flags & HMM_P2P_FAULT_UNLOCKED) {
		ret = hp_range_fault_unlocked(range, 0);
	} else {
		range->notifier_seq = mmu_interval_read_begin(range->notifier);
		mmap_read_lock(mirror->mm);
		ret = hmm_range_fault(range);
		mmap_read_unlock(mirror->mm);
	}
	hp_p2p_ctx_exit(&ctx);
	/* a page that stayed busy is no bad address: the caller may retry */
	if (ret == -EFAULT && ctx.stuck)
		ret = -EBUSY;
	return ret;
}

/*
 * Move a peer's page (and the rest of its mapping) to system memory: no
 * path to it, or a write to it when it is read-only. Returns 0 or -errno.
 */
static int hp_peer_to_system(struct hmm_p2p_mirror *mirror, unsigned long addr,
			     unsigned int order, atomic64_t *counter)
{
	unsigned long start = ALIGN_DOWN(addr, PAGE_SIZE << order);
	long moved;

	moved = hmm_p2p_migrate_to_system(mirror->dm, mirror->mm, start,
					  start + (PAGE_SIZE << order), HMM_P2P_MIG_PEERS);
	if (moved < 0)
		return moved;
	atomic64_add(moved, counter);
	trace_hmm_p2p_p2p_fallback(mirror->dm, hp_trace_why(mirror->dm, counter), addr, moved);
	return 0;
}

static bool hp_pmd_workaround = true;
module_param_named(hmm_pmd_workaround, hp_pmd_workaround, bool, 0644);
MODULE_PARM_DESC(hmm_pmd_workaround,
		 "Correct the pfns hmm_range_fault() reports inside a device-private PMD (default Y; N shows the kernel bug)");

/*
 * Work around a kernel bug (7.3.4 and every kernel with device-private PMDs
 * since they came, none fixed yet; patches/ has the fix): for a range that
 * starts inside a PMD-mapped device-private folio, hmm_vma_handle_absent_pmd()
 * reports the folio's pfns counted from its head at the range's start, not
 * at the PMD's start, so page k of the range gets the pfn of page k of the
 * folio. A reported pfn stays inside the right folio, so the right one is
 * the folio's head plus the address's offset in its PMD; for a correct
 * report that is what it already is. Mirror lock held, sequence valid: the
 * PMD still maps the folio.
 */
static void hp_fix_private_pmd_pfns(struct hmm_range *range)
{
	unsigned long i, n = (range->end - range->start) >> PAGE_SHIFT;

	lockdep_assert_held(&container_of(range->notifier, struct hmm_p2p_mirror,
					  notifier)->lock);
	if (!HP_DEVICE_THP || !READ_ONCE(hp_pmd_workaround))
		return;
	for (i = 0; i < n; i++) {
		unsigned long p = range->hmm_pfns[i], addr, pfn;
		struct page *page;

		if (!(p & HMM_PFN_VALID) ||
		    hmm_pfn_to_map_order(p) != PMD_SHIFT - PAGE_SHIFT)
			continue;
		page = hmm_pfn_to_page(p);
		if (!is_device_private_page(page))
			continue;
		addr = range->start + (i << PAGE_SHIFT);
		pfn = folio_pfn(page_folio(page)) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
		range->hmm_pfns[i] = (p & HMM_PFN_FLAGS) | pfn;
	}
}

/* Record the length of one fault round that started at @t0 (ns). */
static void hp_fault_note_time(struct hmm_p2p_devmem *dm, u64 t0)
{
	s64 dt = ktime_get_ns() - t0;
	s64 old = atomic64_read(&dm->st_fault_max_ns);

	while (dt > old && !atomic64_try_cmpxchg(&dm->st_fault_max_ns, &old, dt))
		;
}

static int __hp_fault_locked(struct hmm_p2p_mirror *mirror, struct hmm_range *range,
			     unsigned int flags)
{
	unsigned long timeout = jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	struct mm_struct *mm = mirror->mm;
	unsigned int order;
	int moves = 0;
	bool peer;
	int ret;

	for (;;) {
		if (fatal_signal_pending(current))
			return -EINTR;
		if (!(flags & HMM_P2P_FAULT_UNLOCKED) && time_after(jiffies, timeout)) {
			atomic64_inc(&mirror->dm->st_fault_timeouts);
			return -EBUSY;
		}
		ret = hp_range_fault(mirror, range, flags);
		atomic64_inc(&mirror->dm->st_mirror_faults);
		if (ret == -EBUSY && !(flags & HMM_P2P_FAULT_UNLOCKED)) {
			atomic64_inc(&mirror->dm->st_busy_retries);
			trace_hmm_p2p_mirror_retry(mirror->dm, range->start, range->end,
						   HP_TR_RETRY_BUSY);
			continue;
		}
		if (ret)
			return ret;

		/*
		 * hmm_range_fault() reports our own private pages as they are,
		 * read-only ones too (after fork). To write one, bring it (and
		 * the rest of the batch) back; the CPU fault path then copies.
		 */
		if (flags & HMM_P2P_FAULT_WRITE) {
			unsigned long addr = hp_find_ro_own(mirror, range, &peer, &order);

			if (addr) {
				if (++moves > HP_RETRY_LIMIT)
					return -EBUSY;
				/* a peer's page: move just it, through its owner */
				if (peer)
					ret = hp_peer_to_system(mirror, addr, order,
								&mirror->dm->st_p2p_write);
				else
					ret = hmm_p2p_migrate_to_system(mirror->dm, mm, addr,
									range->end, 0);
				if (ret < 0)
					return ret;
				trace_hmm_p2p_mirror_retry(mirror->dm, range->start, range->end,
							   HP_TR_RETRY_WRITE);
				continue;
			}
		}

		mutex_lock(&mirror->lock);
		if (!mmu_interval_read_retry(range->notifier, range->notifier_seq)) {
			hp_fix_private_pmd_pfns(range);
			return 0;
		}
		mutex_unlock(&mirror->lock);
		atomic64_inc(&mirror->dm->st_seq_retries);
		trace_hmm_p2p_mirror_retry(mirror->dm, range->start, range->end, HP_TR_RETRY_SEQ);
	}
}

/*
 * One hmm_range_fault() round with the retry protocol. On success the
 * mirror lock is held and range->hmm_pfns is current. Every retry is
 * counted (an importer's view of invalidations racing its faults), and so
 * is the round's length.
 */
static int hp_fault_locked(struct hmm_p2p_mirror *mirror, struct hmm_range *range,
			   unsigned int flags)
{
	u64 t0 = ktime_get_ns();
	int ret;

	ret = __hp_fault_locked(mirror, range, flags);
	trace_hmm_p2p_mirror_fault(mirror->dm, range->start, range->end, flags, ret, t0);
	if (!ret)
		lockdep_assert_held(&mirror->lock);
	hp_fault_note_time(mirror->dm, t0);
	return ret;
}

static int hp_mirror_fault(struct hmm_p2p_mirror *mirror, unsigned long start,
			   unsigned long end, unsigned int flags);

/**
 * hmm_p2p_mirror_fault() - fault a range in and fill the mirror
 * @mirror: the mirror
 * @start: first byte, page aligned
 * @end: end of the range, page aligned
 * @flags: HMM_P2P_FAULT_*
 *
 * Faults every page in (for writing with HMM_P2P_FAULT_WRITE) and stores one
 * entry per page; with HMM_P2P_FAULT_NOFAULT only records the pages mapped
 * now (and drops entries for the others). Other owners' private pages come back to system memory on
 * the way; our own stay where they are.
 *
 * Return: 0, or hmm_range_fault()'s error: -EFAULT (no access), -EPERM
 * (write to read-only memory), -EBUSY (kept being invalidated), -ENOMEM;
 * -EINTR on a fatal signal; -EOPNOTSUPP when the mirror's DMA device would
 * need bounce buffers or syncs for a page (a long-lived mapping cannot
 * honour them); -ENOSPC when a two-step mirror's windows would take more
 * than hmm_p2p.mirror_map_max_kb (the pages before stay mirrored).
 */
int hmm_p2p_mirror_fault(struct hmm_p2p_mirror *mirror, unsigned long start,
			 unsigned long end, unsigned int flags)
{
	int ret;

	if (!mmget_not_zero(mirror->mm))
		return -ESRCH;
	ret = hp_mirror_fault(mirror, start, end, flags);
	mmput(mirror->mm);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_p2p_mirror_fault);

static int hp_mirror_fault(struct hmm_p2p_mirror *mirror, unsigned long start,
			   unsigned long end, unsigned int flags)
{
	struct hmm_range range = {
		.notifier = &mirror->notifier,
		.default_flags = (flags & HMM_P2P_FAULT_NOFAULT) ? 0 : HMM_PFN_REQ_FAULT |
				 ((flags & HMM_P2P_FAULT_WRITE) ? HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = mirror->owner,
	};
	unsigned long addr, i, n, last_fail = 0;
	int fallbacks = 0, win_retries = 0;
	int ret = 0;

	range.hmm_pfns = kcalloc(HP_FAULT_BATCH, sizeof(*range.hmm_pfns), GFP_KERNEL);
	if (!range.hmm_pfns)
		return -ENOMEM;

	for (addr = start; addr < end && !ret; addr = range.end) {
		struct hp_map_ctx c = { };
		struct hmm_p2p_entry e;
		int sret;

		range.start = addr;
		range.end = min(end, addr + (HP_FAULT_BATCH << PAGE_SHIFT));
		n = (range.end - range.start) >> PAGE_SHIFT;
		memset(range.hmm_pfns, 0, n * sizeof(*range.hmm_pfns));

		/* windows are allocated before the mirror lock: reclaim takes it */
		if (hp_twostep(mirror)) {
			ret = hp_win_prepare(mirror, &c, range.start, range.end);
			if (ret)
				break;
		}
		ret = hp_fault_locked(mirror, &range, flags);
		if (ret) {
			hp_map_done(mirror, &c);
			break;
		}
		if (hp_twostep(mirror))
			ret = hp_win_install(mirror, &c);
		for (i = 0; i < n && !ret; i++) {
			hmm_p2p_classify(range.hmm_pfns[i], mirror->dm, mirror->owner, &e);
			ret = hp_mirror_store(mirror, (range.start >> PAGE_SHIFT) + i, &e, &c);
		}
		if (hp_twostep(mirror)) {
			sret = hp_win_sync(mirror, &c);
			if (!ret)
				ret = sret;
			hp_win_trim(mirror, &c, range.start, range.end);
		}
		mutex_unlock(&mirror->lock);
		hp_map_done(mirror, &c);

		/*
		 * A window an invalidation freed between hp_win_prepare() and
		 * the commit: the round is done again from where it failed.
		 */
		if (ret == -EAGAIN) {
			range.end = range.start + ((i - 1) << PAGE_SHIFT);
			ret = ++win_retries > HP_RETRY_LIMIT ? -EBUSY : 0;
			continue;
		}

		/*
		 * A peer's private page with no P2P path to this device (or no
		 * P2P memory behind it, or a peer going away): move it to
		 * system memory and go on from there. A P2PDMA page cannot
		 * move: its error stands.
		 */
		if ((ret == -EREMOTEIO || ret == -ENODEV) && e.class == HMM_P2P_PC_PRIVATE_GROUP) {
			unsigned long at = range.start + ((i - 1) << PAGE_SHIFT);

			/* give up only when the same page keeps failing */
			fallbacks = at == last_fail ? fallbacks + 1 : 0;
			last_fail = at;
			range.end = at;
			if (fallbacks <= HP_RETRY_LIMIT)
				ret = hp_peer_to_system(mirror, at, e.order, ret == -ENODEV ?
							&mirror->dm->st_p2p_gone :
							&mirror->dm->st_p2p_no_path);
		}
	}
	kfree(range.hmm_pfns);
	return ret;
}

/**
 * hmm_p2p_mirror_snapshot() - look at a range without faulting anything in
 * @mirror: the mirror
 * @start: first byte, page aligned
 * @end: end of the range, page aligned
 * @entries: out: one entry per page
 *
 * The mirror's own entries are not changed. Each batch of entries was
 * coherent with the CPU page tables at one moment.
 *
 * Return: 0 or hmm_range_fault()'s error.
 */
int hmm_p2p_mirror_snapshot(struct hmm_p2p_mirror *mirror, unsigned long start,
			    unsigned long end, struct hmm_p2p_entry *entries)
{
	struct hmm_range range = {
		.notifier = &mirror->notifier,
		.dev_private_owner = mirror->owner,
	};
	unsigned long addr, i, n;
	int ret = 0;

	range.hmm_pfns = kcalloc(HP_FAULT_BATCH, sizeof(*range.hmm_pfns), GFP_KERNEL);
	if (!range.hmm_pfns)
		return -ENOMEM;
	if (!mmget_not_zero(mirror->mm)) {
		kfree(range.hmm_pfns);
		return -ESRCH;
	}

	for (addr = start; addr < end; addr = range.end) {
		range.start = addr;
		range.end = min(end, addr + (HP_FAULT_BATCH << PAGE_SHIFT));
		n = (range.end - range.start) >> PAGE_SHIFT;
		memset(range.hmm_pfns, 0, n * sizeof(*range.hmm_pfns));

		ret = hp_fault_locked(mirror, &range, 0);
		if (ret)
			break;
		for (i = 0; i < n; i++)
			hmm_p2p_classify(range.hmm_pfns[i], mirror->dm, mirror->owner,
					 entries++);
		mutex_unlock(&mirror->lock);
	}
	mmput(mirror->mm);
	kfree(range.hmm_pfns);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_p2p_mirror_snapshot);

/**
 * hmm_p2p_mirror_exclusive() - map a range for exclusive (atomic) access
 * @mirror: the mirror
 * @start: first byte, page aligned
 * @end: end of the range, page aligned
 *
 * Each page becomes a device-exclusive entry in the CPU page table (a CPU
 * access revokes it through the notifier) and an HMM_P2P_E_EXCLUSIVE entry
 * in the mirror. Anonymous private memory only.
 *
 * Return: 0 or -errno (-EBUSY, -EOPNOTSUPP, -EFAULT...).
 */
int hmm_p2p_mirror_exclusive(struct hmm_p2p_mirror *mirror, unsigned long start,
			     unsigned long end)
{
	struct mm_struct *mm = mirror->mm;
	unsigned long addr;
	int ret = 0;

	if (!mmget_not_zero(mm))
		return -ESRCH;
	mmap_read_lock(mm);
	for (addr = start; addr < end && !ret; addr += PAGE_SIZE) {
		int tries;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		for (tries = 0; ; tries++) {
			unsigned long seq = mmu_interval_read_begin(&mirror->notifier);
			struct hp_map_ctx c = { };
			struct hmm_p2p_entry e = { };
			struct folio *folio;
			struct page *page;
			bool have;

			if (tries > HP_RETRY_LIMIT) {
				ret = -EBUSY;
				break;
			}
			/*
			 * Already ours exclusively (an earlier call that failed
			 * later, say): the entry lives until an invalidation,
			 * so the page is still exclusive; asking again would
			 * fail with -EBUSY.
			 */
			mutex_lock(&mirror->lock);
			have = hmm_p2p_mirror_lookup(mirror, addr, &e) &&
			       (e.flags & HMM_P2P_E_EXCLUSIVE);
			mutex_unlock(&mirror->lock);
			if (have)
				break;
			memset(&e, 0, sizeof(e));
			if (hp_twostep(mirror)) {
				ret = hp_win_prepare(mirror, &c, addr, addr + PAGE_SIZE);
				if (ret)
					break;
			}
			page = hp_make_exclusive(mm, addr, mirror, &folio);
			if (IS_ERR(page)) {
				hp_map_done(mirror, &c);
				ret = PTR_ERR(page);
				break;
			}
			mutex_lock(&mirror->lock);
			if (mmu_interval_read_retry(&mirror->notifier, seq)) {
				mutex_unlock(&mirror->lock);
				hp_map_done(mirror, &c);
				folio_unlock(folio);
				folio_put(folio);
				continue;
			}
			e.pfn = page_to_pfn(page);
			e.class = HMM_P2P_PC_SYSTEM;
			e.flags = HMM_P2P_E_EXCLUSIVE | HMM_P2P_E_WRITE;
			ret = 0;
			if (hp_twostep(mirror))
				ret = hp_win_install(mirror, &c);
			if (!ret)
				ret = hp_mirror_store(mirror, addr >> PAGE_SHIFT, &e, &c);
			if (hp_twostep(mirror)) {
				int sret = hp_win_sync(mirror, &c);

				ret = ret ?: sret;
				hp_win_trim(mirror, &c, addr, addr + PAGE_SIZE);
			}
			mutex_unlock(&mirror->lock);
			hp_map_done(mirror, &c);
			folio_unlock(folio);
			folio_put(folio);
			/* its window went away meanwhile: once more */
			if (ret == -EAGAIN) {
				ret = 0;
				continue;
			}
			break;
		}
	}
	mmap_read_unlock(mm);
	mmput(mm);
	return ret;
}
EXPORT_SYMBOL_GPL(hmm_p2p_mirror_exclusive);
