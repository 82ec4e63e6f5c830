// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p device memory: pagemap chunks and the device page allocator.
 *
 * A devmem is a list of chunks, each one dev_pagemap. Private chunks sit on
 * a free physical range from request_free_mem_region(); coherent chunks cut
 * the driver's physical range in order. Chunks are added on demand, under
 * grow_lock, up to desc.max_chunks and never beyond a coherent range (the
 * capacity is checked before memremap_pages(), which must not be asked to
 * map system RAM).
 *
 * Allocation takes no global lock: each chunk has its own spinlock and block
 * lists (see struct hp_block), and allocators start at a rotating hint. A
 * 4 KiB allocation fills partly used blocks before it breaks a free one, and
 * a block whose pages all came back can again hold a 2 MiB folio.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/delay.h>
#include <linux/sizes.h>
#include <linux/wait_bit.h>
#include <linux/debugfs.h>
#include "hmm_p2p_compat.h"
#include "internal.h"

static void hp_folio_free(struct folio *folio);
static void hp_devmem_reap(struct work_struct *work);
HP_DEFINE_PGMAP_OPS(hp_pgmap_ops, hp_folio_free, hp_migrate_to_ram);

/**
 * hp_page_chunk() - the chunk a ZONE_DEVICE page of ours belongs to
 * @page: any page
 *
 * Return: the chunk, or NULL when @page is not device memory of hmm_p2p.
 */
struct hp_chunk *hp_page_chunk(struct page *page)
{
	struct dev_pagemap *pgmap;

	if (!is_zone_device_page(page))
		return NULL;
	pgmap = hp_page_pgmap(page);
	if (!pgmap || pgmap->ops != &hp_pgmap_ops)
		return NULL;
	return container_of(pgmap, struct hp_chunk, pgmap);
}

/**
 * hmm_p2p_page_devmem() - the devmem a device page belongs to
 * @page: any page
 *
 * Return: the devmem, or NULL when @page is not hmm_p2p device memory (or
 * belongs to device memory destroyed while pages stayed pinned).
 */
struct hmm_p2p_devmem *hmm_p2p_page_devmem(struct page *page)
{
	struct hp_chunk *chunk = hp_page_chunk(page);

	/* an orphan's driver (its priv) may be gone */
	return chunk && !READ_ONCE(chunk->dm->orphaned) ? chunk->dm : NULL;
}
EXPORT_SYMBOL_GPL(hmm_p2p_page_devmem);

/**
 * hmm_p2p_page_backing() - backend state of a device page
 * @page: a device page of an hmm_p2p devmem
 * @index: out: the page's index in its chunk
 *
 * Return: the chunk's data from &hmm_p2p_devmem_ops.chunk_init, or NULL.
 */
void *hmm_p2p_page_backing(struct page *page, unsigned long *index)
{
	struct hp_chunk *chunk = hp_page_chunk(page);

	if (!chunk)
		return NULL;
	*index = page_to_pfn(page) - chunk->pfn_first;
	return chunk->backend;
}
EXPORT_SYMBOL_GPL(hmm_p2p_page_backing);

/**
 * hp_inject_fail() - should this pass through @point fail?
 * @dm: device memory
 * @point: injection point
 *
 * The points are the kernel's fault injection attributes (struct
 * fault_attr, Documentation/fault-injection/), one set per devmem in debugfs
 * (root only) at hmm_p2p/<devmem name>/fail_sys_page and fail_sys_thp. Each
 * call is one unit of "space": with probability 100 (the default here),
 * writing space N + 1 and times M lets N calls through and fails the next M
 * (times -1: all of them); times 0 (the default) disarms the point.
 *
 * Return: true when an armed injection fires.
 */
bool hp_inject_fail(struct hmm_p2p_devmem *dm, enum hp_inject_point point)
{
#ifdef CONFIG_FAULT_INJECTION
	return should_fail(&dm->inject[point], 1);
#else
	return false;
#endif
}

static const char *const hp_inject_names[HP_INJ_NR] = {
	[HP_INJ_SYS_PAGE] = "fail_sys_page",
	[HP_INJ_SYS_THP] = "fail_sys_thp",
};

/**
 * hp_inject_name() - the debugfs name of an injection point
 * @point: the point
 *
 * Return: its name.
 */
const char *hp_inject_name(enum hp_inject_point point)
{
	return hp_inject_names[point];
}

/*
 * The devmem's injection points, disarmed, and their debugfs files in its
 * directory (debugfs.c). Without them (no debugfs, or a name another devmem
 * has) the devmem works, with no injection.
 */
