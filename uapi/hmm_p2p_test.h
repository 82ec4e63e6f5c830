/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hmm-p2p test device ioctl interface.
 *
 * Commands 0x00-0x3f are the kernel's test_hmm interface (lib/test_hmm_uapi.h),
 * same numbers, same struct layout, same semantics, so the kernel's own
 * tools/testing/selftests/mm/hmm-tests runs unchanged against our devices.
 * Commands 0x40 and up are hmm-p2p extensions.
 */
#ifndef _UAPI_HMM_P2P_TEST_H
#define _UAPI_HMM_P2P_TEST_H

#include <linux/const.h>
#include <linux/types.h>
#include <linux/ioctl.h>

/* ---- upstream-compatible part (layout fixed by lib/test_hmm_uapi.h) ---- */

/*
 * struct hmm_dmirror_cmd - one device access request.
 * @addr:   start of the user range the device acts on (page aligned)
 * @ptr:    user buffer the device copies to or from (for SNAPSHOT: one byte
 *          of HMM_DMIRROR_PROT_* per page)
 * @npages: length of the range in pages
 * @cpages: out: pages the command handled
 * @faults: out: device page faults taken (hmm_range_fault calls)
 */
struct hmm_dmirror_cmd {
	__u64 addr;
	__u64 ptr;
	__u64 npages;
	__u64 cpages;
	__u64 faults;
};

/*
 * The largest range one command takes (cmd.npages): 1 GiB of 4 KiB pages,
 * the capacity of one private device and four times the largest range the
 * kernel's hmm-tests use. Larger ranges get -EINVAL. Every command that walks
 * a range is ended by a fatal signal (-EINTR) within one 2 MiB batch.
 */
#define HMM_P2P_MAX_NPAGES		_BITULL(18)

#define HMM_DMIRROR_READ		_IOWR('H', 0x00, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_WRITE		_IOWR('H', 0x01, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_MIGRATE_TO_DEV	_IOWR('H', 0x02, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_MIGRATE_TO_SYS	_IOWR('H', 0x03, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_SNAPSHOT		_IOWR('H', 0x04, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_EXCLUSIVE		_IOWR('H', 0x05, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_CHECK_EXCLUSIVE	_IOWR('H', 0x06, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_RELEASE		_IOWR('H', 0x07, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_FLAGS		_IOWR('H', 0x08, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_READ_UNLOCKED	_IOWR('H', 0x09, struct hmm_dmirror_cmd)

/* HMM_DMIRROR_FLAGS: cmd.npages carries the flags */
#define HMM_DMIRROR_FLAG_FAIL_ALLOC	_BITULL(0)

/* HMM_DMIRROR_SNAPSHOT: one byte per page in cmd.ptr */
enum {
	HMM_DMIRROR_PROT_ERROR			= 0xFF,
	HMM_DMIRROR_PROT_NONE			= 0x00,
	HMM_DMIRROR_PROT_READ			= 0x01,
	HMM_DMIRROR_PROT_WRITE			= 0x02,
	HMM_DMIRROR_PROT_PMD			= 0x04,
	HMM_DMIRROR_PROT_PUD			= 0x08,
	HMM_DMIRROR_PROT_ZERO			= 0x10,
	HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL	= 0x20,
	HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE	= 0x30,
	HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL	= 0x40,
	HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE	= 0x50,
};

enum {
	HMM_DMIRROR_MEMORY_DEVICE_PRIVATE = 1,
	HMM_DMIRROR_MEMORY_DEVICE_COHERENT,
};

/* ---- hmm-p2p extensions ---- */

/*
 * Page classes, as the device's mirror sees each page of a range
 * (HMM_P2P_IOC_CLASSIFY).
 */
