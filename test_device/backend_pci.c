// SPDX-License-Identifier: GPL-2.0
/*
 * PCI backend: QEMU ivshmem-plain devices (1af4:1110) as test devices with
 * real device memory, /dev/hmm_p2p0..7 (device index 4..11).
 *
 * BAR2 (RAM behind the BAR in QEMU) is the device's memory. It is given to
 * PCI P2PDMA (pci_p2pdma_add_resource: the one and only memremap of the BAR,
 * with struct pages the DMA API knows how to map peer to peer) and
 * published, so the rest of the pool can be mapped by processes through
 * sysfs p2pmem/allocate. The device's device-private memory takes its
 * backing from that pool, one pci_alloc_p2pmem() range per pagemap chunk:
 * behind every private page stands a P2PDMA page, which a peer's mirror maps
 * (hmm_p2p_devmem_ops.p2p_page) instead of moving the data. Copies to and
 * from the device go through the BAR's kernel mapping.
 *
 * P2P groups: after the driver's first probes (in module init), devices
 * that reach each other both ways (pci_p2pdma_distance) share a pagemap
 * owner, so their mirrors see each other's private pages; the others have
 * their own. A device bound later joins the first group all of whose
 * members it reaches. Only then are device memory and node created.
 *
 * Unbinding a device (sysfs unbind) first stops its files (their mirrors
 * are torn down; later calls get -ENODEV), then moves every page of its
 * memory back to system memory (peers' mirrors of those pages are
 * invalidated by that migration), then lets the PCI core remove the pool.
 *
 * Binding is opt-in: a machine may use ivshmem for something else, and this
 * driver writes the device's memory. It binds only the devices named in
 * pci_devs=, every ivshmem device with pci_all=1 (the project's test VMs),
 * or one whose driver_override names hmm_p2p_pci (then bind through sysfs);
 * the others it declines (-ENODEV, silently). The module has no device
 * table alias, so nothing loads it for a device by itself.
 *
 * Module parameters (simulated bad devices take a slot number N, the order
 * of probing; -1: none):
 *   pci_devs=         comma-separated PCI names (0000:03:00.0) to bind
 *   pci_all=1         bind every ivshmem device
 *   pci_private_mb=   MiB of BAR2 for device-private memory (default 512)
 *   pci_min_mb=       smallest usable BAR2, MiB (default 256)
 *   pci_sim_nobar=N   device N behaves as if it had no BAR2
 *   pci_sim_small=N   device N's BAR2 looks too small (16 MiB)
 *   pci_sim_nop2p=N   device N's BAR2 cannot be given to P2PDMA
 *   pci_sim_hide_p2p=N  (writable at run time) device N's private pages
 *                     show peers no P2P page behind them: its peers' mirrors
 *                     must move them to system memory instead
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/slab.h>
#include <linux/sizes.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/rwsem.h>
#include <linux/kref.h>
#include "hmm_p2p_compat.h"
#include "testdev.h"

static char *pci_devs = "";
module_param(pci_devs, charp, 0444);
MODULE_PARM_DESC(pci_devs, "Comma-separated ivshmem devices to bind, e.g. 0000:03:00.0 (default: none)");

static bool pci_all;
module_param(pci_all, bool, 0444);
MODULE_PARM_DESC(pci_all, "Bind every ivshmem device (default: only pci_devs= and driver_override)");

static unsigned int pci_private_mb = 512;
module_param(pci_private_mb, uint, 0444);
MODULE_PARM_DESC(pci_private_mb, "MiB of each PCI device's BAR2 used for device-private memory");

static unsigned int pci_min_mb = 256;
module_param(pci_min_mb, uint, 0444);
MODULE_PARM_DESC(pci_min_mb, "Smallest usable BAR2 in MiB");

static int pci_sim_nobar = -1;
module_param(pci_sim_nobar, int, 0444);
MODULE_PARM_DESC(pci_sim_nobar, "Simulate: PCI device N has no BAR2");

static int pci_sim_small = -1;
module_param(pci_sim_small, int, 0444);
MODULE_PARM_DESC(pci_sim_small, "Simulate: PCI device N's BAR2 is too small");

static int pci_sim_nop2p = -1;
module_param(pci_sim_nop2p, int, 0444);
MODULE_PARM_DESC(pci_sim_nop2p, "Simulate: PCI device N has no P2P memory");

static int pci_sim_hide_p2p = -1;
module_param(pci_sim_hide_p2p, int, 0644);
MODULE_PARM_DESC(pci_sim_hide_p2p, "Simulate: PCI device N offers peers no P2P page (run time)");

#define TD_PCI_IVSHMEM		0x1110	/* ivshmem's device ID (Red Hat/Qumranet) */
#define TD_PCI_BAR		2
#define TD_PCI_CHUNK		SZ_128M
#define TD_PCI_SMALL		SZ_16M

