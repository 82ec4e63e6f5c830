// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p module entry points.
 */
#include <linux/module.h>
#include <linux/workqueue.h>
#include <linux/debugfs.h>
#include "hmm_p2p.h"
#include "internal.h"

/* Unregisters orphaned devmems (devmem.c); module exit waits for it. */
struct workqueue_struct *hp_wq;
/* debugfs hmm_p2p/: a directory per devmem (debugfs.c) */
struct dentry *hp_debugfs;

/**
 * hmm_p2p_version() - version string of the hmm_p2p library
 *
 * Return: a static string naming the library version.
 */
const char *hmm_p2p_version(void)
{
	return "0.2";
}
EXPORT_SYMBOL_GPL(hmm_p2p_version);

static int __init hmm_p2p_init(void)
{
	hp_wq = alloc_workqueue("hmm_p2p", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!hp_wq)
		return -ENOMEM;
	hp_debugfs = debugfs_create_dir("hmm_p2p", NULL);
	pr_info("hmm_p2p: library %s loaded\n", hmm_p2p_version());
	return 0;
}

static void __exit hmm_p2p_exit(void)
{
	/* an orphan's reaper drops its module reference last thing */
	destroy_workqueue(hp_wq);
	debugfs_remove_recursive(hp_debugfs);
}

module_init(hmm_p2p_init);
module_exit(hmm_p2p_exit);
MODULE_DESCRIPTION("Process memory on devices: pagemaps, migration, mirrors, P2P");
MODULE_LICENSE("GPL");
