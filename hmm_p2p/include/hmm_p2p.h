/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_p2p: process memory on devices. Public interface for drivers.
 *
 * The library has three parts a driver combines:
 *
 *  - device memory (struct hmm_p2p_devmem): ZONE_DEVICE pagemaps, either
 *    device-private (struct pages over a free physical range, the data kept
 *    wherever the driver's ops say) or device-coherent (a CPU addressable
 *    physical range), grown in chunks on demand, with a page allocator;
 *  - migration: process memory to the device and back, on request, on CPU
 *    fault (migrate_to_ram) and when the device memory goes away (eviction);
 *  - mirrors (struct hmm_p2p_mirror): a device's view of one address space,
 *    kept coherent with the CPU page tables by an mmu interval notifier,
 *    filled by hmm_range_fault, one classified entry per page.
 *
 * Words: "local" is the devmem itself, "group" the devmems with its
 * pagemap owner (which reach each other peer to peer), "remote" a devmem
 * of another owner.
 *
 * Locking, in the order a caller may take them: mmap lock (taken by the
 * library itself, never required from the caller), mirror lock
 * (hmm_p2p_mirror_lock()), per-chunk allocator locks (internal). No library
 * function may be called with a mirror lock held unless its documentation
 * says so.
 */
#ifndef _HMM_P2P_H
#define _HMM_P2P_H

#include <linux/types.h>
#include <linux/mutex.h>
#include <linux/xarray.h>
#include <linux/mmu_notifier.h>
#include <linux/dma-mapping.h>
#include <linux/completion.h>

struct page;
struct mm_struct;
struct hmm_p2p_devmem;
struct hp_win;

/**
 * enum hmm_p2p_mem_type - kind of device memory
 * @HMM_P2P_MEM_PRIVATE: device-private: the CPU cannot address it; the data
 *	lives in a backing store the driver supplies
 * @HMM_P2P_MEM_COHERENT: device-coherent: a CPU addressable physical range
 *	that is not system RAM
 */
enum hmm_p2p_mem_type {
	HMM_P2P_MEM_PRIVATE = 1,
	HMM_P2P_MEM_COHERENT = 2,
};

/**
 * enum hmm_p2p_class - what a page of a mirrored range is
 * @HMM_P2P_PC_NONE: not present, or not accessible to this device
 * @HMM_P2P_PC_SYSTEM: an ordinary system RAM page (or any other CPU page)
 * @HMM_P2P_PC_ZERO: the shared zero page (or huge zero page)
 * @HMM_P2P_PC_PRIVATE_GROUP: device-private memory of the mirror's owner (its
 *	group, P2P reachable): the mirror's own devmem (HMM_P2P_E_LOCAL) or
 *	another of the group
 * @HMM_P2P_PC_PRIVATE_REMOTE: device-private memory of another owner
 * @HMM_P2P_PC_COHERENT: device-coherent memory (HMM_P2P_E_LOCAL: the
 *	mirror's own devmem's)
 * @HMM_P2P_PC_P2PDMA: a PCI P2PDMA page (a peer's BAR)
 * @HMM_P2P_PC_ERROR: hmm_range_fault reported an error for the page
 *
 * The values are the library's own: a driver that reports classes to user
 * space maps them to its ABI's values.
 */
enum hmm_p2p_class {
	HMM_P2P_PC_NONE = 0,
	HMM_P2P_PC_SYSTEM,
	HMM_P2P_PC_ZERO,
	HMM_P2P_PC_PRIVATE_GROUP,
	HMM_P2P_PC_PRIVATE_REMOTE,
	HMM_P2P_PC_COHERENT,
	HMM_P2P_PC_P2PDMA,
	HMM_P2P_PC_ERROR,
};

/* struct hmm_p2p_entry.flags */
#define HMM_P2P_E_WRITE		0x01	/* the device may write the page */
#define HMM_P2P_E_EXCLUSIVE	0x02	/* mapped for exclusive (atomic) access */
#define HMM_P2P_E_LOCAL		0x04	/* local: memory of the mirror's own devmem */
#define HMM_P2P_E_DMA		0x08	/* @dma is the page's DMA address */
#define HMM_P2P_E_P2P		0x10	/* @dma is a peer-to-peer mapping */
#define HMM_P2P_E_P2P_BUS	0x20	/* ... by PCI bus address (a switch) */

