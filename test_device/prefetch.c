// SPDX-License-Identifier: GPL-2.0
/*
 * HMM_P2P_IOC_PREFETCH: populate a device's mirror ahead of use, as
 * ibv_advise_mr(IBV_ADVISE_MR_ADVICE_PREFETCH) does for an RDMA NIC's
 * on-demand-paging memory region, synchronously or from a kernel worker;
 * and the device's importer counters in HMM_P2P_IOC_STATS.
 *
 * A prefetch is a device fault without the access: hmm_p2p_mirror_fault()
 * over the range, 2 MiB at a time, so a peer's page is mapped peer to peer
 * where a path exists and migrated to system memory where none does, and
 * an invalidation racing the fault makes it retry (the library counts it).
 *
 * Asynchronous requests: at most HMM_P2P_PREFETCH_MAX_QUEUED per open file,
 * on one module-wide workqueue. A request holds no reference of its own:
 * the file outlives it (closing the file, and removing a PCI device, stop
 * the file's requests first: td_prefetch_stop()), the mirror holds the
 * mm_struct, and the worker takes the address space's users with
 * mmget_not_zero() only while it runs, so a queued request never keeps an
 * exited process's memory alive.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <linux/sched/signal.h>
#include <linux/sched/mm.h>
#include "hmm_p2p_compat.h"
#include "testdev.h"

#define TD_PF_BUSY_RETRIES	8

/**
 * struct td_prefetch_work - one asynchronous prefetch request
 * @work: on td_pf_wq
 * @link: on &td_file.pf_works until reaped
 * @tf: the file it populates the mirror of
 * @addr: first byte of the range
 * @npages: pages
 * @fault_flags: HMM_P2P_FAULT_* for the fault
 * @finished: the work function is past its last use of @tf
 */
struct td_prefetch_work {
	struct work_struct work;
	struct list_head link;
	struct td_file *tf;
	u64 addr;
	u64 npages;
	unsigned int fault_flags;
	bool finished;
};

static struct workqueue_struct *td_pf_wq;

/*
 * Fault [addr, addr + npages pages) into the mirror, a 2 MiB-aligned batch
 * at a time; stops at a fatal signal or, with @stop, when it is set. The
 * users of the mirrored mm are held by the caller. *@cpages counts the
 * pages done.
 */
static int td_prefetch_range(struct td_file *tf, u64 addr, u64 npages, unsigned int fault_flags,
			     const bool *stop, u64 *cpages)
{
	u64 end = addr + (npages << PAGE_SHIFT);
	int busy = 0, ret;

	while (addr < end) {
		u64 next = min(end, ALIGN(addr + 1, PMD_SIZE));

		if (fatal_signal_pending(current))
			return -EINTR;
		if (stop && READ_ONCE(*stop))
			return -ECANCELED;
		ret = hmm_p2p_mirror_fault(&tf->mirror, addr, next, fault_flags);
		/* as the engine: patient with a range that keeps moving */
		if (ret == -EBUSY && ++busy <= TD_PF_BUSY_RETRIES)
			continue;
		if (ret)
			return ret;
		atomic64_add((next - addr) >> PAGE_SHIFT, &tf->dev->pf_pages);
		*cpages += (next - addr) >> PAGE_SHIFT;
		addr = next;
		cond_resched();
	}
	return 0;
}

static void td_prefetch_fn(struct work_struct *work)
{
	struct td_prefetch_work *w = container_of(work, struct td_prefetch_work, work);
	struct td_file *tf = w->tf;
	struct mm_struct *mm = tf->mirror.mm;
	u64 done = 0;
	int ret = -ESRCH;

	/* the mirror holds the mm_struct; its users only while we work */
	if (mmget_not_zero(mm)) {
		ret = td_prefetch_range(tf, w->addr, w->npages, w->fault_flags, &tf->pf_stop,
					&done);
		mmput(mm);
	}
	atomic64_inc(ret ? &tf->dev->pf_failed : &tf->dev->pf_done);
	/* pairs with td_prefetch_reap(): nothing of @tf is used after this */
	smp_store_release(&w->finished, true);
}

/* Free the finished requests of @tf. Its pf_lock held. */
static void td_prefetch_reap(struct td_file *tf)
{
	struct td_prefetch_work *w, *tmp;

	lockdep_assert_held(&tf->pf_lock);
	list_for_each_entry_safe(w, tmp, &tf->pf_works, link) {
		/* pairs with td_prefetch_fn()'s release */
		if (!smp_load_acquire(&w->finished))
			continue;
		/* past its last access: this only waits for it to return */
		flush_work(&w->work);
		list_del(&w->link);
		tf->pf_nr--;
		kfree(w);
	}
}

static int td_prefetch_queue(struct td_file *tf, const struct hmm_p2p_prefetch_cmd *cmd,
			     unsigned int fault_flags)
{
	struct td_prefetch_work *w;
	int ret = 0;

	w = kzalloc_obj(*w);
	if (!w)
		return -ENOMEM;
	INIT_WORK(&w->work, td_prefetch_fn);
	w->tf = tf;
	w->addr = cmd->addr;
	w->npages = cmd->npages;
	w->fault_flags = fault_flags;

	mutex_lock(&tf->pf_lock);
	td_prefetch_reap(tf);
	if (tf->pf_stop) {
		ret = -ENODEV;
	} else if (tf->pf_nr >= HMM_P2P_PREFETCH_MAX_QUEUED) {
		ret = -EBUSY;
	} else {
		list_add_tail(&w->link, &tf->pf_works);
		tf->pf_nr++;
		atomic64_inc(&tf->dev->pf_queued);
		queue_work(td_pf_wq, &w->work);
	}
	mutex_unlock(&tf->pf_lock);
	if (ret)
		kfree(w);
	return ret;
}

