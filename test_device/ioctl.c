// SPDX-License-Identifier: GPL-2.0
/*
 * The test devices' ioctls: lib/test_hmm's interface (commands 0x00-0x09) and
 * the hmm-p2p extensions (0x40 and up), and the device file's mmap.
 *
 * Every user input is checked here, before anything else sees it: ranges
 * must be page aligned, non-empty, below TASK_SIZE and not wrap; user
 * pointers are only touched with copy_{to,from}_user. Bad input gets
 * -EINVAL or -EFAULT, never a warning.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/sched/signal.h>
#include <linux/sched/mm.h>
#include "hmm_p2p_compat.h"
#include "testdev.h"

#define TD_BENCH_MAX_PAGES	65536ULL
#define TD_BENCH_MAX_PASSES	1000ULL
#define TD_SNAP_BATCH		512UL

/**
 * td_check_range() - is a command's range acceptable?
 * @addr: start
 * @npages: pages
 *
 * Return: 0 for a page aligned, non-empty range of at most
 * HMM_P2P_MAX_NPAGES inside user space, else -EINVAL.
 */
int td_check_range(u64 addr, u64 npages)
{
	if (!npages || (addr & ~PAGE_MASK) || npages > HMM_P2P_MAX_NPAGES)
		return -EINVAL;
	if (npages > (TASK_SIZE >> PAGE_SHIFT) || addr >= TASK_SIZE ||
	    npages > ((TASK_SIZE - addr) >> PAGE_SHIFT))
		return -EINVAL;
	return 0;
}

static u8 td_prot(const struct hmm_p2p_entry *e)
{
	u8 prot;

	switch (e->class) {
	case HMM_P2P_PC_ERROR:
		return HMM_DMIRROR_PROT_ERROR;
	case HMM_P2P_PC_NONE:
		return HMM_DMIRROR_PROT_NONE;
	case HMM_P2P_PC_PRIVATE_GROUP:
		prot = (e->flags & HMM_P2P_E_LOCAL) ? HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL :
						     HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
		break;
	case HMM_P2P_PC_PRIVATE_REMOTE:
		prot = HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
		break;
	case HMM_P2P_PC_COHERENT:
		prot = (e->flags & HMM_P2P_E_LOCAL) ? HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
						     HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE;
		break;
	case HMM_P2P_PC_ZERO:
		prot = HMM_DMIRROR_PROT_ZERO;
		break;
	default:
		prot = HMM_DMIRROR_PROT_NONE;
		break;
	}
	prot |= (e->flags & HMM_P2P_E_WRITE) ? HMM_DMIRROR_PROT_WRITE : HMM_DMIRROR_PROT_READ;
	if (e->order + PAGE_SHIFT == PMD_SHIFT)
		prot |= HMM_DMIRROR_PROT_PMD;
	else if (e->order + PAGE_SHIFT == PUD_SHIFT)
		prot |= HMM_DMIRROR_PROT_PUD;
	return prot;
}

/*
 * The walk behind SNAPSHOT and CLASSIFY: @npages pages at @addr, in batches
 * of TD_SNAP_BATCH. Each batch is faulted in first if @fault, read from the
 * mirror, turned by @fill into one record of @size bytes a page, and copied
 * to @ubuf at record *@cpages; *@cpages counts the pages done.
 *
 * Return: 0, -ENOMEM, -EINTR on a fatal signal, the fault's or the
 * snapshot's error, or -EFAULT.
 */