/**
 * struct td_pci - one ivshmem device
 * @td: the test device (node, devmem, engine state)
 * @pdev: the PCI device
 * @slot: N of /dev/hmm_p2pN
 * @ready: devmem and node exist
 * @gone: being removed: file operations fail with -ENODEV
 * @rw: held for reading by file operations, for writing by removal
 * @files_lock: protects @files
 * @files: open files (struct td_pci_file)
 * @ref: the device lives until it is removed and its last file closed
 * @bar_phys: BAR2's CPU physical address
 * @bar_bus: BAR2's PCI bus address
 * @bar_len: BAR2's length
 */
struct td_pci {
	struct td_device td;
	struct pci_dev *pdev;
	int slot;
	bool ready;
	bool gone;
	struct rw_semaphore rw;
	struct mutex files_lock;	/* protects files */
	struct list_head files;
	struct kref ref;
	phys_addr_t bar_phys;
	pci_bus_addr_t bar_bus;
	resource_size_t bar_len;
};

struct td_pci_file {
	struct td_file tf;		/* first: td_ioctl() sees this */
	struct td_pci *tp;
	struct list_head link;
	bool dead;			/* mirror torn down */
};

/* Backing of one pagemap chunk: a contiguous range of the P2PDMA pool. */
struct td_pci_chunk {
	struct pci_dev *pdev;
	void *vaddr;
	size_t size;
};

/* Owner cookies, one per group (a group is named after its first slot). */
static struct {
	int id;
} td_pci_owners[TD_PCI_MAX];

static DEFINE_MUTEX(td_pci_lock);		/* protects the tables below */
static struct td_pci *td_pci_devs[TD_PCI_MAX];
static struct pci_dev *td_pci_seen[TD_PCI_MAX];	/* slot of each device ever probed */
static bool td_pci_initialised;			/* first probes are done */

/*
 * BAR windows of the active devices, for the engine's address decoding and
 * for naming a BAR page's device: plain values (and a referenced pci_dev)
 * that lock-free readers may use while a device comes and goes.
 */
static struct td_pci_window {
	bool live;
	int index;
	struct pci_dev *pdev;
	phys_addr_t phys;
	pci_bus_addr_t bus;
	resource_size_t len;
} td_pci_windows[TD_PCI_MAX];

static int td_pci_chunk_init(struct hmm_p2p_devmem *dm, unsigned long pfn,
			     unsigned long npages, void **data)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);
	struct td_pci_chunk *c;
	int ret = td_inject_chunk_init(dm, pfn, npages, data);

	if (ret)
		return ret;
	c = kzalloc_obj(*c);
	if (!c)
		return -ENOMEM;
	c->pdev = td->pci;
	c->size = npages << PAGE_SHIFT;
	c->vaddr = pci_alloc_p2pmem(td->pci, c->size);
	if (!c->vaddr) {
		pci_warn(td->pci, "%s: no %zu MiB left in the P2P pool\n", td->name,
			 c->size >> 20);
		kfree(c);
		return -ENOMEM;
	}
	*data = c;
	return 0;
}

static void td_pci_chunk_fini(struct hmm_p2p_devmem *dm, void *data, unsigned long npages)
{
	struct td_pci_chunk *c = data;

	pci_free_p2pmem(c->pdev, c->vaddr, c->size);
	kfree(c);
}

/* Kernel address (in the BAR's mapping) of a device page's data, or NULL. */
static void *td_pci_vaddr(struct page *dpage)
{
	unsigned long index;
	struct td_pci_chunk *c = hmm_p2p_page_backing(dpage, &index);

	return c ? c->vaddr + (index << PAGE_SHIFT) : NULL;
}

/**
 * td_pci_data_page() - the P2PDMA page holding a device page's data
 * @dpage: a device-private page of a PCI-backed device
 *
 * Return: the page in the device's BAR, or NULL.
 */
struct page *td_pci_data_page(struct page *dpage)
{
	void *v = td_pci_vaddr(dpage);

