// SPDX-License-Identifier: GPL-2.0
/*
 * HMM_P2P_IOC_JOB: device jobs that stay in flight, and the mirror ops that
 * fence them.
 *
 * A job is what a DMA engine runs after its driver has let go of every
 * lock: a list of addresses, looked up in the mirror once, at set-up, under
 * the mirror lock, then used page by page on the device's own thread (a
 * module-wide unbound workqueue) with no lock held. What keeps that
 * correct is the invalidation: the library calls td_jobs_fence() under the
 * mirror lock for any range that changes, which marks every job of the
 * file that overlaps it fenced, and td_jobs_wait(), which returns once none
 * of them is in the middle of a page. A fenced job does not start another
 * page. Set-up and fence are ordered by the mirror lock: a job set up
 * before the invalidation started is fenced by it, one set up after finds
 * no entry for the range (the library hides it until the entries are gone)
 * and faults again.
 *
 * The state a fence and the device share (fenced, busy, done) is under the
 * file's jobs_lock, a spinlock: the fence may run in a non-blockable
 * invalidation, where it may not sleep and must fail (-EAGAIN) rather than
 * wait for a page in progress.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/delay.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/sched/signal.h>
#include "hmm_p2p_compat.h"
#include "testdev.h"

#define TD_JOB_SETUP_RETRIES	16

/**
 * struct td_job - one job
 * @work: on td_job_wq: the device running it
 * @link: on &td_file.jobs while it may touch memory
 * @tf: the file whose mirror gave the addresses
 * @start: first byte of the range
 * @npages: pages
 * @write: the device writes (else reads)
 * @delay_us: the device's time per page
 * @e: the mirror's entries, one per page, as set-up found them
 * @buf: @npages pages: data to write, or read
 * @fenced: an invalidation fenced the job (jobs_lock)
 * @busy: the device is in the middle of a page (jobs_lock)
 * @cancel: the caller was killed: stop at the next page (jobs_lock)
 * @done: pages done (jobs_lock)
 * @fenced_at: @done when the fence came (jobs_lock)
 * @err: -EFAULT when an address decoded to no memory
 * @end: the device is finished with the job
 */
struct td_job {
	struct work_struct work;
	struct list_head link;
	struct td_file *tf;
	unsigned long start;
	unsigned long npages;
	bool write;
	unsigned int delay_us;
	struct hmm_p2p_entry *e;
	void *buf;
	bool fenced, busy, cancel;
	unsigned long done, fenced_at;
	int err;
	struct completion end;
};

static struct workqueue_struct *td_job_wq;

static bool td_job_overlaps(const struct td_job *job, const struct hmm_p2p_inval *inv)
{
	return job->start < inv->end &&
	       inv->start < job->start + (job->npages << PAGE_SHIFT);
}

/*
 * &hmm_p2p_mirror_ops.invalidate_start: fence the file's jobs that overlap
 * the range. Mirror lock held.
 */
static int td_jobs_fence(struct hmm_p2p_mirror *mirror, const struct hmm_p2p_inval *inv)
{
	struct td_file *tf = container_of(mirror, struct td_file, mirror);
	struct td_job *job;

	hmm_p2p_mirror_assert_held(mirror);
	spin_lock(&tf->jobs_lock);
	if (!inv->blockable) {
		/* a page in progress would have to be waited for */
		list_for_each_entry(job, &tf->jobs, link) {
			if (td_job_overlaps(job, inv) && job->busy) {
				spin_unlock(&tf->jobs_lock);
				return -EAGAIN;
			}
		}
	}
	list_for_each_entry(job, &tf->jobs, link) {
		if (td_job_overlaps(job, inv) && !job->fenced) {
			job->fenced = true;
			/* the page in progress ends: it counts */
			job->fenced_at = job->done + job->busy;
			atomic64_inc(&tf->dev->jobs_fenced);
		}
	}
	spin_unlock(&tf->jobs_lock);
	return 0;
}

static bool td_jobs_idle(struct td_file *tf, const struct hmm_p2p_inval *inv)
{
	struct td_job *job;
	bool idle = true;

	spin_lock(&tf->jobs_lock);
	list_for_each_entry(job, &tf->jobs, link)
		if (td_job_overlaps(job, inv) && job->busy)
			idle = false;
	spin_unlock(&tf->jobs_lock);
	return idle;
}