static int td_walk_batches(struct td_file *tf, unsigned long addr, u64 npages, bool fault,
			   void __user *ubuf, size_t size, u64 *cpages,
			   void (*fill)(struct td_file *tf, unsigned long addr, unsigned long n,
					const struct hmm_p2p_entry *e, void *out))
{
	unsigned long end = addr + (npages << PAGE_SHIFT);
	struct hmm_p2p_entry *e;
	void *out;
	int ret = 0;

	e = kmalloc_array(TD_SNAP_BATCH, sizeof(*e), GFP_KERNEL_ACCOUNT);
	out = kmalloc_array(TD_SNAP_BATCH, size, GFP_KERNEL_ACCOUNT);
	if (!e || !out) {
		ret = -ENOMEM;
		goto out;
	}
	while (addr < end) {
		unsigned long next = min(end, addr + (TD_SNAP_BATCH << PAGE_SHIFT));
		unsigned long n = (next - addr) >> PAGE_SHIFT;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (fault) {
			ret = hmm_p2p_mirror_fault(&tf->mirror, addr, next, 0);
			if (ret)
				break;
		}
		ret = hmm_p2p_mirror_snapshot(&tf->mirror, addr, next, e);
		if (ret)
			break;
		fill(tf, addr, n, e, out);
		if (copy_to_user(ubuf + *cpages * size, out, n * size)) {
			ret = -EFAULT;
			break;
		}
		*cpages += n;
		addr = next;
	}
out:
	kfree(e);
	kfree(out);
	return ret;
}

static void td_snapshot_fill(struct td_file *tf, unsigned long addr, unsigned long n,
			     const struct hmm_p2p_entry *e, void *out)
{
	u8 *prot = out;
	unsigned long i;

	for (i = 0; i < n; i++)
		prot[i] = td_prot(&e[i]);
}

static int td_snapshot(struct td_file *tf, struct hmm_dmirror_cmd *cmd)
{
	return td_walk_batches(tf, cmd->addr, cmd->npages, false, u64_to_user_ptr(cmd->ptr),
			       sizeof(u8), &cmd->cpages, td_snapshot_fill);
}

/*
 * HMM_DMIRROR_FLAG_FAIL_ALLOC, as lib/test_hmm has it: the next migration
 * finds no 2 MiB destination folio (a device folio, or a THP in system
 * memory on the way back) and moves the range in 4 KiB pages. The device
 * arms its own allocator for the way to the device (td_alloc_backing_fail(),
 * disarmed after the migration) and asks the library for 4 KiB pages on the
 * way back (HMM_P2P_MIG_4K).
 */
static bool td_take_fail_alloc(struct td_file *tf)
{
	if (!(tf->flags & HMM_DMIRROR_FLAG_FAIL_ALLOC))
		return false;
	tf->flags &= ~HMM_DMIRROR_FLAG_FAIL_ALLOC;
	return true;
}

/* Is every page of [@start, @end) still mapped? */
static bool td_range_mapped(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma;
	bool mapped = true;

	mmap_read_lock(mm);
	while (start < end && mapped) {
		vma = vma_lookup(mm, start);
		mapped = vma;
		if (vma)
			start = vma->vm_end;
	}
	mmap_read_unlock(mm);
	return mapped;
}

static int td_migrate_to_dev(struct td_file *tf, struct hmm_dmirror_cmd *cmd, bool readback)
{
	unsigned long end = cmd->addr + (cmd->npages << PAGE_SHIFT);
	struct td_device *td = tf->dev;
	bool fail = td_take_fail_alloc(tf);
	long moved;
	int ret;

	if (fail)
		atomic_set(&td->fail_thp, 1);
	moved = hmm_p2p_migrate_to_device(td->dm, tf->mirror.mm, cmd->addr, end, 0);
	if (fail)
		atomic_set(&td->fail_thp, 0);
	if (moved < 0)
		return moved;
	/* a kernel caller's move without read-back (td_cmd()) */
	if (!readback) {
		cmd->cpages = moved;
		return 0;
	}
	/*
	 * Return the data as the device now holds it, read through its
	 * mirror (as lib/test_hmm does): all of it must be in its memory.
	 */
	ret = td_engine_rw(tf, cmd->addr, cmd->npages, u64_to_user_ptr(cmd->ptr), false,
			   TD_ACCESS_OWN, 0, &cmd->cpages, &cmd->faults);
	/* unmapped since it moved: as if the migration had found it so */
	if (ret == -ENOENT && !td_range_mapped(tf->mirror.mm, cmd->addr, end))
		ret = -EINVAL;
	return ret;
}

