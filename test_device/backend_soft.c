// SPDX-License-Identifier: GPL-2.0
/*
 * Software backend for device-private memory: each device page is backed by
 * one kernel page, found through a per-chunk array. A 2 MiB device folio
 * gets 512 physically contiguous pages when the allocator has them (an
 * order-9 allocation split into single pages, so that the pages can later
 * back 4 KiB device pages one by one), or 512 single pages otherwise.
 *
 * Like a device's own memory, the backing stays with its device page when
 * that page is freed, and is reused by the page's next allocation: migration
 * then pays for no kernel page allocation or freeing. It grows to the peak
 * use of the device's memory and is returned when the chunk goes away. Every
 * allocation is filled whole before it is used (a migration copies or clears
 * each page), so no old data shows through.
 *
 * With soft_perpage=1 the backend behaves as upstream's test_hmm does
 * instead: every device page allocation allocates its kernel pages and the
 * page's free releases them. The benchmark compares the drivers that way
 * (the cost of a kernel page allocation and free per migrated page is then
 * on both sides); it may be switched at any time, since each allocation
 * only backs what is missing and each free only releases what is there.
 */
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/slab.h>
#include <linux/highmem.h>
#include <linux/moduleparam.h>
#include "testdev.h"

static bool soft_perpage;
module_param(soft_perpage, bool, 0644);
MODULE_PARM_DESC(soft_perpage,
		 "soft backend: a kernel page per device page allocation, freed with it, as upstream's test_hmm (default: kept across free and reuse)");

struct td_soft_chunk {
	unsigned long npages;
	struct page *backing[] __counted_by(npages);
};

static int td_soft_chunk_init(struct hmm_p2p_devmem *dm, unsigned long pfn,
			      unsigned long npages, void **data)
{
	struct td_soft_chunk *sc;
	int ret = td_inject_chunk_init(dm, pfn, npages, data);

	if (ret)
		return ret;
	sc = kvzalloc(struct_size(sc, backing, npages), GFP_KERNEL);
	if (!sc)
		return -ENOMEM;
	sc->npages = npages;
	*data = sc;
	return 0;
}

static void td_soft_chunk_fini(struct hmm_p2p_devmem *dm, void *data, unsigned long npages)
{
	struct td_soft_chunk *sc = data;
	unsigned long i;

	for (i = 0; i < npages; i++)
		if (sc->backing[i])
			__free_page(sc->backing[i]);
	kvfree(sc);
}

static int td_soft_alloc_backing(struct hmm_p2p_devmem *dm, void *data,
				 unsigned long index, unsigned int order)
{
	struct td_soft_chunk *sc = data;
	unsigned long i, nr = 1UL << order, missing = 0;
	struct page *page;
	int ret = td_inject_alloc_backing(dm, data, index, order);

	if (ret)
		return ret;
	for (i = 0; i < nr; i++)
		missing += !sc->backing[index + i];
	if (!missing)
		return 0;	/* kept from an earlier use */
	if (order && missing == nr) {
		page = alloc_pages(GFP_HIGHUSER | __GFP_NOWARN | __GFP_NORETRY, order);
		if (page) {
			split_page(page, order);
			for (i = 0; i < nr; i++)
				sc->backing[index + i] = page + i;
			return 0;
		}
	}
	for (i = 0; i < nr; i++) {
		if (sc->backing[index + i])
			continue;
		/* on failure, what was added stays: it is kept like the rest */
		sc->backing[index + i] = alloc_page(GFP_HIGHUSER | __GFP_NOWARN);
		if (!sc->backing[index + i])
			return -ENOMEM;
	}
	return 0;
}

/* The pagemap's free callback: must not sleep. */
static void td_soft_free_backing(struct hmm_p2p_devmem *dm, void *data,
				 unsigned long index, unsigned int order)
{
	struct td_soft_chunk *sc = data;
	unsigned long i, nr = 1UL << order;

	if (!READ_ONCE(soft_perpage))
		return;
	for (i = 0; i < nr; i++) {
		if (sc->backing[index + i]) {
			__free_page(sc->backing[index + i]);
			sc->backing[index + i] = NULL;
		}
	}
}

/**
 * td_soft_data_page() - the kernel page holding a device page's data
 * @dpage: a device-private page of a soft-backed device
 *
 * Return: the backing page, or NULL if @dpage is not backed.
 */
struct page *td_soft_data_page(struct page *dpage)
{
	unsigned long index;
	struct td_soft_chunk *sc = hmm_p2p_page_backing(dpage, &index);

	return sc ? sc->backing[index] : NULL;
}

static int td_soft_page_to_dev(struct page *dst, struct page *src)
{
	struct page *data = td_soft_data_page(dst);

	if (WARN_ON_ONCE(!data))
		return -EIO;
	if (src)
		copy_highpage(data, src);
	else
		clear_highpage(data);
	return 0;
}

static int td_soft_page_to_sys(struct page *dst, struct page *src)
{
	struct page *data = td_soft_data_page(src);

	if (WARN_ON_ONCE(!data))
		return -EIO;
	copy_highpage(dst, data);
	return 0;
}

const struct td_page_ops td_soft_page_ops = {
	.to_dev = td_soft_page_to_dev,
	.to_sys = td_soft_page_to_sys,
};

const struct hmm_p2p_devmem_ops td_soft_ops = {
	.chunk_init = td_soft_chunk_init,
	.chunk_fini = td_soft_chunk_fini,
	.alloc_backing = td_soft_alloc_backing,
	.free_backing = td_soft_free_backing,
	.copy = td_dma_copy,
};