/**
 * struct hmm_p2p_entry - one page of a mirror
 * @pfn: page frame number (valid unless @class is NONE or ERROR)
 * @dma: with HMM_P2P_E_DMA: the address the mirror's DMA device reaches the
 *	page at (mapped while the entry lives)
 * @class: enum hmm_p2p_class
 * @order: order of the CPU mapping hmm_range_fault saw (0: PTE, 9: PMD)
 * @flags: HMM_P2P_E_*
 */
struct hmm_p2p_entry {
	unsigned long pfn;
	dma_addr_t dma;
	u8 class;
	u8 order;
	u8 flags;
};

/**
 * enum hmm_p2p_addr_type - what a struct hmm_p2p_addr names
 * @HMM_P2P_ADDR_NONE: nothing. As a source: zero fill the destination (the
 *	process had no page there yet); as a destination: skip the entry (its
 *	source is not part of this job)
 * @HMM_P2P_ADDR_SYSTEM: a system RAM page, by the DMA address the library
 *	mapped it at for the devmem's DMA device (&hmm_p2p_devmem_desc.dma_dev)
 *	for the job's direction, valid until the job completes; without a DMA
 *	device, its physical address. @page is set too, for a driver that
 *	copies with the CPU; a DMA engine must use @addr only.
 * @HMM_P2P_ADDR_LOCAL: a page of this devmem (@page; @addr is 0): the
 *	driver finds its storage, e.g. through hmm_p2p_page_backing()
 * @HMM_P2P_ADDR_PEER: a source page on a peer devmem (same owner: the
 *	same P2P group), by the P2P DMA address the kernel's P2P verdict gave
 *	for the devmem's DMA device: a bus address through a switch, or a
 *	mapping through the host bridge (an IOVA behind an IOMMU). @page is
 *	the peer's device-private page, not the memory behind it: a DMA
 *	engine reads @addr. Only as a source of a DMA_TO_DEVICE job
 *	(hmm_p2p_migrate_to_device() with HMM_P2P_MIG_PEERS).
 */
enum hmm_p2p_addr_type {
	HMM_P2P_ADDR_NONE = 0,
	HMM_P2P_ADDR_SYSTEM,
	HMM_P2P_ADDR_LOCAL,
	HMM_P2P_ADDR_PEER,
};

/**
 * struct hmm_p2p_addr - one 4 KiB page of a copy job
 * @addr: DMA (or physical) address, for HMM_P2P_ADDR_SYSTEM and _PEER
 * @page: the page (NULL for HMM_P2P_ADDR_NONE)
 * @type: enum hmm_p2p_addr_type
 * @order: order of the folio the page belongs to (0 or the PMD order). The
 *	2^@order entries of a folio are consecutive, start at an aligned
 *	index, and their addresses are contiguous: a driver may copy them as
 *	one run.
 */
struct hmm_p2p_addr {
	dma_addr_t addr;
	struct page *page;
	u8 type;
	u8 order;
};

/**
 * struct hmm_p2p_copy_job - one migration batch for &hmm_p2p_devmem_ops.copy
 * @dir: DMA_TO_DEVICE: system memory (or nothing: zero fill; or, with
 *	HMM_P2P_MIG_PEERS, a peer devmem's memory: HMM_P2P_ADDR_PEER) to this
 *	devmem; DMA_FROM_DEVICE: this devmem to system memory
 * @npages: entries in @src and @dst (at most 512: one PMD)
 * @src: per page, where the data is
 * @dst: per page, where it goes; entries of type NONE are skipped
 * @failed: bitmap of @npages bits, clear on entry: the driver sets the bit
 *	of every page it could not copy (an address that faults, a device
 *	error). Such a page keeps its data where it was; for a folio, one bit
 *	keeps the whole folio where it was.
 * @link: the driver's, while it owns the job (after ->copy() returned
 *	-EIOCBQUEUED, until hmm_p2p_copy_done()): e.g. its queue of jobs
 * @done: private to the library
 * @status: private to the library
 *
 * The library owns the job and its arrays; they live until the job is
 * complete. The pages are locked and referenced by the migration, and the
 * library waits for the job (uninterruptibly: the device may be writing)
 * before it looks at the pages again, frees them or unmaps the addresses.
 */