enum hmm_p2p_page_class {
	HMM_P2P_CLASS_NONE = 0,		/* not present, or no access */
	HMM_P2P_CLASS_SYSTEM,		/* ordinary system RAM page */
	HMM_P2P_CLASS_ZERO,		/* the shared zero page */
	HMM_P2P_CLASS_PRIVATE_LOCAL,	/* device-private, this device */
	HMM_P2P_CLASS_PRIVATE_GROUP,	/* device-private, another device of its group */
	HMM_P2P_CLASS_COHERENT,		/* device-coherent (any device) */
	HMM_P2P_CLASS_P2PDMA,		/* PCI P2PDMA (BAR) page */
	HMM_P2P_CLASS_ERROR,		/* hmm_range_fault gave an error */
	HMM_P2P_CLASS_PRIVATE_REMOTE,	/* device-private, of another owner */
};

/*
 * struct hmm_p2p_page_info - what the mirror holds for one page.
 * @class:  enum hmm_p2p_page_class
 * @order:  mapping order hmm_range_fault reported (0 = 4 KiB, 9 = 2 MiB)
 * @prot:   HMM_DMIRROR_PROT_READ / HMM_DMIRROR_PROT_WRITE
 * @flags:  HMM_P2P_PAGE_* below
 * @owner:  device index owning the page (private/coherent), else -1
 */
struct hmm_p2p_page_info {
	__u8 class;
	__u8 order;
	__u8 prot;
	__u8 flags;
	__s32 owner;
};

#define HMM_P2P_PAGE_DMA_MAPPED		_BITUL(0)	/* has a DMA address */
#define HMM_P2P_PAGE_P2P		_BITUL(1)	/* mapped peer to peer */
#define HMM_P2P_PAGE_BUS_ADDR		_BITUL(2)	/* ... at a PCI bus address */

/*
 * struct hmm_p2p_classify_cmd - fault (read-only, no write fault) the range
 * into the device's mirror and report every page.
 * @addr:   start, page aligned
 * @ptr:    user array of @npages struct hmm_p2p_page_info
 * @npages: pages in the range
 * @flags:  HMM_P2P_CLASSIFY_* below
 * @cpages: out: pages reported
 */
struct hmm_p2p_classify_cmd {
	__u64 addr;
	__u64 ptr;
	__u64 npages;
	__u64 flags;
	__u64 cpages;
};

/* Only look: snapshot without faulting missing pages in. */
#define HMM_P2P_CLASSIFY_NOFAULT	_BITULL(0)

/*
 * struct hmm_p2p_stats - per-device counters, since the device was created
 * (or since the last reset). All counts are in 4 KiB pages unless named
 * otherwise. @size is in: the caller's sizeof(); the kernel writes at most
 * that much, and out: the kernel's sizeof().
 */
struct hmm_p2p_stats {
	__u32 size;
	__u32 reset;			/* in: non-zero resets after reading */
	__u64 migrated_to_dev;		/* pages moved system -> device */
	__u64 migrated_to_sys;		/* pages moved device -> system */
	__u64 cpu_faults;		/* migrate_to_ram calls served */
	__u64 cpu_faults_for_mirrors;	/* of those, faults by another mirror */
	__u64 evicted;			/* pages evicted at release/unload */
	__u64 bytes_copied;		/* bytes copied by the device engine */
	__u64 alloc_failures;		/* device page allocations that failed */
	__u64 mirror_faults;		/* hmm_range_fault calls */
	__u64 invalidations;		/* mirror invalidations received */
	__u64 pages_in_use;		/* device pages allocated now */
	__u64 pages_total;		/* device pages registered now */
	__u64 chunks;			/* pagemap chunks registered now */
	__u64 thp_migrated;		/* 2 MiB folios moved (either way) */
	__u64 p2p_mappings;		/* peer pages mapped peer to peer */
	__u64 p2p_bytes;		/* bytes moved peer to peer */
	__u64 p2p_fallback_no_path;	/* peer page migrated: no P2P path */
	__u64 p2p_fallback_write;	/* peer page migrated: write to RO */
	__u64 p2p_fallback_gone;	/* peer page migrated: peer going away */
	__u64 dma_faults;		/* pages failed: a DMA address reached nothing */
	__u64 dma_iommu_faults;		/* of those, addresses the IOMMU did not map */
	/* HMM_P2P_IOC_MIGRATE_PEERS, on the destination device */
	__u64 migrated_from_peer;	/* pages moved device to device, peer to peer */
	__u64 bounced;			/* pages moved through system memory (no path) */
	__u64 reserved[4];
	/*
	 * The mirror as an importer (an ODP-style device whose pages live
	 * elsewhere and keep moving): its faults' retries when invalidations
	 * race them. Appended: a caller built with the struct without them
	 * passes its smaller @size and gets the fields it knows.
	 */
	__u64 mirror_seq_retries;	/* fault rounds redone: invalidated meanwhile */
	__u64 mirror_busy_retries;	/* hmm_range_fault -EBUSY, retried */
	__u64 mirror_fault_timeouts;	/* faults that ran out of retries (1 s) */
	__u64 mirror_fault_max_ns;	/* longest fault round (<= 2 MiB), ns */
	/* HMM_P2P_IOC_PREFETCH */
	__u64 prefetch_pages;		/* pages populated, sync and async */
	__u64 prefetch_async_queued;	/* asynchronous requests queued */
	__u64 prefetch_async_done;	/* ... that populated their whole range */
	__u64 prefetch_async_failed;	/* ... ended by an error or cancelled */
};