static void hp_inject_init(struct hmm_p2p_devmem *dm)
{
#ifdef CONFIG_FAULT_INJECTION
	struct dentry *d;
	unsigned int i;

	for (i = 0; i < HP_INJ_NR; i++) {
		struct fault_attr *attr = &dm->inject[i];

		*attr = (struct fault_attr)FAULT_ATTR_INITIALIZER;
		/* a lock of its own, not the initializer's static one */
		ratelimit_state_init(&attr->ratelimit_state, 0, DEFAULT_RATELIMIT_BURST);
		attr->probability = 100;
		attr->verbose = 0;	/* no log line or stack per failure */
		atomic_set(&attr->times, 0);
	}
	if (!IS_ENABLED(CONFIG_FAULT_INJECTION_DEBUG_FS) || !dm->debugfs)
		return;
	for (i = 0; i < HP_INJ_NR; i++) {
		d = fault_create_debugfs_attr(hp_inject_names[i], dm->debugfs, &dm->inject[i]);
		if (IS_ERR(d))
			pr_warn("hmm_p2p: %s: no %s (%ld)\n", dm->name, hp_inject_names[i],
				PTR_ERR(d));
	}
#endif
}

/*
 * Shutdown: the points can no longer be changed (their files go with the
 * devmem's directory, waiting for readers and writers in flight) and all
 * but HP_INJ_SYS_THP are disarmed.
 */
static void hp_inject_shutdown(struct hmm_p2p_devmem *dm)
{
	debugfs_remove_recursive(dm->debugfs);
	dm->debugfs = NULL;
#ifdef CONFIG_FAULT_INJECTION
	atomic_set(&dm->inject[HP_INJ_SYS_PAGE].times, 0);
#endif
}

/* Chunks published so far; dm->chunks[0..n-1] are valid and never change. */
static unsigned int hp_nr_chunks(struct hmm_p2p_devmem *dm)
{
	/* pairs with the smp_store_release() in hp_chunk_add() */
	return smp_load_acquire(&dm->nr_chunks);
}

/* The block @page is in. */
static struct hp_block *hp_page_block(struct hp_chunk *chunk, struct page *page)
{
	return &chunk->blocks[(page_to_pfn(page) - ALIGN_DOWN(chunk->pfn_first, HP_PMD_NR)) /
			      HP_PMD_NR];
}

/* First page of a block. */
static struct page *hp_block_page(struct hp_chunk *chunk, struct hp_block *block)
{
	unsigned long pfn = ALIGN_DOWN(chunk->pfn_first, HP_PMD_NR) +
			    (block - chunk->blocks) * HP_PMD_NR;

	return pfn_to_page(max(pfn, chunk->pfn_first));
}

static bool hp_block_can_be_huge(struct hp_chunk *chunk, struct hp_block *block)
{
	return chunk->dm->thp && block->npages == HP_PMD_NR;
}

/* Make @block wholly free: on the huge list, or all its pages partial. */
static void hp_block_set_free(struct hp_chunk *chunk, struct hp_block *block)
{
	unsigned int i;

	if (block->state != HP_BLOCK_FULL)
		list_del(&block->link);
	if (hp_block_can_be_huge(chunk, block)) {
		block->state = HP_BLOCK_HUGE;
		block->free = NULL;
		block->nr_free = 0;
		list_add(&block->link, &chunk->huge);
		return;
	}
	block->free = NULL;
	for (i = block->npages; i > 0; i--) {
		struct page *page = hp_block_page(chunk, block) + i - 1;

		page->zone_device_data = block->free;
		block->free = page;
	}
	block->nr_free = block->npages;
	block->state = HP_BLOCK_PARTIAL;
	list_add_tail(&block->link, &chunk->partial);
}

/*
 * A free 2 MiB block may still carry the compound metadata of the large
 * folio it was. Before its pages go out one by one, make each a plain page
 * again, so nobody (migrate_device_range() walks free pages too) takes a
 * stale head for a live one.
 */
static void hp_block_unmake_compound(struct page *head)
{
#if HP_DEVICE_THP
	unsigned long i;

	if (PageHead(head)) {
		folio_reset_order((struct folio *)head);
		__ClearPageHead(head);
	}
	for (i = 1; i < HP_PMD_NR; i++)
		clear_compound_head(head + i);
#endif
}

