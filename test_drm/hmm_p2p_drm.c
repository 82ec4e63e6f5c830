// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-p2p DRM front end (hmm_p2p_drm.ko): a DRM render node per test
 * device, whose driver ioctls (uapi/hmm_p2p_drm.h) are a GPU driver's SVM
 * interface on top of hmm_p2p: bind a range of the caller's address space,
 * migrate it, prefetch it, run a copy job on it, query its page classes and
 * the device's counters.
 *
 * Nothing is done here that the test device does not do already: an open
 * DRM file holds a context of hmm_p2p_test.ko (hmm_p2p_test_export.h),
 * what an open test node is, and every command becomes one of the test
 * ABI's on it. This module adds the bindings (a per-file table of ranges
 * named by handles) and checks their offsets.
 *
 * Nodes: one DRM device per test device present at load, parented on a
 * platform device hmm_p2pdrmI (I the test device's index) of its own: a
 * /dev/hmm_dmirrorN's below the test device's platform device
 * hmm_p2p_test.N, a PCI /dev/hmm_p2pN's at the platform root (libdrm
 * enumerates platform devices; the PCI device may be unbound while the
 * node lives: its commands then fail with -ENODEV).
 *
 * Module parameter:
 *   allow_users=1   any user who can open a node may use it (default: only
 *                   CAP_SYS_ADMIN; closing a file evicts the device's pages
 *                   from every process, as the test nodes' 0600 assume)
 */
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/capability.h>
#include <linux/overflow.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_device.h>
#include "hmm_p2p_test_export.h"
#include "hmm_p2p_drm.h"

static bool allow_users;
module_param(allow_users, bool, 0644);
MODULE_PARM_DESC(allow_users, "Let users without CAP_SYS_ADMIN open the nodes");

/**
 * struct hpd_device - one DRM device
 * @drm: the DRM device (dev_private points here)
 * @index: the test device's index
 * @own: its parent, a platform device of this module (hpd_parent())
 */
struct hpd_device {
	struct drm_device *drm;
	unsigned int index;
	struct platform_device *own;
};

/**
 * struct hpd_binding - a bound range
 * @addr: start
 * @npages: pages; 0: a free slot
 */
struct hpd_binding {
	u64 addr;
	u64 npages;
};

/**
 * struct hpd_file - an open DRM file
 * @ctx: the test device's context: the mirror of the opener's address space
 * @lock: protects @bind
 * @bind: bindings; handle N is @bind[N - 1]
 */
struct hpd_file {
	struct td_file *ctx;
	struct mutex lock;	/* protects bind */
	struct hpd_binding bind[DRM_HMM_P2P_MAX_BINDINGS];
};

static struct hpd_device *hpd_devices[HMM_P2P_TEST_NR_INDEX];

static struct hpd_file *hpd_file(struct drm_file *file)
{
	return file->driver_priv;
}

static int hpd_open(struct drm_device *drm, struct drm_file *file)
{
	struct hpd_device *hd = drm->dev_private;
	struct hpd_file *hf;

	if (!allow_users && !capable(CAP_SYS_ADMIN))
		return -EACCES;
	hf = kzalloc_obj(*hf);
	if (!hf)
		return -ENOMEM;
	mutex_init(&hf->lock);
	hf->ctx = hmm_p2p_test_open(hd->index);
	if (IS_ERR(hf->ctx)) {
		int ret = PTR_ERR(hf->ctx);

		mutex_destroy(&hf->lock);
		kfree(hf);
		return ret;
	}
	file->driver_priv = hf;
	return 0;
}

static void hpd_postclose(struct drm_device *drm, struct drm_file *file)
{
	struct hpd_file *hf = hpd_file(file);

	hmm_p2p_test_close(hf->ctx);
	mutex_destroy(&hf->lock);
	kfree(hf);
}

/*
 * The user range of @npages pages at page @offset of binding @handle, in
 * *@addr: -ENOENT for no such binding, -EINVAL for npages 0 or a range
 * past the binding's end.
 */
static int hpd_range(struct hpd_file *hf, u32 handle, u64 offset, u64 npages, u64 *addr)
{
	struct hpd_binding *b;
	u64 end;
	int ret = 0;

	if (!handle || handle > DRM_HMM_P2P_MAX_BINDINGS)
		return -ENOENT;
	mutex_lock(&hf->lock);
	b = &hf->bind[handle - 1];
	if (!b->npages)
		ret = -ENOENT;
	else if (!npages || check_add_overflow(offset, npages, &end) || end > b->npages)
		ret = -EINVAL;
	else
		*addr = b->addr + (offset << PAGE_SHIFT);
	mutex_unlock(&hf->lock);
	return ret;
}

static int hpd_ioctl_info(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_hmm_p2p_info *out = data;
	struct hmm_p2p_info info = { };
	long ret;

	ret = hmm_p2p_test_cmd(hpd_file(file)->ctx, HMM_P2P_IOC_INFO, &info);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	out->index = info.index;
	out->memory_type = info.memory_type;
	out->backend = info.backend;
	out->owner_group = info.owner_group;
	out->capacity = info.capacity;
	out->chunk_size = info.chunk_size;
	out->flags = info.flags;
	out->max_bindings = DRM_HMM_P2P_MAX_BINDINGS;
	return 0;
}

static int hpd_ioctl_bind(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct hpd_file *hf = hpd_file(file);
	struct drm_hmm_p2p_bind *args = data;
	struct hmm_p2p_prefetch_cmd pf = { };
	unsigned int i;
	long ret;

	if (args->flags & ~(DRM_HMM_P2P_BIND_POPULATE | DRM_HMM_P2P_BIND_WRITE))
		return -EINVAL;
	/* the range commands' rules: PREFETCH's checks, without the fault */
	pf.addr = args->addr;
	pf.npages = args->npages;
	if (!pf.npages || (pf.addr & ~PAGE_MASK) || pf.npages > HMM_P2P_MAX_NPAGES ||
	    pf.addr >= TASK_SIZE || pf.npages > ((TASK_SIZE - pf.addr) >> PAGE_SHIFT))
		return -EINVAL;
	args->cpages = 0;
	if (args->flags & DRM_HMM_P2P_BIND_POPULATE) {
		if (args->flags & DRM_HMM_P2P_BIND_WRITE)
			pf.flags = HMM_P2P_PREFETCH_WRITE;
		ret = hmm_p2p_test_cmd(hf->ctx, HMM_P2P_IOC_PREFETCH, &pf);
		if (ret)
			return ret;
		args->cpages = pf.cpages;
	}
	mutex_lock(&hf->lock);
	for (i = 0; i < DRM_HMM_P2P_MAX_BINDINGS && hf->bind[i].npages; i++)
		;
	if (i < DRM_HMM_P2P_MAX_BINDINGS) {
		hf->bind[i].addr = args->addr;
		hf->bind[i].npages = args->npages;
		args->handle = i + 1;
	}
	mutex_unlock(&hf->lock);
	return i < DRM_HMM_P2P_MAX_BINDINGS ? 0 : -ENOSPC;
}

static int hpd_ioctl_unbind(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct hpd_file *hf = hpd_file(file);
	struct drm_hmm_p2p_unbind *args = data;
	int ret = 0;

	if (!args->handle || args->handle > DRM_HMM_P2P_MAX_BINDINGS)
		return -ENOENT;
	if (args->pad)
		return -EINVAL;
	mutex_lock(&hf->lock);
	if (hf->bind[args->handle - 1].npages)
		hf->bind[args->handle - 1].npages = 0;
	else
		ret = -ENOENT;
	mutex_unlock(&hf->lock);
	return ret;
}

static int hpd_ioctl_migrate(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct hpd_file *hf = hpd_file(file);
	struct drm_hmm_p2p_migrate *args = data;
	struct hmm_dmirror_cmd cmd = { };
	long ret;

	ret = hpd_range(hf, args->handle, args->offset, args->npages, &cmd.addr);
	if (ret)
		return ret;
	if (args->dir != DRM_HMM_P2P_TO_DEVICE && args->dir != DRM_HMM_P2P_TO_SYSTEM)
		return -EINVAL;
	cmd.npages = args->npages;
	/* ptr 0: no read-back, cpages is the pages moved */
	ret = hmm_p2p_test_cmd(hf->ctx, args->dir == DRM_HMM_P2P_TO_DEVICE ?
			       HMM_DMIRROR_MIGRATE_TO_DEV : HMM_DMIRROR_MIGRATE_TO_SYS, &cmd);
	if (ret)
		return ret;
	args->moved = cmd.cpages;
	return 0;
}

static int hpd_ioctl_prefetch(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct hpd_file *hf = hpd_file(file);
	struct drm_hmm_p2p_prefetch *args = data;
	struct hmm_p2p_prefetch_cmd cmd = { };
	long ret;

	ret = hpd_range(hf, args->handle, args->offset, args->npages, &cmd.addr);
	if (ret)
		return ret;
	cmd.npages = args->npages;
	cmd.flags = args->flags;	/* checked by the command */
	ret = hmm_p2p_test_cmd(hf->ctx, HMM_P2P_IOC_PREFETCH, &cmd);
	if (ret)
		return ret;
	args->cpages = cmd.cpages;
	return 0;
}

static int hpd_ioctl_exec(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct hpd_file *hf = hpd_file(file);
	struct drm_hmm_p2p_exec *args = data;
	struct hmm_p2p_job_cmd cmd = { };
	long ret;

	ret = hpd_range(hf, args->handle, args->offset, args->npages, &cmd.addr);
	if (ret)
		return ret;
	if (args->pad)
		return -EINVAL;
	/* op, npages and delay_us are checked by the command */
	cmd.ptr = args->ptr;
	cmd.npages = args->npages;
	cmd.op = args->op;
	cmd.delay_us = args->delay_us;
	ret = hmm_p2p_test_cmd(hf->ctx, HMM_P2P_IOC_JOB, &cmd);
	if (ret)
		return ret;
	args->done = cmd.done;
	args->fenced_at = cmd.fenced_at;
	args->faults = cmd.faults;
	return 0;
}

static int hpd_ioctl_query(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct hpd_file *hf = hpd_file(file);
	struct drm_hmm_p2p_query *args = data;
	struct hmm_p2p_classify_cmd cmd = { };
	long ret;

	ret = hpd_range(hf, args->handle, args->offset, args->npages, &cmd.addr);
	if (ret)
		return ret;
	cmd.npages = args->npages;
	cmd.ptr = args->ptr;
	cmd.flags = args->flags;	/* checked by the command */
	ret = hmm_p2p_test_cmd(hf->ctx, HMM_P2P_IOC_CLASSIFY, &cmd);
	if (ret)
		return ret;
	args->cpages = cmd.cpages;
	return 0;
}

static int hpd_ioctl_stats(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct drm_hmm_p2p_stats *args = data;
	struct hmm_p2p_stats *st;
	long ret;

	if (args->flags & ~DRM_HMM_P2P_STATS_RESET ||
	    args->size < offsetofend(struct hmm_p2p_stats, reset))
		return -EINVAL;
	st = kzalloc_obj(*st);
	if (!st)
		return -ENOMEM;
	st->size = sizeof(*st);
	st->reset = !!(args->flags & DRM_HMM_P2P_STATS_RESET);
	ret = hmm_p2p_test_cmd(hpd_file(file)->ctx, HMM_P2P_IOC_STATS, st);
	if (!ret && copy_to_user(u64_to_user_ptr(args->ptr), st,
				 min_t(u32, args->size, sizeof(*st))))
		ret = -EFAULT;
	if (!ret)
		args->size = sizeof(*st);
	kfree(st);
	return ret;
}

static const struct drm_ioctl_desc hpd_ioctls[] = {
	DRM_IOCTL_DEF_DRV(HMM_P2P_INFO, hpd_ioctl_info, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(HMM_P2P_BIND, hpd_ioctl_bind, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(HMM_P2P_UNBIND, hpd_ioctl_unbind, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(HMM_P2P_MIGRATE, hpd_ioctl_migrate, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(HMM_P2P_PREFETCH, hpd_ioctl_prefetch, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(HMM_P2P_EXEC, hpd_ioctl_exec, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(HMM_P2P_QUERY, hpd_ioctl_query, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(HMM_P2P_STATS, hpd_ioctl_stats, DRM_RENDER_ALLOW),
};

static_assert(ARRAY_SIZE(hpd_ioctls) == DRM_HMM_P2P_NR);

static const struct file_operations hpd_fops = {
	.owner = THIS_MODULE,
	.open = drm_open,
	.release = drm_release,
	.unlocked_ioctl = drm_ioctl,
	.compat_ioctl = drm_compat_ioctl,
	.poll = drm_poll,
	.read = drm_read,
	.llseek = noop_llseek,
	.fop_flags = FOP_UNSIGNED_OFFSET,	/* drm_open_helper() insists */
};

static const struct drm_driver hpd_driver = {
	.driver_features = DRIVER_RENDER,
	.open = hpd_open,
	.postclose = hpd_postclose,
	.ioctls = hpd_ioctls,
	.num_ioctls = ARRAY_SIZE(hpd_ioctls),
	.fops = &hpd_fops,
	.name = DRM_HMM_P2P_DRIVER_NAME,
	.desc = "hmm-p2p test device (SVM front end)",
	.major = 1,
	.minor = 0,
};

static void hpd_destroy(struct hpd_device *hd)
{
	drm_dev_unregister(hd->drm);
	drm_dev_put(hd->drm);
	platform_device_unregister(hd->own);
	kfree(hd);
}

/*
 * The node's parent: a platform device hmm_p2p_drmN of its own, N the test
 * device's index, below the test device's platform device hmm_p2p_test.N
 * (a PCI device's: at the platform root). libdrm tells platform devices
 * apart by the name in their modalias alone (drmGetDevices2() folds devices
 * of equal bus info into one): the test devices' platform devices all
 * share one name, these do not.
 */
static struct platform_device *hpd_parent(unsigned int index)
{
	struct platform_device *pdev;
	char name[24];
	int ret;

	snprintf(name, sizeof(name), "%s%u", DRM_HMM_P2P_DRIVER_NAME, index);
	pdev = platform_device_alloc(name, PLATFORM_DEVID_NONE);
	if (!pdev)
		return ERR_PTR(-ENOMEM);
	pdev->dev.parent = hmm_p2p_test_parent(index);
	ret = platform_device_add(pdev);
	if (ret) {
		platform_device_put(pdev);
		return ERR_PTR(ret);
	}
	return pdev;
}

static int hpd_create(unsigned int index, struct hpd_device **out)
{
	struct hpd_device *hd;
	int ret;

	hd = kzalloc_obj(*hd);
	if (!hd)
		return -ENOMEM;
	hd->index = index;
	hd->own = hpd_parent(index);
	if (IS_ERR(hd->own)) {
		ret = PTR_ERR(hd->own);
		kfree(hd);
		return ret;
	}
	hd->drm = drm_dev_alloc(&hpd_driver, &hd->own->dev);
	if (IS_ERR(hd->drm)) {
		ret = PTR_ERR(hd->drm);
		goto err_pdev;
	}
	hd->drm->dev_private = hd;
	ret = drm_dev_register(hd->drm, 0);
	if (ret)
		goto err_put;
	*out = hd;
	return 0;

err_put:
	drm_dev_put(hd->drm);
err_pdev:
	platform_device_unregister(hd->own);
	kfree(hd);
	return ret;
}

static void hpd_exit(void)
{
	int i;

	for (i = HMM_P2P_TEST_NR_INDEX - 1; i >= 0; i--) {
		if (hpd_devices[i])
			hpd_destroy(hpd_devices[i]);
		hpd_devices[i] = NULL;
	}
}

static int __init hpd_init(void)
{
	unsigned int i, n = 0;
	int ret;

	for (i = 0; i < HMM_P2P_TEST_NR_INDEX; i++) {
		if (!hmm_p2p_test_present(i))
			continue;
		ret = hpd_create(i, &hpd_devices[i]);
		if (ret) {
			pr_err("hmm_p2p_drm: test device %u: %d\n", i, ret);
			hpd_exit();
			return ret;
		}
		n++;
	}
	pr_info("hmm_p2p_drm: %u DRM devices\n", n);
	return 0;
}

module_init(hpd_init);
module_exit(hpd_exit);
MODULE_DESCRIPTION("hmm-p2p DRM front end: an SVM interface on the test devices");
MODULE_LICENSE("GPL");