/*
 * The device's fault injection points (HMM_P2P_IOC_FAULT_INJECT). @count
 * failures are injected at @point after @skip successful passes; count 0
 * disarms it. An armed point fails every user of the device: the command
 * needs CAP_SYS_ADMIN (-EPERM otherwise), as HMM_P2P_IOC_COPY_BENCH does.
 *
 * The hmm_p2p library's own points are the kernel's fault injection
 * attributes in debugfs (root only), per device memory (named as the
 * device node): /sys/kernel/debug/hmm_p2p/<node name>/fail_sys_page (system
 * page allocation for migration back) and fail_sys_thp (only 2 MiB system
 * folios: the move falls back to 4 KiB pages; stays armed through the
 * device's removal). Each allocation is one unit of "space": writing space
 * N + 1, then times M (-1: for ever) lets N through and fails M; times 0
 * disarms. See Documentation/fault-injection/fault-injection.rst.
 */
enum hmm_p2p_fault_point {
	HMM_P2P_FAULT_ALLOC_PAGE = 0,	/* device page allocation */
	HMM_P2P_FAULT_CHUNK_GROW,	/* registering a new pagemap chunk */
	HMM_P2P_FAULT_COPY_TO_DEV,	/* engine copy system -> device */
	HMM_P2P_FAULT_COPY_TO_SYS,	/* engine copy device -> system */
	/*
	 * The device's DMA engine reads the first page of a unit (a folio or
	 * a page) of a migration to the device at an address outside every
	 * mapping (1 TiB past the one it was given): with an IOMMU the read
	 * faults, the page stays in system memory (stats: dma_faults,
	 * dma_iommu_faults).
	 */
	HMM_P2P_FAULT_DMA_PLANT,
	HMM_P2P_FAULT_NR,
};

struct hmm_p2p_fault_cmd {
	__u32 point;
	__u32 count;
	__u32 skip;
	__u32 pad;
};

/*
 * struct hmm_p2p_info - what a device node is.
 * @index:       device index (the N of /dev/hmm_dmirrorN or the p2p node)
 * @memory_type: HMM_DMIRROR_MEMORY_DEVICE_*
 * @backend:     HMM_P2P_BACKEND_*
 * @owner_group: devices with equal owner_group share a pagemap owner
 * @chunk_size:  bytes per pagemap chunk
 * @max_chunks:  chunk limit
 * @capacity:    bytes of device memory the device may use
 * @flags:       HMM_P2P_INFO_* below
 */
struct hmm_p2p_info {
	__u32 index;
	__u32 memory_type;
	__u32 backend;
	__u32 owner_group;
	__u64 chunk_size;
	__u64 max_chunks;
	__u64 capacity;
	__u64 flags;
	__u64 reserved[4];
};

