/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_p2p tracepoints (tracefs: events/hmm_p2p/). Each event names the
 * devmem it is about by its name (dm->name, the device node's name for the
 * test devices), never by a pointer. Disabled, an event costs its static
 * branch: whatever only an event needs is computed in its TP_fast_assign()
 * or behind trace_*_enabled().
 *
 * hmm_p2p_migrate_batch	one batch of a migration (migrate.c)
 * hmm_p2p_cpu_fault		a CPU fault on a device page, its fault-around
 * hmm_p2p_mirror_fault		one mirror fault round (<= 2 MiB, mirror.c)
 * hmm_p2p_mirror_retry		... redone: why
 * hmm_p2p_invalidate		a mirror invalidation dropping entries
 * hmm_p2p_p2p_map		a P2P mapping attempt and its verdict
 * hmm_p2p_p2p_fallback		a peer's page that went to system memory (why)
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hmm_p2p

#ifndef _HMM_P2P_TRACE_DEFS
#define _HMM_P2P_TRACE_DEFS
#include <linux/migrate.h>
#include <linux/mmu_notifier.h>
#include <linux/ktime.h>
#include <linux/string.h>
#include "internal.h"

/* hmm_p2p_cpu_fault: which path moved the page */
enum hp_trace_fault {
	HP_TR_FAULT_PAGE,	/* the faulting page (or its folio) alone */
	HP_TR_FAULT_AROUND,	/* the aligned window around a 4 KiB page */
	HP_TR_FAULT_WORKER,	/* a PMD-mapped folio, moved by a worker */
};

/* hmm_p2p_p2p_map: what the DMA API made of the P2P page */
enum hp_trace_p2p {
	HP_TR_P2P_BUS,		/* a bus address: through the switch */
	HP_TR_P2P_HOST,		/* the host bridge routes it, address untranslated */
	HP_TR_P2P_IOVA,		/* the host bridge, through the IOMMU */
	HP_TR_P2P_REFUSED,	/* no path (or no P2P memory behind the page) */
	HP_TR_P2P_GONE,		/* the peer is going away */
};

/* hmm_p2p_p2p_fallback: why a peer's page went to system memory */
enum hp_trace_fallback {
	HP_TR_FB_NO_PATH,
	HP_TR_FB_WRITE,
	HP_TR_FB_GONE,
};

/* hmm_p2p_mirror_retry: why a fault round is done again */
enum hp_trace_retry {
	HP_TR_RETRY_BUSY,	/* hmm_range_fault() said -EBUSY */
	HP_TR_RETRY_SEQ,	/* invalidated between the fault and the commit */
	HP_TR_RETRY_WRITE,	/* a read-only page of ours moved home to be written */
};

/* trace.c: for the events' TP_fast_assign() only */
unsigned long hp_trace_collected(const unsigned long *src, unsigned long npages);
unsigned int hp_trace_thp(const unsigned long *dst, unsigned long npages);
unsigned long hp_trace_first_pfn(const unsigned long *src, unsigned long npages);

/* Which of @dm's fallback counters @counter is (inline: sunk into the event's branch). */
static inline enum hp_trace_fallback hp_trace_why(const struct hmm_p2p_devmem *dm,
						  const atomic64_t *counter)
{
	if (counter == &dm->st_p2p_gone)
		return HP_TR_FB_GONE;
	if (counter == &dm->st_p2p_write)
		return HP_TR_FB_WRITE;
	return HP_TR_FB_NO_PATH;
}
#endif /* _HMM_P2P_TRACE_DEFS */

#if !defined(_HMM_P2P_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _HMM_P2P_TRACE_H

#include <linux/tracepoint.h>

#define HP_TR_NAME	32	/* sizeof(dm->name) */