struct hmm_p2p_copy_job {
	enum dma_data_direction dir;
	unsigned long npages;
	const struct hmm_p2p_addr *src;
	const struct hmm_p2p_addr *dst;
	unsigned long *failed;
	struct list_head link;
	struct completion done;
	int status;
};

void hmm_p2p_copy_done(struct hmm_p2p_copy_job *job, int err);

/**
 * struct hmm_p2p_devmem_ops - what the driver provides for its memory
 * @chunk_init: optional; a chunk of @npages pages starting at @pfn is being
 *	registered; may set *@data to per-chunk backend state
 * @chunk_fini: optional; undo @chunk_init once every page is free
 * @alloc_backing: optional; a device folio of @order at @index of a chunk
 *	is being allocated; back it (device-private memory). Return 0 or -errno.
 * @free_backing: optional; release what @alloc_backing set up. Called from
 *	the pagemap's free callback: must not sleep.
 * @copy: required; copy one migration batch (struct hmm_p2p_copy_job), see
 *	there. Called from process context, with the mmap lock of the
 *	migrated address space held (or from the pagemap's eviction, without
 *	it), with the batch's pages locked, no mirror lock held; may sleep and
 *	allocate (GFP_NOIO is advised: the copy may serve a CPU fault under
 *	memory pressure). Return 0 when every page was copied or marked in
 *	@job->failed, -EIOCBQUEUED when the device completes the job later by
 *	hmm_p2p_copy_done(), or -errno when it copied nothing (every page stays
 *	where it was).
 * @p2p_page: optional, device-private memory only: the PCI P2PDMA page (in
 *	the device's BAR) that holds the data of the page at @index, or NULL.
 *	With it, mirrors of devices sharing the owner map that page peer to
 *	peer instead of moving the data, and a devmem sharing the owner
 *	copies from it device to device (hmm_p2p_migrate_to_device() with
 *	HMM_P2P_MIG_PEERS: called then with the batch's pages locked and the
 *	mmap lock held). Called in an SRCU read section of the devmem, under
 *	a mirror lock (which invalidations from reclaim take) or the
 *	migration's page locks: may sleep, must not enter reclaim (no
 *	GFP_KERNEL allocation; lockdep checks it on debug kernels).
 *
 * The @data argument is the chunk's backend state from @chunk_init and
 * @index the page's offset in its chunk.
 */
struct hmm_p2p_devmem_ops {
	int (*chunk_init)(struct hmm_p2p_devmem *dm, unsigned long pfn,
			  unsigned long npages, void **data);
	void (*chunk_fini)(struct hmm_p2p_devmem *dm, void *data,
			   unsigned long npages);
	int (*alloc_backing)(struct hmm_p2p_devmem *dm, void *data,
			     unsigned long index, unsigned int order);
	void (*free_backing)(struct hmm_p2p_devmem *dm, void *data,
			     unsigned long index, unsigned int order);
	int (*copy)(struct hmm_p2p_devmem *dm, struct hmm_p2p_copy_job *job);
	struct page *(*p2p_page)(struct hmm_p2p_devmem *dm, void *data,
				 unsigned long index);
};

/**
 * struct hmm_p2p_devmem_desc - how to create device memory
 * @name: resource and log name
 * @type: enum hmm_p2p_mem_type
 * @owner: pagemap owner cookie; NULL makes the devmem its own owner. Devices
 *	with the same owner see each other's private pages in their mirrors.
 * @base: coherent: first byte of the physical range (not system RAM)
 * @size: coherent: bytes in the range
 * @chunk_size: bytes per pagemap chunk; a multiple of 2 MiB (private: of the
 *	memory section size, 128 MiB on x86-64)
 * @max_chunks: chunk limit (coherent: at most @size / @chunk_size)
 * @thp: allocate 2 MiB device folios when the kernel supports them
 * @nid: NUMA node for the struct pages
 * @ops: backend operations
 * @dma_dev: the device whose DMA engine runs the copies: the library maps
 *	the system pages of each copy job for it. NULL: the copies get
 *	physical addresses (a device without DMA mapping, or a CPU copy).
 * @priv: driver data, see hmm_p2p_devmem_priv()
 */