/*
 * &hmm_p2p_mirror_ops.invalidate_wait: until no fenced job is in the middle
 * of a page. Non-blockable: the fence found none busy, and a fenced job
 * starts no page, so there is nothing to wait for.
 */
static void td_jobs_wait(struct hmm_p2p_mirror *mirror, const struct hmm_p2p_inval *inv)
{
	struct td_file *tf = container_of(mirror, struct td_file, mirror);

	if (!inv->blockable)
		return;
	wait_event(tf->jobs_wq, td_jobs_idle(tf, inv));
}

const struct hmm_p2p_mirror_ops td_mirror_ops = {
	.invalidate_start = td_jobs_fence,
	.invalidate_wait = td_jobs_wait,
};

/* The device: one page at a time, through the addresses it was given. */
static void td_job_run(struct work_struct *work)
{
	struct td_job *job = container_of(work, struct td_job, work);
	struct td_file *tf = job->tf;
	unsigned long i;

	for (i = 0; i < job->npages; i++) {
		struct page *data;
		void *p = job->buf + (i << PAGE_SHIFT);

		spin_lock(&tf->jobs_lock);
		if (job->fenced || job->cancel) {
			spin_unlock(&tf->jobs_lock);
			break;
		}
		job->busy = true;
		spin_unlock(&tf->jobs_lock);

		data = td_entry_data(tf->dev, &job->e[i], TD_ACCESS_FAULT);
		if (data && job->write)
			memcpy_to_page(data, 0, p, PAGE_SIZE);
		else if (data)
			memcpy_from_page(p, data, 0, PAGE_SIZE);

		spin_lock(&tf->jobs_lock);
		job->busy = false;
		if (data)
			job->done = i + 1;
		spin_unlock(&tf->jobs_lock);
		wake_up_all(&tf->jobs_wq);
		if (!data) {
			job->err = -EFAULT;
			break;
		}
		atomic64_add(PAGE_SIZE, &tf->dev->bytes_copied);
		/* a peer's page through its BAR: as td_xfer() counts it */
		if (job->e[i].flags & HMM_P2P_E_P2P)
			atomic64_add(PAGE_SIZE, &tf->dev->p2p_bytes);
		if (job->delay_us)
			usleep_range(job->delay_us, job->delay_us + job->delay_us / 4 + 1);
	}
	spin_lock(&tf->jobs_lock);
	list_del_init(&job->link);
	spin_unlock(&tf->jobs_lock);
	wake_up_all(&tf->jobs_wq);
	complete(&job->end);
}

/*
 * Fault the range in and take its entries, all under one hold of the mirror
 * lock, and put the job on the file's list under it too. Returns 0, -EBUSY
 * when the range kept moving, or the fault's error.
 */
static int td_job_setup(struct td_job *job, u64 *faults)
{
	struct td_file *tf = job->tf;
	unsigned long end = job->start + (job->npages << PAGE_SHIFT);
	unsigned int flags = job->write ? HMM_P2P_FAULT_WRITE : 0;
	int tries, ret;

	for (tries = 0; tries < TD_JOB_SETUP_RETRIES; tries++) {
		unsigned long i;

		if (fatal_signal_pending(current))
			return -EINTR;
		ret = hmm_p2p_mirror_fault(&tf->mirror, job->start, end, flags);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		(*faults)++;
		hmm_p2p_mirror_lock(&tf->mirror);
		for (i = 0; i < job->npages; i++) {
			struct hmm_p2p_entry *e = &job->e[i];

			if (!hmm_p2p_mirror_lookup(&tf->mirror, job->start + (i << PAGE_SHIFT), e))
				break;
			if (job->write && !(e->flags & HMM_P2P_E_WRITE))
				break;
		}
		if (i == job->npages) {
			spin_lock(&tf->jobs_lock);
			list_add_tail(&job->link, &tf->jobs);
			spin_unlock(&tf->jobs_lock);
			hmm_p2p_mirror_unlock(&tf->mirror);
			return 0;
		}
		hmm_p2p_mirror_unlock(&tf->mirror);
	}
	return -EBUSY;
}