static int td_migrate_to_sys(struct td_file *tf, struct hmm_dmirror_cmd *cmd)
{
	unsigned long end = cmd->addr + (cmd->npages << PAGE_SHIFT);
	struct td_device *td = tf->dev;
	long moved;

	/* FAIL_ALLOC's way back: no THP in system memory, 4 KiB pages */
	moved = hmm_p2p_migrate_to_system(td->dm, tf->mirror.mm, cmd->addr, end,
					  td_take_fail_alloc(tf) ? HMM_P2P_MIG_4K : 0);
	if (moved < 0)
		return moved;
	cmd->cpages = moved;
	return 0;
}

/* HMM_P2P_IOC_MIGRATE_PEERS: from system memory and from other devices. */
static int td_migrate_peers(struct td_file *tf, struct hmm_dmirror_cmd *cmd)
{
	unsigned long end = cmd->addr + (cmd->npages << PAGE_SHIFT);
	long moved;

	moved = hmm_p2p_migrate_to_device(tf->dev->dm, tf->mirror.mm, cmd->addr, end,
					  HMM_P2P_MIG_PEERS);
	if (moved < 0)
		return moved;
	cmd->cpages = moved;
	return 0;
}

static int td_exclusive(struct td_file *tf, struct hmm_dmirror_cmd *cmd)
{
	int ret;

	/* the data goes to cmd->ptr: a buffer it cannot reach changes nothing */
	if (!access_ok(u64_to_user_ptr(cmd->ptr), cmd->npages << PAGE_SHIFT))
		return -EFAULT;

	ret = hmm_p2p_mirror_exclusive(&tf->mirror, cmd->addr,
				       cmd->addr + (cmd->npages << PAGE_SHIFT));
	if (ret)
		return ret;
	return td_engine_rw(tf, cmd->addr, cmd->npages, u64_to_user_ptr(cmd->ptr), false,
			    TD_ACCESS_PRESENT, 0, &cmd->cpages, &cmd->faults);
}

/*
 * One test_hmm command on @cmd, a kernel copy of its structure (the buffer
 * it names is the caller's). @kernel: a kernel caller's (td_cmd()): a
 * MIGRATE_TO_DEV without a buffer moves without reading back.
 */
static long td_dmirror_do(struct td_file *tf, unsigned int command, struct hmm_dmirror_cmd *c,
			  bool kernel)
{
	struct hmm_dmirror_cmd cmd = *c;
	void __user *ubuf;
	long ret;

	cmd.cpages = 0;
	cmd.faults = 0;
	ubuf = u64_to_user_ptr(cmd.ptr);

	switch (command) {
	case HMM_DMIRROR_RELEASE:
		/* every mirrored address space's pages; see td_release() */
		ret = hmm_p2p_devmem_evict_mirrored(tf->dev->dm);
		return ret < 0 ? ret : 0;
	case HMM_DMIRROR_FLAGS:
		if (cmd.npages & ~HMM_DMIRROR_FLAG_FAIL_ALLOC)
			return -EINVAL;
		tf->flags = cmd.npages;
		return 0;
	}

	ret = td_check_range(cmd.addr, cmd.npages);
	if (ret)
		return ret;

	switch (command) {
	case HMM_DMIRROR_READ:
		ret = td_engine_rw(tf, cmd.addr, cmd.npages, ubuf, false, TD_ACCESS_FAULT, 0,
				   &cmd.cpages, &cmd.faults);
		break;
	case HMM_DMIRROR_READ_UNLOCKED:
		ret = td_engine_rw(tf, cmd.addr, cmd.npages, ubuf, false, TD_ACCESS_FAULT,
				   HMM_P2P_FAULT_UNLOCKED, &cmd.cpages, &cmd.faults);
		break;
	case HMM_DMIRROR_WRITE:
		ret = td_engine_rw(tf, cmd.addr, cmd.npages, ubuf, true, TD_ACCESS_FAULT, 0,
				   &cmd.cpages, &cmd.faults);
		break;
	case HMM_DMIRROR_MIGRATE_TO_DEV:
		ret = td_migrate_to_dev(tf, &cmd, !kernel || cmd.ptr);
		break;
	case HMM_DMIRROR_MIGRATE_TO_SYS:
		ret = td_migrate_to_sys(tf, &cmd);
		break;
	case HMM_P2P_IOC_MIGRATE_PEERS:
		ret = td_migrate_peers(tf, &cmd);
		break;
	case HMM_DMIRROR_SNAPSHOT:
		ret = td_snapshot(tf, &cmd);
		break;
	case HMM_DMIRROR_EXCLUSIVE:
		ret = td_exclusive(tf, &cmd);
		break;
	case HMM_DMIRROR_CHECK_EXCLUSIVE:
		ret = hmm_p2p_mirror_has_exclusive(&tf->mirror, cmd.addr,
						   cmd.addr + (cmd.npages << PAGE_SHIFT)) ?
		      -EPERM : 0;
		break;
	default:
		return -EINVAL;
	}
	if (ret)
		return ret;
	*c = cmd;
	return 0;
}