#define HMM_P2P_BACKEND_SOFT	1	/* kernel pages back device memory */
#define HMM_P2P_BACKEND_SPM	2	/* coherent: a reserved physical range */
#define HMM_P2P_BACKEND_PCI	3	/* a PCI BAR (P2PDMA pool) */

#define HMM_P2P_INFO_THP	_BITULL(0)	/* compound device folios */

/*
 * struct hmm_p2p_copy_bench - time the kernel's own page copy, in the same
 * boot as a migration benchmark, to give migration throughput a ceiling.
 * @npages: in: 4 KiB pages to copy per pass (at most 65536)
 * @passes: in: passes
 * @nsec:   out: total time of all passes
 */
struct hmm_p2p_copy_bench {
	__u64 npages;
	__u64 passes;
	__u64 nsec;
};

#define HMM_P2P_IOC_CLASSIFY	_IOWR('H', 0x40, struct hmm_p2p_classify_cmd)
#define HMM_P2P_IOC_STATS	_IOWR('H', 0x41, struct hmm_p2p_stats)
#define HMM_P2P_IOC_FAULT_INJECT _IOW('H', 0x42, struct hmm_p2p_fault_cmd)
#define HMM_P2P_IOC_INFO	_IOR('H', 0x43, struct hmm_p2p_info)
#define HMM_P2P_IOC_COPY_BENCH	_IOWR('H', 0x44, struct hmm_p2p_copy_bench)

/*
 * struct hmm_p2p_dma_cmd - the device's DMA addresses (HMM_P2P_IOC_DMA).
 * @addr:   HMM_P2P_DMA_LOOKUP: in: user address (page aligned); the page is
 *          faulted (read) into the device's mirror
 * @dma:    LOOKUP: out: the DMA address the mirror mapped for the page (0
 *          when it has none: device-local memory); READ: in: raw address
 * @ptr:    READ: user buffer of one page the device fills from @dma
 * @op:     HMM_P2P_DMA_*
 * @flags:  LOOKUP: out: HMM_P2P_PAGE_* of the page
 * @class:  LOOKUP: out: enum hmm_p2p_page_class
 * @owner:  LOOKUP: out: index of the device owning the memory, else -1
 *
 * READ makes the device's engine read whatever @dma decodes to, as the
 * hardware would (a peer's BAR behind the same switch, else the IOMMU's
 * translation, else the physical address): with an IOMMU, an address that
 * is not mapped for the device fails with EFAULT. Needs CAP_SYS_RAWIO.
 */
struct hmm_p2p_dma_cmd {
	__u64 addr;
	__u64 dma;
	__u64 ptr;
	__u32 op;
	__u32 flags;
	__u32 class;
	__s32 owner;
};

#define HMM_P2P_DMA_LOOKUP	0
#define HMM_P2P_DMA_READ	1

#define HMM_P2P_IOC_DMA		_IOWR('H', 0x45, struct hmm_p2p_dma_cmd)

/*
 * Invalidation observers (HMM_P2P_IOC_OBSERVE). An observer is an interval
 * notifier of the file's own over a range of the opener's address space: it
 * counts the invalidations the kernel sends to every notifier of that range
 * (another driver's too: rdma_rxe's ODP memory regions have no counters of
 * their own), by event. It takes no part in them: it never fails, delays or
 * retries one. A file has at most HMM_P2P_OBS_MAX observers; closing the
 * file removes them.
 *
 * Events (@events[] index). A migration (migrate_vma, either direction) is
 * "own" when its pagemap owner is that of the file's device, else "other".
 */
enum hmm_p2p_obs_event {
	HMM_P2P_OBS_UNMAP = 0,		/* munmap, mremap */
	HMM_P2P_OBS_CLEAR,		/* entries cleared: zap, reclaim, COW... */
	HMM_P2P_OBS_PROTECTION_VMA,	/* mprotect */
	HMM_P2P_OBS_PROTECTION_PAGE,	/* one page's write permission */
	HMM_P2P_OBS_SOFT_DIRTY,		/* soft-dirty tracking */
	HMM_P2P_OBS_RELEASE,		/* the address space is going away */
	HMM_P2P_OBS_MIGRATE_OWN,	/* migrate_vma by the device's owner */
	HMM_P2P_OBS_MIGRATE_OTHER,	/* migrate_vma by another owner */
	HMM_P2P_OBS_EXCLUSIVE,		/* make_device_exclusive */
	HMM_P2P_OBS_OTHER,		/* an event this interface does not know */
	HMM_P2P_OBS_NR,
};

