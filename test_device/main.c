// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-p2p test devices: /dev/hmm_dmirror0..3, built on the hmm_p2p library.
 *
 * Devices 0 and 1 are device-private with a software backend (kernel pages
 * hold the data); devices 2 and 3 are device-coherent over reserved physical
 * ranges. Each device is its own pagemap owner, as in upstream's test_hmm.
 *
 * Module parameters (for the README):
 *   spm_addr_dev2=   physical base of device 2's coherent memory
 *                    (default 0x180000000; 0 disables device 2)
 *   spm_addr_dev3=   physical base of device 3's coherent memory
 *                    (default 0x1a0000000; 0 disables device 3)
 *   spm_size=        bytes of each coherent range (default 512 MiB)
 *   private_mb=      MiB of device-private memory per private device
 *                    (default 1024; grown 256 MiB at a time; at least 2)
 *   node_mode=       mode of the device nodes (default 0600, as upstream's)
 *   thp=             use 2 MiB device folios where the kernel can (default Y;
 *                    device-private only)
 * The defaults match the VM runner: -m 6G with memmap=1G$0x180000000.
 *
 * Every open file mirrors the opener's address space. Closing it (like
 * HMM_DMIRROR_RELEASE) moves all pages of the device back to system memory,
 * those of other processes included, as upstream does. The open file holds
 * its opener's mm_struct, not its address space: an exited opener's memory
 * and device pages are freed at its exit even while the file lives on (an
 * io_uring fixed file, an inherited descriptor); the file's commands then
 * fail with -ESRCH.
 */
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/sizes.h>
#include <linux/dma-mapping.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include "hmm_p2p_compat.h"
#include "testdev.h"

static unsigned long spm_addr_dev2 = 0x180000000UL;
module_param(spm_addr_dev2, ulong, 0444);
MODULE_PARM_DESC(spm_addr_dev2, "Physical base of device 2's coherent memory (0: no device 2)");

static unsigned long spm_addr_dev3 = 0x1a0000000UL;
module_param(spm_addr_dev3, ulong, 0444);
MODULE_PARM_DESC(spm_addr_dev3, "Physical base of device 3's coherent memory (0: no device 3)");

static unsigned long spm_size = SZ_512M;
module_param(spm_size, ulong, 0444);
MODULE_PARM_DESC(spm_size, "Bytes of coherent memory per coherent device");

static unsigned int private_mb = 1024;
module_param(private_mb, uint, 0444);
MODULE_PARM_DESC(private_mb, "MiB of device-private memory per private device");

static bool thp = true;
module_param(thp, bool, 0444);
MODULE_PARM_DESC(thp, "Use 2 MiB device folios where the kernel supports them");

/*
 * The nodes are the root's alone by default, as upstream's are: an open
 * file can move any of the device's pages (eviction at close acts on every
 * process's). node_mode=0666 opens them to everybody (a test machine).
 */
umode_t td_node_mode = 0600;
static int td_node_mode_set(const char *val, const struct kernel_param *kp)
{
	unsigned int mode;
	int ret = kstrtouint(val, 8, &mode);

	if (ret)
		return ret;
	if (mode & ~0666U)
		return -EINVAL;
	td_node_mode = mode;
	return 0;
}

static int td_node_mode_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "0%o\n", td_node_mode);
}

static const struct kernel_param_ops td_node_mode_ops = {
	.set = td_node_mode_set,
	.get = td_node_mode_get,
};
module_param_cb(node_mode, &td_node_mode_ops, NULL, 0444);
MODULE_PARM_DESC(node_mode, "Mode of the device nodes, octal, at most 0666 (default 0600)");

#define TD_PRIVATE_CHUNK	SZ_256M
#define TD_COHERENT_CHUNK	SZ_128M

static struct td_device *td_devices[TD_NR_DEVICES];

/**
 * td_inject_chunk_init() - chunk_init's injected failure
 * @dm: the device's memory
 * @pfn: first pfn of the chunk (unused)
 * @npages: pages in the chunk (unused)
 * @data: the chunk's backend data (unused)
 *
 * Every backend's chunk_init calls this first; backends with none use it
 * as their chunk_init.
 *
 * Return: -ENOMEM when HMM_P2P_FAULT_CHUNK_GROW fires, else 0.
 */
int td_inject_chunk_init(struct hmm_p2p_devmem *dm, unsigned long pfn,
			 unsigned long npages, void **data)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);

	return td_inject_fail(&td->inj_chunk_grow) ? -ENOMEM : 0;
}

/**
 * td_inject_alloc_backing() - alloc_backing's injected failure
 * @dm: the device's memory
 * @data: the chunk's backend data (unused)
 * @index: the page in its chunk (unused)
 * @order: the folio's order
 *
 * Every backend's alloc_backing calls this first; backends with none use it
 * as their alloc_backing.
 *
 * Return: -ENOMEM for an armed HMM_DMIRROR_FLAG_FAIL_ALLOC (a 2 MiB folio)
 * or when HMM_P2P_FAULT_ALLOC_PAGE fires, else 0.
 */
