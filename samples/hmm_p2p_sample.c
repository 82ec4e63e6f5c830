// SPDX-License-Identifier: GPL-2.0
/*
 * The smallest driver on hmm_p2p (docs/driver-guide.md walks through it): 64
 * MiB of device-private memory in kernel pages (the "VRAM"), a CPU copy op,
 * /dev/hmm_p2p_sample: MIGRATE moves the caller's range to the device or
 * back, SUM adds up its bytes through a mirror, as a device would read it.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <hmm_p2p.h>

struct sample_range { __u64 addr, npages, to_dev, sum; };
#define HMM_P2P_SAMPLE_MIGRATE	_IOW('S', 1, struct sample_range)
#define HMM_P2P_SAMPLE_SUM	_IOWR('S', 2, struct sample_range)

static struct hmm_p2p_devmem *sample_dm;

/* The "VRAM" of the one chunk: a kernel page per device page in use. */
static struct page *sample_vram[SZ_64M >> PAGE_SHIFT];

static int sample_alloc_backing(struct hmm_p2p_devmem *dm, void *data,
				unsigned long index, unsigned int order)
{
	sample_vram[index] = alloc_page(GFP_HIGHUSER);	/* order 0: desc.thp is off */
	return sample_vram[index] ? 0 : -ENOMEM;
}

static void sample_free_backing(struct hmm_p2p_devmem *dm, void *data,
				unsigned long index, unsigned int order)
{
	__free_page(sample_vram[index]);
	sample_vram[index] = NULL;
}

static struct page *sample_local(struct page *dpage)
{
	unsigned long index;

	hmm_p2p_page_backing(dpage, &index);
	return sample_vram[index];
}

/* Where the data of one copy address lives, for a CPU copy. */
static struct page *sample_data(const struct hmm_p2p_addr *a)
{
	if (a->type == HMM_P2P_ADDR_SYSTEM)
		return a->page;		/* a DMA engine would use a->addr */
	return a->type == HMM_P2P_ADDR_LOCAL ? sample_local(a->page) : NULL;
}

/* The "copy engine": synchronous, so it returns 0 and never -EIOCBQUEUED. */
static int sample_copy(struct hmm_p2p_devmem *dm, struct hmm_p2p_copy_job *job)
{
	for (unsigned long i = 0; i < job->npages; i++) {
		struct page *dst = sample_data(&job->dst[i]);
		struct page *src = sample_data(&job->src[i]);

		if (job->dst[i].type == HMM_P2P_ADDR_NONE)
			continue;
		if (dst && job->src[i].type == HMM_P2P_ADDR_NONE)
			clear_highpage(dst);		/* a hole: zeros */
		else if (dst && src)
			copy_highpage(dst, src);
		else
			__set_bit(i, job->failed);	/* it stays where it was */
	}
	return 0;
}

static const struct hmm_p2p_devmem_ops sample_ops = {
	.alloc_backing = sample_alloc_backing,
	.free_backing = sample_free_backing,
	.copy = sample_copy,
};

/*
 * Each open file mirrors its opener's address space. No DMA device (the CPU
 * is the engine) and no mirror ops: pages are touched under the mirror lock.
 */
static int sample_open(struct inode *inode, struct file *filp)
{
	struct hmm_p2p_mirror *m = kzalloc(sizeof(*m), GFP_KERNEL);
	int ret = m ? hmm_p2p_mirror_init(m, sample_dm, current->mm, NULL, NULL) : -ENOMEM;

	if (ret)
		kfree(m);
	else
		filp->private_data = m;
	return ret;
}

static int sample_release(struct inode *inode, struct file *filp)
{
	hmm_p2p_mirror_fini(filp->private_data);
	kfree(filp->private_data);
	return 0;
}

/* The "device" reads the range through its mirror and adds up its bytes. */
static int sample_sum(struct hmm_p2p_mirror *m, struct sample_range *r)
{
	unsigned long a, end = r->addr + (r->npages << PAGE_SHIFT);
	struct hmm_p2p_entry e;
	int ret, i;
	u8 *p;

	r->sum = 0;
	for (a = r->addr; a < end; a += PAGE_SIZE) {
		if (fatal_signal_pending(current))
			return -EINTR;
		ret = hmm_p2p_mirror_fault(m, a, a + PAGE_SIZE, 0);
		if (ret)
			return ret;
		hmm_p2p_mirror_lock(m);		/* the entry is valid while held */
		if (!hmm_p2p_mirror_lookup(m, a, &e)) {	/* invalidated meanwhile */
			hmm_p2p_mirror_unlock(m);
			a -= PAGE_SIZE;
			continue;
		}
		/* one device: system memory, the zero page, or our own */
		p = kmap_local_page(e.flags & HMM_P2P_E_LOCAL ? sample_local(pfn_to_page(e.pfn)) :
				    pfn_to_page(e.pfn));
		for (i = 0; i < PAGE_SIZE; i++)
			r->sum += p[i];
		kunmap_local(p);
		hmm_p2p_mirror_unlock(m);
	}
	return 0;
}

static long sample_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct hmm_p2p_mirror *m = filp->private_data;
	struct sample_range r;
	long ret;

	if (cmd != HMM_P2P_SAMPLE_MIGRATE && cmd != HMM_P2P_SAMPLE_SUM)
		return -ENOTTY;
	if (copy_from_user(&r, (void __user *)arg, sizeof(r)))
		return -EFAULT;
	if (!r.npages || r.npages > SZ_64M >> PAGE_SHIFT || !PAGE_ALIGNED(r.addr) ||
	    r.addr >= TASK_SIZE || r.npages > (TASK_SIZE - r.addr) >> PAGE_SHIFT)
		return -EINVAL;
	if (!mmget_not_zero(m->mm))
		return -ESRCH;
	if (cmd == HMM_P2P_SAMPLE_SUM) {
		ret = sample_sum(m, &r);
		if (!ret && copy_to_user((void __user *)arg, &r, sizeof(r)))
			ret = -EFAULT;
	} else {
		ret = (r.to_dev ? hmm_p2p_migrate_to_device : hmm_p2p_migrate_to_system)
			(sample_dm, m->mm, r.addr, r.addr + (r.npages << PAGE_SHIFT), 0);
	}
	mmput(m->mm);
	return ret < 0 ? ret : 0;
}

static const struct file_operations sample_fops = {
	.owner = THIS_MODULE, .open = sample_open, .release = sample_release,
	.unlocked_ioctl = sample_ioctl,
};

static struct miscdevice sample_misc = {
	.minor = MISC_DYNAMIC_MINOR, .name = "hmm_p2p_sample", .fops = &sample_fops,
};

static int __init sample_init(void)
{
	const struct hmm_p2p_devmem_desc desc = {
		.name = "hmm_p2p_sample", .type = HMM_P2P_MEM_PRIVATE,
		.chunk_size = SZ_64M, .max_chunks = 1, .nid = NUMA_NO_NODE, .ops = &sample_ops,
	};
	int ret;

	sample_dm = hmm_p2p_devmem_create(&desc);
	if (IS_ERR(sample_dm))
		return PTR_ERR(sample_dm);
	ret = misc_register(&sample_misc);
	if (ret)
		hmm_p2p_devmem_destroy(sample_dm);
	return ret;
}

static void __exit sample_exit(void)
{
	misc_deregister(&sample_misc);		/* no file is open: the module is held */
	hmm_p2p_devmem_destroy(sample_dm);	/* pages still in use come back first */
}

module_init(sample_init);
module_exit(sample_exit);
MODULE_DESCRIPTION("hmm_p2p sample driver");
MODULE_LICENSE("GPL");