#define HMM_P2P_OBS_EVENTS	12	/* room in @events (the rest read 0) */
#define HMM_P2P_OBS_MAX		4	/* observers per open file */

/*
 * struct hmm_p2p_observe_cmd - start, read or stop an observer.
 * @op:       HMM_P2P_OBS_START, _READ or _STOP
 * @id:       START: out: the observer's id (0 .. HMM_P2P_OBS_MAX - 1);
 *            READ, STOP: in
 * @addr:     START: start of the range, page aligned (else ignored)
 * @npages:   START: pages in the range, as range commands take it
 * @flags:    READ: HMM_P2P_OBS_RESET or 0; START, STOP: 0
 * @pad:      0
 * @calls:    out: invalidations received
 * @nonblock: out: of those, non-blockable ones (from OOM reaping)
 * @pages:    out: pages of the range the invalidations covered, summed
 * @events:   out: invalidations per enum hmm_p2p_obs_event
 *
 * Every op returns the counters (START: all 0; STOP: the last ones).
 */
struct hmm_p2p_observe_cmd {
	__u32 op;
	__u32 id;
	__u64 addr;
	__u64 npages;
	__u32 flags;
	__u32 pad;
	__u64 calls;
	__u64 nonblock;
	__u64 pages;
	__u64 events[HMM_P2P_OBS_EVENTS];
};

#define HMM_P2P_OBS_START	0
#define HMM_P2P_OBS_READ	1
#define HMM_P2P_OBS_STOP	2

#define HMM_P2P_OBS_RESET	_BITUL(0)	/* READ: zero the counters after */

#define HMM_P2P_IOC_OBSERVE	_IOWR('H', 0x47, struct hmm_p2p_observe_cmd)

/*
 * struct hmm_p2p_prefetch_cmd - populate the device's mirror of a range
 * ahead of use (HMM_P2P_IOC_PREFETCH), as ibv_advise_mr() does for an RDMA
 * NIC's on-demand-paging memory region.
 * @addr:   start, page aligned
 * @npages: pages in the range (the range commands' rules)
 * @flags:  HMM_P2P_PREFETCH_* below
 * @pad:    must be 0
 * @cpages: out: pages populated (an asynchronous request: 0)
 *
 * The range is faulted into the mirror as a device READ (with
 * HMM_P2P_PREFETCH_WRITE: a WRITE) would fault it, without moving data
 * through the engine: a later device access of a page the mirror still
 * holds takes no fault. A peer's page is mapped peer to peer where a path
 * exists and migrated to system memory where none does, as for READ.
 * HMM_P2P_PREFETCH_ASYNC queues the request and returns at once; a kernel
 * worker does it, in 2 MiB batches. A file has at most
 * HMM_P2P_PREFETCH_MAX_QUEUED requests queued or running (EBUSY beyond);
 * closing the file or removing the device cancels them (a running one stops
 * at its next batch). Their outcome is in HMM_P2P_IOC_STATS
 * (prefetch_async_queued, _done, _failed).
 */
struct hmm_p2p_prefetch_cmd {
	__u64 addr;
	__u64 npages;
	__u32 flags;
	__u32 pad;
	__u64 cpages;
};

#define HMM_P2P_PREFETCH_WRITE		_BITUL(0)	/* fault for writing */
#define HMM_P2P_PREFETCH_ASYNC		_BITUL(1)	/* queue it, do not wait */
#define HMM_P2P_PREFETCH_MAX_QUEUED	8

#define HMM_P2P_IOC_PREFETCH	_IOWR('H', 0x46, struct hmm_p2p_prefetch_cmd)

