// SPDX-License-Identifier: GPL-2.0
/*
 * HMM_P2P_IOC_OBSERVE: invalidation observers.
 *
 * An observer is an mmu_interval_notifier of the file's own over a range of
 * the opener's address space. It takes no part in the invalidations it
 * sees: it never fails, delays or retries one, and holds no lock in its
 * callback. It only counts them, by event, so that a test can line up what
 * the kernel told every notifier of that range (another driver's, say
 * rdma_rxe's ODP umem) with our mirror's own counters (HMM_P2P_IOC_STATS).
 *
 * A file has at most HMM_P2P_OBS_MAX observers; they go away with
 * HMM_P2P_OBS_STOP or when the file is closed.
 */
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "hmm_p2p_compat.h"
#include "testdev.h"

/**
 * struct td_observer - one observer
 * @notifier: the interval notifier over the observed range
 * @owner: the pagemap owner whose migrations count as our own
 * @calls: invalidations received
 * @nonblock: of those, non-blockable ones
 * @pages: pages of the observed range the invalidations covered, summed
 * @events: per enum hmm_p2p_obs_event
 */
struct td_observer {
	struct mmu_interval_notifier notifier;
	void *owner;
	atomic64_t calls;
	atomic64_t nonblock;
	atomic64_t pages;
	atomic64_t events[HMM_P2P_OBS_NR];
};

static enum hmm_p2p_obs_event td_obs_event(const struct td_observer *obs,
					   const struct mmu_notifier_range *range)
{
	switch (range->event) {
	case MMU_NOTIFY_UNMAP:
		return HMM_P2P_OBS_UNMAP;
	case MMU_NOTIFY_CLEAR:
		return HMM_P2P_OBS_CLEAR;
	case MMU_NOTIFY_PROTECTION_VMA:
		return HMM_P2P_OBS_PROTECTION_VMA;
	case MMU_NOTIFY_PROTECTION_PAGE:
		return HMM_P2P_OBS_PROTECTION_PAGE;
	case MMU_NOTIFY_SOFT_DIRTY:
		return HMM_P2P_OBS_SOFT_DIRTY;
	case MMU_NOTIFY_RELEASE:
		return HMM_P2P_OBS_RELEASE;
	case MMU_NOTIFY_MIGRATE:
		return range->owner == obs->owner ? HMM_P2P_OBS_MIGRATE_OWN :
						    HMM_P2P_OBS_MIGRATE_OTHER;
	case MMU_NOTIFY_EXCLUSIVE:
		return HMM_P2P_OBS_EXCLUSIVE;
	}
	return HMM_P2P_OBS_OTHER;
}

static bool td_obs_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct td_observer *obs = container_of(mni, struct td_observer, notifier);
	unsigned long start = max(range->start, mni->interval_tree.start);
	/* the interval tree's last is inclusive */
	unsigned long last = min(range->end - 1, mni->interval_tree.last);

	atomic64_inc(&obs->calls);
	if (!mmu_notifier_range_blockable(range))
		atomic64_inc(&obs->nonblock);
	if (last >= start)
		atomic64_add(((last - start) >> PAGE_SHIFT) + 1, &obs->pages);
	atomic64_inc(&obs->events[td_obs_event(obs, range)]);
	return true;
}

static const struct mmu_interval_notifier_ops td_obs_ops = {
	.invalidate = td_obs_invalidate,
};

/* The counters into @cmd, then zeroed if @reset. */
static void td_obs_read(struct td_observer *obs, struct hmm_p2p_observe_cmd *cmd, bool reset)
{
	int i;

	cmd->calls = reset ? atomic64_xchg(&obs->calls, 0) : atomic64_read(&obs->calls);
	cmd->nonblock = reset ? atomic64_xchg(&obs->nonblock, 0) : atomic64_read(&obs->nonblock);
	cmd->pages = reset ? atomic64_xchg(&obs->pages, 0) : atomic64_read(&obs->pages);
	for (i = 0; i < HMM_P2P_OBS_NR; i++)
		cmd->events[i] = reset ? atomic64_xchg(&obs->events[i], 0) :
					 atomic64_read(&obs->events[i]);
	for (; i < HMM_P2P_OBS_EVENTS; i++)
		cmd->events[i] = 0;
}

/* As the range commands check theirs: aligned, non-empty, in user space. */
static int td_obs_check_range(u64 addr, u64 npages)
{
	if (!npages || (addr & ~PAGE_MASK) || npages > HMM_P2P_MAX_NPAGES)
		return -EINVAL;
	if (addr >= TASK_SIZE || npages > ((TASK_SIZE - addr) >> PAGE_SHIFT))
		return -EINVAL;
	return 0;
}