static long td_dmirror_cmd(struct td_file *tf, unsigned int command, void __user *uarg)
{
	struct hmm_dmirror_cmd cmd;
	long ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	ret = td_dmirror_do(tf, command, &cmd, false);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &cmd, sizeof(cmd)))
		return -EFAULT;
	return 0;
}

/* ---- extensions ---- */

/*
 * The uapi's class of an entry (enum hmm_p2p_page_class): the library's
 * classes are its own.
 */
static u8 td_uapi_class(const struct hmm_p2p_entry *e)
{
	switch (e->class) {
	case HMM_P2P_PC_SYSTEM:
		return HMM_P2P_CLASS_SYSTEM;
	case HMM_P2P_PC_ZERO:
		return HMM_P2P_CLASS_ZERO;
	case HMM_P2P_PC_PRIVATE_GROUP:
		return (e->flags & HMM_P2P_E_LOCAL) ? HMM_P2P_CLASS_PRIVATE_LOCAL :
						     HMM_P2P_CLASS_PRIVATE_GROUP;
	case HMM_P2P_PC_PRIVATE_REMOTE:
		return HMM_P2P_CLASS_PRIVATE_REMOTE;
	case HMM_P2P_PC_COHERENT:
		return HMM_P2P_CLASS_COHERENT;
	case HMM_P2P_PC_P2PDMA:
		return HMM_P2P_CLASS_P2PDMA;
	case HMM_P2P_PC_ERROR:
		return HMM_P2P_CLASS_ERROR;
	}
	return HMM_P2P_CLASS_NONE;
}

/*
 * What the device knows of one page: its class (td_uapi_class()), the
 * index of the device whose memory it is (info->owner, or -1), and, from
 * the mirror's entry, whether and how it is DMA-mapped. Mirror lock held.
 */
static void td_page_info(struct td_file *tf, unsigned long addr, const struct hmm_p2p_entry *e,
			 struct hmm_p2p_page_info *info)
{
	struct td_device *owner;
	struct hmm_p2p_entry m;

	info->class = td_uapi_class(e);
	info->order = e->order;
	info->owner = -1;
	if (e->class == HMM_P2P_PC_NONE || e->class == HMM_P2P_PC_ERROR)
		return;
	info->prot = (e->flags & HMM_P2P_E_WRITE) ? HMM_DMIRROR_PROT_WRITE :
						    HMM_DMIRROR_PROT_READ;
	if (e->class == HMM_P2P_PC_P2PDMA) {
		info->owner = td_pci_bar_index(PFN_PHYS(e->pfn));
	} else if (e->class == HMM_P2P_PC_SYSTEM || e->class == HMM_P2P_PC_ZERO) {
		info->owner = -1;
	} else {
		/*
		 * Device memory, seen by a snapshot taken before the lock:
		 * its pagemap (and struct pages) may be gone since, with a
		 * device unbound. Look at the page only while its pagemap
		 * is pinned.
		 */
		struct dev_pagemap *pgmap = hp_get_dev_pagemap(e->pfn);

		owner = pgmap ? td_page_device(pfn_to_page(e->pfn)) : NULL;
		info->owner = owner ? owner->index : -1;
		if (pgmap)
			put_dev_pagemap(pgmap);
	}
	if (hmm_p2p_mirror_lookup(&tf->mirror, addr, &m) && m.pfn == e->pfn &&
	    (m.flags & HMM_P2P_E_DMA)) {
		info->flags |= HMM_P2P_PAGE_DMA_MAPPED;
		if (m.flags & HMM_P2P_E_P2P)
			info->flags |= HMM_P2P_PAGE_P2P;
		if (m.flags & HMM_P2P_E_P2P_BUS)
			info->flags |= HMM_P2P_PAGE_BUS_ADDR;
	}
}

