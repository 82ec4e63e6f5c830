/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_p2p: structures shared by the library's own files. Not for drivers.
 */
#ifndef _HMM_P2P_INTERNAL_H
#define _HMM_P2P_INTERNAL_H

#include <linux/spinlock.h>
#include <linux/atomic.h>
#include <linux/memremap.h>
#include <linux/list.h>
#include <linux/rwsem.h>
#include <linux/workqueue.h>
#include <linux/srcu.h>
#include <linux/fault-inject.h>
#include "hmm_p2p.h"
#include "hmm_p2p_compat.h"

#define HP_PMD_ORDER	(PMD_SHIFT - PAGE_SHIFT)
#define HP_PMD_NR	BIT(HP_PMD_ORDER)

/*
 * A 2 MiB aligned block of a chunk's pages (fewer at a chunk's unaligned
 * edges). A block is wholly free (on the chunk's huge list: a 2 MiB device
 * folio can be cut from it), partly free (on the partial list: its free
 * pages are linked through page->zone_device_data, which a free page does
 * not otherwise use), or full (on no list). A 4 KiB allocation takes from a
 * partial block before it breaks a free one; when the last page of a block
 * comes back, the block is whole again.
 */
struct hp_block {
	struct list_head link;
	struct page *free;		/* partial: free single pages */
	unsigned int nr_free;		/* partial: how many */
	unsigned int npages;		/* pages in the block */
	u8 state;			/* HP_BLOCK_* */
};

enum {
	HP_BLOCK_FULL = 0,
	HP_BLOCK_PARTIAL,
	HP_BLOCK_HUGE,
};

/* A chunk: one pagemap and its blocks. */
struct hp_chunk {
	struct dev_pagemap pgmap;
	struct hmm_p2p_devmem *dm;
	struct resource *res;		/* private: the region we requested */
	unsigned long pfn_first;
	unsigned long npages;
	void *backend;			/* ops->chunk_init() data */

	spinlock_t lock;		/* protects the blocks and lists below */
	struct hp_block *blocks;
	unsigned long nr_blocks;
	struct list_head partial;
	struct list_head huge;
	atomic_long_t in_use;		/* pages allocated from this chunk */
};

/*
 * Failure injection points of the library (fault_attr, see devmem.c), in
 * debugfs at hmm_p2p/<devmem name>/<point name>:
 * @HP_INJ_SYS_PAGE: fail_sys_page: system page allocation for migration back
 * @HP_INJ_SYS_THP: fail_sys_thp: only the 2 MiB system folio for a 2 MiB
 *	device folio coming back (the move falls back to 4 KiB pages); unlike
 *	@HP_INJ_SYS_PAGE it stays armed through hmm_p2p_devmem_shutdown(),
 *	since no THP is a condition an eviction must survive
 */
enum hp_inject_point {
	HP_INJ_SYS_PAGE = 0,
	HP_INJ_SYS_THP,
	HP_INJ_NR,
};

struct hmm_p2p_devmem {
	struct hmm_p2p_devmem_desc desc;
	char name[32];
	bool thp;

	struct mutex grow_lock;		/* serialises chunk growth and removal */
	struct hp_chunk **chunks;	/* desc.max_chunks slots */
	unsigned int nr_chunks;		/* published with smp_store_release */
	atomic_t hint;			/* where the next allocation looks first */
	bool dying;

	atomic64_t in_use;		/* device pages allocated */
	atomic64_t st_to_dev, st_to_sys, st_cpu_faults, st_evicted, st_thp;
	atomic64_t st_alloc_fail, st_mirror_faults, st_invalidations;
	atomic64_t st_cpu_faults_for_mirrors, st_p2p_maps, st_p2p_no_path, st_p2p_write;
	atomic64_t st_p2p_gone;
	/* hmm_p2p_migrate_to_device() with HMM_P2P_MIG_PEERS */
	atomic64_t st_from_peer, st_bounced;
	/* mirror fault retries (the importer's view of an invalidation storm) */
	atomic64_t st_seq_retries, st_busy_retries, st_fault_timeouts, st_fault_max_ns;

#ifdef CONFIG_FAULT_INJECTION
	struct fault_attr inject[HP_INJ_NR];
#endif
	struct dentry *debugfs;		/* hmm_p2p/<name>/ (debugfs.c), or NULL */

	struct mutex mirrors_lock;	/* protects mirrors */
	struct list_head mirrors;	/* struct hmm_p2p_mirror.dm_link */
	/*
	 * Held for reading while pages move to the device, for writing by
	 * an eviction: no new device page appears while one runs.
	 */
	struct rw_semaphore evict_sem;

	/*
	 * Destroyed with pages still pinned: the driver is gone, the pagemap
	 * stays (with a reference to this module) until the last page is
	 * freed, then @reap unregisters it. Every call of the driver's ops
	 * that may come after the destroy (the free callback's free_backing, a
	 * CPU fault's copy_to_sys) checks @orphaned inside an @srcu read
	 * section; the orphaning waits for them before the driver goes.
	 */
	struct srcu_struct srcu;
	bool orphaned;
	struct work_struct reap;

