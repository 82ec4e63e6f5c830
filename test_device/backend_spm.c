// SPDX-License-Identifier: GPL-2.0
/*
 * Coherent backend: the device's memory is a reserved, CPU addressable
 * physical range (special purpose memory); device pages are the memory, so
 * copies go straight to and from them.
 */
#include <linux/mm.h>
#include <linux/highmem.h>
#include "testdev.h"

static int td_spm_copy_to_dev(struct hmm_p2p_devmem *dm, struct page *dst,
			      struct page *src, unsigned int nr)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);
	unsigned int i;

	if (td_inject_fail(&td->inj_copy_to_dev))
		return -EIO;
	for (i = 0; i < nr; i++) {
		if (src)
			copy_highpage(dst + i, src + i);
		else
			clear_highpage(dst + i);
	}
	atomic64_add((u64)nr << PAGE_SHIFT, &td->bytes_copied);
	return 0;
}

static int td_spm_copy_to_sys(struct hmm_p2p_devmem *dm, struct page *dst,
			      struct page *src, unsigned int nr)
{
	struct td_device *td = hmm_p2p_devmem_priv(dm);
	unsigned int i;

	if (td_inject_fail(&td->inj_copy_to_sys))
		return -EIO;
	for (i = 0; i < nr; i++)
		copy_highpage(dst + i, src + i);
	atomic64_add((u64)nr << PAGE_SHIFT, &td->bytes_copied);
	return 0;
}

const struct hmm_p2p_devmem_ops td_spm_ops = {
	.copy_to_dev = td_spm_copy_to_dev,
	.copy_to_sys = td_spm_copy_to_sys,
};