TRACE_DEFINE_ENUM(MMU_NOTIFY_UNMAP);
TRACE_DEFINE_ENUM(MMU_NOTIFY_CLEAR);
TRACE_DEFINE_ENUM(MMU_NOTIFY_PROTECTION_VMA);
TRACE_DEFINE_ENUM(MMU_NOTIFY_PROTECTION_PAGE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_SOFT_DIRTY);
TRACE_DEFINE_ENUM(MMU_NOTIFY_RELEASE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_MIGRATE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_EXCLUSIVE);
TRACE_DEFINE_ENUM(HP_TR_FAULT_PAGE);
TRACE_DEFINE_ENUM(HP_TR_FAULT_AROUND);
TRACE_DEFINE_ENUM(HP_TR_FAULT_WORKER);
TRACE_DEFINE_ENUM(HP_TR_P2P_BUS);
TRACE_DEFINE_ENUM(HP_TR_P2P_HOST);
TRACE_DEFINE_ENUM(HP_TR_P2P_IOVA);
TRACE_DEFINE_ENUM(HP_TR_P2P_REFUSED);
TRACE_DEFINE_ENUM(HP_TR_P2P_GONE);
TRACE_DEFINE_ENUM(HP_TR_FB_NO_PATH);
TRACE_DEFINE_ENUM(HP_TR_FB_WRITE);
TRACE_DEFINE_ENUM(HP_TR_FB_GONE);
TRACE_DEFINE_ENUM(HP_TR_RETRY_BUSY);
TRACE_DEFINE_ENUM(HP_TR_RETRY_SEQ);
TRACE_DEFINE_ENUM(HP_TR_RETRY_WRITE);

/*
 * One batch of a migration, between migrate_vma_pages() and finalize:
 * @collected pages were set up (0 when the event was enabled mid-batch),
 * @moved moved (2 MiB folios as 512), @thp of them as 2 MiB folios; @ns
 * since the batch was set up (its destinations started). A batch of the
 * pagemap walk of an eviction has no address: @pfn is its first page's.
 */
TRACE_EVENT(hmm_p2p_migrate_batch,
	    TP_PROTO(const struct hmm_p2p_devmem *dm, bool to_dev, bool evict,
		     const struct migrate_vma *a, unsigned long moved, u64 t0,
		     unsigned long collected),
	    TP_ARGS(dm, to_dev, evict, a, moved, t0, collected),
	    TP_STRUCT__entry(__array(char, dev, HP_TR_NAME)
			     __field(unsigned long, addr)
			     __field(unsigned long, pfn)
			     __field(unsigned long, npages)
			     __field(unsigned long, collected)
			     __field(unsigned long, moved)
			     __field(u64, ns)
			     __field(unsigned int, thp)
			     __field(u8, to_dev)
			     __field(u8, evict)),
	    TP_fast_assign(strscpy(__entry->dev, dm->name, HP_TR_NAME);
			   __entry->addr = a->vma ? a->start : 0;
			   __entry->pfn = hp_trace_first_pfn(a->src, a->npages);
			   __entry->npages = a->npages;
			   __entry->collected = t0 ? collected : 0;
			   __entry->moved = moved;
			   __entry->ns = t0 ? ktime_get_ns() - t0 : 0;
			   __entry->thp = hp_trace_thp(a->dst, a->npages);
			   __entry->to_dev = to_dev;
			   __entry->evict = evict;),
	    TP_printk("%s %s%s addr=%#lx pfn=%#lx npages=%lu collected=%lu moved=%lu thp=%u ns=%llu",
		      __entry->dev, __entry->to_dev ? "to_dev" : "to_sys",
		      __entry->evict ? " evict" : "", __entry->addr, __entry->pfn,
		      __entry->npages, __entry->collected, __entry->moved, __entry->thp,
		      __entry->ns)
);