/* Put a device folio back into its block. */
static void hp_chunk_put(struct hp_chunk *chunk, struct page *page, unsigned int order)
{
	struct hp_block *block = hp_page_block(chunk, page);

	spin_lock(&chunk->lock);
	if (order) {
		hp_block_set_free(chunk, block);
	} else {
		page->zone_device_data = block->free;
		block->free = page;
		if (++block->nr_free == block->npages && hp_block_can_be_huge(chunk, block)) {
			hp_block_set_free(chunk, block);	/* whole again */
		} else if (block->state == HP_BLOCK_FULL) {
			block->state = HP_BLOCK_PARTIAL;
			list_add(&block->link, &chunk->partial);
		}
	}
	spin_unlock(&chunk->lock);
}

static struct page *hp_chunk_take(struct hp_chunk *chunk, unsigned int order)
{
	struct hp_block *block;
	struct page *page = NULL;
	unsigned int i;

	spin_lock(&chunk->lock);
	if (order) {
		block = list_first_entry_or_null(&chunk->huge, struct hp_block, link);
		if (block) {
			list_del(&block->link);
			block->state = HP_BLOCK_FULL;
			page = hp_block_page(chunk, block);
		}
		goto out;
	}

	block = list_first_entry_or_null(&chunk->partial, struct hp_block, link);
	if (!block) {
		/* break a free block: hand out its first page, keep the rest */
		block = list_first_entry_or_null(&chunk->huge, struct hp_block, link);
		if (!block)
			goto out;
		page = hp_block_page(chunk, block);
		hp_block_unmake_compound(page);
		block->free = NULL;
		for (i = HP_PMD_NR - 1; i > 0; i--) {
			page[i].zone_device_data = block->free;
			block->free = &page[i];
		}
		block->nr_free = HP_PMD_NR - 1;
		block->state = HP_BLOCK_PARTIAL;
		list_move(&block->link, &chunk->partial);
		goto out;
	}
	page = block->free;
	block->free = page->zone_device_data;
	if (!--block->nr_free) {
		list_del(&block->link);
		block->state = HP_BLOCK_FULL;
	}
out:
	spin_unlock(&chunk->lock);
	if (page)
		page->zone_device_data = NULL;
	return page;
}

static void hp_chunk_release(struct hp_chunk *chunk)
{
	struct hmm_p2p_devmem *dm = chunk->dm;

	/* an orphan's backing is gone, and so may be the driver's ops */
	if (chunk->backend && dm->desc.ops->chunk_fini)
		dm->desc.ops->chunk_fini(dm, chunk->backend, chunk->npages);
	if (chunk->res)
		release_mem_region(chunk->res->start, resource_size(chunk->res));
	kvfree(chunk->blocks);
	kfree(chunk);
}

