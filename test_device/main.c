// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-p2p test devices: /dev/hmm_dmirror0..3.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include "hmm_p2p.h"
#include "hmm_p2p_test.h"

#define TESTDEV_NR 4

static struct miscdevice testdev_misc[TESTDEV_NR];
static char testdev_names[TESTDEV_NR][16];

static long testdev_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	return -ENOTTY;
}

static const struct file_operations testdev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = testdev_ioctl,
};

static int __init testdev_init(void)
{
	int i, ret;

	for (i = 0; i < TESTDEV_NR; i++) {
		snprintf(testdev_names[i], sizeof(testdev_names[i]), "hmm_dmirror%d", i);
		testdev_misc[i].minor = MISC_DYNAMIC_MINOR;
		testdev_misc[i].name = testdev_names[i];
		testdev_misc[i].fops = &testdev_fops;
		ret = misc_register(&testdev_misc[i]);
		if (ret)
			goto err;
	}
	pr_info("hmm_p2p_test: %d devices (hmm_p2p %s)\n", TESTDEV_NR, hmm_p2p_version());
	return 0;
err:
	while (--i >= 0)
		misc_deregister(&testdev_misc[i]);
	return ret;
}

static void __exit testdev_exit(void)
{
	int i;

	for (i = 0; i < TESTDEV_NR; i++)
		misc_deregister(&testdev_misc[i]);
}

module_init(testdev_init);
module_exit(testdev_exit);
MODULE_DESCRIPTION("hmm-p2p test devices");
MODULE_LICENSE("GPL");