	return v ? virt_to_page(v) : NULL;
}

static struct page *td_pci_p2p_page(struct hmm_p2p_devmem *dm, void *data,
				    unsigned long index)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);
	struct td_pci_chunk *c = data;

	if (td->index - TD_NR_DEVICES == READ_ONCE(pci_sim_hide_p2p))
		return NULL;
	return virt_to_page(c->vaddr + (index << PAGE_SHIFT));
}

static int td_pci_page_to_dev(struct page *dst, struct page *src)
{
	void *v = td_pci_vaddr(dst);

	if (!v)
		return -EIO;
	if (src)
		memcpy_from_page(v, src, 0, PAGE_SIZE);
	else
		memset(v, 0, PAGE_SIZE);
	return 0;
}

static int td_pci_page_to_sys(struct page *dst, struct page *src)
{
	void *v = td_pci_vaddr(src);

	if (!v)
		return -EIO;
	memcpy_to_page(dst, 0, v, PAGE_SIZE);
	return 0;
}

static const struct td_page_ops td_pci_page_ops = {
	.to_dev = td_pci_page_to_dev,
	.to_sys = td_pci_page_to_sys,
};

static const struct hmm_p2p_devmem_ops td_pci_ops = {
	.chunk_init = td_pci_chunk_init,
	.chunk_fini = td_pci_chunk_fini,
	.alloc_backing = td_inject_alloc_backing,
	.copy = td_dma_copy,
	.p2p_page = td_pci_p2p_page,
};

/* Do @a and @b sit below one PCIe switch (a common bridge, not a root port)? */
static bool td_pci_same_switch(struct pci_dev *a, struct pci_dev *b)
{
	struct pci_dev *x, *y;

	for (x = pci_upstream_bridge(a); x; x = pci_upstream_bridge(x)) {
		if (pci_is_pcie(x) && pci_pcie_type(x) == PCI_EXP_TYPE_ROOT_PORT)
			return false;
		for (y = pci_upstream_bridge(b); y; y = pci_upstream_bridge(y))
			if (x == y)
				return true;
	}
	return false;
}

/**
 * td_pci_peer_window() - is @addr in a BAR reached without going upstream
 *	(the device's own, or a peer's that the switch routes to)?
 * @td: the device issuing the access
 * @addr: the DMA (bus) address it issues
 *
 * Called from the engine, under a mirror lock: takes no lock (td_pci_lock
 * is held across allocations that may enter reclaim, whose invalidations
 * take mirror locks). The
 * peers' BAR windows only change when a device is probed or removed.
 *
 * Return: the CPU physical address behind @addr in the device's own BAR or
 * a peer's below the same switch, or 0.
 */
phys_addr_t td_pci_peer_window(struct td_device *td, dma_addr_t addr)
{
	int i;

	for (i = 0; i < TD_PCI_MAX; i++) {
		struct td_pci_window *w = &td_pci_windows[i];

		if (!READ_ONCE(w->live))
			continue;
		if (addr < w->bus || addr - w->bus >= w->len)
			continue;
		/* its own BAR: the device answers the request itself */
		if (w->pdev == td->pci || td_pci_same_switch(td->pci, w->pdev))
			return w->phys + (addr - w->bus);
	}
	return 0;
}

/**
 * td_pci_bar_index() - the test device whose BAR2 holds @phys
 * @phys: a CPU physical address
 *
 * Return: the device's index, or -1.
 */
int td_pci_bar_index(phys_addr_t phys)
{
	int i;

	for (i = 0; i < TD_PCI_MAX; i++) {
		struct td_pci_window *w = &td_pci_windows[i];

		if (READ_ONCE(w->live) && phys >= w->phys && phys - w->phys < w->len)
			return w->index;
	}
	return -1;
}

static void td_pci_free(struct kref *ref)
{
	kfree(container_of(ref, struct td_pci, ref));
}

/* ---- the device file ---- */

static struct td_file *td_pci_file_open(struct td_pci *tp)
{
	struct td_pci_file *pf;
	int ret;