/* Add one chunk. Called with grow_lock held. */
static int hp_chunk_add(struct hmm_p2p_devmem *dm)
{
	unsigned int nr = dm->nr_chunks;
	u64 size = dm->desc.chunk_size;
	struct hp_chunk *chunk;
	unsigned long i;
	void *addr;
	int ret;

	lockdep_assert_held(&dm->grow_lock);
	if (dm->dying || nr >= dm->desc.max_chunks)
		return -ENOMEM;
	if (dm->desc.type == HMM_P2P_MEM_COHERENT &&
	    (u64)(nr + 1) * size > dm->desc.size)
		return -ENOMEM;		/* the range is used up: no WARN, no RAM */

	chunk = kzalloc_obj(*chunk);
	if (!chunk)
		return -ENOMEM;
	chunk->dm = dm;
	spin_lock_init(&chunk->lock);

	if (dm->desc.type == HMM_P2P_MEM_PRIVATE) {
		chunk->res = request_free_mem_region(&iomem_resource, size, dm->name);
		if (IS_ERR(chunk->res)) {
			ret = PTR_ERR(chunk->res);
			chunk->res = NULL;
			goto err_free;
		}
		chunk->pgmap.range.start = chunk->res->start;
		chunk->pgmap.range.end = chunk->res->end;
		chunk->pgmap.type = MEMORY_DEVICE_PRIVATE;
	} else {
		chunk->pgmap.range.start = dm->desc.base + (u64)nr * size;
		chunk->pgmap.range.end = chunk->pgmap.range.start + size - 1;
		chunk->pgmap.type = MEMORY_DEVICE_COHERENT;
	}
	chunk->pgmap.nr_range = 1;
	chunk->pgmap.ops = &hp_pgmap_ops;
	chunk->pgmap.owner = dm->desc.owner;
	chunk->pfn_first = PHYS_PFN(chunk->pgmap.range.start);
	chunk->npages = size >> PAGE_SHIFT;
	INIT_LIST_HEAD(&chunk->partial);
	INIT_LIST_HEAD(&chunk->huge);
	chunk->nr_blocks = (ALIGN(chunk->pfn_first + chunk->npages, HP_PMD_NR) -
			    ALIGN_DOWN(chunk->pfn_first, HP_PMD_NR)) / HP_PMD_NR;
	chunk->blocks = kvcalloc(chunk->nr_blocks, sizeof(*chunk->blocks), GFP_KERNEL);
	if (!chunk->blocks) {
		ret = -ENOMEM;
		goto err_res;
	}

	if (dm->desc.ops->chunk_init) {
		ret = dm->desc.ops->chunk_init(dm, chunk->pfn_first, chunk->npages,
					       &chunk->backend);
		if (ret)
			goto err_res;
	}

	addr = memremap_pages(&chunk->pgmap, dm->desc.nid);
	if (IS_ERR_OR_NULL(addr)) {
		ret = addr ? PTR_ERR(addr) : -EFAULT;
		goto err_backend;
	}

	/* Every block starts wholly free. */
	for (i = 0; i < chunk->nr_blocks; i++) {
		unsigned long first = ALIGN_DOWN(chunk->pfn_first, HP_PMD_NR) + i * HP_PMD_NR;
		unsigned long lo = max(first, chunk->pfn_first);
		unsigned long hi = min(first + HP_PMD_NR, chunk->pfn_first + chunk->npages);

		chunk->blocks[i].npages = hi - lo;
		chunk->blocks[i].state = HP_BLOCK_FULL;
		hp_block_set_free(chunk, &chunk->blocks[i]);
	}

	dm->chunks[nr] = chunk;
	/* publish the slot before the count; pairs with hp_nr_chunks() */
	smp_store_release(&dm->nr_chunks, nr + 1);
	pr_debug("%s: chunk %u: pfn 0x%lx+0x%lx\n", dm->name, nr, chunk->pfn_first,
		 chunk->npages);
	return 0;

err_backend:
	if (dm->desc.ops->chunk_fini && chunk->backend)
		dm->desc.ops->chunk_fini(dm, chunk->backend, chunk->npages);
err_res:
	kvfree(chunk->blocks);
	if (chunk->res)
		release_mem_region(chunk->res->start, resource_size(chunk->res));
err_free:
	kfree(chunk);
	return ret;
}

/* Grow unless someone else did since we saw @seen chunks. */
static int hp_grow(struct hmm_p2p_devmem *dm, unsigned int seen)
{
	int ret = 0;

	mutex_lock(&dm->grow_lock);
	if (dm->nr_chunks == seen)
		ret = hp_chunk_add(dm);
	mutex_unlock(&dm->grow_lock);
	return ret;
}

/**
 * hp_alloc_device_page() - allocate a device folio
 * @dm: device memory
 * @order: 0 or the PMD order
 *
 * Return: the first page of a locked device folio with refcount 1 whose
 * backing is set up, or NULL (no memory left, or the backing failed).
 */
struct page *hp_alloc_device_page(struct hmm_p2p_devmem *dm, unsigned int order)
{
	struct hp_chunk *chunk = NULL;
	struct page *page = NULL;
	unsigned int n, start, i;
	int attempt;

	if ((order && !dm->thp) || READ_ONCE(dm->dying))
		goto fail;

	for (attempt = 0; attempt < 2 && !page; attempt++) {
		n = hp_nr_chunks(dm);
		start = n ? (unsigned int)atomic_read(&dm->hint) % n : 0;
		for (i = 0; i < n; i++) {
			chunk = dm->chunks[(start + i) % n];
			page = hp_chunk_take(chunk, order);
			if (page) {
				if (i)
					atomic_set(&dm->hint, (start + i) % n);
				break;
			}
		}
		if (!page && (attempt || hp_grow(dm, n)))
			break;
	}
	if (!page)
		goto fail;

	if (dm->desc.ops->alloc_backing &&
	    dm->desc.ops->alloc_backing(dm, chunk->backend,
					page_to_pfn(page) - chunk->pfn_first, order)) {
		hp_chunk_put(chunk, page, order);
		goto fail;
	}
	hp_device_folio_init(page, &chunk->pgmap, order);
	atomic_long_add(1L << order, &chunk->in_use);
	atomic64_add(1UL << order, &dm->in_use);
	return page;
fail:
	atomic64_add(1UL << order, &dm->st_alloc_fail);
	return NULL;
}