static void td_classify_fill(struct td_file *tf, unsigned long addr, unsigned long n,
			     const struct hmm_p2p_entry *e, void *out)
{
	struct hmm_p2p_page_info *info = out;
	unsigned long i;

	memset(info, 0, n * sizeof(*info));
	hmm_p2p_mirror_lock(&tf->mirror);
	for (i = 0; i < n; i++)
		td_page_info(tf, addr + (i << PAGE_SHIFT), &e[i], &info[i]);
	hmm_p2p_mirror_unlock(&tf->mirror);
}

static int td_classify_do(struct td_file *tf, struct hmm_p2p_classify_cmd *cmd)
{
	int ret;

	if (cmd->flags & ~HMM_P2P_CLASSIFY_NOFAULT)
		return -EINVAL;
	ret = td_check_range(cmd->addr, cmd->npages);
	if (ret)
		return ret;
	cmd->cpages = 0;
	return td_walk_batches(tf, cmd->addr, cmd->npages,
			       !(cmd->flags & HMM_P2P_CLASSIFY_NOFAULT),
			       u64_to_user_ptr(cmd->ptr), sizeof(struct hmm_p2p_page_info),
			       &cmd->cpages, td_classify_fill);
}

static int td_classify(struct td_file *tf, void __user *uarg)
{
	struct hmm_p2p_classify_cmd cmd;
	int ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	ret = td_classify_do(tf, &cmd);
	if (!ret && copy_to_user(uarg, &cmd, sizeof(cmd)))
		ret = -EFAULT;
	return ret;
}

/* The device's counters in @st (all of it), reset after reading if @reset. */
static void td_stats_fill(struct td_file *tf, struct hmm_p2p_stats *stp, bool reset)
{
	struct hmm_p2p_devmem_stats ds;
	struct hmm_p2p_stats st;

	hmm_p2p_devmem_stats(tf->dev->dm, &ds, reset);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	st.migrated_to_dev = ds.migrated_to_dev;
	st.migrated_to_sys = ds.migrated_to_sys;
	st.cpu_faults = ds.cpu_faults;
	st.evicted = ds.evicted;
	st.alloc_failures = ds.alloc_failures;
	st.mirror_faults = ds.mirror_faults;
	st.invalidations = ds.invalidations;
	st.pages_in_use = ds.pages_in_use;
	st.pages_total = ds.pages_total;
	st.chunks = ds.chunks;
	st.thp_migrated = ds.thp_migrated;
	st.dma_faults = reset ? atomic64_xchg(&tf->dev->dma_faults, 0) :
				atomic64_read(&tf->dev->dma_faults);
	st.dma_iommu_faults = reset ? atomic64_xchg(&tf->dev->dma_iommu_faults, 0) :
				      atomic64_read(&tf->dev->dma_iommu_faults);
	st.bytes_copied = reset ? atomic64_xchg(&tf->dev->bytes_copied, 0) :
				     atomic64_read(&tf->dev->bytes_copied);
	st.cpu_faults_for_mirrors = ds.cpu_faults_for_mirrors;
	st.p2p_mappings = ds.p2p_mappings;
	st.p2p_bytes = reset ? atomic64_xchg(&tf->dev->p2p_bytes, 0) :
			       atomic64_read(&tf->dev->p2p_bytes);
	st.p2p_fallback_no_path = ds.p2p_fallback_no_path;
	st.p2p_fallback_write = ds.p2p_fallback_write;
	st.p2p_fallback_gone = ds.p2p_fallback_gone;
	st.migrated_from_peer = ds.migrated_from_peer;
	st.bounced = ds.bounced;
	td_importer_stats(tf->dev, &ds, &st, reset);
	*stp = st;
}