	pf = kzalloc_obj(*pf);
	if (!pf)
		return ERR_PTR(-ENOMEM);
	down_read(&tp->rw);
	if (tp->gone) {
		ret = -ENODEV;
		goto err;
	}
	pf->tp = tp;
	pf->tf.dev = &tp->td;
	td_observe_init(&pf->tf);
	td_prefetch_file_init(&pf->tf);
	td_jobs_file_init(&pf->tf);
	ret = hmm_p2p_mirror_init(&pf->tf.mirror, tp->td.dm, current->mm, &tp->pdev->dev,
				  &td_mirror_ops);
	if (ret)
		goto err;
	kref_get(&tp->ref);
	mutex_lock(&tp->files_lock);
	list_add(&pf->link, &tp->files);
	mutex_unlock(&tp->files_lock);
	up_read(&tp->rw);
	return &pf->tf;
err:
	up_read(&tp->rw);
	kfree(pf);
	return ERR_PTR(ret);
}

/**
 * td_pci_file_close() - end a file of a PCI device
 * @tf: the file (td_pci_file_open_slot() or the node's open)
 */
void td_pci_file_close(struct td_file *tf)
{
	struct td_pci_file *pf = container_of(tf, struct td_pci_file, tf);
	struct td_pci *tp = pf->tp;

	td_observe_release(&pf->tf);
	/* no prefetch worker may use the mirror from here on */
	td_prefetch_stop(&pf->tf);
	down_read(&tp->rw);
	/* upstream's rule, as for /dev/hmm_dmirrorN (see td_file_close()) */
	if (!tp->gone)
		hmm_p2p_devmem_evict_mirrored(tp->td.dm);
	mutex_lock(&tp->files_lock);
	list_del(&pf->link);
	if (!pf->dead)
		hmm_p2p_mirror_fini(&pf->tf.mirror);
	mutex_unlock(&tp->files_lock);
	up_read(&tp->rw);
	kfree(pf);
	kref_put(&tp->ref, td_pci_free);
}

/**
 * td_pci_file_open_slot() - a new file (context) of /dev/hmm_p2p@slot for
 *	a kernel caller (export.c): a mirror of the current address space
 * @slot: the N of /dev/hmm_p2pN
 *
 * The file keeps the device's structure alive; once the device is unbound
 * its commands fail with -ENODEV (as the node's do).
 *
 * Return: the file, or an ERR_PTR: -ENODEV (no such device, or going
 * away), -ENOMEM, the mirror's error.
 */
struct td_file *td_pci_file_open_slot(int slot)
{
	struct td_file *tf;
	struct td_pci *tp;

	if (slot < 0 || slot >= TD_PCI_MAX)
		return ERR_PTR(-ENODEV);
	mutex_lock(&td_pci_lock);
	tp = td_pci_devs[slot];
	if (tp && tp->ready)
		kref_get(&tp->ref);
	else
		tp = NULL;
	mutex_unlock(&td_pci_lock);
	if (!tp)
		return ERR_PTR(-ENODEV);
	tf = td_pci_file_open(tp);
	kref_put(&tp->ref, td_pci_free);
	return tf;
}

/**
 * td_pci_present() - is /dev/hmm_p2p@slot bound and ready now?
 * @slot: the N of /dev/hmm_p2pN
 *
 * Return: true when it is (it may be unbound any time after).
 */
bool td_pci_present(int slot)
{
	bool ret;

	if (slot < 0 || slot >= TD_PCI_MAX)
		return false;
	mutex_lock(&td_pci_lock);
	ret = td_pci_devs[slot] && td_pci_devs[slot]->ready;
	mutex_unlock(&td_pci_lock);
	return ret;
}

/**
 * td_pci_file_cmd() - td_cmd() on a file of a PCI device
 * @tf: the file
 * @cmd: the command
 * @karg: its structure, a kernel copy
 *
 * Return: td_cmd()'s, or -ENODEV once the device is unbound.
 */
long td_pci_file_cmd(struct td_file *tf, unsigned int cmd, void *karg)
{
	struct td_pci_file *pf = container_of(tf, struct td_pci_file, tf);
	long ret;

	down_read(&pf->tp->rw);
	ret = pf->tp->gone ? -ENODEV : td_cmd(tf, cmd, karg);
	up_read(&pf->tp->rw);
	return ret;
}

static int td_pci_open(struct inode *inode, struct file *filp)
{
	struct miscdevice *misc = filp->private_data;
	struct td_pci *tp = container_of(misc, struct td_pci, td.misc);
	struct td_file *tf = td_pci_file_open(tp);

	if (IS_ERR(tf))
		return PTR_ERR(tf);
	filp->private_data = tf;
	return 0;
}