/*
 * struct hmm_p2p_job_cmd - a device job that stays in flight
 * (HMM_P2P_IOC_JOB): the device reads or writes a range page by page, on
 * its own thread, through the addresses the mirror gave when the job was
 * set up, as a DMA engine does after its driver has dropped every lock.
 * @addr:     start, page aligned
 * @ptr:      user buffer of @npages pages: the data to write, or where the
 *            pages read land
 * @npages:   pages, 1 to HMM_P2P_JOB_MAX_PAGES
 * @op:       HMM_P2P_JOB_READ or HMM_P2P_JOB_WRITE
 * @delay_us: the device's time per page, at most HMM_P2P_JOB_MAX_DELAY_US
 * @done:     out: pages the device read or wrote, from the first (a READ
 *            fills the first @done pages of @ptr)
 * @fenced_at: out: how many pages were done when an invalidation of the
 *            range fenced the job (the device stops before its next page);
 *            @npages if none did
 * @faults:   out: mirror fault rounds the set-up took
 *
 * The job is set up under the mirror lock (the range is faulted in first,
 * for writing with a WRITE) and then runs without it; an invalidation of
 * any of its pages fences it (the mirror's invalidate ops) and returns only
 * once the device has stopped: no page is read or written after the
 * invalidation returned. The command waits for the job's end.
 */
struct hmm_p2p_job_cmd {
	__u64 addr;
	__u64 ptr;
	__u64 npages;
	__u32 op;
	__u32 delay_us;
	__u64 done;
	__u64 fenced_at;
	__u64 faults;
};

#define HMM_P2P_JOB_READ		0
#define HMM_P2P_JOB_WRITE		1
#define HMM_P2P_JOB_MAX_PAGES		512
#define HMM_P2P_JOB_MAX_DELAY_US	10000

#define HMM_P2P_IOC_JOB		_IOWR('H', 0x48, struct hmm_p2p_job_cmd)

/*
 * HMM_P2P_IOC_MIGRATE_PEERS: move [addr, addr + npages pages) to this
 * device from wherever its pages are: system memory (as MIGRATE_TO_DEV),
 * and, unlike MIGRATE_TO_DEV (which leaves pages on another device, as
 * upstream's does), another device's memory too. A page on a device of this
 * one's P2P group (HMM_P2P_IOC_INFO's p2p_group; the PCI devices behind one
 * switch) moves device to device: this device's engine reads it from the
 * peer's BAR through the address the kernel's P2P verdict gives, no copy in
 * system memory. A page on a device with no P2P path to this one (another
 * group, dmirror0..3) moves through system memory: its device moves it
 * there, then this one takes it. STATS counts both on this device
 * (migrated_from_peer, bounced). Pages that cannot move (device-coherent
 * memory, shared or file pages) stay. @ptr is not used; @cpages returns
 * the pages moved. Errors: the range commands' EINVAL, EFAULT, ENOMEM,
 * EBUSY, and ENODEV (the device is going away), EIO (a copy failed).
 */
#define HMM_P2P_IOC_MIGRATE_PEERS _IOWR('H', 0x49, struct hmm_dmirror_cmd)