/* A CPU fault on a device page of @dm: what moved (fault-around included). */
TRACE_EVENT(hmm_p2p_cpu_fault,
	    TP_PROTO(const struct hmm_p2p_devmem *dm, unsigned long addr, unsigned int order,
		     enum hp_trace_fault kind, unsigned long moved, int ret),
	    TP_ARGS(dm, addr, order, kind, moved, ret),
	    TP_STRUCT__entry(__array(char, dev, HP_TR_NAME)
			     __field(unsigned long, addr)
			     __field(unsigned long, moved)
			     __field(unsigned int, order)
			     __field(unsigned int, kind)
			     __field(int, ret)),
	    TP_fast_assign(strscpy(__entry->dev, dm->name, HP_TR_NAME);
			   __entry->addr = addr;
			   __entry->moved = moved;
			   __entry->order = order;
			   __entry->kind = kind;
			   __entry->ret = ret;),
	    TP_printk("%s addr=%#lx order=%u %s moved=%lu ret=%d", __entry->dev, __entry->addr,
		      __entry->order,
		      __print_symbolic(__entry->kind, { HP_TR_FAULT_PAGE, "page" },
				       { HP_TR_FAULT_AROUND, "around" },
				       { HP_TR_FAULT_WORKER, "worker" }),
		      __entry->moved, __entry->ret)
);

/* One round of a mirror's fault (hmm_range_fault() and the commit). */
TRACE_EVENT(hmm_p2p_mirror_fault,
	    TP_PROTO(const struct hmm_p2p_devmem *dm, unsigned long start, unsigned long end,
		     unsigned int flags, int ret, u64 t0),
	    TP_ARGS(dm, start, end, flags, ret, t0),
	    TP_STRUCT__entry(__array(char, dev, HP_TR_NAME)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(u64, ns)
			     __field(unsigned int, flags)
			     __field(int, ret)),
	    TP_fast_assign(strscpy(__entry->dev, dm->name, HP_TR_NAME);
			   __entry->start = start;
			   __entry->end = end;
			   __entry->ns = ktime_get_ns() - t0;
			   __entry->flags = flags;
			   __entry->ret = ret;),
	    TP_printk("%s %#lx-%#lx flags=%#x ret=%d ns=%llu", __entry->dev, __entry->start,
		      __entry->end, __entry->flags, __entry->ret, __entry->ns)
);

TRACE_EVENT(hmm_p2p_mirror_retry,
	    TP_PROTO(const struct hmm_p2p_devmem *dm, unsigned long start, unsigned long end,
		     enum hp_trace_retry why),
	    TP_ARGS(dm, start, end, why),
	    TP_STRUCT__entry(__array(char, dev, HP_TR_NAME)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(unsigned int, why)),
	    TP_fast_assign(strscpy(__entry->dev, dm->name, HP_TR_NAME);
			   __entry->start = start;
			   __entry->end = end;
			   __entry->why = why;),
	    TP_printk("%s %#lx-%#lx %s", __entry->dev, __entry->start, __entry->end,
		      __print_symbolic(__entry->why, { HP_TR_RETRY_BUSY, "busy" },
				       { HP_TR_RETRY_SEQ, "seq" },
				       { HP_TR_RETRY_WRITE, "write" }))
);

/* A mirror of @dm drops the entries of an invalidated range. */
TRACE_EVENT(hmm_p2p_invalidate,
	    TP_PROTO(const struct hmm_p2p_devmem *dm, const struct hmm_p2p_inval *inv),
	    TP_ARGS(dm, inv),
	    TP_STRUCT__entry(__array(char, dev, HP_TR_NAME)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(unsigned int, event)
			     __field(u8, blockable)),
	    TP_fast_assign(strscpy(__entry->dev, dm->name, HP_TR_NAME);
			   __entry->start = inv->start;
			   __entry->end = inv->end;
			   __entry->event = inv->event;
			   __entry->blockable = inv->blockable;),
	    TP_printk("%s %#lx-%#lx %s%s", __entry->dev, __entry->start, __entry->end,
		      __print_symbolic(__entry->event, { MMU_NOTIFY_UNMAP, "unmap" },
				       { MMU_NOTIFY_CLEAR, "clear" },
				       { MMU_NOTIFY_PROTECTION_VMA, "protection_vma" },
				       { MMU_NOTIFY_PROTECTION_PAGE, "protection_page" },
				       { MMU_NOTIFY_SOFT_DIRTY, "soft_dirty" },
				       { MMU_NOTIFY_RELEASE, "release" },
				       { MMU_NOTIFY_MIGRATE, "migrate" },
				       { MMU_NOTIFY_EXCLUSIVE, "exclusive" }),
		      __entry->blockable ? "" : " nonblock")
);