static int td_stats(struct td_file *tf, void __user *uarg)
{
	struct hmm_p2p_stats st;
	u32 usize;

	if (copy_from_user(&st, uarg, offsetofend(struct hmm_p2p_stats, reset)))
		return -EFAULT;
	usize = st.size;
	if (usize < offsetofend(struct hmm_p2p_stats, reset))
		return -EINVAL;
	td_stats_fill(tf, &st, st.reset);
	if (copy_to_user(uarg, &st, min_t(u32, usize, sizeof(st))))
		return -EFAULT;
	return 0;
}

static int td_fault_inject(struct td_file *tf, void __user *uarg)
{
	struct hmm_p2p_fault_cmd cmd;
	struct td_device *td = tf->dev;

	/* an armed point fails every user of the device, not just the caller */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.pad)
		return -EINVAL;
	switch (cmd.point) {
	case HMM_P2P_FAULT_ALLOC_PAGE:
		td_inject_arm(&td->inj_alloc_page, cmd.count, cmd.skip);
		return 0;
	case HMM_P2P_FAULT_CHUNK_GROW:
		td_inject_arm(&td->inj_chunk_grow, cmd.count, cmd.skip);
		return 0;
	case HMM_P2P_FAULT_COPY_TO_DEV:
		td_inject_arm(&td->inj_copy_to_dev, cmd.count, cmd.skip);
		return 0;
	case HMM_P2P_FAULT_COPY_TO_SYS:
		td_inject_arm(&td->inj_copy_to_sys, cmd.count, cmd.skip);
		return 0;
	case HMM_P2P_FAULT_DMA_PLANT:
		td_inject_arm(&td->inj_dma_plant, cmd.count, cmd.skip);
		return 0;
	}
	return -EINVAL;
}

static void td_info_fill(struct td_file *tf, struct hmm_p2p_info *out)
{
	struct td_device *td = tf->dev;
	struct hmm_p2p_info info = { };

	info.index = td->index;
	info.memory_type = td->type == HMM_P2P_MEM_PRIVATE ? HMM_DMIRROR_MEMORY_DEVICE_PRIVATE :
			   HMM_DMIRROR_MEMORY_DEVICE_COHERENT;
	info.backend = td->backend;
	/* one owner per device, like upstream; PCI devices by P2P group */
	info.owner_group = td->pci ? TD_NR_DEVICES + td->group : td->index;
	info.capacity = hmm_p2p_devmem_capacity(td->dm);
	/* the chunk size the devmem was created with, registered chunks or not */
	info.chunk_size = td->chunk_size;
	info.max_chunks = div64_u64(info.capacity, info.chunk_size);
	if (hmm_p2p_devmem_thp(td->dm))
		info.flags |= HMM_P2P_INFO_THP;
	*out = info;
}