static int td_pci_release(struct inode *inode, struct file *filp)
{
	td_pci_file_close(filp->private_data);
	return 0;
}

static long td_pci_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct td_pci_file *pf = container_of(filp->private_data, struct td_pci_file, tf);
	long ret;

	down_read(&pf->tp->rw);
	ret = pf->tp->gone ? -ENODEV : td_ioctl(filp, cmd, arg);
	up_read(&pf->tp->rw);
	return ret;
}

static const struct file_operations td_pci_fops = {
	.owner = THIS_MODULE,
	.open = td_pci_open,
	.release = td_pci_release,
	.mmap = td_mmap,
	.unlocked_ioctl = td_pci_ioctl,
	.llseek = default_llseek,
};

/* ---- probe, groups, remove ---- */

/* The group @tp joins: the first whose every member it reaches. */
static int td_pci_pick_group(struct td_pci *tp)
{
	int g, i;

	for (g = 0; g < TD_PCI_MAX; g++) {
		bool members = false, all = true;

		for (i = 0; i < TD_PCI_MAX && all; i++) {
			struct td_pci *p = td_pci_devs[i];

			if (!p || p == tp || !p->ready || p->td.group != g)
				continue;
			members = true;
			all = hmm_p2p_reachable(p->pdev, tp->pdev) >= 0;
		}
		if (members && all)
			return g;
	}
	return tp->slot;
}

/* Create devmem and node for a probed device. td_pci_lock held. */
static int td_pci_activate(struct td_pci *tp)
{
	struct td_device *td = &tp->td;
	struct hmm_p2p_devmem_desc desc = {
		.name = td->name,
		.type = HMM_P2P_MEM_PRIVATE,
		.chunk_size = TD_PCI_CHUNK,
		.thp = true,
		.nid = dev_to_node(&tp->pdev->dev),
		.ops = &td_pci_ops,
		.dma_dev = &tp->pdev->dev,
		.priv = td,
	};
	u64 bytes = min_t(u64, (u64)pci_private_mb * SZ_1M, tp->bar_len / 2);
	int ret, i;

	lockdep_assert_held(&td_pci_lock);
	td->group = td_pci_pick_group(tp);
	desc.owner = &td_pci_owners[td->group];
	desc.max_chunks = max_t(u64, 1, bytes / TD_PCI_CHUNK);
	td->chunk_size = desc.chunk_size;
	if (desc.nid == NUMA_NO_NODE)
		desc.nid = numa_node_id();
	ret = td_engine_init(td);
	if (ret) {
		td_engine_fini(td);
		return ret;
	}
	td->dm = hmm_p2p_devmem_create(&desc);
	if (IS_ERR(td->dm)) {
		ret = PTR_ERR(td->dm);
		td->dm = NULL;
		td_engine_fini(td);
		return ret;
	}
	td->misc.minor = MISC_DYNAMIC_MINOR;
	td->misc.name = td->name;
	td->misc.fops = &td_pci_fops;
	td->misc.parent = &tp->pdev->dev;
	td->misc.mode = td_node_mode;
	ret = misc_register(&td->misc);
	if (ret) {
		hmm_p2p_devmem_destroy(td->dm);
		td->dm = NULL;
		td_engine_fini(td);
		return ret;
	}
	WRITE_ONCE(tp->ready, true);
	td_pci_windows[tp->slot] = (struct td_pci_window) {
		.index = td->index, .pdev = tp->pdev, .phys = tp->bar_phys,
		.bus = tp->bar_bus, .len = tp->bar_len,
	};
	/* the window's values before it goes live; readers use READ_ONCE(live) */
	smp_store_release(&td_pci_windows[tp->slot].live, true);
	pci_info(tp->pdev, "%s: device %d, %llu MiB private memory, P2P group %d\n",
		 td->name, td->index, hmm_p2p_devmem_capacity(td->dm) >> 20, td->group);
	for (i = 0; i < TD_PCI_MAX; i++) {
		struct td_pci *p = td_pci_devs[i];

		if (p && p != tp && p->ready)
			pci_info(tp->pdev, "%s: P2P distance to %s: %d\n", td->name,
				 p->td.name, hmm_p2p_reachable(tp->pdev, p->pdev));
	}
	return 0;
}

