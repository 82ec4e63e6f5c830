// SPDX-License-Identifier: GPL-2.0
/*
 * Coherent backend: the device's memory is a reserved, CPU addressable
 * physical range (special purpose memory); device pages are the memory, so
 * copies go straight to and from them.
 */
#include <linux/mm.h>
#include <linux/highmem.h>
#include "testdev.h"

static int td_spm_page_to_dev(struct page *dst, struct page *src)
{
	if (src)
		copy_highpage(dst, src);
	else
		clear_highpage(dst);
	return 0;
}

static int td_spm_page_to_sys(struct page *dst, struct page *src)
{
	copy_highpage(dst, src);
	return 0;
}

const struct td_page_ops td_spm_page_ops = {
	.to_dev = td_spm_page_to_dev,
	.to_sys = td_spm_page_to_sys,
};

const struct hmm_p2p_devmem_ops td_spm_ops = {
	.chunk_init = td_inject_chunk_init,
	.alloc_backing = td_inject_alloc_backing,
	.copy = td_dma_copy,
};
