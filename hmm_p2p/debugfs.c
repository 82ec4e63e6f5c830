// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p debugfs: one read-only directory per device memory,
 * hmm_p2p/<devmem name>/, from hmm_p2p_devmem_create() to
 * hmm_p2p_devmem_shutdown():
 *
 *   chunks        one line per pagemap chunk: its pfn range, pages in use
 *   pages_in_use  device pages allocated now
 *   owner         the pagemap owner as a number (a keyed hash of it: devmems
 *                 that share it, a P2P group, show the same, and no kernel
 *                 address shows), its memory type, THP
 *   counters      every event counter, "name value", as
 *                 hmm_p2p_devmem_stats() names them (not reset by reading)
 *   injections    the failure injection points (fail_sys_page, fail_sys_thp,
 *                 devmem.c: their own fault_attr directories next to these
 *                 files) and whether they are armed
 *
 * The files read the devmem under debugfs' protection: its removal at
 * shutdown waits for readers in flight. Without debugfs (or with a name
 * another devmem has) there is no directory and nothing else changes.
 */
#include <linux/module.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/siphash.h>
#include <linux/random.h>
#include "hmm_p2p_compat.h"
#include "internal.h"

static int hp_chunks_show(struct seq_file *s, void *unused)
{
	struct hmm_p2p_devmem *dm = s->private;
	/* pairs with the smp_store_release() in hp_chunk_add() */
	unsigned int i, n = smp_load_acquire(&dm->nr_chunks);

	for (i = 0; i < n; i++) {
		struct hp_chunk *c = dm->chunks[i];

		seq_printf(s, "%u pfn %#lx-%#lx pages %lu in_use %ld\n", i, c->pfn_first,
			   c->pfn_first + c->npages - 1, c->npages, atomic_long_read(&c->in_use));
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hp_chunks);

static int hp_pages_in_use_show(struct seq_file *s, void *unused)
{
	struct hmm_p2p_devmem *dm = s->private;

	seq_printf(s, "%lld\n", (long long)atomic64_read(&dm->in_use));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hp_pages_in_use);

/* the key of the owners' numbers (%p's hash prints nothing early in a boot) */
static siphash_key_t hp_owner_key;
static bool hp_owner_key_set;
static DEFINE_MUTEX(hp_owner_key_lock);

static u64 hp_owner_id(const void *owner)
{
	mutex_lock(&hp_owner_key_lock);
	if (!hp_owner_key_set) {
		get_random_bytes(&hp_owner_key, sizeof(hp_owner_key));
		hp_owner_key_set = true;
	}
	mutex_unlock(&hp_owner_key_lock);
	return siphash_1u64((unsigned long)owner, &hp_owner_key);
}

static int hp_owner_show(struct seq_file *s, void *unused)
{
	struct hmm_p2p_devmem *dm = s->private;

	seq_printf(s, "owner %016llx%s\n", hp_owner_id(dm->desc.owner),
		   dm->desc.owner == dm ? " (own)" : "");
	seq_printf(s, "type %s\n", dm->desc.type == HMM_P2P_MEM_PRIVATE ? "private" : "coherent");
	seq_printf(s, "thp %d\n", dm->thp);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hp_owner);

static int hp_counters_show(struct seq_file *s, void *unused)
{
	struct hmm_p2p_devmem *dm = s->private;
	const struct {
		const char *name;
		atomic64_t *v;
	} c[] = {
		{ "migrated_to_dev", &dm->st_to_dev },
		{ "migrated_to_sys", &dm->st_to_sys },
		{ "cpu_faults", &dm->st_cpu_faults },
		{ "evicted", &dm->st_evicted },
		{ "thp_migrated", &dm->st_thp },
		{ "alloc_failures", &dm->st_alloc_fail },
		{ "mirror_faults", &dm->st_mirror_faults },
		{ "invalidations", &dm->st_invalidations },
		{ "cpu_faults_for_mirrors", &dm->st_cpu_faults_for_mirrors },
		{ "p2p_mappings", &dm->st_p2p_maps },
		{ "p2p_fallback_no_path", &dm->st_p2p_no_path },
		{ "p2p_fallback_write", &dm->st_p2p_write },
		{ "p2p_fallback_gone", &dm->st_p2p_gone },
		{ "migrated_from_peer", &dm->st_from_peer },
		{ "bounced", &dm->st_bounced },
		{ "mirror_seq_retries", &dm->st_seq_retries },
		{ "mirror_busy_retries", &dm->st_busy_retries },
		{ "mirror_fault_timeouts", &dm->st_fault_timeouts },
		{ "mirror_fault_max_ns", &dm->st_fault_max_ns },
		{ "pages_in_use", &dm->in_use },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c); i++)
		seq_printf(s, "%s %lld\n", c[i].name, (long long)atomic64_read(c[i].v));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hp_counters);

static int hp_injections_show(struct seq_file *s, void *unused)
{
#ifdef CONFIG_FAULT_INJECTION
	struct hmm_p2p_devmem *dm = s->private;
	unsigned int i;

	for (i = 0; i < HP_INJ_NR; i++) {
		struct fault_attr *a = &dm->inject[i];
		int times = atomic_read(&a->times);

		seq_printf(s, "%s %s times %d space %d probability %lu interval %lu\n",
			   hp_inject_name(i), times ? "armed" : "disarmed", times,
			   atomic_read(&a->space), a->probability, a->interval);
	}
#else
	seq_puts(s, "none (no CONFIG_FAULT_INJECTION)\n");
#endif
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hp_injections);

/**
 * hp_debugfs_devmem_init() - the debugfs directory of a new devmem
 * @dm: the devmem, its name set
 *
 * Sets @dm->debugfs, NULL when there is none (no debugfs, a name taken).
 */
void hp_debugfs_devmem_init(struct hmm_p2p_devmem *dm)
{
	struct dentry *d;

	dm->debugfs = NULL;
	if (IS_ERR_OR_NULL(hp_debugfs))
		return;
	d = debugfs_create_dir(dm->name, hp_debugfs);
	if (IS_ERR(d)) {
		pr_warn("hmm_p2p: %s: no debugfs directory (%ld)\n", dm->name, PTR_ERR(d));
		return;
	}
	dm->debugfs = d;
	debugfs_create_file("chunks", 0444, d, dm, &hp_chunks_fops);
	debugfs_create_file("pages_in_use", 0444, d, dm, &hp_pages_in_use_fops);
	debugfs_create_file("owner", 0444, d, dm, &hp_owner_fops);
	debugfs_create_file("counters", 0444, d, dm, &hp_counters_fops);
	debugfs_create_file("injections", 0444, d, dm, &hp_injections_fops);
}
