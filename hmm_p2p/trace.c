// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p tracepoints: the one place they are created (trace.h), and what
 * their TP_fast_assign() computes, which runs only while an event is on.
 */
#include <linux/module.h>
#include <linux/migrate.h>
#include "hmm_p2p_compat.h"
#include "internal.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* Pages the sources of a batch collected (a compound entry is a PMD's). */
unsigned long hp_trace_collected(const unsigned long *src, unsigned long npages)
{
	unsigned long i, n = 0;

	for (i = 0; i < npages; i++)
		if (src[i] & MIGRATE_PFN_MIGRATE)
			n += (src[i] & HP_PFN_COMPOUND) ? HP_PMD_NR : 1;
	return min(n, npages);
}

/* 2 MiB destinations of a batch. */
unsigned int hp_trace_thp(const unsigned long *dst, unsigned long npages)
{
	unsigned long i;
	unsigned int n = 0;

	for (i = 0; i < npages; i++)
		n += migrate_pfn_to_page(dst[i]) && (dst[i] & HP_PFN_COMPOUND);
	return n;
}

/* The pfn of a batch's first source page, or 0. */
unsigned long hp_trace_first_pfn(const unsigned long *src, unsigned long npages)
{
	unsigned long i;

	for (i = 0; i < npages; i++)
		if (src[i] & MIGRATE_PFN_VALID)
			return src[i] >> MIGRATE_PFN_SHIFT;
	return 0;
}