static int td_info(struct td_file *tf, void __user *uarg)
{
	struct hmm_p2p_info info;

	td_info_fill(tf, &info);
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

/* HMM_P2P_IOC_DMA: a page's DMA address, or a raw read by the engine. */
static int td_dma(struct td_file *tf, void __user *uarg)
{
	struct hmm_p2p_dma_cmd cmd;
	struct hmm_p2p_page_info info = { };
	struct hmm_p2p_entry e, m;
	int ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	switch (cmd.op) {
	case HMM_P2P_DMA_READ:
		if (!capable(CAP_SYS_RAWIO))
			return -EPERM;
		return td_dma_read(tf->dev, cmd.dma, u64_to_user_ptr(cmd.ptr));
	case HMM_P2P_DMA_LOOKUP:
		break;
	default:
		return -EINVAL;
	}
	ret = td_check_range(cmd.addr, 1);
	if (ret)
		return ret;
	ret = hmm_p2p_mirror_fault(&tf->mirror, cmd.addr, cmd.addr + PAGE_SIZE, 0);
	if (ret)
		return ret;
	ret = hmm_p2p_mirror_snapshot(&tf->mirror, cmd.addr, cmd.addr + PAGE_SIZE, &e);
	if (ret)
		return ret;
	hmm_p2p_mirror_lock(&tf->mirror);
	td_page_info(tf, cmd.addr, &e, &info);
	cmd.dma = 0;
	if ((info.flags & HMM_P2P_PAGE_DMA_MAPPED) &&
	    hmm_p2p_mirror_lookup(&tf->mirror, cmd.addr, &m))
		cmd.dma = m.dma;
	hmm_p2p_mirror_unlock(&tf->mirror);
	cmd.flags = info.flags;
	cmd.class = info.class;
	cmd.owner = info.owner;
	return copy_to_user(uarg, &cmd, sizeof(cmd)) ? -EFAULT : 0;
}

/* Time copy_highpage() over npages kernel pages: a ceiling for migration. */
static int td_copy_bench(void __user *uarg)
{
	struct hmm_p2p_copy_bench cmd;
	struct page **src = NULL, **dst = NULL;
	u64 i, pass;
	ktime_t t0;
	int ret = 0;

	/* it holds up to 512 MiB of memory and a CPU for a long time */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (!cmd.npages || cmd.npages > TD_BENCH_MAX_PAGES ||
	    !cmd.passes || cmd.passes > TD_BENCH_MAX_PASSES)
		return -EINVAL;
	src = kvcalloc(cmd.npages, sizeof(*src), GFP_KERNEL_ACCOUNT);
	dst = kvcalloc(cmd.npages, sizeof(*dst), GFP_KERNEL_ACCOUNT);
	if (!src || !dst) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < cmd.npages; i++) {
		src[i] = alloc_page(GFP_HIGHUSER | __GFP_ACCOUNT | __GFP_NOWARN);
		dst[i] = alloc_page(GFP_HIGHUSER | __GFP_ACCOUNT | __GFP_NOWARN);
		if (!src[i] || !dst[i]) {
			ret = -ENOMEM;
			goto out;
		}
		clear_highpage(src[i]);
	}
	t0 = ktime_get();
	for (pass = 0; pass < cmd.passes; pass++) {
		for (i = 0; i < cmd.npages; i++)
			copy_highpage(dst[i], src[i]);
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out;
		}
		cond_resched();
	}
	cmd.nsec = ktime_to_ns(ktime_sub(ktime_get(), t0));
	if (copy_to_user(uarg, &cmd, sizeof(cmd)))
		ret = -EFAULT;
out:
	for (i = 0; src && dst && i < cmd.npages; i++) {
		if (src[i])
			__free_page(src[i]);
		if (dst[i])
			__free_page(dst[i]);
	}
	kvfree(src);
	kvfree(dst);
	return ret;
}

static long td_ioctl_mm(struct td_file *tf, unsigned int cmd, void __user *uarg);

/**
 * td_ioctl() - the device file's ioctl
 * @filp: the open device
 * @cmd: command
 * @arg: user pointer to the command's structure
 *
 * Return: 0 or -errno (-ENOTTY for unknown commands; upstream says -EINVAL).
 */
long td_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct td_file *tf = filp->private_data;
	void __user *uarg = (void __user *)arg;
	struct mm_struct *mm;
	long ret;

	if (!tf)
		return -EINVAL;
	/*
	 * The file mirrors its opener's address space but holds only the
	 * mm_struct: a command works on it while it has users (-ESRCH once
	 * its process is gone, for a file that outlived it).
	 */
	mm = tf->mirror.mm;
	if (!mmget_not_zero(mm))
		return -ESRCH;
	ret = td_ioctl_mm(tf, cmd, uarg);
	mmput(mm);
	return ret;
}

