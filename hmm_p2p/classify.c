// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p page classes: what a pfn returned by hmm_range_fault() is, and
 * whose device memory it belongs to. The P2P decision builds on this.
 */
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/hmm.h>
#include <linux/huge_mm.h>
#include <linux/memremap.h>
#include "hmm_p2p_compat.h"
#include "internal.h"

/*
 * The huge zero folio is not exported to modules. It is the PMD-mapped
 * PMD-sized folio that user space maps with neither an anon_vma nor a file
 * behind it.
 */
static bool hp_is_huge_zero(struct page *page, unsigned int map_order)
{
	struct folio *folio = page_folio(page);

	return map_order == HP_PMD_ORDER && folio_order(folio) == HP_PMD_ORDER &&
	       !READ_ONCE(folio->mapping);
}

/**
 * hmm_p2p_classify() - classify one hmm_range_fault() output entry
 * @hmm_pfn: the entry (HMM_PFN_* flags and pfn)
 * @self: devmem of the device asking; pages of it get HMM_P2P_E_LOCAL
 * @owner: pagemap owner of the device asking
 * @entry: out: pfn, class, mapping order and flags
 *
 * Return: the class, as also stored in @entry.
 */
enum hmm_p2p_class hmm_p2p_classify(unsigned long hmm_pfn, struct hmm_p2p_devmem *self,
				    void *owner, struct hmm_p2p_entry *entry)
{
	struct page *page;

	memset(entry, 0, sizeof(*entry));
	if (hmm_pfn & HMM_PFN_ERROR) {
		entry->class = HMM_P2P_PC_ERROR;
		return entry->class;
	}
	if (!(hmm_pfn & HMM_PFN_VALID)) {
		entry->class = HMM_P2P_PC_NONE;
		return entry->class;
	}

	page = hmm_pfn_to_page(hmm_pfn);
	entry->pfn = page_to_pfn(page);
	entry->order = hmm_pfn_to_map_order(hmm_pfn);
	if (hmm_pfn & HMM_PFN_WRITE)
		entry->flags |= HMM_P2P_E_WRITE;

	if (is_device_private_page(page)) {
		entry->class = hp_page_pgmap(page)->owner == owner ?
			       HMM_P2P_PC_PRIVATE_GROUP : HMM_P2P_PC_PRIVATE_REMOTE;
		if (self && hmm_p2p_page_devmem(page) == self)
			entry->flags |= HMM_P2P_E_LOCAL;
	} else if (is_device_coherent_page(page)) {
		entry->class = HMM_P2P_PC_COHERENT;
		if (self && hmm_p2p_page_devmem(page) == self)
			entry->flags |= HMM_P2P_E_LOCAL;
	} else if (is_pci_p2pdma_page(page)) {
		entry->class = HMM_P2P_PC_P2PDMA;
	} else if (is_zero_pfn(entry->pfn) || hp_is_huge_zero(page, entry->order)) {
		entry->class = HMM_P2P_PC_ZERO;
	} else {
		entry->class = HMM_P2P_PC_SYSTEM;
	}
	return entry->class;
}
EXPORT_SYMBOL_GPL(hmm_p2p_classify);