struct hmm_p2p_devmem_desc {
	const char *name;
	enum hmm_p2p_mem_type type;
	void *owner;
	phys_addr_t base;
	u64 size;
	u64 chunk_size;
	unsigned int max_chunks;
	bool thp;
	int nid;
	const struct hmm_p2p_devmem_ops *ops;
	struct device *dma_dev;
	void *priv;
};

/**
 * struct hmm_p2p_devmem_stats - counters of a devmem (pages are 4 KiB)
 * @migrated_to_dev: pages moved system to device
 * @migrated_to_sys: pages moved device to system (any reason)
 * @cpu_faults: migrate_to_ram calls served
 * @evicted: pages moved to system by eviction
 * @thp_migrated: 2 MiB folios moved either way
 * @alloc_failures: device page allocations that failed
 * @mirror_faults: hmm_range_fault calls by mirrors of this devmem
 * @invalidations: invalidations seen by mirrors of this devmem
 * @pages_in_use: device pages allocated now
 * @pages_total: device pages registered now
 * @chunks: chunks registered now
 * @cpu_faults_for_mirrors: of @cpu_faults, those another devmem's mirror
 *	took through hmm_range_fault() (FAULT_FLAG_REMOTE), in pages
 * @p2p_mappings: pages of other devices (P2PDMA, or group private pages)
 *	mirrors of this devmem mapped peer to peer
 * @p2p_fallback_no_path: pages of other devices moved to system memory for
 *	mirrors of this devmem because no P2P path exists (remote private
 *	pages, or group ones without a path)
 * @p2p_fallback_write: group private pages moved to system memory for a
 *	write to a read-only page
 * @p2p_fallback_gone: P2P mappings dropped, or group pages moved to system
 *	memory instead of mapped, because their exporter was going away
 * @migrated_from_peer: pages moved here from a peer's memory device to
 *	device, peer to peer (HMM_P2P_MIG_PEERS)
 * @bounced: pages moved here through system memory (HMM_P2P_MIG_PEERS:
 *	another owner's, or a peer's with no P2P path to this device)
 * @mirror_seq_retries: mirror fault rounds redone because an invalidation
 *	came in between hmm_range_fault() and the commit
 *	(mmu_interval_read_retry())
 * @mirror_busy_retries: hmm_range_fault() calls that returned -EBUSY (an
 *	invalidation raced the walk) and were retried
 * @mirror_fault_timeouts: mirror faults that gave up with -EBUSY after
 *	HMM_RANGE_DEFAULT_TIMEOUT of retries
 * @mirror_fault_max_ns: the longest mirror fault round (one batch of at
 *	most 2 MiB, its retries included), in nanoseconds; reset like the
 *	counters
 *
 * Each counter has the same name in the test device's struct hmm_p2p_stats
 * and in hmm-bench's output.
 */
struct hmm_p2p_devmem_stats {
	u64 migrated_to_dev;
	u64 migrated_to_sys;
	u64 cpu_faults;
	u64 evicted;
	u64 thp_migrated;
	u64 alloc_failures;
	u64 mirror_faults;
	u64 invalidations;
	u64 pages_in_use;
	u64 pages_total;
	u64 chunks;
	u64 cpu_faults_for_mirrors;
	u64 p2p_mappings;
	u64 p2p_fallback_no_path;
	u64 p2p_fallback_write;
	u64 p2p_fallback_gone;
	u64 migrated_from_peer;
	u64 bounced;
	u64 mirror_seq_retries;
	u64 mirror_busy_retries;
	u64 mirror_fault_timeouts;
	u64 mirror_fault_max_ns;
};

struct hmm_p2p_devmem *hmm_p2p_devmem_create(const struct hmm_p2p_devmem_desc *desc);
void hmm_p2p_devmem_destroy(struct hmm_p2p_devmem *dm);
long hmm_p2p_devmem_evict(struct hmm_p2p_devmem *dm);
long hmm_p2p_devmem_evict_mirrored(struct hmm_p2p_devmem *dm);
long hmm_p2p_devmem_shutdown(struct hmm_p2p_devmem *dm);
void *hmm_p2p_devmem_priv(struct hmm_p2p_devmem *dm);
void *hmm_p2p_devmem_owner(struct hmm_p2p_devmem *dm);
enum hmm_p2p_mem_type hmm_p2p_devmem_type(struct hmm_p2p_devmem *dm);
u64 hmm_p2p_devmem_capacity(struct hmm_p2p_devmem *dm);
bool hmm_p2p_devmem_thp(struct hmm_p2p_devmem *dm);
void hmm_p2p_devmem_stats(struct hmm_p2p_devmem *dm, struct hmm_p2p_devmem_stats *st,
			  bool reset);