static int td_pci_slot(struct pci_dev *pdev)
{
	int i, free = -1;

	for (i = 0; i < TD_PCI_MAX; i++) {
		if (td_pci_seen[i] == pdev)
			return td_pci_devs[i] ? -EBUSY : i;
		if (!td_pci_seen[i] && free < 0)
			free = i;
	}
	if (free >= 0)
		td_pci_seen[free] = pci_dev_get(pdev);	/* put by td_pci_exit() */
	return free < 0 ? -ENOSPC : free;
}

/* Was the driver asked for this device (pci_all, pci_devs, driver_override)? */
static bool td_pci_wanted(struct pci_dev *pdev)
{
	const char *name = pci_name(pdev), *p = pci_devs;
	size_t len = strlen(name);

	/* driver_override binds any device: take only ivshmem */
	if (pdev->vendor != PCI_VENDOR_ID_REDHAT_QUMRANET || pdev->device != TD_PCI_IVSHMEM) {
		pci_info(pdev, "hmm_p2p_test: not an ivshmem device (%04x:%04x), not binding\n",
			 pdev->vendor, pdev->device);
		return false;
	}
	if (pci_all || device_has_driver_override(&pdev->dev))
		return true;
	while (p && *p) {
		p += strspn(p, ", ");
		if (!strncmp(p, name, len) && (p[len] == '\0' || p[len] == ',' || p[len] == ' '))
			return true;
		p += strcspn(p, ", ");
	}
	return false;
}

static int td_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	resource_size_t len = pci_resource_len(pdev, TD_PCI_BAR);
	struct td_pci *tp;
	int slot, ret;

	if (!td_pci_wanted(pdev))
		return -ENODEV;	/* not ours to take: see pci_devs=, pci_all= */

	mutex_lock(&td_pci_lock);
	slot = td_pci_slot(pdev);
	mutex_unlock(&td_pci_lock);
	if (slot < 0) {
		pci_err(pdev, "hmm_p2p_test: no device slot left (%d)\n", slot);
		return slot;
	}

	if (slot == pci_sim_nobar)
		len = 0;
	if (!len || !(pci_resource_flags(pdev, TD_PCI_BAR) & IORESOURCE_MEM)) {
		pci_err(pdev, "hmm_p2p%d: no memory BAR%d: nothing to use as device memory\n",
			slot, TD_PCI_BAR);
		return -ENODEV;
	}
	if (slot == pci_sim_small)
		len = TD_PCI_SMALL;
	if (len < (resource_size_t)pci_min_mb * SZ_1M) {
		pci_err(pdev, "hmm_p2p%d: BAR%d is %llu MiB, need at least %u MiB\n",
			slot, TD_PCI_BAR, (u64)len >> 20, pci_min_mb);
		return -ENOSPC;
	}

	ret = pcim_enable_device(pdev);
	if (ret) {
		pci_err(pdev, "hmm_p2p%d: cannot enable the device: %d\n", slot, ret);
		return ret;
	}
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret) {
		pci_err(pdev, "hmm_p2p%d: no 64-bit DMA: %d\n", slot, ret);
		return ret;
	}
	pci_set_master(pdev);

	ret = slot == pci_sim_nop2p ? -EOPNOTSUPP :
	      pci_p2pdma_add_resource(pdev, TD_PCI_BAR, len, 0);
	if (ret) {
		pci_err(pdev, "hmm_p2p%d: BAR%d cannot be P2P memory (%d): no memory to back device pages\n",
			slot, TD_PCI_BAR, ret);
		return ret;
	}
	pci_p2pmem_publish(pdev, true);

	tp = kzalloc_obj(*tp);
	if (!tp)
		return -ENOMEM;
	tp->pdev = pdev;
	tp->slot = slot;
	tp->bar_phys = pci_resource_start(pdev, TD_PCI_BAR);
	tp->bar_bus = pci_bus_address(pdev, TD_PCI_BAR);
	tp->bar_len = len;
	init_rwsem(&tp->rw);
	mutex_init(&tp->files_lock);
	INIT_LIST_HEAD(&tp->files);
	kref_init(&tp->ref);
	tp->td.index = TD_NR_DEVICES + slot;
	tp->td.type = HMM_P2P_MEM_PRIVATE;
	tp->td.backend = HMM_P2P_BACKEND_PCI;
	tp->td.page_ops = &td_pci_page_ops;
	tp->td.pci = pdev;
	snprintf(tp->td.name, sizeof(tp->td.name), "hmm_p2p%c", '0' + slot);
	pci_set_drvdata(pdev, tp);

	mutex_lock(&td_pci_lock);
	td_pci_devs[slot] = tp;
	ret = td_pci_initialised ? td_pci_activate(tp) : 0;
	if (ret)
		td_pci_devs[slot] = NULL;
	mutex_unlock(&td_pci_lock);
	if (ret) {
		pci_err(pdev, "hmm_p2p%d: cannot create the device: %d\n", slot, ret);
		kfree(tp);
		return ret;
	}
	pci_info(pdev, "hmm_p2p%d: BAR%d %pa (bus %#llx), %llu MiB of P2P memory\n",
		 slot, TD_PCI_BAR, &tp->bar_phys, (u64)tp->bar_bus, (u64)len >> 20);
	return 0;
}