/* The pagemap's free callback: the last reference to a device folio went. */
static void hp_folio_free(struct folio *folio)
{
	struct page *page = &folio->page;
	struct hp_chunk *chunk = hp_page_chunk(page);
	unsigned int order = folio_order(folio);
	struct hmm_p2p_devmem *dm;
	int idx;

	if (WARN_ON_ONCE(!chunk))
		return;
	dm = chunk->dm;
	idx = srcu_read_lock(&dm->srcu);
	if (!READ_ONCE(dm->orphaned) && dm->desc.ops->free_backing)
		dm->desc.ops->free_backing(dm, chunk->backend,
					   page_to_pfn(page) - chunk->pfn_first, order);
	srcu_read_unlock(&dm->srcu, idx);
	hp_chunk_put(chunk, page, order);
	atomic_long_sub(1L << order, &chunk->in_use);
	if (!atomic64_sub_return(1UL << order, &dm->in_use) && READ_ONCE(dm->orphaned))
		queue_work(hp_wq, &dm->reap);
}

/**
 * hmm_p2p_devmem_create() - set up device memory
 * @desc: what to create; copied
 *
 * Checks the description, and for coherent memory that the range is not
 * system RAM. No chunk is registered until the first allocation.
 *
 * Return: the devmem or an ERR_PTR (-EINVAL for a bad description).
 */
struct hmm_p2p_devmem *hmm_p2p_devmem_create(const struct hmm_p2p_devmem_desc *desc)
{
	struct hmm_p2p_devmem *dm;
	unsigned int max = desc->max_chunks;

	if (!desc->ops || !desc->ops->copy ||
	    !desc->chunk_size || !IS_ALIGNED(desc->chunk_size, SZ_2M) || !max)
		return ERR_PTR(-EINVAL);
	if (desc->type == HMM_P2P_MEM_COHERENT) {
		if (!desc->size || !IS_ALIGNED(desc->base, SZ_2M) ||
		    desc->size < desc->chunk_size)
			return ERR_PTR(-EINVAL);
		if (region_intersects(desc->base, desc->size, IORESOURCE_SYSTEM_RAM,
				      IORES_DESC_NONE) != REGION_DISJOINT) {
			pr_err("hmm_p2p: %s: %pa+0x%llx is (partly) system RAM\n",
			       desc->name, &desc->base, desc->size);
			return ERR_PTR(-EINVAL);
		}
		max = min_t(u64, max, div64_u64(desc->size, desc->chunk_size));
	} else if (desc->type != HMM_P2P_MEM_PRIVATE) {
		return ERR_PTR(-EINVAL);
	}

	dm = kzalloc_obj(*dm);
	if (!dm)
		return ERR_PTR(-ENOMEM);
	dm->chunks = kcalloc(max, sizeof(*dm->chunks), GFP_KERNEL);
	if (!dm->chunks) {
		kfree(dm);
		return ERR_PTR(-ENOMEM);
	}
	dm->desc = *desc;
	dm->desc.max_chunks = max;
	if (!dm->desc.owner)
		dm->desc.owner = dm;
	strscpy(dm->name, desc->name ? desc->name : "hmm_p2p", sizeof(dm->name));
	dm->desc.name = dm->name;
	dm->thp = desc->thp && HP_DEVICE_THP && thp_migration_supported();
	mutex_init(&dm->grow_lock);
	mutex_init(&dm->mirrors_lock);
	INIT_LIST_HEAD(&dm->mirrors);
	init_rwsem(&dm->evict_sem);
	if (init_srcu_struct(&dm->srcu)) {
		kfree(dm->chunks);
		kfree(dm);
		return ERR_PTR(-ENOMEM);
	}
	INIT_WORK(&dm->reap, hp_devmem_reap);
	hp_debugfs_devmem_init(dm);
	hp_inject_init(dm);
	return dm;
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_create);

/*
 * Move @dm's pages home: through the mirrored address spaces (each pass),
 * and with @chunks also through the pagemap (pages no mirrored mm maps).
 * Passes go on while pages stay busy, up to @passes; without @chunks, also
 * until two passes in a row moved nothing (what is left is not mirrored).
 * Return: pages moved, or -EBUSY if some stayed on the device (@chunks).
 */