/*
 * Errors, per command: every errno a command of this interface returns
 * (hmm_p2p_errno_table below has them as data). A return not in its
 * command's list is a bug of the driver; the fuzzer
 * (selftests/hmm_p2p_fuzz.c) holds every call to these lists. Every command
 * may also return:
 *   ESRCH   the file's opener has exited (its address space is gone)
 *   EINTR   a fatal signal ended the command (it ends within one 2 MiB batch)
 * and an unknown command number or size returns ENOTTY.
 *
 * Range commands (READ, READ_UNLOCKED, WRITE, MIGRATE_*, SNAPSHOT,
 * EXCLUSIVE, CHECK_EXCLUSIVE, CLASSIFY) share:
 *   EINVAL  npages 0 or above HMM_P2P_MAX_NPAGES, addr not page aligned, or
 *           the range not inside user space (a byte count that overflows)
 *   EFAULT  the command structure, the range (no mapping, a mapping the
 *           mirror cannot use: VM_IO/PFNMAP, no read permission) or the
 *           user buffer is not accessible
 *   ENOMEM  no kernel memory for the command's bookkeeping
 *   EBUSY   the range kept being invalidated (hmm_range_fault's retries ran
 *           out), or a page of it stayed busy (being moved) for a second;
 *           try again
 * and each adds:
 *   READ, READ_UNLOCKED: EPERM (hmm_range_fault: not allowed), EIO (a copy
 *           failed: fault injection, a device error), ENODEV (the device or
 *           the page's device is going away), EREMOTEIO (a peer's BAR page
 *           with no P2P path), EOPNOTSUPP (a mapping that needs bounce
 *           buffering: swiotlb)
 *   WRITE:  as READ; EPERM also for a range without write permission
 *   MIGRATE_TO_DEV: ENOENT (pages on another device, as upstream), ENODEV,
 *           EIO, EPERM, EOPNOTSUPP, EREMOTEIO (the data read back)
 *   MIGRATE_TO_SYS: ENODEV
 *   MIGRATE_PEERS: ENODEV, EIO
 *   SNAPSHOT: nothing more
 *   CLASSIFY: EREMOTEIO, EOPNOTSUPP (its fault, as READ's)
 *   EXCLUSIVE: EPERM, ENOENT, EIO, ENODEV, EOPNOTSUPP (not anonymous
 *           memory), EREMOTEIO (the data read back, as READ)
 *   CHECK_EXCLUSIVE: EPERM means "some page is still exclusive"
 * The others:
 *   RELEASE: EFAULT (the command structure). It moves the device's pages
 *           home from every address space a file of the device mirrors;
 *           pages only an unmirrored process maps (a forked child that
 *           opened no device file) stay until the device is removed.
 *   FLAGS:  EFAULT, EINVAL (an unknown flag)
 *   STATS:  EFAULT, EINVAL (size below the end of @reset)
 *   FAULT_INJECT: EPERM (no CAP_SYS_ADMIN), EFAULT, EINVAL (bad point, pad)
 *   INFO:   EFAULT
 *   COPY_BENCH: EPERM (no CAP_SYS_ADMIN), EFAULT, EINVAL (beyond its
 *           limits), ENOMEM
 *   DMA:    as READ; READ needs CAP_SYS_RAWIO (EPERM), and an address the
 *           IOMMU does not map for the device is EFAULT
 *   OBSERVE: EFAULT, EINVAL (an unknown op, flags the op does not take, pad
 *           not 0, id not below HMM_P2P_OBS_MAX, START's range as range
 *           commands check theirs), EBUSY (START: the file has
 *           HMM_P2P_OBS_MAX observers), ENOENT (READ, STOP: no observer
 *           @id), ENOMEM. A STOP whose copy-out fails (EFAULT) has still
 *           removed the observer.
 *   PREFETCH: the range commands' EINVAL (also: an unknown flag, pad not 0),
 *           EFAULT, ENOMEM and EBUSY (also: HMM_P2P_PREFETCH_MAX_QUEUED
 *           asynchronous requests already queued), and as READ's fault:
 *           EPERM (HMM_P2P_PREFETCH_WRITE on read-only memory), EIO,
 *           ENODEV (the device is going away), EREMOTEIO, EOPNOTSUPP. An
 *           asynchronous request returns only the checks' errors; the
 *           fault's are counted (prefetch_async_failed).
 *   JOB:    EINVAL (addr not page aligned, npages 0 or above
 *           HMM_P2P_JOB_MAX_PAGES, an unknown op, delay_us above
 *           HMM_P2P_JOB_MAX_DELAY_US, the range not inside user space),
 *           EFAULT (the command, the buffer, or the range as for READ),
 *           ENOMEM, EBUSY (the range kept being invalidated while the job
 *           was set up), and READ's and WRITE's fault errors: EPERM, EIO,
 *           ENODEV, EREMOTEIO, EOPNOTSUPP. A fenced job is a success
 *           (fenced_at tells).
 */
