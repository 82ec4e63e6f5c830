// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p module entry points.
 */
#include <linux/module.h>
#include "hmm_p2p.h"

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
	pr_info("hmm_p2p: library %s loaded\n", hmm_p2p_version());
	return 0;
}

static void __exit hmm_p2p_exit(void)
{
}

module_init(hmm_p2p_init);
module_exit(hmm_p2p_exit);
MODULE_DESCRIPTION("Process memory on devices: pagemaps, migration, mirrors, P2P");
MODULE_LICENSE("GPL");
