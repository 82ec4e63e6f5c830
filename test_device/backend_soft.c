// SPDX-License-Identifier: GPL-2.0
/*
 * Software backend for device-private memory: each device page is backed by
 * one kernel page, found through a per-chunk array. A 2 MiB device folio
 * gets 512 physically contiguous pages when the allocator has them (an
 * order-9 allocation split into single pages, so that a later split of the
 * device folio can free them one by one), or 512 single pages otherwise.
 */
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/slab.h>
#include <linux/highmem.h>
#include "testdev.h"

struct td_soft_chunk {
	unsigned long npages;
	struct page *backing[] __counted_by(npages);
};

static int td_soft_chunk_init(struct hmm_p2p_devmem *dm, unsigned long pfn,
			      unsigned long npages, void **data)
{
	struct td_soft_chunk *sc;

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
		WARN_ON_ONCE(sc->backing[i]);
	kvfree(sc);
}

static int td_soft_alloc_backing(struct hmm_p2p_devmem *dm, void *data,
				 unsigned long index, unsigned int order)
{
	struct td_soft_chunk *sc = data;
	unsigned long i, nr = 1UL << order;
	struct page *page = NULL;

	if (order) {
		page = alloc_pages(GFP_HIGHUSER | __GFP_NOWARN | __GFP_NORETRY, order);
		if (page)
			split_page(page, order);
	}
	for (i = 0; i < nr; i++) {
		sc->backing[index + i] = page ? page + i :
					 alloc_page(GFP_HIGHUSER | __GFP_NOWARN);
		if (!sc->backing[index + i])
			goto fail;
	}
	return 0;
fail:
	while (i--) {
		__free_page(sc->backing[index + i]);
		sc->backing[index + i] = NULL;
	}
	return -ENOMEM;
}

static void td_soft_free_backing(struct hmm_p2p_devmem *dm, void *data,
				 unsigned long index, unsigned int order)
{
	struct td_soft_chunk *sc = data;
	unsigned long i;

	for (i = 0; i < (1UL << order); i++) {
		if (sc->backing[index + i])
			__free_page(sc->backing[index + i]);
		sc->backing[index + i] = NULL;
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

static int td_soft_copy_to_dev(struct hmm_p2p_devmem *dm, struct page *dst,
			       struct page *src, unsigned int nr)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);
	unsigned int i;

	if (td_inject_fail(&td->inj_copy_to_dev))
		return -EIO;
	for (i = 0; i < nr; i++) {
		struct page *data = td_soft_data_page(dst + i);

		if (WARN_ON_ONCE(!data))
			return -EIO;
		if (src)
			copy_highpage(data, src + i);
		else
			clear_highpage(data);
	}
	atomic64_add((u64)nr << PAGE_SHIFT, &td->bytes_copied);
	return 0;
}

static int td_soft_copy_to_sys(struct hmm_p2p_devmem *dm, struct page *dst,
			       struct page *src, unsigned int nr)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);
	unsigned int i;

	if (td_inject_fail(&td->inj_copy_to_sys))
		return -EIO;
	for (i = 0; i < nr; i++) {
		struct page *data = td_soft_data_page(src + i);

		if (WARN_ON_ONCE(!data))
			return -EIO;
		copy_highpage(dst + i, data);
	}
	atomic64_add((u64)nr << PAGE_SHIFT, &td->bytes_copied);
	return 0;
}

const struct hmm_p2p_devmem_ops td_soft_ops = {
	.chunk_init = td_soft_chunk_init,
	.chunk_fini = td_soft_chunk_fini,
	.alloc_backing = td_soft_alloc_backing,
	.free_backing = td_soft_free_backing,
	.copy_to_dev = td_soft_copy_to_dev,
	.copy_to_sys = td_soft_copy_to_sys,
};