int td_inject_alloc_backing(struct hmm_p2p_devmem *dm, void *data,
			    unsigned long index, unsigned int order)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);

	/* HMM_DMIRROR_FLAG_FAIL_ALLOC's 2 MiB folio, then the fault point */
	if (td_alloc_backing_fail(dm, order))
		return -ENOMEM;
	return td_inject_fail(&td->inj_alloc_page) ? -ENOMEM : 0;
}

/**
 * td_inject_disarm() - disarm every injection point of the device
 * @td: the device, going away: nothing may keep its pages from coming home
 */
void td_inject_disarm(struct td_device *td)
{
	td_inject_arm(&td->inj_alloc_page, 0, 0);
	td_inject_arm(&td->inj_chunk_grow, 0, 0);
	td_inject_arm(&td->inj_copy_to_sys, 0, 0);
	td_inject_arm(&td->inj_copy_to_dev, 0, 0);
	td_inject_arm(&td->inj_dma_plant, 0, 0);
}

/**
 * td_dmirror_device() - /dev/hmm_dmirror@index's device
 * @index: 0 .. TD_NR_DEVICES - 1
 *
 * The devices live as long as the module.
 *
 * Return: the device, or NULL (no such index, or a coherent device the
 * module parameters disabled).
 */
struct td_device *td_dmirror_device(int index)
{
	if (index < 0 || index >= TD_NR_DEVICES)
		return NULL;
	return td_devices[index];
}

/**
 * td_file_open() - a new file (context) of a device: a mirror of the
 *	current process's address space
 * @td: a /dev/hmm_dmirrorN device
 *
 * Return: the file, or an ERR_PTR (-ENOMEM, the mirror's error).
 */
struct td_file *td_file_open(struct td_device *td)
{
	struct td_file *tf;
	int ret;

	tf = kzalloc_obj(*tf);
	if (!tf)
		return ERR_PTR(-ENOMEM);
	tf->dev = td;
	td_prefetch_file_init(tf);
	td_jobs_file_init(tf);
	ret = hmm_p2p_mirror_init(&tf->mirror, td->dm, current->mm, &td->pdev->dev,
				  &td_mirror_ops);
	if (ret) {
		kfree(tf);
		return ERR_PTR(ret);
	}
	td_observe_init(tf);
	return tf;
}

/**
 * td_file_close() - end a file of td_file_open()
 * @tf: the file
 */
void td_file_close(struct td_file *tf)
{
	/* no prefetch worker may use the mirror from here on */
	td_prefetch_stop(tf);
	/*
	 * Upstream's rule: closing a device file evicts the device's memory;
	 * here, from every address space the device's files mirror (pages
	 * only an unmirrored process maps, a forked child's, stay until the
	 * device's removal: hmm_p2p_devmem_evict_mirrored()).
	 */
	td_observe_release(tf);
	hmm_p2p_devmem_evict_mirrored(tf->dev->dm);
	hmm_p2p_mirror_fini(&tf->mirror);
	kfree(tf);
}

static int td_open(struct inode *inode, struct file *filp)
{
	struct miscdevice *misc = filp->private_data;
	struct td_file *tf = td_file_open(container_of(misc, struct td_device, misc));

	if (IS_ERR(tf))
		return PTR_ERR(tf);
	filp->private_data = tf;
	return 0;
}

static int td_release(struct inode *inode, struct file *filp)
{
	td_file_close(filp->private_data);
	return 0;
}

static const struct file_operations td_fops = {
	.owner = THIS_MODULE,
	.open = td_open,
	.release = td_release,
	.mmap = td_mmap,
	.unlocked_ioctl = td_ioctl,
	.llseek = default_llseek,
};

static bool td_overlaps(phys_addr_t base, u64 size, int nr)
{
	int i;

	for (i = 0; i < nr; i++) {
		struct td_device *o = td_devices[i];

		if (o && o->type == HMM_P2P_MEM_COHERENT &&
		    base < o->base + o->size && o->base < base + size)
			return true;
	}
	return false;
}

static void td_device_destroy(struct td_device *td)
{
	if (!td)
		return;
	misc_deregister(&td->misc);
	/* nothing may keep the pages from coming home now */
	td_inject_disarm(td);
	hmm_p2p_devmem_destroy(td->dm);
	td_engine_fini(td);
	platform_device_unregister(td->pdev);
	kfree(td);
}

static int td_device_create(int index, enum hmm_p2p_mem_type type, phys_addr_t base,
			    struct td_device **out)
{
	/*
	 * Coherent devices use 4 KiB folios only: on 7.3, splitting a large
	 * device-coherent folio (migrating part of a partly unmapped one)
	 * crashes in __folio_freeze_and_split_unmapped().
	 */
	struct hmm_p2p_devmem_desc desc = {
		.type = type,
		.thp = thp && type == HMM_P2P_MEM_PRIVATE,
		.nid = numa_node_id(),
	};
	struct td_device *td;
	int ret;