static long hp_devmem_evict(struct hmm_p2p_devmem *dm, int passes, bool chunks)
{
	long moved = 0, ret, before;
	unsigned int i, n;
	int pass, idle = 0;

	/* no new device page while this runs (a bounded wait for movers) */
	down_write(&dm->evict_sem);
	for (pass = 0; pass < passes && atomic64_read(&dm->in_use) > 0; pass++) {
		before = moved;
		/*
		 * Through the mirrored address spaces first, their VMAs held;
		 * a walk costs a batch per 2 MiB of each faulted-in anonymous
		 * VMA, so with the chunk walk behind it only the first passes
		 * take it.
		 */
		if (pass < 2 || !chunks)
			moved += hp_evict_mirrored(dm);
		/*
		 * Then pages no mirrored mm maps (a forked child's, say),
		 * through the pagemap: migrate_device_range() pins no
		 * anon_vma, so not while a mirrored mm is being torn down (its
		 * pages go with it; KASAN saw rmap_walk_anon read a freed
		 * anon_vma when an opener was killed during an unbind). The
		 * passes wait for it.
		 */
		n = chunks && !hp_mirrored_mm_exiting(dm) ? hp_nr_chunks(dm) : 0;
		for (i = 0; i < n && atomic64_read(&dm->in_use) > 0; i++) {
			ret = hp_evict_chunk(dm->chunks[i]);
			if (ret > 0)
				moved += ret;
		}
		if (atomic64_read(&dm->in_use) <= 0)
			break;
		if (!chunks && moved == before && ++idle >= 2 && pass >= 3)
			break;
		if (moved != before)
			idle = 0;
		/* pages in flight (locked) or freed concurrently: look again */
		if (pass > 2)
			msleep(pass < 10 ? 1 : 10);
		else
			cond_resched();
	}
	up_write(&dm->evict_sem);
	if (!chunks)
		return moved;
	return atomic64_read(&dm->in_use) ? -EBUSY : moved;
}

/**
 * hmm_p2p_devmem_evict() - move every page of @dm back to system memory
 * @dm: device memory
 *
 * Pages of every process are moved, wherever they are mapped: those of the
 * address spaces @dm's mirrors mirror through those address spaces (their
 * mmap lock held, so the VMAs stay), the rest through the pagemap
 * (migrate_device_range(), which pins no anon_vma: a process that is not
 * mirrored, a forked child, must not munmap the pages while they move; a
 * kernel gap, see the README). No page moves to @dm meanwhile. Pages that
 * are busy (locked by a migration in flight, pinned) are retried for about a
 * second. Must not be called with a mirror lock or an mmap lock held.
 *
 * Return: the number of pages moved, or -EBUSY if some stayed on the device.
 */
long hmm_p2p_devmem_evict(struct hmm_p2p_devmem *dm)
{
	return hp_devmem_evict(dm, 100, true);
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_evict);

/**
 * hmm_p2p_devmem_evict_mirrored() - move @dm's pages home from the address
 *	spaces its mirrors mirror
 * @dm: device memory
 *
 * What a user of the device may ask for at any time (a release command, the
 * close of a file): every page of @dm mapped in an address space that one
 * of @dm's mirrors follows moves back to system memory, through that address
 * space (its users and mmap lock held, so its VMAs and anon_vmas stay while
 * the pages move). Pages that only other processes map (a forked child that
 * opened no file of the device) stay: moving them through the pagemap is
 * hmm_p2p_devmem_evict()'s, which only the device's removal may use, since
 * migrate_device_range() pins no anon_vma and such a process may exit while
 * its pages move. Busy pages (a migration in flight) are retried for a few
 * passes. No page moves to @dm meanwhile. Must not be called with a mirror
 * lock or an mmap lock held.
 *
 * Return: the number of pages moved (pages may stay: see above).
 */
long hmm_p2p_devmem_evict_mirrored(struct hmm_p2p_devmem *dm)
{
	return hp_devmem_evict(dm, 20, false);
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_evict_mirrored);

#define HP_DESTROY_TRIES	3	/* evictions (about a second each) before orphaning */

/* Unregister the pagemaps and free @dm: no page of it is in use. */
static void hp_devmem_free(struct hmm_p2p_devmem *dm)
{
	unsigned int i;

	for (i = 0; i < dm->nr_chunks; i++) {
		memunmap_pages(&dm->chunks[i]->pgmap);
		hp_chunk_release(dm->chunks[i]);
	}
	cleanup_srcu_struct(&dm->srcu);
	kfree(dm->chunks);
	kfree(dm);
}

static void hp_devmem_reap(struct work_struct *work)
{
	struct hmm_p2p_devmem *dm = container_of(work, struct hmm_p2p_devmem, reap);

	pr_info("hmm_p2p: %s: the last pinned page was freed; its memory is unregistered\n",
		dm->name);
	hp_devmem_free(dm);
	module_put(THIS_MODULE);
}