/**
 * td_job_do() - HMM_P2P_IOC_JOB on a kernel copy of the command
 * @tf: the open device
 * @c: the command (its buffer the caller's), updated on success
 *
 * Return: 0 (the outcome in the command) or -errno (uapi/hmm_p2p_test.h).
 */
int td_job_do(struct td_file *tf, struct hmm_p2p_job_cmd *c)
{
	struct hmm_p2p_job_cmd cmd = *c;
	struct td_job *job;
	size_t bytes;
	int ret;

	if (td_check_range(cmd.addr, cmd.npages) || cmd.npages > HMM_P2P_JOB_MAX_PAGES ||
	    cmd.op > HMM_P2P_JOB_WRITE || cmd.delay_us > HMM_P2P_JOB_MAX_DELAY_US)
		return -EINVAL;
	bytes = cmd.npages << PAGE_SHIFT;

	job = kzalloc_obj(*job);
	if (!job)
		return -ENOMEM;
	job->e = kvcalloc(cmd.npages, sizeof(*job->e), GFP_KERNEL_ACCOUNT);
	job->buf = kvmalloc(bytes, GFP_KERNEL_ACCOUNT);
	if (!job->e || !job->buf) {
		ret = -ENOMEM;
		goto out;
	}
	INIT_WORK(&job->work, td_job_run);
	INIT_LIST_HEAD(&job->link);
	init_completion(&job->end);
	job->tf = tf;
	job->start = cmd.addr;
	job->npages = cmd.npages;
	job->write = cmd.op == HMM_P2P_JOB_WRITE;
	job->delay_us = cmd.delay_us;
	job->fenced_at = cmd.npages;
	if (job->write && copy_from_user(job->buf, u64_to_user_ptr(cmd.ptr), bytes)) {
		ret = -EFAULT;
		goto out;
	}

	/* the ioctl holds the address space's users (td_ioctl()) */
	cmd.faults = 0;
	ret = td_job_setup(job, &cmd.faults);
	if (ret)
		goto out;

	queue_work(td_job_wq, &job->work);
	if (wait_for_completion_killable(&job->end)) {
		/* the device may be on a page of ours: stop it, then wait */
		spin_lock(&tf->jobs_lock);
		job->cancel = true;
		spin_unlock(&tf->jobs_lock);
		wait_for_completion(&job->end);
		ret = -EINTR;
		goto out;
	}
	ret = job->err;
	cmd.done = job->done;
	cmd.fenced_at = job->fenced_at;
	if (!job->write && job->done &&
	    copy_to_user(u64_to_user_ptr(cmd.ptr), job->buf, job->done << PAGE_SHIFT))
		ret = -EFAULT;
	if (!ret)
		*c = cmd;
out:
	kvfree(job->buf);
	kvfree(job->e);
	kfree(job);
	return ret;
}

/**
 * td_job() - HMM_P2P_IOC_JOB
 * @tf: the file
 * @uarg: user pointer to struct hmm_p2p_job_cmd
 *
 * Return: 0 or -errno (uapi/hmm_p2p_test.h lists them).
 */
int td_job(struct td_file *tf, void __user *uarg)
{
	struct hmm_p2p_job_cmd cmd;
	int ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	ret = td_job_do(tf, &cmd);
	if (!ret && copy_to_user(uarg, &cmd, sizeof(cmd)))
		ret = -EFAULT;
	return ret;
}

/**
 * td_jobs_file_init() - an open file's job state
 * @tf: the file
 */
void td_jobs_file_init(struct td_file *tf)
{
	spin_lock_init(&tf->jobs_lock);
	INIT_LIST_HEAD(&tf->jobs);
	init_waitqueue_head(&tf->jobs_wq);
}

/**
 * td_jobs_module_init() - the devices' job thread
 *
 * Return: 0 or -ENOMEM.
 */
int td_jobs_module_init(void)
{
	td_job_wq = alloc_workqueue("hmm_p2p_test_jobs", WQ_UNBOUND, 0);
	return td_job_wq ? 0 : -ENOMEM;
}

/**
 * td_jobs_module_exit() - undo td_jobs_module_init(); no job is left then
 *	(each one's ioctl waits for it)
 */
void td_jobs_module_exit(void)
{
	destroy_workqueue(td_job_wq);
}