static int td_obs_start(struct td_file *tf, struct hmm_p2p_observe_cmd *cmd)
{
	struct td_observer *obs;
	unsigned int id;
	int ret;

	lockdep_assert_held(&tf->obs_lock);
	if (cmd->flags)
		return -EINVAL;
	ret = td_obs_check_range(cmd->addr, cmd->npages);
	if (ret)
		return ret;
	for (id = 0; id < HMM_P2P_OBS_MAX; id++)
		if (!tf->obs[id])
			break;
	if (id == HMM_P2P_OBS_MAX)
		return -EBUSY;
	obs = kzalloc_obj(*obs);
	if (!obs)
		return -ENOMEM;
	obs->owner = hmm_p2p_devmem_owner(tf->dev->dm);
	ret = mmu_interval_notifier_insert(&obs->notifier, tf->mirror.mm, cmd->addr,
					   cmd->npages << PAGE_SHIFT, &td_obs_ops);
	if (ret) {
		kfree(obs);
		return ret;
	}
	tf->obs[id] = obs;
	cmd->id = id;
	td_obs_read(obs, cmd, false);
	return 0;
}

static void td_obs_free(struct td_observer *obs)
{
	/* waits for a callback in flight; ours takes no lock */
	mmu_interval_notifier_remove(&obs->notifier);
	kfree(obs);
}

/**
 * td_observe() - HMM_P2P_IOC_OBSERVE
 * @tf: the open device
 * @uarg: user pointer to a struct hmm_p2p_observe_cmd
 *
 * START puts an observer on the range and returns its id, READ returns its
 * counters (and zeroes them with HMM_P2P_OBS_RESET), STOP removes it and
 * returns its last counters.
 *
 * Return: 0, -EFAULT, -EINVAL (bad op, flags, pad, id or range), -EBUSY (the
 * file has HMM_P2P_OBS_MAX observers), -ENOENT (no observer @id), -ENOMEM.
 */
int td_observe(struct td_file *tf, void __user *uarg)
{
	struct hmm_p2p_observe_cmd cmd;
	struct td_observer *obs = NULL;
	int ret = 0;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.pad)
		return -EINVAL;
	if (cmd.op != HMM_P2P_OBS_START) {
		if (cmd.op != HMM_P2P_OBS_READ && cmd.op != HMM_P2P_OBS_STOP)
			return -EINVAL;
		if (cmd.flags & ~(cmd.op == HMM_P2P_OBS_READ ? HMM_P2P_OBS_RESET : 0))
			return -EINVAL;
		if (cmd.id >= HMM_P2P_OBS_MAX)
			return -EINVAL;
	}

	mutex_lock(&tf->obs_lock);
	switch (cmd.op) {
	case HMM_P2P_OBS_START:
		ret = td_obs_start(tf, &cmd);
		break;
	case HMM_P2P_OBS_READ:
	case HMM_P2P_OBS_STOP:
		obs = tf->obs[cmd.id];
		if (!obs) {
			ret = -ENOENT;
			break;
		}
		if (cmd.op == HMM_P2P_OBS_STOP) {
			tf->obs[cmd.id] = NULL;
			mmu_interval_notifier_remove(&obs->notifier);
		}
		td_obs_read(obs, &cmd, cmd.flags & HMM_P2P_OBS_RESET);
		if (cmd.op == HMM_P2P_OBS_STOP)
			kfree(obs);
		break;
	}
	mutex_unlock(&tf->obs_lock);
	if (ret)
		return ret;
	/* a STOPped observer is gone even if this fails */
	if (copy_to_user(uarg, &cmd, sizeof(cmd)))
		return -EFAULT;
	return 0;
}

/**
 * td_observe_init() - a new file has no observers
 * @tf: the file
 */
void td_observe_init(struct td_file *tf)
{
	mutex_init(&tf->obs_lock);
}

/**
 * td_observe_release() - remove the file's observers at its close
 * @tf: the file
 */
void td_observe_release(struct td_file *tf)
{
	unsigned int id;

	mutex_lock(&tf->obs_lock);
	for (id = 0; id < HMM_P2P_OBS_MAX; id++) {
		if (tf->obs[id])
			td_obs_free(tf->obs[id]);
		tf->obs[id] = NULL;
	}
	mutex_unlock(&tf->obs_lock);
	mutex_destroy(&tf->obs_lock);
}