#ifdef HMM_P2P_WANT_ERRNO_TABLE
/*
 * The lists above as data (a program that wants them defines
 * HMM_P2P_WANT_ERRNO_TABLE and includes <errno.h> first): per command, its
 * errnos besides ESRCH and EINTR, 0-terminated.
 */
struct hmm_p2p_errnos {
	unsigned long cmd;
	int errnos[16];
};

static const struct hmm_p2p_errnos hmm_p2p_errno_table[] = {
	{ HMM_DMIRROR_READ,
	  { EINVAL, EFAULT, ENOMEM, EBUSY, EPERM, EIO, ENODEV, EREMOTEIO, EOPNOTSUPP } },
	{ HMM_DMIRROR_READ_UNLOCKED,
	  { EINVAL, EFAULT, ENOMEM, EBUSY, EPERM, EIO, ENODEV, EREMOTEIO, EOPNOTSUPP } },
	{ HMM_DMIRROR_WRITE,
	  { EINVAL, EFAULT, ENOMEM, EBUSY, EPERM, EIO, ENODEV, EREMOTEIO, EOPNOTSUPP } },
	{ HMM_DMIRROR_MIGRATE_TO_DEV,
	  { EINVAL, EFAULT, ENOMEM, EBUSY, ENOENT, ENODEV, EIO, EPERM, EOPNOTSUPP,
	    EREMOTEIO } },
	{ HMM_DMIRROR_MIGRATE_TO_SYS, { EINVAL, EFAULT, ENOMEM, EBUSY, ENODEV } },
	{ HMM_DMIRROR_SNAPSHOT, { EINVAL, EFAULT, ENOMEM, EBUSY } },
	{ HMM_DMIRROR_EXCLUSIVE,
	  { EINVAL, EFAULT, ENOMEM, EBUSY, EPERM, ENOENT, EIO, ENODEV, EOPNOTSUPP,
	    EREMOTEIO } },
	{ HMM_DMIRROR_CHECK_EXCLUSIVE, { EINVAL, EFAULT, ENOMEM, EBUSY, EPERM } },
	{ HMM_DMIRROR_RELEASE, { EFAULT } },
	{ HMM_DMIRROR_FLAGS, { EFAULT, EINVAL } },
	{ HMM_P2P_IOC_CLASSIFY, { EINVAL, EFAULT, ENOMEM, EBUSY, EREMOTEIO, EOPNOTSUPP } },
	{ HMM_P2P_IOC_STATS, { EFAULT, EINVAL } },
	{ HMM_P2P_IOC_FAULT_INJECT, { EPERM, EFAULT, EINVAL } },
	{ HMM_P2P_IOC_INFO, { EFAULT } },
	{ HMM_P2P_IOC_COPY_BENCH, { EPERM, EFAULT, EINVAL, ENOMEM } },
	{ HMM_P2P_IOC_DMA,
	  { EINVAL, EFAULT, ENOMEM, EBUSY, EPERM, EIO, ENODEV, EREMOTEIO, EOPNOTSUPP } },
	{ HMM_P2P_IOC_OBSERVE, { EFAULT, EINVAL, EBUSY, ENOENT, ENOMEM } },
	{ HMM_P2P_IOC_PREFETCH,
	  { EINVAL, EFAULT, ENOMEM, EBUSY, EPERM, EIO, ENODEV, EREMOTEIO, EOPNOTSUPP } },
	{ HMM_P2P_IOC_JOB,
	  { EINVAL, EFAULT, ENOMEM, EBUSY, EPERM, EIO, ENODEV, EREMOTEIO, EOPNOTSUPP } },
	{ HMM_P2P_IOC_MIGRATE_PEERS, { EINVAL, EFAULT, ENOMEM, EBUSY, ENODEV, EIO } },
};
#endif /* HMM_P2P_WANT_ERRNO_TABLE */

#endif /* _UAPI_HMM_P2P_TEST_H */