struct hmm_p2p_devmem *hmm_p2p_page_devmem(struct page *page);
void *hmm_p2p_page_backing(struct page *page, unsigned long *index);

/* hmm_p2p_migrate_*() flags */
/*
 * HMM_P2P_MIG_PEERS: to system, pages of devmems with @dm's owner too; to
 * the device, pages on other devmems too: a peer's (same owner) device to
 * device where there is a P2P path, the others through system memory.
 */
#define HMM_P2P_MIG_PEERS	0x02
#define HMM_P2P_MIG_4K		0x04	/* to system: 4 KiB pages only, no THP */

long hmm_p2p_migrate_to_device(struct hmm_p2p_devmem *dm, struct mm_struct *mm,
			       unsigned long start, unsigned long end,
			       unsigned int flags);
long hmm_p2p_migrate_to_system(struct hmm_p2p_devmem *dm, struct mm_struct *mm,
			       unsigned long start, unsigned long end,
			       unsigned int flags);

struct hmm_p2p_mirror;

/**
 * struct hmm_p2p_inval - an invalidation of part of a mirror
 * @start: first byte of the range, page aligned
 * @end: end of the range (exclusive)
 * @event: why (enum mmu_notifier_event: MMU_NOTIFY_UNMAP, _CLEAR,
 *	_PROTECTION_VMA, _MIGRATE, _RELEASE...)
 * @blockable: the callbacks may sleep
 */
struct hmm_p2p_inval {
	unsigned long start;
	unsigned long end;
	enum mmu_notifier_event event;
	bool blockable;
};

/**
 * struct hmm_p2p_mirror_ops - what a driver with device accesses in flight
 *	provides to its mirror
 *
 * A driver that touches a mirror's pages only while it holds the mirror
 * lock needs none of this: the invalidation takes that lock before it drops
 * the entries. A driver whose device works on the pages after the lock is
 * released (DMA jobs, a GPU's page tables) implements both ops: the
 * library calls them when the CPU page tables of a range are about to
 * change, before it drops the range's entries and their DMA mappings. The
 * contract: once the invalidation returns, the device neither reads nor
 * writes a page of the range through an address the mirror gave before.
 *
 * Between @invalidate_start and the drop, the range's entries are no
 * longer found (hmm_p2p_mirror_lookup() says no): a job the driver sets up
 * under the mirror lock from looked-up entries is either set up before
 * @invalidate_start (and fenced by it) or finds nothing and faults, and the
 * fault waits for the invalidation to end.
 */
struct hmm_p2p_mirror_ops {
	/**
	 * @invalidate_start: optional; the device must stop starting accesses
	 * to [@inv->start, @inv->end) through the mirror's old entries, and
	 * begin to end those in flight (fence the jobs, flush the device's
	 * TLB). Called with the mirror lock held, from the interval notifier
	 * (any context that changes the address space, reclaim and the OOM
	 * reaper included): no allocation that may enter reclaim, and no sleep
	 * unless @inv->blockable. Return 0, or -EAGAIN only when
	 * !@inv->blockable and accesses are in flight that cannot be ended
	 * without sleeping; nothing may have been changed then (the
	 * invalidation fails and the kernel retries or skips it).
	 */
	int (*invalidate_start)(struct hmm_p2p_mirror *mirror,
				const struct hmm_p2p_inval *inv);
	/**
	 * @invalidate_wait: optional; wait until every access @invalidate_start
	 * began to end has ended. With @inv->blockable it is called without
	 * the mirror lock (on 7.1 and later in the notifier's second pass,
	 * after every notifier of the range has started its own flush; on
	 * 6.12 right after @invalidate_start) and may sleep, but must not
	 * take the mirror lock or allocate memory that may enter reclaim.
	 * Without it, it is called with the mirror lock held and must not
	 * sleep. After it returns the library drops the entries.
	 */
	void (*invalidate_wait)(struct hmm_p2p_mirror *mirror,
				const struct hmm_p2p_inval *inv);
};