static long td_ioctl_mm(struct td_file *tf, unsigned int cmd, void __user *uarg)
{
	switch (cmd) {
	case HMM_DMIRROR_READ:
	case HMM_DMIRROR_WRITE:
	case HMM_DMIRROR_MIGRATE_TO_DEV:
	case HMM_DMIRROR_MIGRATE_TO_SYS:
	case HMM_DMIRROR_SNAPSHOT:
	case HMM_DMIRROR_EXCLUSIVE:
	case HMM_DMIRROR_CHECK_EXCLUSIVE:
	case HMM_DMIRROR_RELEASE:
	case HMM_DMIRROR_FLAGS:
	case HMM_DMIRROR_READ_UNLOCKED:
	case HMM_P2P_IOC_MIGRATE_PEERS:
		return td_dmirror_cmd(tf, cmd, uarg);
	case HMM_P2P_IOC_CLASSIFY:
		return td_classify(tf, uarg);
	case HMM_P2P_IOC_STATS:
		return td_stats(tf, uarg);
	case HMM_P2P_IOC_FAULT_INJECT:
		return td_fault_inject(tf, uarg);
	case HMM_P2P_IOC_INFO:
		return td_info(tf, uarg);
	case HMM_P2P_IOC_COPY_BENCH:
		return td_copy_bench(uarg);
	case HMM_P2P_IOC_DMA:
		return td_dma(tf, uarg);
	case HMM_P2P_IOC_OBSERVE:
		return td_observe(tf, uarg);
	case HMM_P2P_IOC_PREFETCH:
		return td_prefetch(tf, uarg);
	case HMM_P2P_IOC_JOB:
		return td_job(tf, uarg);
	}
	return -ENOTTY;
}

static long td_cmd_mm(struct td_file *tf, unsigned int cmd, void *karg)
{
	switch (cmd) {
	case HMM_DMIRROR_READ:
	case HMM_DMIRROR_WRITE:
	case HMM_DMIRROR_MIGRATE_TO_DEV:
	case HMM_DMIRROR_MIGRATE_TO_SYS:
	case HMM_DMIRROR_SNAPSHOT:
		return td_dmirror_do(tf, cmd, karg, true);
	case HMM_P2P_IOC_CLASSIFY:
		return td_classify_do(tf, karg);
	case HMM_P2P_IOC_STATS:
		td_stats_fill(tf, karg, ((struct hmm_p2p_stats *)karg)->reset);
		return 0;
	case HMM_P2P_IOC_INFO:
		td_info_fill(tf, karg);
		return 0;
	case HMM_P2P_IOC_PREFETCH:
		return td_prefetch_do(tf, karg);
	case HMM_P2P_IOC_JOB:
		return td_job_do(tf, karg);
	}
	return -ENOTTY;
}

/**
 * td_cmd() - run a test-ABI command for a kernel caller (export.c)
 * @tf: the file (context) it runs on
 * @cmd: the command: see hmm_p2p_test_cmd()
 * @karg: a kernel copy of the command's structure, updated in place
 *
 * Return: 0 or the command's -errno; -ESRCH when the context's address
 * space is gone, -ENOTTY for a command a kernel caller cannot run.
 */
long td_cmd(struct td_file *tf, unsigned int cmd, void *karg)
{
	struct mm_struct *mm = tf->mirror.mm;
	long ret;

	if (!mmget_not_zero(mm))
		return -ESRCH;
	ret = td_cmd_mm(tf, cmd, karg);
	mmput(mm);
	return ret;
}

static const struct file_operations td_mmap_fops = {
	.owner = THIS_MODULE,
};

/**
 * td_mmap() - map zeroed kernel pages (upstream's mixed map)
 * @filp: the open device
 * @vma: the new mapping
 *
 * Like upstream, each page of the mapping is a fresh zeroed kernel page,
 * inserted with vm_insert_page(). The mapping refers to an anonymous inode
 * file instead of the device file, so that the VMA does not keep the device
 * file (and its mirror and module) alive.
 *
 * Return: 0 or -errno.
 */
int td_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct file *anon;
	unsigned long addr;
	int ret;

	anon = anon_inode_getfile("[hmm_dmirror]", &td_mmap_fops, NULL, O_RDWR);
	if (IS_ERR(anon))
		return PTR_ERR(anon);
	vma_set_file(vma, anon);
	fput(anon);

	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		struct page *page;

		page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN);
		if (!page)
			return -ENOMEM;
		ret = vm_insert_page(vma, addr, page);
		put_page(page);
		if (ret)
			return ret;
	}
	return 0;
}