/**
 * td_prefetch_do() - HMM_P2P_IOC_PREFETCH on a kernel copy of the command
 * @tf: the open device
 * @c: the command, updated on success
 *
 * Called with the users of the file's mm held (td_ioctl()).
 *
 * Return: 0 or -errno: -EINVAL (range, flags, pad), -EFAULT, -ENOMEM,
 * -EBUSY (range kept moving; or the file's asynchronous queue is full),
 * -ENODEV (the file is being torn down), -EINTR, and the fault's errors as
 * for a device READ.
 */
int td_prefetch_do(struct td_file *tf, struct hmm_p2p_prefetch_cmd *c)
{
	struct hmm_p2p_prefetch_cmd cmd = *c;
	unsigned int fault_flags;
	int ret;

	if ((cmd.flags & ~(HMM_P2P_PREFETCH_WRITE | HMM_P2P_PREFETCH_ASYNC)) || cmd.pad)
		return -EINVAL;
	ret = td_check_range(cmd.addr, cmd.npages);
	if (ret)
		return ret;
	fault_flags = (cmd.flags & HMM_P2P_PREFETCH_WRITE) ? HMM_P2P_FAULT_WRITE : 0;
	cmd.cpages = 0;
	if (cmd.flags & HMM_P2P_PREFETCH_ASYNC)
		ret = td_prefetch_queue(tf, &cmd, fault_flags);
	else
		ret = td_prefetch_range(tf, cmd.addr, cmd.npages, fault_flags, NULL,
					&cmd.cpages);
	/* -ECANCELED is only the worker's */
	if (ret)
		return ret;
	*c = cmd;
	return 0;
}

/**
 * td_prefetch() - HMM_P2P_IOC_PREFETCH
 * @tf: the file
 * @uarg: user pointer to struct hmm_p2p_prefetch_cmd
 *
 * Return: 0 or -errno (uapi/hmm_p2p_test.h lists them).
 */
int td_prefetch(struct td_file *tf, void __user *uarg)
{
	struct hmm_p2p_prefetch_cmd cmd;
	int ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	ret = td_prefetch_do(tf, &cmd);
	if (ret)
		return ret;
	return copy_to_user(uarg, &cmd, sizeof(cmd)) ? -EFAULT : 0;
}

/**
 * td_prefetch_file_init() - a new file has no prefetch requests
 * @tf: the file, zeroed
 */
void td_prefetch_file_init(struct td_file *tf)
{
	mutex_init(&tf->pf_lock);
	INIT_LIST_HEAD(&tf->pf_works);
}

/**
 * td_prefetch_stop() - cancel a file's asynchronous prefetches, for good
 * @tf: the file (being closed, or its device removed)
 *
 * Requests not started are cancelled, a running one stops at its next
 * batch and is waited for; none is accepted afterwards. Called before the
 * file's mirror is torn down, without locks the workers take (they take
 * none of the file's). May be called more than once, and concurrently.
 */
void td_prefetch_stop(struct td_file *tf)
{
	struct td_prefetch_work *w, *tmp;

	/*
	 * All under the lock (the workers never take it): a second caller
	 * (a PCI removal racing the file's release) returns only once the
	 * first one's requests are all gone, not while one still runs.
	 */
	mutex_lock(&tf->pf_lock);
	WRITE_ONCE(tf->pf_stop, true);
	list_for_each_entry_safe(w, tmp, &tf->pf_works, link) {
		if (cancel_work_sync(&w->work))
			atomic64_inc(&tf->dev->pf_failed);	/* never ran */
		list_del(&w->link);
		kfree(w);
	}
	tf->pf_nr = 0;
	mutex_unlock(&tf->pf_lock);
}

/**
 * td_importer_stats() - the importer and prefetch part of HMM_P2P_IOC_STATS
 * @td: the device
 * @ds: the library's counters of its devmem, just read
 * @st: the reply to fill
 * @reset: the counters are being reset
 */
void td_importer_stats(struct td_device *td, const struct hmm_p2p_devmem_stats *ds,
		       struct hmm_p2p_stats *st, bool reset)
{
	st->mirror_seq_retries = ds->mirror_seq_retries;
	st->mirror_busy_retries = ds->mirror_busy_retries;
	st->mirror_fault_timeouts = ds->mirror_fault_timeouts;
	st->mirror_fault_max_ns = ds->mirror_fault_max_ns;
	st->prefetch_pages = reset ? atomic64_xchg(&td->pf_pages, 0) :
				     atomic64_read(&td->pf_pages);
	st->prefetch_async_queued = reset ? atomic64_xchg(&td->pf_queued, 0) :
					    atomic64_read(&td->pf_queued);
	st->prefetch_async_done = reset ? atomic64_xchg(&td->pf_done, 0) :
					  atomic64_read(&td->pf_done);
	st->prefetch_async_failed = reset ? atomic64_xchg(&td->pf_failed, 0) :
					    atomic64_read(&td->pf_failed);
}

/**
 * td_prefetch_module_init() - create the asynchronous prefetch workqueue
 *
 * Return: 0 or -ENOMEM.
 */
int td_prefetch_module_init(void)
{
	td_pf_wq = alloc_workqueue("hmm_p2p_prefetch", WQ_UNBOUND, 0);
	return td_pf_wq ? 0 : -ENOMEM;
}

/**
 * td_prefetch_module_exit() - destroy it (every file is closed by now)
 */
void td_prefetch_module_exit(void)
{
	destroy_workqueue(td_pf_wq);
}