	atomic_t fault_works;		/* CPU faults handed to workers (migrate.c) */
	/* a page non-retryable faults keep failing to move, since when */
	unsigned long stuck_pfn, stuck_since;
};

/* core.c */
extern struct workqueue_struct *hp_wq;
extern struct dentry *hp_debugfs;

/* devmem.c */
struct page *hp_alloc_device_page(struct hmm_p2p_devmem *dm, unsigned int order);
bool hp_inject_fail(struct hmm_p2p_devmem *dm, enum hp_inject_point point);
const char *hp_inject_name(enum hp_inject_point point);
struct hp_chunk *hp_page_chunk(struct page *page);

/* debugfs.c */
void hp_debugfs_devmem_init(struct hmm_p2p_devmem *dm);

/* p2p.c */
/* What the current task faults for (p2p.c: hp_p2p_ctx_enter()). */
struct hp_fault_ctx {
	struct list_head link;		/* on the overflow list (slot < 0) */
	struct task_struct *task;
	struct hmm_p2p_devmem *dm;	/* the mirror's devmem */
	struct hp_fault_ctx *outer;	/* the task's enclosing context, or NULL */
	int slot;			/* table slot, or -1: on the overflow list */
	bool stuck;	/* a page stayed busy: the fault failed (hp_fault_stuck()) */
};

bool hp_p2p_wanted(const struct hmm_p2p_entry *e);
struct page *hp_p2p_backing(struct page *page, struct hmm_p2p_devmem **peer);
int hp_p2p_map(struct hmm_p2p_mirror *mirror, struct hmm_p2p_entry *e, void **cookie);
void hp_p2p_unmap(struct hmm_p2p_mirror *mirror, void *cookie);
dma_addr_t hp_p2p_dma(void *cookie, u8 *flags);
void hp_p2p_ctx_enter(struct hp_fault_ctx *ctx, struct hmm_p2p_mirror *mirror);
void hp_p2p_ctx_exit(struct hp_fault_ctx *ctx);
void hp_p2p_remote_fault(struct hmm_p2p_devmem *dm, unsigned long nr);
void hp_p2p_ctx_stuck(void);
bool hp_p2p_ctx_current(void);

/* migrate.c */
vm_fault_t hp_migrate_to_ram(struct vm_fault *vmf);
long hp_evict_chunk(struct hp_chunk *chunk);
long hp_evict_mm(struct hmm_p2p_devmem *dm, struct mm_struct *mm);

/* mirror.c */
long hp_evict_mirrored(struct hmm_p2p_devmem *dm);
bool hp_mirrored_mm_exiting(struct hmm_p2p_devmem *dm);

/* twostep.c: mirror mappings in 2 MiB windows of the two-step DMA API */
#define HP_WIN_ORDER	HP_PMD_ORDER
#define HP_WIN_NR	HP_PMD_NR

struct hp_win;

/**
 * struct hp_map_ctx - one mirror round's two-step mapping state
 * @spare: windows allocated before the mirror lock was taken
 * @run_win: window of the links not yet synced, or NULL
 * @run_first: their first slot
 * @run_n: how many
 * @link_phys: the run's last @link_n pages are not linked yet: from here
 * @link_n: how many
 * @unrun_win: window of the plain links whose unlink is pending, or NULL
 * @unrun_first: their first slot
 * @unrun_n: how many
 * @refused: the device needs DMA syncs: no window may exist
 * @last: the window looked up last (valid while the mirror lock is held)
 * @p2p: hmm_dma_map_pfn()'s P2P lookup state
 */
struct hp_map_ctx {
	struct hp_win *spare[2];
	struct hp_win *run_win;
	unsigned int run_first, run_n;
	phys_addr_t link_phys;
	unsigned int link_n;
	struct hp_win *unrun_win;
	unsigned int unrun_first, unrun_n;
	bool refused;
	struct hp_win *last;
	struct hp_p2p_state p2p;
};

/*
 * Called only for a two-step mirror (hp_twostep()), which 6.12 never has:
 * there the calls compile away and twostep.c is empty.
 */
int hp_win_prepare(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c,
		   unsigned long start, unsigned long end);
int hp_win_install(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c);
void hp_win_discard(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c);
int hp_win_map(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c, unsigned long idx,
	       struct hmm_p2p_entry *e);
int hp_win_sync(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c);
void hp_win_unmap(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c, unsigned long idx);
void hp_win_unmap_flush(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c);
void hp_win_trim(struct hmm_p2p_mirror *mirror, struct hp_map_ctx *c, unsigned long start,
		 unsigned long end);
bool hp_win_lookup(struct hmm_p2p_mirror *mirror, unsigned long idx, dma_addr_t *dma,
		   u8 *flags);
void hp_win_fini(struct hmm_p2p_mirror *mirror);

static inline bool hp_twostep(const struct hmm_p2p_mirror *mirror)
{
	return HP_TWOSTEP && mirror->twostep;
}

#endif /* _HMM_P2P_INTERNAL_H */