/*
 * A mirror of @dm maps a P2P page (a P2PDMA page, or the one behind a
 * peer's private page: @pfn) for its device: @dma, or @verdict why not.
 * With @copy, a copy job moving a peer's page to @dm does (HMM_P2P_MIG_PEERS:
 * @pfn is the peer's private page when refused); only mirror mappings count
 * in p2p_mappings.
 */
TRACE_EVENT(hmm_p2p_p2p_map,
	    TP_PROTO(const struct hmm_p2p_devmem *dm, unsigned long pfn, dma_addr_t dma,
		     bool copy, enum hp_trace_p2p verdict),
	    TP_ARGS(dm, pfn, dma, copy, verdict),
	    TP_STRUCT__entry(__array(char, dev, HP_TR_NAME)
			     __field(unsigned long, pfn)
			     __field(u64, dma)
			     __field(unsigned int, verdict)
			     __field(u8, copy)),
	    TP_fast_assign(strscpy(__entry->dev, dm->name, HP_TR_NAME);
			   __entry->pfn = pfn;
			   __entry->dma = dma;
			   __entry->verdict = verdict;
			   __entry->copy = copy;),
	    TP_printk("%s pfn=%#lx dma=%#llx %s%s", __entry->dev, __entry->pfn, __entry->dma,
		      __print_symbolic(__entry->verdict, { HP_TR_P2P_BUS, "bus" },
				       { HP_TR_P2P_HOST, "host-bridge" },
				       { HP_TR_P2P_IOVA, "iova" },
				       { HP_TR_P2P_REFUSED, "refused" },
				       { HP_TR_P2P_GONE, "gone" }),
		      __entry->copy ? " copy" : "")
);

/*
 * @pages pages a mirror of @dm found in a peer went to system memory
 * instead of being mapped peer to peer (@addr 0: a fault inside
 * hmm_range_fault(), or a mapping dropped as its peer went).
 */
TRACE_EVENT(hmm_p2p_p2p_fallback,
	    TP_PROTO(const struct hmm_p2p_devmem *dm, enum hp_trace_fallback why,
		     unsigned long addr, unsigned long pages),
	    TP_ARGS(dm, why, addr, pages),
	    TP_STRUCT__entry(__array(char, dev, HP_TR_NAME)
			     __field(unsigned long, addr)
			     __field(unsigned long, pages)
			     __field(unsigned int, why)),
	    TP_fast_assign(strscpy(__entry->dev, dm->name, HP_TR_NAME);
			   __entry->addr = addr;
			   __entry->pages = pages;
			   __entry->why = why;),
	    TP_printk("%s %s addr=%#lx pages=%lu", __entry->dev,
		      __print_symbolic(__entry->why, { HP_TR_FB_NO_PATH, "no_path" },
				       { HP_TR_FB_WRITE, "write" },
				       { HP_TR_FB_GONE, "gone" }),
		      __entry->addr, __entry->pages)
);

#endif /* _HMM_P2P_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>

#ifndef _HMM_P2P_TRACE_HELPERS
#define _HMM_P2P_TRACE_HELPERS
/*
 * A batch is set up: note when, and how many pages it collected, for its
 * hmm_p2p_migrate_batch event (nothing but a store while it is disabled).
 */
static __always_inline void hp_trace_batch_begin(const struct migrate_vma *a, u64 *t0,
						 unsigned long *collected)
{
	*t0 = 0;
	if (trace_hmm_p2p_migrate_batch_enabled()) {
		*t0 = ktime_get_ns();
		*collected = hp_trace_collected(a->src, a->npages);
	}
}
#endif