/* The first pinned page of @dm, for the log. */
static unsigned long hp_first_busy_pfn(struct hmm_p2p_devmem *dm, int *refs)
{
	unsigned long pfn;
	unsigned int i;

	for (i = 0; i < dm->nr_chunks; i++) {
		struct hp_chunk *chunk = dm->chunks[i];

		for (pfn = chunk->pfn_first; pfn < chunk->pfn_first + chunk->npages; pfn++) {
			*refs = page_ref_count(pfn_to_page(pfn));
			if (*refs)
				return pfn;
		}
	}
	return 0;
}

/*
 * Leave @dm to its pinned pages: see hmm_p2p_devmem_destroy(). The driver
 * is still there while this runs, so its backing can be released here.
 */
static void hp_devmem_orphan(struct hmm_p2p_devmem *dm)
{
	unsigned int i;
	unsigned long pfn;
	int refs = 0;

	/* a bias on in_use: the reaper runs only after this is done */
	atomic64_inc(&dm->in_use);
	pfn = hp_first_busy_pfn(dm, &refs);
	pr_warn("hmm_p2p: %s: %lld pages stay pinned (first pfn %#lx, %d references): its memory stays registered, and hmm_p2p loaded, until they are freed\n",
		dm->name, (long long)atomic64_read(&dm->in_use) - 1, pfn, refs);
	__module_get(THIS_MODULE);
	WRITE_ONCE(dm->orphaned, true);
	/* the driver's ops that were running when it was set are done */
	synchronize_srcu(&dm->srcu);
	for (i = 0; i < dm->nr_chunks; i++) {
		struct hp_chunk *chunk = dm->chunks[i];

		/* no mirror may take these pages for its own any more */
		WRITE_ONCE(chunk->pgmap.owner, chunk);

		if (dm->desc.ops->chunk_fini && chunk->backend)
			dm->desc.ops->chunk_fini(dm, chunk->backend, chunk->npages);
		chunk->backend = NULL;
	}
	/* whoever takes in_use to zero (the bias, or the last page) reaps */
	if (!atomic64_dec_return(&dm->in_use))
		queue_work(hp_wq, &dm->reap);
}

/**
 * hmm_p2p_devmem_shutdown() - stop allocating and move every page home
 * @dm: device memory
 *
 * The first half of hmm_p2p_devmem_destroy(), for drivers whose teardown
 * must evict while their mirrors still exist (eviction walks the mirrored
 * address spaces): no device page is allocated after this, the failure
 * injection points leave debugfs and all but fail_sys_thp are disarmed,
 * peers' P2P mappings of @dm's pages count as "peer gone" when they are
 * dropped, and every page is moved to system memory.
 *
 * Return: as hmm_p2p_devmem_evict().
 */
long hmm_p2p_devmem_shutdown(struct hmm_p2p_devmem *dm)
{
	mutex_lock(&dm->grow_lock);
	WRITE_ONCE(dm->dying, true);
	mutex_unlock(&dm->grow_lock);
	hp_inject_shutdown(dm);
	/*
	 * CPU faults handed to workers (migrate.c) finish before we go on;
	 * the barrier orders dying before the count (see hp_fault_defer()).
	 */
	smp_mb();
	wait_var_event(&dm->fault_works, !atomic_read(&dm->fault_works));
	return hmm_p2p_devmem_evict(dm);
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_shutdown);

/**
 * hmm_p2p_devmem_destroy() - evict everything and unregister the memory
 * @dm: device memory, or NULL
 *
 * Moves every device page back to system memory, then removes the pagemaps
 * and releases the physical ranges. No mirror of @dm may exist any more.
 *
 * Bounded: pages that stay busy for a few seconds are pinned (a coherent page
 * spliced into a pipe, say) and cannot come home until their holder lets go.
 * Then @dm is orphaned: the driver's ops are never called again (its chunk
 * backing is released now; a CPU fault on a device-private page still there
 * gets SIGBUS), the pagemaps stay registered and hold a reference to
 * hmm_p2p.ko (whose rmmod fails with -EBUSY meanwhile), the log says what is
 * pinned, and a worker unregisters them when the last page is freed. The
 * driver may go away at once.
 */
void hmm_p2p_devmem_destroy(struct hmm_p2p_devmem *dm)
{
	int tries;

	if (!dm)
		return;
	hmm_p2p_devmem_shutdown(dm);
	for (tries = 0; tries < HP_DESTROY_TRIES && hmm_p2p_devmem_evict(dm) < 0; tries++)
		pr_warn_ratelimited("hmm_p2p: %s: %lld pages still busy, retrying\n",
				    dm->name, (long long)atomic64_read(&dm->in_use));
	if (atomic64_read(&dm->in_use) > 0) {
		hp_devmem_orphan(dm);
		return;
	}
	hp_devmem_free(dm);
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_destroy);