static void td_pci_remove(struct pci_dev *pdev)
{
	struct td_pci *tp = pci_get_drvdata(pdev);
	struct td_pci_file *pf;

	if (tp->ready) {
		misc_deregister(&tp->td.misc);
		/* wait for file operations in flight; no new ones after this */
		down_write(&tp->rw);
		tp->gone = true;
		up_write(&tp->rw);
		td_inject_disarm(&tp->td);
		/* asynchronous prefetches are file operations in flight too */
		mutex_lock(&tp->files_lock);
		list_for_each_entry(pf, &tp->files, link)
			td_prefetch_stop(&pf->tf);
		mutex_unlock(&tp->files_lock);
		/*
		 * Every page home first (peers' mirrors invalidated on the
		 * way), while our own mirrors still hold their address spaces:
		 * eviction walks the mappings of each page it moves.
		 */
		if (hmm_p2p_devmem_shutdown(tp->td.dm) < 0)
			pci_warn(pdev, "%s: pages busy at removal, retried by the destroy\n",
				 tp->td.name);
		mutex_lock(&tp->files_lock);
		list_for_each_entry(pf, &tp->files, link) {
			hmm_p2p_mirror_fini(&pf->tf.mirror);
			pf->dead = true;
		}
		mutex_unlock(&tp->files_lock);
		hmm_p2p_devmem_destroy(tp->td.dm);
		tp->td.dm = NULL;
		td_engine_fini(&tp->td);
		/*
		 * Only now is the BAR window dead for the engines' decoding:
		 * until the destroy revoked every peer's P2P mapping, a peer
		 * may still read through one and must find the memory.
		 */
		WRITE_ONCE(td_pci_windows[tp->slot].live, false);
		pci_info(pdev, "%s: removed, its memory moved to system memory\n", tp->td.name);
	}
	pci_p2pmem_publish(pdev, false);
	mutex_lock(&td_pci_lock);
	WRITE_ONCE(tp->ready, false);
	WRITE_ONCE(td_pci_devs[tp->slot], NULL);
	mutex_unlock(&td_pci_lock);
	kref_put(&tp->ref, td_pci_free);
}

static const struct pci_device_id td_pci_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, TD_PCI_IVSHMEM) },
	{ }
};

/* No MODULE_DEVICE_TABLE: an ivshmem device must not load us by itself. */

static struct pci_driver td_pci_driver = {
	.name = "hmm_p2p_pci",
	.id_table = td_pci_ids,
	.probe = td_pci_probe,
	.remove = td_pci_remove,
	.driver.probe_type = PROBE_FORCE_SYNCHRONOUS,
};

/**
 * td_pci_init() - register the PCI driver, then group and activate the
 *	devices it found
 *
 * Return: 0 or -errno (no device is no error).
 */
int td_pci_init(void)
{
	int ret, i;

	ret = pci_register_driver(&td_pci_driver);
	if (ret)
		return ret;
	mutex_lock(&td_pci_lock);
	for (i = 0; i < TD_PCI_MAX; i++) {
		struct td_pci *tp = td_pci_devs[i];

		if (tp && td_pci_activate(tp))
			pci_err(tp->pdev, "%s: cannot create the device\n", tp->td.name);
	}
	td_pci_initialised = true;
	mutex_unlock(&td_pci_lock);
	return 0;
}

/**
 * td_pci_exit() - unregister the PCI driver (removing every device)
 */
void td_pci_exit(void)
{
	int i;

	pci_unregister_driver(&td_pci_driver);
	for (i = 0; i < TD_PCI_MAX; i++) {
		pci_dev_put(td_pci_seen[i]);
		td_pci_seen[i] = NULL;
	}
	td_pci_initialised = false;
}
