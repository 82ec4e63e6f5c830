// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-p2p test devices: the interface other modules use
 * (hmm_p2p_test_export.h). The DRM front end (hmm_p2p_drm.ko) runs the test
 * devices' own mirror, migration and job code through it: a context is an
 * open file of a device, made for the calling process; its commands are
 * those of the device nodes, with the same checks and errors.
 */
#include <linux/module.h>
#include <linux/err.h>
#include "testdev.h"
#include "hmm_p2p_test_export.h"

static_assert(TD_NR_DEVICES == HMM_P2P_TEST_NR_DMIRROR);
static_assert(TD_NR_DEVICES + TD_PCI_MAX == HMM_P2P_TEST_NR_INDEX);

/**
 * hmm_p2p_test_present() - is there a test device at @index?
 * @index: 0..3 for /dev/hmm_dmirrorN, 4 + N for /dev/hmm_p2pN
 *
 * A PCI device may be unbound at any time after: this is a snapshot.
 *
 * Return: true when the device exists now.
 */
bool hmm_p2p_test_present(unsigned int index)
{
	if (index < TD_NR_DEVICES)
		return td_dmirror_device(index);
	return index < HMM_P2P_TEST_NR_INDEX && td_pci_present(index - TD_NR_DEVICES);
}
EXPORT_SYMBOL_GPL(hmm_p2p_test_present);

/**
 * hmm_p2p_test_parent() - the platform device of a /dev/hmm_dmirrorN
 * @index: 0..3
 *
 * It lives as long as hmm_p2p_test.ko: a DRM device of another module may
 * hang below it.
 *
 * Return: the platform device's struct device, or NULL (no such device; a
 * PCI device, which has none).
 */
struct device *hmm_p2p_test_parent(unsigned int index)
{
	struct td_device *td = index < TD_NR_DEVICES ? td_dmirror_device(index) : NULL;

	return td ? &td->pdev->dev : NULL;
}
EXPORT_SYMBOL_GPL(hmm_p2p_test_parent);

/**
 * hmm_p2p_test_open() - a context on a test device for the current process
 * @index: the device (hmm_p2p_test_present())
 *
 * As opening the device node does: the context mirrors current->mm (it holds
 * the mm_struct, not the address space); closing it moves the device's
 * pages home (upstream test_hmm's rule at release).
 *
 * Return: the context, or an ERR_PTR: -ENODEV (no such device, or a PCI
 * device going away), -ENOMEM, the mirror's error.
 */
struct td_file *hmm_p2p_test_open(unsigned int index)
{
	struct td_device *td;

	if (index >= HMM_P2P_TEST_NR_INDEX)
		return ERR_PTR(-ENODEV);
	if (index >= TD_NR_DEVICES)
		return td_pci_file_open_slot(index - TD_NR_DEVICES);
	td = td_dmirror_device(index);
	if (!td)
		return ERR_PTR(-ENODEV);
	return td_file_open(td);
}
EXPORT_SYMBOL_GPL(hmm_p2p_test_open);

/**
 * hmm_p2p_test_close() - end a context of hmm_p2p_test_open()
 * @ctx: the context; no command may run on it any more
 */
void hmm_p2p_test_close(struct td_file *ctx)
{
	if (ctx->dev->pci)
		td_pci_file_close(ctx);
	else
		td_file_close(ctx);
}
EXPORT_SYMBOL_GPL(hmm_p2p_test_close);

/**
 * hmm_p2p_test_cmd() - run a test-ABI command on a context
 * @ctx: the context
 * @cmd: HMM_DMIRROR_READ, _WRITE, _MIGRATE_TO_DEV, _MIGRATE_TO_SYS,
 *	_SNAPSHOT, HMM_P2P_IOC_CLASSIFY, _STATS, _INFO, _PREFETCH or _JOB
 * @karg: a kernel copy of the command's structure (the buffers it names
 *	are the calling process's), updated in place as the node's ioctl
 *	updates the user's copy
 *
 * The commands check their input and fail as uapi/hmm_p2p_test.h says,
 * and are ended by a fatal signal. Differences from the node's ioctls:
 * MIGRATE_TO_DEV with ptr 0 moves without reading the data back, and sets
 * cpages to the pages moved; STATS fills the whole structure (size and
 * reset are inputs: reset non-zero resets after reading).
 *
 * Return: 0 or -errno: the command's, -ESRCH (the context's process has
 * exited), -ENODEV (a PCI device unbound), -ENOTTY (another command).
 */
long hmm_p2p_test_cmd(struct td_file *ctx, unsigned int cmd, void *karg)
{
	if (ctx->dev->pci)
		return td_pci_file_cmd(ctx, cmd, karg);
	return td_cmd(ctx, cmd, karg);
}
EXPORT_SYMBOL_GPL(hmm_p2p_test_cmd);
