/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm-p2p selftests: the hmm_p2p library's failure injection points, the
 * kernel's fault injection attributes in debugfs (root only), one directory
 * per device memory, named as its device node:
 * /sys/kernel/debug/hmm_p2p/<node>/fail_sys_page and fail_sys_thp. The test
 * device's own points go through HMM_P2P_IOC_FAULT_INJECT (inject()).
 */
#ifndef _HMM_P2P_LIBFAIL_H
#define _HMM_P2P_LIBFAIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LIBFAIL_SYS_PAGE	"fail_sys_page"	/* system page for migration back */
#define LIBFAIL_SYS_THP		"fail_sys_thp"	/* 2 MiB system folio only */

static inline int libfail_write(const char *dir, const char *file, long long val)
{
	char path[512], buf[32];
	int fd, len, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%lld\n", val);
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Arm library point @point of the device open at @fd: @count failures
 * (0 disarms) after @skip passes. Each allocation is one unit of the
 * attribute's space, and one fails once space is no longer above 1: space
 * is @skip + 1. Returns 0 or -errno (-ENOENT: no such point, no debugfs).
 */
static inline int libfail_arm(int fd, const char *point, unsigned int count,
			      unsigned int skip)
{
	char link[64], node[256], dir[384];
	const char *name;
	ssize_t n;
	int ret;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, node, sizeof(node) - 1);
	if (n < 0)
		return -errno;
	node[n] = '\0';
	name = strrchr(node, '/');
	name = name ? name + 1 : node;
	snprintf(dir, sizeof(dir), "/sys/kernel/debug/hmm_p2p/%s/%s", name, point);
	ret = libfail_write(dir, "times", 0);
	if (ret || !count)
		return ret;
	ret = libfail_write(dir, "probability", 100);
	if (!ret)
		ret = libfail_write(dir, "interval", 1);
	if (!ret)
		ret = libfail_write(dir, "space", (long long)skip + 1);
	if (!ret)
		ret = libfail_write(dir, "times", count);
	return ret;
}

#endif /* _HMM_P2P_LIBFAIL_H */