	td = kzalloc_obj(*td);
	if (!td)
		return -ENOMEM;
	td->index = index;
	td->type = type;
	snprintf(td->name, sizeof(td->name), "hmm_dmirror%d", index);

	td->pdev = platform_device_register_simple("hmm_p2p_test", index, NULL, 0);
	if (IS_ERR(td->pdev)) {
		ret = PTR_ERR(td->pdev);
		goto err_free;
	}
	ret = dma_coerce_mask_and_coherent(&td->pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		goto err_pdev;

	ret = td_engine_init(td);
	if (ret)
		goto err_pdev;

	desc.name = td->name;
	desc.priv = td;
	desc.dma_dev = &td->pdev->dev;
	if (type == HMM_P2P_MEM_PRIVATE) {
		td->backend = HMM_P2P_BACKEND_SOFT;
		td->page_ops = &td_soft_page_ops;
		desc.ops = &td_soft_ops;
		/* small devices (a few MiB, for exhaustion tests): one chunk */
		desc.chunk_size = min_t(u64, TD_PRIVATE_CHUNK,
					ALIGN(max(private_mb, 2U) * (u64)SZ_1M, SZ_2M));
		desc.max_chunks = DIV_ROUND_UP((u64)max(private_mb, 2U) * SZ_1M,
					       desc.chunk_size);
	} else {
		td->backend = HMM_P2P_BACKEND_SPM;
		td->page_ops = &td_spm_page_ops;
		td->base = base;
		td->size = spm_size;
		desc.ops = &td_spm_ops;
		desc.base = base;
		desc.size = spm_size;
		desc.chunk_size = min_t(u64, TD_COHERENT_CHUNK, spm_size);
		desc.max_chunks = div64_u64(spm_size, desc.chunk_size);
	}
	td->chunk_size = desc.chunk_size;
	td->dm = hmm_p2p_devmem_create(&desc);
	if (IS_ERR(td->dm)) {
		ret = PTR_ERR(td->dm);
		goto err_pdev;
	}

	td->misc.minor = MISC_DYNAMIC_MINOR;
	td->misc.name = td->name;
	td->misc.fops = &td_fops;
	td->misc.parent = &td->pdev->dev;
	td->misc.mode = td_node_mode;
	ret = misc_register(&td->misc);
	if (ret)
		goto err_dm;
	*out = td;
	return 0;

err_dm:
	hmm_p2p_devmem_destroy(td->dm);
err_pdev:
	td_engine_fini(td);
	platform_device_unregister(td->pdev);
err_free:
	kfree(td);
	return ret;
}

static int __init td_init(void)
{
	phys_addr_t spm[TD_NR_DEVICES] = { 0, 0, spm_addr_dev2, spm_addr_dev3 };
	int i, ret;

	ret = td_prefetch_module_init();
	if (ret)
		return ret;
	ret = td_jobs_module_init();
	if (ret) {
		td_prefetch_module_exit();
		return ret;
	}
	for (i = 0; i < TD_NR_DEVICES; i++) {
		enum hmm_p2p_mem_type type = i < 2 ? HMM_P2P_MEM_PRIVATE : HMM_P2P_MEM_COHERENT;

		if (type == HMM_P2P_MEM_COHERENT) {
			if (!spm[i])
				continue;
			if (!spm_size || td_overlaps(spm[i], spm_size, i)) {
				pr_err("hmm_p2p_test: device %d: bad coherent range %pa+0x%lx\n",
				       i, &spm[i], spm_size);
				ret = -EINVAL;
				goto err;
			}
		}
		ret = td_device_create(i, type, spm[i], &td_devices[i]);
		if (ret) {
			pr_err("hmm_p2p_test: device %d: %d\n", i, ret);
			goto err;
		}
	}
	/* ivshmem devices, if any: /dev/hmm_p2pN (backend_pci.c) */
	ret = td_pci_init();
	if (ret) {
		pr_err("hmm_p2p_test: PCI driver: %d\n", ret);
		i = TD_NR_DEVICES;
		goto err;
	}
	pr_info("hmm_p2p_test: devices ready (hmm_p2p %s)\n", hmm_p2p_version());
	return 0;
err:
	while (--i >= 0) {
		td_device_destroy(td_devices[i]);
		td_devices[i] = NULL;
	}
	td_jobs_module_exit();
	td_prefetch_module_exit();
	return ret;
}

static void __exit td_exit(void)
{
	int i;

	td_pci_exit();
	for (i = TD_NR_DEVICES - 1; i >= 0; i--)
		td_device_destroy(td_devices[i]);
	td_jobs_module_exit();
	td_prefetch_module_exit();
}

module_init(td_init);
module_exit(td_exit);
MODULE_DESCRIPTION("hmm-p2p test devices (lib/test_hmm compatible)");
MODULE_LICENSE("GPL");