/**
 * struct hmm_p2p_mirror - a device's mirror of one address space
 * @notifier: interval notifier over the whole address space
 * @mm: the mirrored mm (a reference to its users is held while it lives)
 * @dm: device memory of the device that owns the mirror
 * @dm_link: on the devmem's list of mirrors
 * @owner: pagemap owner whose private pages the mirror sees as accessible
 * @dma_dev: device that system and coherent pages are DMA-mapped for, or NULL
 * @lock: protects @pt and @dma; held by invalidations while they drop entries
 * @pt: the mirror's entries, index = virtual page number
 * @dma: DMA addresses (page frame numbers of them) of entries that have one;
 *	with @twostep, only the exporters of peers' private pages mapped P2P
 * @ops: the driver's callbacks, or NULL
 * @invals: invalidations between their start and their drop (under @lock)
 * @twostep: DMA addresses live in IOVA windows of 7.3's two-step DMA API
 *	(hmm_p2p.mirror_map=twostep when the mirror was created)
 * @win: with @twostep: the windows, index = virtual address / 2 MiB
 * @win_bytes: with @twostep: memory the windows take (mirror_map_max_kb)
 * @win_spare: with @twostep: one empty window kept for the next fault
 * @win_refused: with @twostep: the device needs DMA syncs (no window)
 *
 * Embed it; treat the members as private and use the functions below.
 */
struct hmm_p2p_mirror {
	struct mmu_interval_notifier notifier;
	struct mm_struct *mm;
	struct hmm_p2p_devmem *dm;
	struct list_head dm_link;	/* on the devmem's list of mirrors */
	void *owner;
	struct device *dma_dev;
	struct mutex lock;	/* protects pt and dma */
	struct xarray pt;
	struct xarray dma;
	const struct hmm_p2p_mirror_ops *ops;
	struct list_head invals;
	bool twostep;
	bool win_refused;
	struct xarray win;
	atomic_long_t win_bytes;
	struct hp_win *win_spare;
};

/* hmm_p2p_mirror_fault() flags */
#define HMM_P2P_FAULT_WRITE	0x01	/* request write access */
#define HMM_P2P_FAULT_UNLOCKED	0x02	/* fault path may drop the mmap lock */
#define HMM_P2P_FAULT_NOFAULT	0x04	/* only record what is mapped now */

int hmm_p2p_mirror_init(struct hmm_p2p_mirror *mirror, struct hmm_p2p_devmem *dm,
			struct mm_struct *mm, struct device *dma_dev,
			const struct hmm_p2p_mirror_ops *ops);
void hmm_p2p_mirror_fini(struct hmm_p2p_mirror *mirror);
int hmm_p2p_mirror_fault(struct hmm_p2p_mirror *mirror, unsigned long start,
			 unsigned long end, unsigned int flags);
int hmm_p2p_mirror_snapshot(struct hmm_p2p_mirror *mirror, unsigned long start,
			    unsigned long end, struct hmm_p2p_entry *entries);
int hmm_p2p_mirror_exclusive(struct hmm_p2p_mirror *mirror, unsigned long start,
			     unsigned long end);
bool hmm_p2p_mirror_has_exclusive(struct hmm_p2p_mirror *mirror, unsigned long start,
				  unsigned long end);
void hmm_p2p_mirror_lock(struct hmm_p2p_mirror *mirror);

/**
 * hmm_p2p_mirror_assert_held() - lockdep: the caller holds the mirror lock
 * @mirror: the mirror
 */
static inline void hmm_p2p_mirror_assert_held(struct hmm_p2p_mirror *mirror)
{
	lockdep_assert_held(&mirror->lock);
}

void hmm_p2p_mirror_unlock(struct hmm_p2p_mirror *mirror);
bool hmm_p2p_mirror_lookup(struct hmm_p2p_mirror *mirror, unsigned long addr,
			   struct hmm_p2p_entry *entry);

enum hmm_p2p_class hmm_p2p_classify(unsigned long hmm_pfn, struct hmm_p2p_devmem *self,
				    void *owner, struct hmm_p2p_entry *entry);

struct pci_dev;
int hmm_p2p_reachable(struct pci_dev *a, struct pci_dev *b);

const char *hmm_p2p_version(void);

#endif /* _HMM_P2P_H */
