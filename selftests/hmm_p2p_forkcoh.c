// SPDX-License-Identifier: GPL-2.0
/*
 * Forked children and device-coherent memory: copy-on-write pages that a
 * child moves to a coherent device (through its own device file), and
 * coherent pages a child inherits. Found by hmm_p2p_stress (a coherent page
 * freed while still mapped: "Bad page map", pages_in_use below zero). Each
 * case ends with the device's pages_in_use back to 0.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmm_p2p_util.h"

#define NP	16UL

static char *map_filled(__u64 seed)
{
	char *p = mmap(NULL, NP * PAGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, NP * PAGE_SZ, MADV_NOHUGEPAGE);
	fill(p, NP * PAGE_SZ, seed);
	return p;
}

static __u64 in_use(int dev)
{
	int fd = dev_open(dev);
	__u64 n;

	if (fd < 0)
		return ~0ULL;
	n = wait_in_use(fd, 0, 2000);
	close(fd);
	return n;
}

/* the child: own file of @dev, move the shared pages there, read them */
static int child_migrate(char *p, int dev, int then)
{
	char *out = malloc(NP * PAGE_SZ);
	__u64 cpages;
	int fd = dev_open(dev);

	CCHECK(fd >= 0 && out, "open");
	CCHECK(!dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, out, NP, &cpages), "migrate");
	CCHECK(check(p, NP * PAGE_SZ, 1) == -1, "child data");
	if (then == 1)
		fill(p, NP * PAGE_SZ, 2);	/* COW: the child's own copy */
	if (then == 2)
		CCHECK(!dm(fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, NP, &cpages), "to sys");
	return 0;
}

static void run_case(struct __test_metadata *_metadata, int dev, bool parent_fd, int then,
		     int parent_after)
{
	int pfd = -1;
	__u64 cpages;
	char *p;
	pid_t pid;

	if (access("/dev/hmm_dmirror2", F_OK))
		SKIP(return, "no coherent device");
	p = map_filled(1);
	ASSERT_NE(NULL, p);
	if (parent_fd)
		pfd = dev_open(dev);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(child_migrate(p, dev, then));
	ASSERT_EQ(0, wait_child(pid));
	/* the parent's pages: its data, wherever they are */
	EXPECT_EQ(-1, check(p, NP * PAGE_SZ, 1));
	if (parent_after == 1)
		fill(p, NP * PAGE_SZ, 3);
	if (parent_after == 2 && pfd >= 0)
		EXPECT_EQ(0, dm(pfd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, NP, &cpages));
	if (parent_after == 3)
		madvise(p, NP * PAGE_SZ, MADV_DONTNEED);
	munmap(p, NP * PAGE_SZ);
	if (pfd >= 0)
		close(pfd);
	EXPECT_EQ(0, in_use(dev));
}

TEST(child_moves_shared_then_exits)
{
	run_case(_metadata, DEV_COH0, false, 0, 0);
}

TEST(child_moves_shared_parent_has_file)
{
	run_case(_metadata, DEV_COH0, true, 0, 0);
}

TEST(child_moves_shared_writes_exits)
{
	run_case(_metadata, DEV_COH0, true, 1, 0);
}

TEST(child_moves_shared_back_exits)
{
	run_case(_metadata, DEV_COH0, true, 2, 0);
}

TEST(child_moves_shared_parent_writes)
{
	run_case(_metadata, DEV_COH0, true, 0, 1);
}

TEST(child_moves_shared_parent_moves_back)
{
	run_case(_metadata, DEV_COH0, true, 0, 2);
}

TEST(child_moves_shared_parent_dontneed)
{
	run_case(_metadata, DEV_COH0, true, 0, 3);
}

TEST(child_moves_shared_private)
{
	run_case(_metadata, DEV_PRIV0, true, 0, 1);
}

TEST_HARNESS_MAIN