/**
 * hmm_p2p_devmem_priv() - the driver data given at creation
 * @dm: device memory
 *
 * Return: &hmm_p2p_devmem_desc.priv.
 */
void *hmm_p2p_devmem_priv(struct hmm_p2p_devmem *dm)
{
	return dm->desc.priv;
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_priv);

/**
 * hmm_p2p_devmem_owner() - the pagemap owner of @dm
 * @dm: device memory
 *
 * Return: the owner cookie every chunk of @dm is registered with.
 */
void *hmm_p2p_devmem_owner(struct hmm_p2p_devmem *dm)
{
	return dm->desc.owner;
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_owner);

/**
 * hmm_p2p_devmem_type() - the memory type of @dm
 * @dm: device memory
 *
 * Return: HMM_P2P_MEM_PRIVATE or HMM_P2P_MEM_COHERENT.
 */
enum hmm_p2p_mem_type hmm_p2p_devmem_type(struct hmm_p2p_devmem *dm)
{
	return dm->desc.type;
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_type);

/**
 * hmm_p2p_devmem_capacity() - bytes of device memory @dm may use
 * @dm: device memory
 *
 * Return: chunk size times the chunk limit.
 */
u64 hmm_p2p_devmem_capacity(struct hmm_p2p_devmem *dm)
{
	return dm->desc.chunk_size * dm->desc.max_chunks;
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_capacity);

/**
 * hmm_p2p_devmem_thp() - does @dm hand out 2 MiB device folios?
 * @dm: device memory
 *
 * Return: true when asked for and supported by the running kernel.
 */
bool hmm_p2p_devmem_thp(struct hmm_p2p_devmem *dm)
{
	return dm->thp;
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_thp);

static u64 hp_read_stat(atomic64_t *v, bool reset)
{
	return reset ? atomic64_xchg(v, 0) : atomic64_read(v);
}

/**
 * hmm_p2p_devmem_stats() - read (and optionally reset) the counters
 * @dm: device memory
 * @st: out: the counters
 * @reset: zero the event counters after reading them
 */
void hmm_p2p_devmem_stats(struct hmm_p2p_devmem *dm, struct hmm_p2p_devmem_stats *st,
			  bool reset)
{
	unsigned int n = hp_nr_chunks(dm);

	st->migrated_to_dev = hp_read_stat(&dm->st_to_dev, reset);
	st->migrated_to_sys = hp_read_stat(&dm->st_to_sys, reset);
	st->cpu_faults = hp_read_stat(&dm->st_cpu_faults, reset);
	st->evicted = hp_read_stat(&dm->st_evicted, reset);
	st->thp_migrated = hp_read_stat(&dm->st_thp, reset);
	st->alloc_failures = hp_read_stat(&dm->st_alloc_fail, reset);
	st->mirror_faults = hp_read_stat(&dm->st_mirror_faults, reset);
	st->invalidations = hp_read_stat(&dm->st_invalidations, reset);
	st->cpu_faults_for_mirrors = hp_read_stat(&dm->st_cpu_faults_for_mirrors, reset);
	st->p2p_mappings = hp_read_stat(&dm->st_p2p_maps, reset);
	st->p2p_fallback_no_path = hp_read_stat(&dm->st_p2p_no_path, reset);
	st->p2p_fallback_write = hp_read_stat(&dm->st_p2p_write, reset);
	st->p2p_fallback_gone = hp_read_stat(&dm->st_p2p_gone, reset);
	st->migrated_from_peer = hp_read_stat(&dm->st_from_peer, reset);
	st->bounced = hp_read_stat(&dm->st_bounced, reset);
	st->mirror_seq_retries = hp_read_stat(&dm->st_seq_retries, reset);
	st->mirror_busy_retries = hp_read_stat(&dm->st_busy_retries, reset);
	st->mirror_fault_timeouts = hp_read_stat(&dm->st_fault_timeouts, reset);
	st->mirror_fault_max_ns = hp_read_stat(&dm->st_fault_max_ns, reset);
	st->pages_in_use = atomic64_read(&dm->in_use);
	st->chunks = n;
	st->pages_total = (u64)n * (dm->desc.chunk_size >> PAGE_SHIFT);
}
EXPORT_SYMBOL_GPL(hmm_p2p_devmem_stats);
