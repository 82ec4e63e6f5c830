// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-p2p selftests: what the upstream hmm-tests suite does not cover.
 *
 * The devices are /dev/hmm_dmirror0..3 (0 and 1 device-private, 2 and 3
 * device-coherent) with the ioctl ABI of uapi/hmm_p2p_test.h: the kernel's
 * lib/test_hmm interface plus our extensions (CLASSIFY, STATS, FAULT_INJECT,
 * INFO). Topics:
 *  - several processes on one device;
 *  - fork and copy-on-write of pages in device memory;
 *  - munmap and mremap during and after migration;
 *  - a range mixing private, coherent and system pages;
 *  - device memory exhausted (fault injection), data intact;
 *  - eviction at RELEASE / close() of another process, and a killed owner;
 *  - bad ioctl input;
 *  - STATS and INFO.
 *
 * Where this file does not use CLASSIFY, it cross-checks where pages are with
 * /proc/self/pagemap: a device-private page is a non-present swap-type entry
 * (the guest has no swap), a system or coherent page is present.
 *
 * Every test runs in its own process (kselftest harness). Processes forked by
 * a test report through their exit status and never use ASSERT_*().
 */

#define _GNU_SOURCE
#include "kselftest_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "hmm_p2p_util.h"

/* ---- fixture: one device, 4 KiB or THP buffers ---- */

FIXTURE(dm)
{
	int fd;
	int dev;
	bool coherent;
	bool thp;
	unsigned long npages;
	int devclass;
};

FIXTURE_VARIANT(dm)
{
	int dev;
	bool thp;
};

FIXTURE_VARIANT_ADD(dm, private_4k) { .dev = DEV_PRIV0, .thp = false };
FIXTURE_VARIANT_ADD(dm, private_thp) { .dev = DEV_PRIV0, .thp = true };
FIXTURE_VARIANT_ADD(dm, coherent_4k) { .dev = DEV_COH0, .thp = false };
FIXTURE_VARIANT_ADD(dm, coherent_thp) { .dev = DEV_COH0, .thp = true };

FIXTURE_SETUP(dm)
{
	self->dev = variant->dev;
	self->coherent = dev_is_coherent(variant->dev);
	self->thp = variant->thp;
	self->npages = variant->thp ? NPAGES_THP : NPAGES_4K;
	self->devclass = self->coherent ? HMM_P2P_CLASS_COHERENT :
					  HMM_P2P_CLASS_PRIVATE_LOCAL;
	self->fd = dev_open(variant->dev);
	if (self->fd < 0 && self->coherent)
		SKIP(return, "no /dev/hmm_dmirror%d (coherent)", variant->dev);
	ASSERT_GE(self->fd, 0);
	if (variant->thp && !thp_enabled())
		SKIP(return, "transparent hugepages disabled");
	inject_disarm_all(self->fd);
}

FIXTURE_TEARDOWN(dm)
{
	if (self->fd >= 0) {
		inject_disarm_all(self->fd);
		close(self->fd);
	}
}

/* How many of @b's pages are on the fixture's device (pagemap or CLASSIFY). */
static long on_device(int fd, bool coherent, const void *addr,
		      unsigned long npages)
{
	struct hmm_p2p_page_info *info;
	long n;

	if (!coherent)
		return pagemap_resident(addr, npages, NULL);
	info = malloc(npages * sizeof(*info));
	if (!info)
		return -ENOMEM;
	n = classify(fd, addr, npages, HMM_P2P_CLASSIFY_NOFAULT, info);
	if (!n)
		n = count_class(info, npages, HMM_P2P_CLASS_COHERENT);
	free(info);
	return n;
}

/* Migrate @b to the device through @fd and check the returned copy. */
static int migrate_checked(int fd, struct buf *b, __u64 seed)
{
	__u64 cp;
	int ret;

	memset(b->mirror, 0, b->size);
	ret = dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, b->ptr, b->mirror, b->npages, &cp);
	if (ret)
		return ret;
	if (cp != b->npages) {
		fprintf(stderr, "# migrated %llu of %lu pages\n",
			(unsigned long long)cp, b->npages);
		return -ERANGE;
	}
	return check(b->mirror, b->size, seed) < 0 ? 0 : -EIO;
}

/* Device read of @b through @fd: 0 when it returns the pattern of @seed. */
static int read_checked(int fd, struct buf *b, __u64 seed)
{
	__u64 cp;
	int ret;

	memset(b->mirror, 0, b->size);
	ret = dm(fd, HMM_DMIRROR_READ, b->ptr, b->mirror, b->npages, &cp);
	if (ret)
		return ret;
	if (cp != b->npages)
		return -ERANGE;
	return check(b->mirror, b->size, seed) < 0 ? 0 : -EIO;
}

/*
 * Pages [@lo, @hi) of @addr are of class @in, the others of class @out, as
 * the device's mirror sees them without faulting. Returns -1, or the first
 * page that is not (0 if CLASSIFY failed).
 */
static long classes_are(int fd, const void *addr, unsigned long npages,
			unsigned long lo, unsigned long hi, int in, int out)
{
	struct hmm_p2p_page_info *info = malloc(npages * sizeof(*info));
	unsigned long i;
	long bad = -1;
	int ret;

	if (!info)
		return 0;
	ret = classify(fd, addr, npages, HMM_P2P_CLASSIFY_NOFAULT, info);
	if (ret) {
		fprintf(stderr, "# CLASSIFY: %d\n", ret);
		bad = 0;
	}
	for (i = 0; !ret && i < npages && bad < 0; i++) {
		int want = i >= lo && i < hi ? in : out;

		if (info[i].class != want) {
			fprintf(stderr, "# page %lu: class %u, want %d\n", i,
				info[i].class, want);
			bad = i;
		}
	}
	free(info);
	return bad;
}

/*
 * Pages one device allocation, one engine copy and one move take for @b on
 * the device of @fd: a 2 MiB folio where the device has them and @b is made
 * of THPs, else 4 KiB; 0 when @b should be THPs and is not (skip then).
 */
static unsigned long dev_unit(int fd, const struct buf *b, bool thp)
{
	struct hmm_p2p_info di;

	if (!thp || get_info(fd, &di) || !(di.flags & HMM_P2P_INFO_THP))
		return 1;
	return anon_huge_kb(b->ptr) >= (long)(b->size >> 10) ? NPAGES_THP : 0;
}

/* ---- several processes on one device ---- */

static int multiproc_child(int dev, bool thp, unsigned long npages, int idx,
			   int start_rd, int ready_wr, int finish_rd)
{
	__u64 seed = 0x100 + idx;
	struct hmm_p2p_page_info *info;
	struct buf b;
	int fd, ret, ok = 1;
	long n;

	fd = dev_open(dev);
	ret = fd < 0 ? -errno : buf_alloc(&b, npages, thp);
	info = calloc(npages, sizeof(*info));
	if (!ret && !info)
		ret = -ENOMEM;
	if (!ret) {
		fill(b.ptr, b.size, seed);
		pipe_get(start_rd);	/* everybody migrates at once */
		ret = migrate_checked(fd, &b, seed);
	}
	if (!ret) {
		/* The pages are on the device, and the device reads them. */
		n = on_device(fd, dev_is_coherent(dev), b.ptr, npages);
		ret = n == (long)npages ? 0 : -ERANGE;
		if (ret)
			fprintf(stderr, "# child %d: %ld of %lu pages on device\n",
				idx, n, npages);
	}
	if (!ret) {
		ret = classify(fd, b.ptr, npages, HMM_P2P_CLASSIFY_NOFAULT, info);
		if (!ret && count_class(info, npages, dev_is_coherent(dev) ?
					HMM_P2P_CLASS_COHERENT :
					HMM_P2P_CLASS_PRIVATE_LOCAL) != npages)
			ret = -ERANGE;
		if (!ret && info[0].owner != dev)
			ret = -ERANGE;
	}
	if (!ret)
		ret = read_checked(fd, &b, seed);
	if (ret)
		fprintf(stderr, "# child %d: phase 1 failed: %d\n", idx, ret);
	else
		ok = 0;
	pipe_put(ready_wr, ok);
	if (ok)
		return 1;

	/* Wait until all processes have checked their pages on the device. */
	pipe_get(finish_rd);
	CCHECK(check(b.ptr, b.size, seed) < 0, "child %d: CPU read", idx);
	CCHECK(read_checked(fd, &b, seed) == 0, "child %d: device read", idx);
	/*
	 * Private pages came back with the CPU reads. (Coherent ones may be
	 * under eviction by another process's close() right now.)
	 */
	n = dev_is_coherent(dev) ? 0 : pagemap_resident(b.ptr, npages, NULL);
	CCHECK(n == 0, "child %d: %ld pages still device-private", idx, n);
	close(fd);
	buf_free(&b);
	free(info);
	return 0;
}

/*
 * NPROCS processes each migrate their own buffer to the device at the same
 * time, read it back through the device and the CPU; the device keeps them
 * apart, counts all of them, and frees all of them when they are gone.
 */
TEST_F_TIMEOUT(dm, multiprocess, LONG_TIMEOUT)
{
	int start[2], ready[2], finish[2];
	struct hmm_p2p_stats s0, s1;
	pid_t pid[NPROCS];
	int i, ok = 0;

	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	ASSERT_EQ(pipe(start), 0);
	ASSERT_EQ(pipe(ready), 0);
	ASSERT_EQ(pipe(finish), 0);
	for (i = 0; i < NPROCS; i++) {
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (!pid[i]) {
			close(start[1]);
			close(ready[0]);
			close(finish[1]);
			_exit(multiproc_child(self->dev, self->thp, self->npages,
					      i, start[0], ready[1], finish[0]));
		}
	}
	close(start[0]);
	close(ready[1]);
	close(finish[0]);
	close(start[1]);		/* go */
	for (i = 0; i < NPROCS; i++)
		ok += pipe_get(ready[0]) == 0;
	EXPECT_EQ(ok, NPROCS);
	if (ok == NPROCS) {
		struct hmm_p2p_info di;

		ASSERT_EQ(get_stats(self->fd, &s1), 0);
		ASSERT_EQ(get_info(self->fd, &di), 0);
		EXPECT_EQ(s1.migrated_to_dev - s0.migrated_to_dev,
			  NPROCS * self->npages);
		EXPECT_EQ(s1.pages_in_use - s0.pages_in_use, NPROCS * self->npages);
		EXPECT_EQ(s1.pages_total, s1.chunks * (di.chunk_size / PAGE_SZ));
		/*
		 * The engine copied each page three times: into device memory,
		 * back out as the migration's copy, and for read_checked().
		 */
		EXPECT_EQ(s1.bytes_copied - s0.bytes_copied,
			  3 * NPROCS * self->npages * PAGE_SZ);
	}
	close(finish[1]);		/* let them check by CPU and exit */
	for (i = 0; i < NPROCS; i++)
		EXPECT_EQ(wait_child(pid[i]), 0);
	/* Every page of every process is freed. */
	EXPECT_LE(wait_in_use(self->fd, s0.pages_in_use, 2000), s0.pages_in_use);
}

/* ---- fork and copy-on-write ---- */

/*
 * The parent migrates, forks. The child reads through its own mirror (the
 * pages are still on the device, shared copy-on-write), then writes half by
 * CPU; the parent writes the other half. Each sees its own data by CPU and
 * through its device mirror, before and after the other's writes.
 */
static int cow_child(struct buf *b, int dev, int to_parent, int from_parent)
{
	size_t half = b->size / 2;
	char *m = malloc(b->size);
	__u64 cp;
	int fd;

	CCHECK(m, "malloc");
	fd = dev_open(dev);
	CCHECK(fd >= 0, "open: %d", errno);
	/* Device read before any CPU access: the shared device pages. */
	CCHECK(dm(fd, HMM_DMIRROR_READ, b->ptr, m, b->npages, &cp) == 0, "read");
	CCHECK(cp == b->npages && check(m, b->size, 1) < 0, "device read A");
	/* CPU write to the first half breaks COW for the child only. */
	fill(b->ptr, half, 2);
	CCHECK(check(b->ptr, half, 2) < 0, "CPU C");
	CCHECK(check_at(b->ptr + half, half, 1, half) < 0, "CPU A (2nd half)");
	CCHECK(dm(fd, HMM_DMIRROR_READ, b->ptr, m, b->npages, &cp) == 0, "read");
	CCHECK(check(m, half, 2) < 0, "device read C");
	CCHECK(check_at(m + half, half, 1, half) < 0, "device read A");
	pipe_put(to_parent, 0);
	CCHECK(pipe_get(from_parent) == 0, "parent failed");
	/* The parent wrote its second half: nothing changes for the child. */
	CCHECK(check(b->ptr, half, 2) < 0, "CPU C after parent write");
	CCHECK(check_at(b->ptr + half, half, 1, half) < 0, "CPU A after parent");
	CCHECK(dm(fd, HMM_DMIRROR_READ, b->ptr, m, b->npages, &cp) == 0, "read");
	CCHECK(check(m, half, 2) < 0, "device C after parent write");
	CCHECK(check_at(m + half, half, 1, half) < 0, "device A after parent");
	/* And the child can move its own (new, system) half to the device. */
	CCHECK(dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, b->ptr, m, b->npages / 2,
		  &cp) == 0, "migrate");
	CCHECK(cp == b->npages / 2 && check(m, half, 2) < 0, "migrated copy");
	CCHECK(check(b->ptr, half, 2) < 0, "CPU C after migration");
	close(fd);
	free(m);
	return 0;
}

TEST_F_TIMEOUT(dm, fork_cow, LONG_TIMEOUT)
{
	int to_parent[2], from_parent[2];
	struct buf b;
	size_t half;
	pid_t pid;
	int ret;

	ASSERT_EQ(buf_alloc(&b, self->npages, self->thp), 0);
	half = b.size / 2;
	fill(b.ptr, b.size, 1);
	ASSERT_EQ(migrate_checked(self->fd, &b, 1), 0);
	ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, b.npages), b.npages);
	ASSERT_EQ(pipe(to_parent), 0);
	ASSERT_EQ(pipe(from_parent), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		close(to_parent[0]);
		close(from_parent[1]);
		_exit(cow_child(&b, self->dev, to_parent[1], from_parent[0]));
	}
	close(to_parent[1]);
	close(from_parent[0]);
	ret = pipe_get(to_parent[0]);
	if (ret) {
		pipe_put(from_parent[1], 1);
		wait_child(pid);
	}
	ASSERT_EQ(ret, 0);
	/* The child's write is not visible to the parent's mirror nor CPU. */
	ASSERT_EQ(read_checked(self->fd, &b, 1), 0);
	fill(b.ptr + half, half, 3);
	ASSERT_EQ(check(b.ptr, half, 1), -1);
	ASSERT_EQ(check(b.ptr + half, half, 3), -1);
	memset(b.mirror, 0, b.size);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_READ, b.ptr, b.mirror, b.npages, NULL), 0);
	ASSERT_EQ(check(b.mirror, half, 1), -1);
	ASSERT_EQ(check(b.mirror + half, half, 3), -1);
	pipe_put(from_parent[1], 0);
	ASSERT_EQ(wait_child(pid), 0);
	/* The child's exit (and its close(), which evicts) loses nothing. */
	ASSERT_EQ(check(b.ptr, half, 1), -1);
	ASSERT_EQ(check(b.ptr + half, half, 3), -1);
	memset(b.mirror, 0, b.size);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_READ, b.ptr, b.mirror, b.npages, NULL), 0);
	ASSERT_EQ(check(b.mirror, half, 1), -1);
	ASSERT_EQ(check(b.mirror + half, half, 3), -1);
	buf_free(&b);
}

/*
 * After fork, the pages sit on the device shared copy-on-write. The child
 * writes them through the device (no CPU access before): the write must land
 * in the child's copy only. Then the parent writes through its device.
 */
static int devwrite_child(struct buf *b, int dev)
{
	char *m = malloc(b->size);
	__u64 cp;
	int fd, ret;

	CCHECK(m, "malloc");
	fd = dev_open(dev);
	CCHECK(fd >= 0, "open: %d", errno);
	fill(m, b->size, 4);
	ret = dm(fd, HMM_DMIRROR_WRITE, b->ptr, m, b->npages, &cp);
	CCHECK(ret == 0, "device write to COW-shared device pages: %d", ret);
	CCHECK(cp == b->npages, "cpages %llu", (unsigned long long)cp);
	memset(m, 0, b->size);
	CCHECK(dm(fd, HMM_DMIRROR_READ, b->ptr, m, b->npages, &cp) == 0, "read");
	CCHECK(check(m, b->size, 4) < 0, "device read back");
	CCHECK(check(b->ptr, b->size, 4) < 0, "CPU read back");
	close(fd);
	free(m);
	return 0;
}

TEST_F_TIMEOUT(dm, fork_device_write, LONG_TIMEOUT)
{
	struct buf b;
	pid_t pid;
	char *m;

	ASSERT_EQ(buf_alloc(&b, self->npages, self->thp), 0);
	fill(b.ptr, b.size, 1);
	ASSERT_EQ(migrate_checked(self->fd, &b, 1), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(devwrite_child(&b, self->dev));
	ASSERT_EQ(wait_child(pid), 0);
	/* The parent's copy is untouched, through its device and by CPU. */
	ASSERT_EQ(read_checked(self->fd, &b, 1), 0);
	/* The parent writes through the device (its pages may be read-only). */
	m = malloc(b.size);
	ASSERT_NE(m, NULL);
	fill(m, b.size, 5);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_WRITE, b.ptr, m, b.npages, NULL), 0);
	ASSERT_EQ(read_checked(self->fd, &b, 5), 0);
	ASSERT_EQ(check(b.ptr, b.size, 5), -1);
	free(m);
	buf_free(&b);
}

/*
 * A child that inherits device pages and exits without touching them, or
 * unmaps them first, does not take the parent's pages away.
 */
TEST_F(dm, fork_child_exits)
{
	struct buf b;
	int unmap;
	pid_t pid;

	for (unmap = 0; unmap < 2; unmap++) {
		ASSERT_EQ(buf_alloc(&b, self->npages, self->thp), 0);
		fill(b.ptr, b.size, 6 + unmap);
		ASSERT_EQ(migrate_checked(self->fd, &b, 6 + unmap), 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid) {
			if (unmap)
				munmap(b.ptr, b.size);
			_exit(0);
		}
		ASSERT_EQ(wait_child(pid), 0);
		/* Still on the device, and right. */
		ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, b.npages),
			  b.npages);
		ASSERT_EQ(read_checked(self->fd, &b, 6 + unmap), 0);
		ASSERT_EQ(check(b.ptr, b.size, 6 + unmap), -1);
		buf_free(&b);
	}
}

/* ---- munmap and mremap during and after migration ---- */

struct racer {
	void *addr;
	size_t len;
	void *dst;		/* mremap target, or NULL for munmap */
	unsigned int delay_us;
	void *result;
	int go;			/* the racer spins until it is set */
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;

	while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE))
		;
	if (r->delay_us)
		usleep(r->delay_us);
	if (r->dst)
		r->result = mremap(r->addr, r->len, r->len,
				   MREMAP_MAYMOVE | MREMAP_FIXED, r->dst);
	else
		r->result = (void *)(intptr_t)munmap(r->addr, r->len);
	return NULL;
}

/*
 * Invalidations one munmap() of [@addr, @addr + @len) inside the mapping
 * [@map, @map + @map_len) sends a mirror of the whole address space: one for
 * the unmap, and one for each end of the range that splits the VMA inside a
 * 2 MiB range the VMA covers (the kernel splits a huge PMD there first, and
 * notifies whether or not the PMD was huge: vma_adjust_trans_huge()).
 */
static unsigned long munmap_invalidations(const void *map, size_t map_len,
					  const void *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)map, hi = lo + map_len;
	uintptr_t ends[2] = { (uintptr_t)addr, (uintptr_t)addr + len };
	unsigned long n = 1;
	int i;

	for (i = 0; i < 2; i++) {
		uintptr_t a = ends[i];

		if (a == lo || a == hi || !(a & (PMD_SZ - 1)))
			continue;
		n += (a & ~(PMD_SZ - 1)) >= lo && ((a + PMD_SZ - 1) & ~(PMD_SZ - 1)) <= hi;
	}
	return n;
}

/*
 * munmap after migration: the munmap invalidates the device's mirror (the
 * exact number of notifications, counted from after the migration, which
 * invalidates too), the unmapped half's device pages are freed at once, the
 * rest stays on the device and right.
 */
TEST_F(dm, munmap_after_migrate)
{
	struct hmm_p2p_stats s0, s1, s2;
	unsigned long want;
	struct buf b;
	size_t half;
	__u64 cp, left;

	ASSERT_EQ(buf_alloc(&b, self->npages, self->thp), 0);
	half = b.size / 2;
	fill(b.ptr, b.size, 20);
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	ASSERT_EQ(migrate_checked(self->fd, &b, 20), 0);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	ASSERT_EQ(s1.pages_in_use - s0.pages_in_use, b.npages);
	ASSERT_EQ(munmap(b.ptr + half, half), 0);
	ASSERT_EQ(get_stats(self->fd, &s2), 0);
	want = munmap_invalidations(b.map, b.map_size, b.ptr + half, half);
	TH_LOG("munmap: %llu invalidations, %lu expected",
	       (unsigned long long)(s2.invalidations - s1.invalidations), want);
	EXPECT_EQ(s2.invalidations - s1.invalidations, want);
	/*
	 * 4 KiB pages are freed by the unmap; a split THP may stay whole
	 * until the rest of it goes.
	 */
	left = wait_in_use(self->fd, s0.pages_in_use + b.npages / 2, 2000);
	EXPECT_LE(left, s0.pages_in_use + (self->thp ? b.npages : b.npages / 2));
	if (!self->thp)
		EXPECT_EQ(left, s0.pages_in_use + b.npages / 2);
	ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, b.npages / 2),
		  b.npages / 2);
	memset(b.mirror, 0, b.size);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_READ, b.ptr, b.mirror, b.npages / 2,
		     &cp), 0);
	ASSERT_EQ(cp, b.npages / 2);
	ASSERT_EQ(check(b.mirror, half, 20), -1);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_READ, b.ptr + half, b.mirror,
		     b.npages / 2, NULL), -EFAULT);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, b.ptr, b.mirror,
		     b.npages / 2, &cp), 0);
	ASSERT_EQ(cp, b.npages / 2);
	ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, b.npages / 2), 0);
	ASSERT_EQ(check(b.ptr, half, 20), -1);
	buf_free(&b);
	EXPECT_LE(wait_in_use(self->fd, s0.pages_in_use, 2000), s0.pages_in_use);
}

/* Reserve an address range for mremap: @len bytes, 2 MiB aligned. */
static void *reserve(size_t len, void **map, size_t *map_len)
{
	*map_len = len + PMD_SZ;
	*map = mmap(NULL, *map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*map == MAP_FAILED)
		return NULL;
	return (void *)(((uintptr_t)*map + PMD_SZ - 1) & ~(PMD_SZ - 1));
}

/* ---- races: munmap and mremap of a later part during a migration ---- */

/*
 * 2 MiB batches in a race buffer, and how many of them the munmap keeps: a
 * THP batch moves fast (one folio), so it takes more of them for the munmap
 * to get its lock in before the migration reaches the later part.
 */
#define RACE_BATCHES(thp)	((thp) ? 12 : 6)
#define RACE_KEEP(thp)		((thp) ? 4 : 2)
#define RACE_ROUNDS	12	/* at most */

enum { ORDER_BEFORE, ORDER_DURING, ORDER_AFTER, NR_ORDERS };

static __u64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/*
 * One migration of a buffer of RACE_BATCHES batches while a thread unmaps
 * (@remap: mremaps) all of it but the first RACE_KEEP batches, @delay_us
 * after the migration started. The migration takes the
 * mmap lock per 2 MiB batch, so the munmap gets in between batches: before
 * the migration reached the later part (none of it moved; -EINVAL at the
 * hole), during (some of its batches moved, then -EINVAL), or after (all
 * moved, 0; or -EINVAL when the munmap got in between the last batch and
 * the device's read-back through its mirror, as in lib/test_hmm). Which one
 * it was is read from what moved (migrated_to_dev; for mremap, the device
 * pages found at the new address), and each case is checked exactly: the
 * first batch on the device with its data, the later part gone (its device
 * pages freed) or at its new address with its data, as many of its pages on
 * the device as moved, the rest in system memory. Returns the order.
 */
static int race_round(struct __test_metadata *_metadata, struct _test_data_dm *self,
		      bool remap, unsigned int delay_us, __u64 seed, __u64 *took_us)
{
	const unsigned long n = RACE_BATCHES(self->thp) * NPAGES_THP;
	const unsigned long keep = RACE_KEEP(self->thp) * NPAGES_THP;
	struct hmm_p2p_stats s0, s1;
	void *res = NULL, *dst = NULL;
	unsigned long moved, later = 0;
	size_t res_len = 0, ksize;
	struct racer r;
	pthread_t t;
	struct buf b;
	__u64 cp, t0;
	int ret, order;

	ASSERT_EQ(buf_alloc_aligned(&b, n, self->thp, true), 0);
	ksize = keep * PAGE_SZ;
	fill(b.ptr, b.size, seed);
	if (remap) {
		dst = reserve(b.size - ksize, &res, &res_len);
		ASSERT_NE(dst, NULL);
	}
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	r = (struct racer){ .addr = b.ptr + ksize, .len = b.size - ksize, .dst = dst,
			    .delay_us = delay_us };
	ASSERT_EQ(pthread_create(&t, NULL, racer_fn, &r), 0);
	/* the racer runs already: no thread start between it and us */
	usleep(1000);
	__atomic_store_n(&r.go, 1, __ATOMIC_RELEASE);
	t0 = now_us();
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, n, &cp);
	*took_us = now_us() - t0;
	pthread_join(t, NULL);
	ASSERT_EQ(r.result, remap ? dst : NULL);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	moved = s1.migrated_to_dev - s0.migrated_to_dev;
	if (remap)
		later = on_device(self->fd, self->coherent, dst, n - keep);
	TH_LOG("%s after %u us: migrate %d in %llu us, %lu pages moved",
	       remap ? "mremap" : "munmap", delay_us, ret,
	       (unsigned long long)*took_us, moved);

	/* Whole batches move: a batch is never cut by the munmap. */
	ASSERT_EQ(moved % NPAGES_THP, 0);
	if (!ret) {
		ASSERT_EQ(cp, n);
		ASSERT_EQ(moved, n);
		ASSERT_EQ(check(b.mirror, b.size, seed), -1);
		order = ORDER_AFTER;
	} else if (moved == n) {
		/*
		 * Every batch moved, then the munmap (mremap) came before the
		 * device read the range back through its mirror, which then
		 * found it unmapped: after, as far as the migration goes; the
		 * data is checked below where it now is.
		 */
		ASSERT_EQ(ret, -EINVAL);
		order = ORDER_AFTER;
	} else {
		ASSERT_EQ(ret, -EINVAL);
		ASSERT_GE(moved, keep);
		ASSERT_LT(moved, n);
		order = moved == keep ? ORDER_BEFORE : ORDER_DURING;
	}
	if (remap)
		ASSERT_EQ(later, moved - keep);

	/* The first batches: on the device, right by device. */
	ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, keep), keep);
	memset(b.mirror, 0, b.size);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_READ, b.ptr, b.mirror, keep, &cp), 0);
	ASSERT_EQ(check(b.mirror, ksize, seed), -1);
	/* The later part: gone from here ... */
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_READ, b.ptr + ksize, b.mirror, n - keep,
		     NULL), -EFAULT);
	if (remap) {
		/* ... and intact at its new address, by device and CPU. */
		memset(b.mirror, 0, b.size);
		ASSERT_EQ(dm(self->fd, HMM_DMIRROR_READ, dst, b.mirror, n - keep,
			     &cp), 0);
		ASSERT_EQ(cp, n - keep);
		ASSERT_EQ(check_at(b.mirror, b.size - ksize, seed, ksize), -1);
		ASSERT_EQ(check_at(dst, b.size - ksize, seed, ksize), -1);
		munmap(res, res_len);
	} else {
		/* ... with its device pages freed. */
		ASSERT_EQ(wait_in_use(self->fd, s0.pages_in_use + keep, 2000),
			  s0.pages_in_use + keep);
	}
	ASSERT_EQ(check(b.ptr, ksize, seed), -1);
	buf_free(&b);
	ASSERT_EQ(wait_in_use(self->fd, s0.pages_in_use, 2000), s0.pages_in_use);
	return order;
}

/*
 * Race rounds until each order (before, during, after) happened: the
 * munmap at once until it came before, then long after the migration's time
 * until it came after, then between the latest "before" and the earliest
 * "after", bisecting, until it came during.
 */
static void race_orders(struct __test_metadata *_metadata, struct _test_data_dm *self,
			bool remap)
{
	unsigned int seen[NR_ORDERS] = { 0 };
	unsigned int lo = 0, hi = 0, probe = 0, delay, i;
	__u64 t;
	int order;

	for (i = 0; i < RACE_ROUNDS; i++) {
		if (!seen[ORDER_BEFORE])
			delay = 0;
		else if (!seen[ORDER_AFTER])
			delay = probe;
		else
			delay = lo + (hi - lo) / 2;
		order = race_round(_metadata, self, remap, delay, 10 + i, &t);
		/* a short migration: probe well after a whole one */
		if (!probe)
			probe = 4 * t + 1000;
		else if (delay == probe && order != ORDER_AFTER)
			probe *= 2;
		seen[order]++;
		if (order != ORDER_AFTER && delay > lo)
			lo = delay;
		if (order == ORDER_AFTER && (!hi || delay < hi))
			hi = delay;
		if (seen[ORDER_BEFORE] && seen[ORDER_DURING] && seen[ORDER_AFTER])
			break;
		/* "during" is narrower than the bisection's step: start over */
		if (hi && hi - lo < 2) {
			lo = 0;
			hi = probe;
		}
	}
	TH_LOG("%s race: %u rounds: before %u, during %u, after %u",
	       remap ? "mremap" : "munmap", i + (i < RACE_ROUNDS),
	       seen[ORDER_BEFORE], seen[ORDER_DURING], seen[ORDER_AFTER]);
	EXPECT_GE(seen[ORDER_BEFORE], 1) TH_LOG("never before");
	EXPECT_GE(seen[ORDER_DURING], 1) TH_LOG("never during");
	EXPECT_GE(seen[ORDER_AFTER], 1) TH_LOG("never after");
}

/*
 * A thread unmaps the second half of the buffer while the device migrates
 * the whole of it: before, during and after the migration reaches it.
 */
TEST_F_TIMEOUT(dm, munmap_race, LONG_TIMEOUT)
{
	race_orders(_metadata, self, false);
}

/*
 * mremap a migrated range (moving it, with and without MREMAP_DONTUNMAP, to
 * an aligned and a misaligned target): the pages stay on the device, the
 * device and the CPU read them at the new address, the old address is gone
 * (or empty with DONTUNMAP), and the range migrates again.
 */
TEST_F_TIMEOUT(dm, mremap_after_migrate, LONG_TIMEOUT)
{
	int dontunmap, misalign;
	struct buf b;
	void *res, *dst;
	size_t res_len;
	char *q;
	__u64 cp;
	int flags;

	for (dontunmap = 0; dontunmap < 2; dontunmap++) {
		for (misalign = 0; misalign < 2; misalign++) {
			__u64 seed = 30 + dontunmap * 2 + misalign;

			ASSERT_EQ(buf_alloc(&b, self->npages, self->thp), 0);
			fill(b.ptr, b.size, seed);
			ASSERT_EQ(migrate_checked(self->fd, &b, seed), 0);
			dst = reserve(b.size + PAGE_SZ, &res, &res_len);
			ASSERT_NE(dst, NULL);
			dst = (char *)dst + misalign * PAGE_SZ;
			flags = MREMAP_MAYMOVE | MREMAP_FIXED;
			if (dontunmap)
				flags |= MREMAP_DONTUNMAP;
			q = mremap(b.ptr, b.size, b.size, flags, dst);
			if (q == MAP_FAILED && dontunmap && errno == EINVAL)
				SKIP(return, "no MREMAP_DONTUNMAP here");
			ASSERT_EQ(q, dst);
			ASSERT_EQ(on_device(self->fd, self->coherent, q, b.npages),
				  b.npages);
			memset(b.mirror, 0, b.size);
			ASSERT_EQ(dm(self->fd, HMM_DMIRROR_READ, q, b.mirror, b.npages,
				     &cp), 0);
			ASSERT_EQ(cp, b.npages);
			ASSERT_EQ(check(b.mirror, b.size, seed), -1);
			/* The old range: unmapped, or new empty memory. */
			if (dontunmap) {
				ASSERT_EQ(dm(self->fd, HMM_DMIRROR_READ, b.ptr,
					     b.mirror, b.npages, NULL), 0);
				ASSERT_EQ(check_zero(b.mirror, b.size), -1);
			} else {
				ASSERT_EQ(dm(self->fd, HMM_DMIRROR_READ, b.ptr,
					     b.mirror, b.npages, NULL), -EFAULT);
			}
			if (self->coherent) {
				/* Back on request (the CPU does not fault). */
				ASSERT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, q,
					     b.mirror, b.npages, &cp), 0);
				ASSERT_EQ(cp, b.npages);
			}
			ASSERT_EQ(check(q, b.size, seed), -1);
			ASSERT_EQ(on_device(self->fd, self->coherent, q, b.npages), 0);
			ASSERT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, q,
				     b.mirror, b.npages, &cp), 0);
			ASSERT_EQ(cp, b.npages);
			ASSERT_EQ(check(b.mirror, b.size, seed), -1);
			ASSERT_EQ(on_device(self->fd, self->coherent, q, b.npages),
				  b.npages);
			ASSERT_EQ(check(q, b.size, seed), -1);
			munmap(res, res_len);
			buf_free(&b);
		}
	}
}

/*
 * A thread moves the second half of the buffer with mremap while the
 * device migrates the whole of it at the old address: before, during and
 * after the migration reaches it; what moved stays on the device at the new
 * address, the rest follows in system memory, all intact.
 */
TEST_F_TIMEOUT(dm, mremap_race, LONG_TIMEOUT)
{
	race_orders(_metadata, self, true);
}

/* ---- eviction: RELEASE and close() by another process ---- */

/*
 * Upstream's rule for these nodes: RELEASE, and every close() of a device
 * file, evict all of that device's pages, other processes' included. Process
 * B (forked before A's buffer exists, so it shares nothing) issues RELEASE,
 * then, after A migrated again, closes its file. Each time A's pages come
 * back to system memory with their data, and the device still works.
 */
static int evict_child(int dev, int to_a, int from_a)
{
	void *page;
	int fd;

	page = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CCHECK(page != MAP_FAILED, "mmap");
	fd = dev_open(dev);
	CCHECK(fd >= 0, "open: %d", errno);
	CCHECK(pipe_get(from_a) == 0, "A failed before RELEASE");
	CCHECK(dm(fd, HMM_DMIRROR_RELEASE, page, NULL, 1, NULL) == 0, "RELEASE");
	pipe_put(to_a, 0);
	CCHECK(pipe_get(from_a) == 0, "A failed before close");
	close(fd);
	pipe_put(to_a, 0);
	return 0;
}

TEST_F_TIMEOUT(dm, evict_by_other_process, LONG_TIMEOUT)
{
	struct hmm_p2p_page_info *info;
	struct hmm_p2p_stats s0, s1;
	int to_a[2], from_a[2];
	struct buf b;
	pid_t pid;
	int round;

	ASSERT_EQ(pipe(to_a), 0);
	ASSERT_EQ(pipe(from_a), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		close(to_a[0]);
		close(from_a[1]);
		_exit(evict_child(self->dev, to_a[1], from_a[0]));
	}
	close(to_a[1]);
	close(from_a[0]);

	ASSERT_EQ(buf_alloc(&b, self->npages, self->thp), 0);
	info = calloc(b.npages, sizeof(*info));
	ASSERT_NE(info, NULL);
	for (round = 0; round < 2; round++) {	/* RELEASE, then close() */
		fill(b.ptr, b.size, 50 + round);
		ASSERT_EQ(get_stats(self->fd, &s0), 0);
		ASSERT_EQ(migrate_checked(self->fd, &b, 50 + round), 0);
		ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, b.npages),
			  b.npages);
		pipe_put(from_a[1], 0);
		ASSERT_EQ(pipe_get(to_a[0]), 0);
		/* B's RELEASE / close() took A's pages off the device. */
		ASSERT_EQ(pagemap_resident(b.ptr, b.npages, NULL), 0);
		ASSERT_EQ(classify(self->fd, b.ptr, b.npages,
				   HMM_P2P_CLASSIFY_NOFAULT, info), 0);
		ASSERT_EQ(count_class(info, b.npages, HMM_P2P_CLASS_SYSTEM),
			  b.npages);
		ASSERT_EQ(get_stats(self->fd, &s1), 0);
		EXPECT_EQ(s1.evicted - s0.evicted, b.npages);
		EXPECT_EQ(s1.migrated_to_sys - s0.migrated_to_sys, b.npages);
		EXPECT_EQ(s1.pages_in_use, s0.pages_in_use);
		/* Data intact, through A's mirror and by CPU. */
		ASSERT_EQ(read_checked(self->fd, &b, 50 + round), 0);
		ASSERT_EQ(check(b.ptr, b.size, 50 + round), -1);
	}
	ASSERT_EQ(wait_child(pid), 0);
	free(info);
	buf_free(&b);
}

/*
 * A process that owns device pages is SIGKILLed, in four shapes:
 *  0: alone; then another process opens and closes the device, and RELEASEs.
 *  1: it had forked a child that shares the pages and inherited its file;
 *     another process's close() evicts the child's pages, then the child
 *     checks them and closes the dead owner's file.
 *  2: as 1, but the child touches the pages by CPU first (migrate_to_ram for
 *     pages whose mirror's process is gone), then closes the file.
 *  3: as 1, but the child closes the dead owner's file first (last
 *     reference: release after the owner's mm is gone), then checks.
 * No crash, no leak, the child's data intact.
 */
static int owner_grandchild(struct buf *b, int fd, int go_rd, int mode)
{
	CCHECK(pipe_get(go_rd) == 0, "no go");
	if (mode == 3)
		close(fd);
	CCHECK(check(b->ptr, b->size, 60 + mode) < 0, "CPU data (mode %d)", mode);
	if (mode != 3)
		close(fd);
	CCHECK(pagemap_resident(b->ptr, b->npages, NULL) == 0, "still on device");
	return 0;
}

static int owner_child(int dev, bool thp, unsigned long npages, int mode,
		       int ready_wr, int go_rd)
{
	struct buf b;
	pid_t gc = 0;
	int fd;

	fd = dev_open(dev);
	CCHECK(fd >= 0, "open: %d", errno);
	CCHECK(buf_alloc(&b, npages, thp) == 0, "buf_alloc");
	fill(b.ptr, b.size, 60 + mode);
	CCHECK(migrate_checked(fd, &b, 60 + mode) == 0, "migrate");
	if (mode) {
		gc = fork();
		CCHECK(gc >= 0, "fork");
		if (!gc)
			_exit(owner_grandchild(&b, fd, go_rd, mode));
	}
	if (write(ready_wr, &gc, sizeof(gc)) != sizeof(gc))
		return 1;
	for (;;)
		pause();
}

TEST_F_TIMEOUT(dm, killed_owner, LONG_TIMEOUT)
{
	struct hmm_p2p_stats st;
	int ready[2], go[2];
	__u64 base;
	pid_t pid, gc;
	int mode, fd;

	ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ASSERT_NE(signal(SIGPIPE, SIG_IGN), SIG_ERR);
	ASSERT_NE(some_page(), NULL);
	/* Only this test's file is open: opening another would evict. */
	ASSERT_EQ(get_stats(self->fd, &st), 0);
	base = st.pages_in_use;
	for (mode = 0; mode < 4; mode++) {
		ASSERT_EQ(pipe(ready), 0);
		ASSERT_EQ(pipe(go), 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid) {
			close(ready[0]);
			close(go[1]);
			_exit(owner_child(self->dev, self->thp, self->npages, mode,
					  ready[1], go[0]));
		}
		close(ready[1]);
		close(go[0]);
		gc = -1;
		ASSERT_EQ(read(ready[0], &gc, sizeof(gc)), sizeof(gc));
		ASSERT_EQ(get_stats(self->fd, &st), 0);
		/* The child's pages (the grandchild shares them). */
		EXPECT_EQ(st.pages_in_use, base + self->npages);
		ASSERT_EQ(kill(pid, SIGKILL), 0);
		ASSERT_EQ(wait_child(pid), 128 + SIGKILL);
		if (mode <= 1) {
			/* Another process's file closes: eviction. */
			fd = dev_open(self->dev);
			ASSERT_GE(fd, 0);
			ASSERT_EQ(close(fd), 0);
		}
		if (mode == 0)
			ASSERT_EQ(dm(self->fd, HMM_DMIRROR_RELEASE, some_page(),
				     NULL, 1, NULL), 0);
		if (gc > 0) {	/* reparented to us, the subreaper */
			pipe_put(go[1], 0);
			ASSERT_EQ(wait_child(gc), 0);
		}
		close(ready[0]);
		close(go[1]);
		EXPECT_LE(wait_in_use(self->fd, base, 3000), base);
	}
	/* The device still works. */
	{
		struct buf bb;

		ASSERT_EQ(buf_alloc(&bb, self->npages, self->thp), 0);
		fill(bb.ptr, bb.size, 69);
		ASSERT_EQ(migrate_checked(self->fd, &bb, 69), 0);
		ASSERT_EQ(check(bb.ptr, bb.size, 69), -1);
		buf_free(&bb);
	}
}

/* ---- STATS ---- */

/*
 * A CPU fault on a 4 KiB device page brings back the aligned window of
 * hmm_p2p's fault_around pages around it in one migration: touching 64 pages
 * in order takes 64 / fault_around faults and brings all 64 back, intact.
 */
TEST_F(dm, cpu_fault_window)
{
	const unsigned long win = 64, align = 16 * PAGE_SZ;
	struct hmm_p2p_stats s0, s1;
	char val[16] = "";
	unsigned long fa, i;
	struct buf b, w;
	FILE *f;

	if (self->coherent)
		SKIP(return, "the CPU reads coherent memory in place");
	if (self->thp)
		SKIP(return, "a 2 MiB device folio comes back whole");
	f = fopen("/sys/module/hmm_p2p/parameters/fault_around", "r");
	ASSERT_NE(f, NULL);
	ASSERT_NE(fgets(val, sizeof(val), f), NULL);
	fclose(f);
	fa = strtoul(val, NULL, 10);
	ASSERT_TRUE(fa >= 1 && fa <= 16 && !(fa & (fa - 1)));

	ASSERT_EQ(buf_alloc(&b, win + 16, false), 0);
	w = b;
	w.ptr = (char *)(((uintptr_t)b.ptr + align - 1) & ~(align - 1));
	w.npages = win;
	w.size = win * PAGE_SZ;
	fill(w.ptr, w.size, 71);
	ASSERT_EQ(migrate_checked(self->fd, &w, 71), 0);
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	for (i = 0; i < win; i++)
		ASSERT_EQ(check_at(w.ptr + i * PAGE_SZ, PAGE_SZ, 71, i * PAGE_SZ), -1);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	EXPECT_EQ(s1.cpu_faults - s0.cpu_faults, win / fa);
	EXPECT_EQ(s1.migrated_to_sys - s0.migrated_to_sys, win);
	buf_free(&b);
}

/* hmm_p2p's fault_around parameter (pages one CPU fault brings back). */
static unsigned long fault_around_pages(void)
{
	char val[16] = "";
	FILE *f = fopen("/sys/module/hmm_p2p/parameters/fault_around", "r");

	if (!f)
		return 0;
	if (!fgets(val, sizeof(val), f))
		val[0] = 0;
	fclose(f);
	return strtoul(val, NULL, 10);
}

/*
 * Counters move with what happens, by exactly as much: migrations both
 * ways, CPU faults (private only: the CPU reaches coherent memory directly;
 * one per fault-around window, or per 2 MiB device folio), mirror faults,
 * bytes copied, pages in use, chunks; reset zeroes the counters but not the
 * gauges.
 */
TEST_F(dm, stats_counters)
{
	struct hmm_p2p_stats s0, s1, s2, s3;
	struct hmm_dmirror_cmd cmd = { 0 };
	struct hmm_p2p_info di;
	unsigned long u, fa, win;
	struct buf b;
	__u64 cp;

	ASSERT_EQ(buf_alloc(&b, self->npages, self->thp), 0);
	fill(b.ptr, b.size, 70);
	u = dev_unit(self->fd, &b, self->thp);
	if (!u)
		SKIP(return, "no THP for the buffer");
	fa = fault_around_pages();
	ASSERT_TRUE(fa >= 1 && fa <= 16);
	ASSERT_EQ(get_info(self->fd, &di), 0);
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	ASSERT_EQ(s0.size, sizeof(s0));

	/* A device read of system memory faults it into the mirror. */
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, U64(b.ptr), U64(b.mirror),
			 b.npages, &cmd), 0);
	ASSERT_EQ(cmd.cpages, b.npages);
	ASSERT_GE(cmd.faults, 1);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	/* hmm_range_fault() calls: at least one per fault round, retries too */
	EXPECT_GE(s1.mirror_faults - s0.mirror_faults, cmd.faults);
	EXPECT_EQ(s1.migrated_to_dev, s0.migrated_to_dev);
	EXPECT_EQ(s1.bytes_copied - s0.bytes_copied, b.size);

	/*
	 * To the device: exactly npages, that many in use, bytes copied in
	 * and back out (the migration's copy), a chunk if there was none.
	 */
	ASSERT_EQ(migrate_checked(self->fd, &b, 70), 0);
	ASSERT_EQ(get_stats(self->fd, &s2), 0);
	EXPECT_EQ(s2.migrated_to_dev - s1.migrated_to_dev, b.npages);
	EXPECT_EQ(s2.pages_in_use - s1.pages_in_use, b.npages);
	EXPECT_EQ(s2.bytes_copied - s1.bytes_copied, 2 * b.size);
	EXPECT_EQ(s2.chunks, s1.chunks ? s1.chunks : 1);
	EXPECT_EQ(s2.pages_total, s2.chunks * (di.chunk_size / PAGE_SZ));
	EXPECT_EQ(s2.thp_migrated - s1.thp_migrated, u > 1 ? b.npages / u : 0);
	EXPECT_EQ(s2.alloc_failures, s1.alloc_failures);

	s1 = s2;
	if (!self->coherent) {
		/*
		 * CPU touches every page in order: one fault per 2 MiB device
		 * folio, else per aligned fault-around window; all pages back.
		 */
		unsigned long faults, ms;

		win = fa * PAGE_SZ;
		faults = u > 1 ? b.npages / u :
			 ((uintptr_t)b.ptr + b.size - 1) / win - (uintptr_t)b.ptr / win + 1;
		ASSERT_EQ(check(b.ptr, b.size, 70), -1);
		/*
		 * A 2 MiB folio is moved by a worker (hp_fault_defer()), which
		 * counts after it let the retried fault go on: wait for it.
		 */
		for (ms = 0;; ms += 10) {
			ASSERT_EQ(get_stats(self->fd, &s2), 0);
			if ((s2.migrated_to_sys - s1.migrated_to_sys >= b.npages &&
			     s2.cpu_faults - s1.cpu_faults >= faults) || ms >= 2000)
				break;
			usleep(10000);
		}
		EXPECT_EQ(s2.cpu_faults - s1.cpu_faults, faults);
		EXPECT_EQ(s2.cpu_faults_for_mirrors, s1.cpu_faults_for_mirrors);
		EXPECT_EQ(s2.migrated_to_sys - s1.migrated_to_sys, b.npages);
	} else {
		/* Coherent memory: the CPU reads it in place, no faults. */
		ASSERT_EQ(check(b.ptr, b.size, 70), -1);
		ASSERT_EQ(get_stats(self->fd, &s2), 0);
		EXPECT_EQ(s2.cpu_faults, s1.cpu_faults);
		EXPECT_EQ(s2.migrated_to_sys, s1.migrated_to_sys);
		ASSERT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, b.ptr, b.mirror,
			     b.npages, &cp), 0);
		ASSERT_EQ(cp, b.npages);
		ASSERT_EQ(get_stats(self->fd, &s2), 0);
		EXPECT_EQ(s2.migrated_to_sys - s1.migrated_to_sys, b.npages);
	}
	EXPECT_EQ(s2.pages_in_use, s0.pages_in_use);
	EXPECT_EQ(s2.bytes_copied - s1.bytes_copied, b.size);
	ASSERT_EQ(check(b.ptr, b.size, 70), -1);

	/*
	 * Reset: the values returned are those of just before (nothing
	 * happened since s2); counters restart at 0, gauges stay.
	 */
	ASSERT_EQ(get_stats(self->fd, &s2), 0);
	memset(&s3, 0, sizeof(s3));
	s3.size = sizeof(s3);
	s3.reset = 1;
	ASSERT_EQ(ioctl(self->fd, HMM_P2P_IOC_STATS, &s3), 0);
	EXPECT_EQ(s3.migrated_to_dev, s2.migrated_to_dev);
	EXPECT_EQ(s3.migrated_to_sys, s2.migrated_to_sys);
	EXPECT_EQ(s3.cpu_faults, s2.cpu_faults);
	EXPECT_EQ(s3.bytes_copied, s2.bytes_copied);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	EXPECT_EQ(s1.migrated_to_dev, 0);
	EXPECT_EQ(s1.migrated_to_sys, 0);
	EXPECT_EQ(s1.cpu_faults, 0);
	EXPECT_EQ(s1.bytes_copied, 0);
	EXPECT_EQ(s1.pages_in_use, s3.pages_in_use);
	EXPECT_EQ(s1.pages_total, s3.pages_total);
	EXPECT_EQ(s1.chunks, s3.chunks);
	buf_free(&b);
}

/* ---- device memory exhausted ---- */

/* One device, no THP variants: tests where the page size does not matter. */
/*
 * HMM_P2P_IOC_MIGRATE_PEERS between the software devices dmirror0 and
 * dmirror1: no P2P between them (each its own owner), so every page goes
 * through system memory (its device moves it there first), and counts as
 * bounced. 4 KiB pages and a THP.
 */
TEST(dev_to_dev_bounce_soft)
{
	struct hmm_p2p_stats s0, s1, t0, t1;
	int fd0 = dev_open(DEV_PRIV0), fd1 = dev_open(DEV_PRIV1);
	int thp;

	ASSERT_GE(fd0, 0);
	ASSERT_GE(fd1, 0);
	for (thp = 0; thp < 2; thp++) {
		unsigned long n = thp ? NPAGES_THP : NPAGES_4K;
		struct buf b;
		__u64 cp;

		ASSERT_EQ(0, buf_alloc(&b, n, thp));
		fill(b.ptr, b.size, 80 + thp);
		ASSERT_EQ(0, dm(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, n, &cp));
		ASSERT_EQ(n, cp);
		ASSERT_EQ(0, get_stats(fd0, &s0));
		ASSERT_EQ(0, get_stats(fd1, &s1));
		ASSERT_EQ(0, dm(fd1, HMM_P2P_IOC_MIGRATE_PEERS, b.ptr, NULL, n, &cp));
		EXPECT_EQ(n, cp);
		ASSERT_EQ(0, get_stats(fd0, &t0));
		ASSERT_EQ(0, get_stats(fd1, &t1));
		EXPECT_EQ(n, t1.bounced - s1.bounced);
		EXPECT_EQ(0, t1.migrated_from_peer - s1.migrated_from_peer);
		EXPECT_EQ(n, t0.migrated_to_sys - s0.migrated_to_sys);
		/* the source's pages are free again */
		EXPECT_EQ(s0.pages_in_use - n, t0.pages_in_use);
		EXPECT_EQ(n, t1.pages_in_use - s1.pages_in_use);
		/* on dmirror1 now: its device reads the data */
		memset(b.mirror, 0, b.size);
		ASSERT_EQ(0, dm(fd1, HMM_DMIRROR_READ, b.ptr, b.mirror, n, &cp));
		EXPECT_EQ(-1, check(b.mirror, b.size, 80 + thp));
		EXPECT_EQ(-1, check(b.ptr, b.size, 80 + thp));
		buf_free(&b);
	}
	close(fd0);
	close(fd1);
}

FIXTURE(dev)
{
	int fd;
	int dev;
	bool coherent;
	int devclass;
};

FIXTURE_VARIANT(dev)
{
	int dev;
};

FIXTURE_VARIANT_ADD(dev, private) { .dev = DEV_PRIV0 };
FIXTURE_VARIANT_ADD(dev, coherent) { .dev = DEV_COH0 };

FIXTURE_SETUP(dev)
{
	self->dev = variant->dev;
	self->coherent = dev_is_coherent(variant->dev);
	self->devclass = self->coherent ? HMM_P2P_CLASS_COHERENT :
					  HMM_P2P_CLASS_PRIVATE_LOCAL;
	self->fd = dev_open(variant->dev);
	if (self->fd < 0 && self->coherent)
		SKIP(return, "no /dev/hmm_dmirror%d (coherent)", variant->dev);
	ASSERT_GE(self->fd, 0);
	inject_disarm_all(self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0) {
		inject_disarm_all(self->fd);
		close(self->fd);
	}
}

/*
 * Every device page allocation fails: the migration reports -ENOMEM, nothing
 * moved, the data is intact by CPU and device, every failed attempt is
 * counted (in pages: a 2 MiB folio that cannot be had is 512, then its
 * first 4 KiB fallback page fails too). One allocation in the middle fails:
 * a 4 KiB page stays in system memory and all the others move; a THP whose
 * 2 MiB folio failed moves as 512 4 KiB pages, the call succeeds. Once
 * disarmed, the same range migrates.
 */
TEST_F(dm, enomem_alloc_page)
{
	unsigned long n = self->thp ? 4 * NPAGES_THP : NPAGES_4K, u, f;
	struct hmm_p2p_page_info *info;
	struct hmm_p2p_stats s0, s1;
	struct buf b;
	__u64 cp;
	int ret;

	ASSERT_EQ(buf_alloc(&b, n, self->thp), 0);
	fill(b.ptr, b.size, 80);
	u = dev_unit(self->fd, &b, self->thp);
	if (!u)
		SKIP(return, "no THP for the buffer");
	info = calloc(n, sizeof(*info));
	ASSERT_NE(info, NULL);
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_ALLOC_PAGE, INJECT_FOREVER, 0), 0);
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, n, NULL);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_ALLOC_PAGE, 0, 0), 0);
	ASSERT_EQ(ret, -ENOMEM);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	EXPECT_EQ(s1.alloc_failures - s0.alloc_failures,
		  u == 1 ? n : (n / u) * (NPAGES_THP + 1));
	EXPECT_EQ(s1.migrated_to_dev, s0.migrated_to_dev);
	EXPECT_EQ(s1.pages_in_use, s0.pages_in_use);
	ASSERT_EQ(classes_are(self->fd, b.ptr, n, 0, n, HMM_P2P_CLASS_SYSTEM, 0), -1);
	ASSERT_EQ(read_checked(self->fd, &b, 80), 0);
	ASSERT_EQ(check(b.ptr, b.size, 80), -1);

	/* The allocation of unit f (of n / u) fails, the others do not. */
	f = n / u / 2;
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_ALLOC_PAGE, 1, f), 0);
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, n, &cp);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_ALLOC_PAGE, 0, 0), 0);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	TH_LOG("allocation %lu of %lu fails: migrate %d", f, n / u, ret);
	EXPECT_EQ(s1.alloc_failures - s0.alloc_failures, u);
	if (u == 1) {
		ASSERT_EQ(ret, -ENOMEM);
		EXPECT_EQ(s1.migrated_to_dev - s0.migrated_to_dev, n - 1);
		EXPECT_EQ(s1.pages_in_use - s0.pages_in_use, n - 1);
		ASSERT_EQ(classes_are(self->fd, b.ptr, n, f, f + 1,
				      HMM_P2P_CLASS_SYSTEM, self->devclass), -1);
	} else {
		unsigned long i;

		ASSERT_EQ(ret, 0);
		ASSERT_EQ(cp, n);
		EXPECT_EQ(s1.migrated_to_dev - s0.migrated_to_dev, n);
		EXPECT_EQ(s1.pages_in_use - s0.pages_in_use, n);
		EXPECT_EQ(s1.thp_migrated - s0.thp_migrated, n / u - 1);
		ASSERT_EQ(classify(self->fd, b.ptr, n, HMM_P2P_CLASSIFY_NOFAULT,
				   info), 0);
		for (i = 0; i < n; i++) {
			ASSERT_EQ(info[i].class, self->devclass) TH_LOG("page %lu", i);
			ASSERT_EQ(info[i].order, i / u == f ? 0 : 9) TH_LOG("page %lu", i);
		}
	}
	ASSERT_EQ(read_checked(self->fd, &b, 80), 0);

	/* Disarmed: whatever stayed moves now. */
	ASSERT_EQ(migrate_checked(self->fd, &b, 80), 0);
	ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, b.npages), b.npages);
	ASSERT_EQ(check(b.ptr, b.size, 80), -1);
	free(info);
	buf_free(&b);
}

/*
 * Allocation fails from the 17th page on: -ENOMEM, exactly the first 16
 * pages moved (allocations go in address order) and hold the data, the rest
 * stayed in system memory, each failure counted; every page right by device
 * and CPU. Then only the allocation of the middle page fails: that page
 * alone stays.
 */
TEST_F(dev, enomem_partial)
{
	const unsigned long n = NPAGES_4K, first = 16;
	struct hmm_p2p_stats s0, s1;
	struct buf b, c;
	int ret;

	ASSERT_EQ(buf_alloc(&b, n, false), 0);
	fill(b.ptr, b.size, 81);
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_ALLOC_PAGE, INJECT_FOREVER, first), 0);
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, n, NULL);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_ALLOC_PAGE, 0, 0), 0);
	ASSERT_EQ(ret, -ENOMEM);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	TH_LOG("%ld pages on the device after the failure",
	       on_device(self->fd, self->coherent, b.ptr, n));
	EXPECT_EQ(s1.migrated_to_dev - s0.migrated_to_dev, first);
	EXPECT_EQ(s1.pages_in_use - s0.pages_in_use, first);
	EXPECT_EQ(s1.alloc_failures - s0.alloc_failures, n - first);
	ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, n), first);
	ASSERT_EQ(classes_are(self->fd, b.ptr, n, 0, first, self->devclass,
			      HMM_P2P_CLASS_SYSTEM), -1);
	ASSERT_EQ(read_checked(self->fd, &b, 81), 0);

	/* Only the allocation of page n / 2 fails. */
	ASSERT_EQ(buf_alloc(&c, n, false), 0);
	fill(c.ptr, c.size, 86);
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_ALLOC_PAGE, 1, n / 2), 0);
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, c.ptr, c.mirror, n, NULL);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_ALLOC_PAGE, 0, 0), 0);
	ASSERT_EQ(ret, -ENOMEM);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	EXPECT_EQ(s1.migrated_to_dev - s0.migrated_to_dev, n - 1);
	EXPECT_EQ(s1.pages_in_use - s0.pages_in_use, n - 1);
	EXPECT_EQ(s1.alloc_failures - s0.alloc_failures, 1);
	ASSERT_EQ(classes_are(self->fd, c.ptr, n, n / 2, n / 2 + 1,
			      HMM_P2P_CLASS_SYSTEM, self->devclass), -1);
	ASSERT_EQ(read_checked(self->fd, &c, 86), 0);

	/* Disarmed, the rest moves; by CPU everything is right. */
	ASSERT_EQ(migrate_checked(self->fd, &b, 81), 0);
	ASSERT_EQ(migrate_checked(self->fd, &c, 86), 0);
	ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, n), n);
	ASSERT_EQ(on_device(self->fd, self->coherent, c.ptr, n), n);
	ASSERT_EQ(check(b.ptr, b.size, 81), -1);
	ASSERT_EQ(check(c.ptr, c.size, 86), -1);
	buf_free(&b);
	buf_free(&c);
}

/*
 * The device cannot grow: more pages than it has free give -ENOMEM, data
 * intact. After RELEASE the device holds few free pages (upstream removes
 * all chunks); if it still holds more than 32 MiB free, skip (too slow under
 * emulation). Without injection, where the whole capacity is small enough to
 * use up, a migration bigger than the capacity gives -ENOMEM as well.
 */
TEST_F_TIMEOUT(dev, enomem_chunk_grow, LONG_TIMEOUT)
{
	struct hmm_p2p_stats s0;
	struct hmm_p2p_info info;
	unsigned long n;
	struct buf b;
	int ret;

	ASSERT_NE(some_page(), NULL);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_RELEASE, some_page(), NULL, 1, NULL), 0);
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	ASSERT_EQ(get_info(self->fd, &info), 0);
	n = s0.pages_total - s0.pages_in_use + 64;
	TH_LOG("after RELEASE: %llu pages in %llu chunks, %llu in use",
	       (unsigned long long)s0.pages_total, (unsigned long long)s0.chunks,
	       (unsigned long long)s0.pages_in_use);
	if (n > 8192)
		SKIP(return, "%lu free device pages: too many to use up", n - 64);
	ASSERT_EQ(buf_alloc(&b, n, false), 0);
	fill(b.ptr, b.size, 82);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_CHUNK_GROW, INJECT_FOREVER, 0), 0);
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, n, NULL);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_CHUNK_GROW, 0, 0), 0);
	ASSERT_EQ(ret, -ENOMEM);
	ASSERT_EQ(read_checked(self->fd, &b, 82), 0);
	ASSERT_EQ(check(b.ptr, b.size, 82), -1);
	buf_free(&b);

	n = info.capacity / PAGE_SZ + 64;
	if (n > 8192) {
		TH_LOG("capacity %llu MiB: natural exhaustion not tried",
		       (unsigned long long)info.capacity >> 20);
		return;
	}
	ASSERT_EQ(buf_alloc(&b, n, false), 0);
	fill(b.ptr, b.size, 83);
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, n, NULL);
	ASSERT_EQ(ret, -ENOMEM);
	ASSERT_EQ(read_checked(self->fd, &b, 83), 0);
	ASSERT_EQ(check(b.ptr, b.size, 83), -1);
	buf_free(&b);
}

/*
 * Which pages a migration back to system memory moved when the copy (or
 * allocation) of unit @f (@u pages) failed: every page of the batches (2 MiB,
 * aligned) before the failing one, the failing batch but the failed unit;
 * the walk stops there (hmm_p2p_migrate_to_system() returns at the first
 * batch with an error), so later batches stay on the device.
 */
static bool back_moved(unsigned long i, unsigned long u, unsigned long f)
{
	unsigned long fb = f * u / NPAGES_THP;

	return i / NPAGES_THP < fb || (i / NPAGES_THP == fb && i / u != f);
}

/*
 * The engine's copy fails (either way), or no system page can be had for
 * the way back. Every copy fails: the command fails (-EIO, -ENOMEM), nothing
 * moves, no device page is left allocated. One copy in the middle fails:
 * exactly that unit (a 4 KiB page, or a 2 MiB device folio) stays where it
 * was, the others move (on the way back: up to the failing batch), counts
 * and pages in use say so, and every page holds its data.
 */
TEST_F(dm, copy_failures)
{
	static const struct {
		__u32 point;
		int err;
	} back[] = {
		{ HMM_P2P_FAULT_COPY_TO_SYS, -EIO },
		{ INJECT_SYS_PAGE, -ENOMEM },
	};
	unsigned long n = self->thp ? 4 * NPAGES_THP : NPAGES_4K, u, f, i, moved;
	struct hmm_p2p_page_info *info;
	struct hmm_p2p_stats s0, s1;
	struct buf b;
	__u64 cp, base;
	unsigned int k;
	int ret;

	info = calloc(n, sizeof(*info));
	ASSERT_NE(info, NULL);
	/* 2 MiB aligned: the 4 KiB buffer is one batch, a THP buffer four. */
	ASSERT_EQ(buf_alloc_aligned(&b, n, self->thp, true), 0);
	fill(b.ptr, b.size, 84);
	u = dev_unit(self->fd, &b, self->thp);
	if (!u)
		SKIP(return, "no THP for the buffer");
	f = n / u / 2;
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	base = s0.pages_in_use;

	/* To the device, every copy fails. */
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_COPY_TO_DEV, INJECT_FOREVER, 0), 0);
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, n, &cp);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_COPY_TO_DEV, 0, 0), 0);
	ASSERT_EQ(ret, -EIO);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	EXPECT_EQ(s1.migrated_to_dev, s0.migrated_to_dev);
	EXPECT_EQ(s1.pages_in_use, base);
	EXPECT_EQ(s1.alloc_failures, s0.alloc_failures);
	ASSERT_EQ(classes_are(self->fd, b.ptr, n, 0, n, HMM_P2P_CLASS_SYSTEM, 0), -1);
	ASSERT_EQ(check(b.ptr, b.size, 84), -1);

	/* To the device, the copy of unit f fails: that unit alone stays. */
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_COPY_TO_DEV, 1, f), 0);
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, n, &cp);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_COPY_TO_DEV, 0, 0), 0);
	TH_LOG("copy %lu of %lu to the device fails: %d", f, n / u, ret);
	ASSERT_EQ(ret, -EIO);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	EXPECT_EQ(s1.migrated_to_dev - s0.migrated_to_dev, n - u);
	EXPECT_EQ(s1.pages_in_use, base + n - u);
	ASSERT_EQ(classes_are(self->fd, b.ptr, n, f * u, (f + 1) * u,
			      HMM_P2P_CLASS_SYSTEM, self->devclass), -1);
	ASSERT_EQ(read_checked(self->fd, &b, 84), 0);

	ASSERT_EQ(check(b.ptr, b.size, 84), -1);
	buf_free(&b);
	ASSERT_EQ(wait_in_use(self->fd, base, 2000), base);

	for (k = 0; k < ARRAY_SIZE(back); k++) {
		__u32 pt = back[k].point;

		/* A fresh buffer (THPs again), all of it on the device. */
		ASSERT_EQ(buf_alloc_aligned(&b, n, self->thp, true), 0);
		fill(b.ptr, b.size, 84);
		ASSERT_EQ(dev_unit(self->fd, &b, self->thp), u);
		ASSERT_EQ(migrate_checked(self->fd, &b, 84), 0);
		ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, n), n);
		if (u > 1)
			ASSERT_EQ(inject(self->fd, INJECT_SYS_THP,
					 INJECT_FOREVER, 0), 0);

		/* Every attempt fails: nothing moves. */
		ASSERT_EQ(get_stats(self->fd, &s0), 0);
		ASSERT_EQ(inject(self->fd, pt, INJECT_FOREVER, 0), 0);
		ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, b.ptr, b.mirror, n, &cp);
		ASSERT_EQ(inject(self->fd, pt, 0, 0), 0);
		ASSERT_EQ(ret, back[k].err) TH_LOG("point %u", pt);
		ASSERT_EQ(get_stats(self->fd, &s1), 0);
		EXPECT_EQ(s1.migrated_to_sys, s0.migrated_to_sys);
		EXPECT_EQ(s1.pages_in_use, base + n);
		ASSERT_EQ(classes_are(self->fd, b.ptr, n, 0, n, self->devclass, 0), -1);
		ASSERT_EQ(read_checked(self->fd, &b, 84), 0);

		/* The attempt for page f * u fails: its unit stays. */
		ASSERT_EQ(get_stats(self->fd, &s0), 0);
		ASSERT_EQ(inject(self->fd, pt, 1, f * u), 0);
		ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, b.ptr, b.mirror, n, &cp);
		ASSERT_EQ(inject(self->fd, pt, 0, 0), 0);
		ASSERT_EQ(inject(self->fd, INJECT_SYS_THP, 0, 0), 0);
		TH_LOG("point %u: attempt %lu of %lu fails: %d", pt, f * u, n, ret);
		ASSERT_EQ(ret, back[k].err);
		for (i = 0, moved = 0; i < n; i++)
			moved += back_moved(i, u, f);
		ASSERT_EQ(get_stats(self->fd, &s1), 0);
		EXPECT_EQ(s1.migrated_to_sys - s0.migrated_to_sys, moved);
		EXPECT_EQ(s1.pages_in_use, base + n - moved);
		ASSERT_EQ(classify(self->fd, b.ptr, n, HMM_P2P_CLASSIFY_NOFAULT,
				   info), 0);
		for (i = 0; i < n; i++)
			ASSERT_EQ(info[i].class, back_moved(i, u, f) ?
				  HMM_P2P_CLASS_SYSTEM : self->devclass)
				TH_LOG("point %u: page %lu", pt, i);
		/* Whatever stayed on the device is still right. */
		ASSERT_EQ(read_checked(self->fd, &b, 84), 0);
		/* Disarmed, the rest comes back (coherent: on request). */
		ASSERT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, b.ptr, b.mirror,
			     n, &cp), 0);
		EXPECT_EQ(cp, n - moved);
		ASSERT_EQ(on_device(self->fd, self->coherent, b.ptr, n), 0);
		ASSERT_EQ(get_stats(self->fd, &s1), 0);
		EXPECT_EQ(s1.pages_in_use, base);
		ASSERT_EQ(check(b.ptr, b.size, 84), -1);
		buf_free(&b);
	}
	free(info);
}

/* ---- a range mixing private, coherent and system pages ---- */

#define SEG	64UL	/* pages per segment */

/*
 * Segment A on device 0 (private), B on device 2 (coherent), C in system
 * memory, D never touched. Device 0 classifies each page, reads the right
 * data; SNAPSHOT agrees (upstream's byte codes); device 1 (another pagemap
 * owner) sees A as not accessible without faulting, and its read faults A
 * back to system memory.
 */
FIXTURE(mixed)
{
	int fd0, fd1, fd2;
};

FIXTURE_SETUP(mixed)
{
	self->fd1 = -1;
	self->fd2 = -1;
	self->fd0 = dev_open(DEV_PRIV0);
	ASSERT_GE(self->fd0, 0);
	self->fd1 = dev_open(DEV_PRIV1);
	ASSERT_GE(self->fd1, 0);
	self->fd2 = dev_open(DEV_COH0);
	if (self->fd2 < 0)
		SKIP(return, "no coherent device");
}

FIXTURE_TEARDOWN(mixed)
{
	close(self->fd0);
	if (self->fd1 >= 0)
		close(self->fd1);
	if (self->fd2 >= 0)
		close(self->fd2);
}

TEST_F_TIMEOUT(mixed, private_coherent_system, LONG_TIMEOUT)
{
	int fd0 = self->fd0, fd1 = self->fd1, fd2 = self->fd2;
	struct hmm_p2p_info i0, i1;
	struct hmm_p2p_page_info *info;
	unsigned long npages = 4 * SEG, i, pres;
	size_t seg = SEG * PAGE_SZ;
	unsigned char *snap;
	struct buf b;
	char *p;
	__u64 cp;

	ASSERT_EQ(buf_alloc(&b, npages, false), 0);
	info = calloc(npages, sizeof(*info));
	snap = calloc(npages, 1);
	ASSERT_NE(info, NULL);
	ASSERT_NE(snap, NULL);
	p = b.ptr;
	fill(p, seg, 90);
	fill(p + seg, seg, 91);
	fill(p + 2 * seg, seg, 92);
	ASSERT_EQ(dm(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, b.mirror, SEG, &cp), 0);
	ASSERT_EQ(cp, SEG);
	ASSERT_EQ(dm(fd2, HMM_DMIRROR_MIGRATE_TO_DEV, p + seg, b.mirror, SEG, &cp), 0);
	ASSERT_EQ(cp, SEG);

	/* The CPU's page tables: A device-private, B and C present, D empty. */
	ASSERT_EQ(pagemap_resident(p, SEG, &pres), SEG);
	ASSERT_EQ(pagemap_resident(p + seg, 2 * SEG, &pres), 0);
	ASSERT_EQ(pres, 2 * SEG);
	ASSERT_EQ(pagemap_resident(p + 3 * seg, SEG, &pres), 0);
	ASSERT_EQ(pres, 0);

	/* Classify (read faults): D becomes the zero page. */
	ASSERT_EQ(classify(fd0, p, npages, 0, info), 0);
	for (i = 0; i < npages; i++) {
		static const int want[] = {
			HMM_P2P_CLASS_PRIVATE_LOCAL, HMM_P2P_CLASS_COHERENT,
			HMM_P2P_CLASS_SYSTEM, HMM_P2P_CLASS_ZERO,
		};
		static const int owner[] = { DEV_PRIV0, DEV_COH0, -1, -1 };

		ASSERT_EQ(info[i].class, want[i / SEG]) TH_LOG("page %lu", i);
		ASSERT_EQ(info[i].owner, owner[i / SEG]) TH_LOG("page %lu", i);
		ASSERT_EQ(info[i].order, 0) TH_LOG("page %lu", i);
		/* prot: READ, WRITE or both (WRITE implies read access). */
		ASSERT_TRUE(info[i].prot & (HMM_DMIRROR_PROT_READ | HMM_DMIRROR_PROT_WRITE))
			TH_LOG("page %lu", i);
		ASSERT_EQ(!!(info[i].prot & HMM_DMIRROR_PROT_WRITE), i / SEG != 3)
			TH_LOG("page %lu", i);
	}

	/* Device 0 reads everything right, and moves nothing. */
	memset(b.mirror, 0xee, b.size);
	ASSERT_EQ(dm(fd0, HMM_DMIRROR_READ, p, b.mirror, npages, &cp), 0);
	ASSERT_EQ(cp, npages);
	ASSERT_EQ(check(b.mirror, seg, 90), -1);
	ASSERT_EQ(check(b.mirror + seg, seg, 91), -1);
	ASSERT_EQ(check(b.mirror + 2 * seg, seg, 92), -1);
	ASSERT_EQ(check_zero(b.mirror + 3 * seg, seg), -1);
	ASSERT_EQ(classify(fd0, p, npages, HMM_P2P_CLASSIFY_NOFAULT, info), 0);
	ASSERT_EQ(count_class(info, SEG, HMM_P2P_CLASS_PRIVATE_LOCAL), SEG);
	ASSERT_EQ(count_class(info + SEG, SEG, HMM_P2P_CLASS_COHERENT), SEG);
	ASSERT_EQ(count_class(info + 2 * SEG, SEG, HMM_P2P_CLASS_SYSTEM), SEG);
	ASSERT_EQ(count_class(info + 3 * SEG, SEG, HMM_P2P_CLASS_ZERO), SEG);

	/* Upstream's SNAPSHOT codes for the same range. */
	ASSERT_EQ(dm(fd0, HMM_DMIRROR_SNAPSHOT, p, snap, npages, &cp), 0);
	ASSERT_EQ(cp, npages);
	for (i = 0; i < npages; i++) {
		static const unsigned char want[] = {
			HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE,
			HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE | HMM_DMIRROR_PROT_WRITE,
			HMM_DMIRROR_PROT_WRITE,
			HMM_DMIRROR_PROT_ZERO | HMM_DMIRROR_PROT_READ,
		};

		ASSERT_EQ(snap[i], want[i / SEG]) TH_LOG("page %lu", i);
	}
	/* Device 2 sees B as its own coherent memory. */
	ASSERT_EQ(dm(fd2, HMM_DMIRROR_SNAPSHOT, p + seg, snap, SEG, &cp), 0);
	for (i = 0; i < SEG; i++)
		ASSERT_EQ(snap[i], HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL |
			  HMM_DMIRROR_PROT_WRITE);

	/* Device 1: another owner (upstream: each node its own). */
	ASSERT_EQ(get_info(fd0, &i0), 0);
	ASSERT_EQ(get_info(fd1, &i1), 0);
	ASSERT_NE(i0.owner_group, i1.owner_group);
	ASSERT_EQ(classify(fd1, p, npages, HMM_P2P_CLASSIFY_NOFAULT, info), 0);
	ASSERT_EQ(count_class(info, SEG, HMM_P2P_CLASS_NONE), SEG);
	ASSERT_EQ(count_class(info + SEG, SEG, HMM_P2P_CLASS_COHERENT), SEG);
	ASSERT_EQ(info[SEG].owner, DEV_COH0);
	ASSERT_EQ(pagemap_resident(p, SEG, NULL), SEG);	/* looking moved nothing */
	memset(b.mirror, 0xee, b.size);
	ASSERT_EQ(dm(fd1, HMM_DMIRROR_READ, p, b.mirror, npages, &cp), 0);
	ASSERT_EQ(cp, npages);
	ASSERT_EQ(check(b.mirror, seg, 90), -1);
	ASSERT_EQ(check(b.mirror + seg, seg, 91), -1);
	ASSERT_EQ(check(b.mirror + 2 * seg, seg, 92), -1);
	ASSERT_EQ(check_zero(b.mirror + 3 * seg, seg), -1);
	ASSERT_EQ(pagemap_resident(p, SEG, &pres), 0);	/* A faulted back */
	ASSERT_EQ(pres, SEG);
	ASSERT_EQ(classify(fd0, p, SEG, HMM_P2P_CLASSIFY_NOFAULT, info), 0);
	ASSERT_EQ(count_class(info, SEG, HMM_P2P_CLASS_SYSTEM), SEG);

	/* B goes back on request; everything right by CPU. */
	ASSERT_EQ(dm(fd2, HMM_DMIRROR_MIGRATE_TO_SYS, p + seg, b.mirror, SEG, &cp), 0);
	ASSERT_EQ(cp, SEG);
	ASSERT_EQ(classify(fd0, p + seg, SEG, HMM_P2P_CLASSIFY_NOFAULT, info), 0);
	ASSERT_EQ(count_class(info, SEG, HMM_P2P_CLASS_SYSTEM), SEG);
	ASSERT_EQ(check(p, seg, 90), -1);
	ASSERT_EQ(check(p + seg, seg, 91), -1);
	ASSERT_EQ(check(p + 2 * seg, seg, 92), -1);
	ASSERT_EQ(check_zero(p + 3 * seg, seg), -1);
	free(info);
	free(snap);
	buf_free(&b);
}

/*
 * CLASSIFY reports the mapping order: a PMD-mapped THP in system memory is
 * order 9 on every page; after migration the device folio is order 9 on
 * every page where the device has 2 MiB folios (INFO_THP; thp_migrated
 * counts it), order 0 where it has none (a device-coherent one, or a kernel
 * without large device folios: 6.12), and nowhere a mix.
 */
TEST_F(dev, classify_thp_order)
{
	struct hmm_p2p_page_info *info;
	struct hmm_p2p_stats s0, s1;
	struct hmm_p2p_info di;
	struct buf b;
	unsigned long i;
	int want;

	if (!thp_enabled())
		SKIP(return, "transparent hugepages disabled");
	ASSERT_EQ(buf_alloc(&b, NPAGES_THP, true), 0);
	ASSERT_EQ((uintptr_t)b.ptr & (PMD_SZ - 1), 0);
	fill(b.ptr, b.size, 95);
	if (anon_huge_kb(b.ptr) < (long)(PMD_SZ >> 10))
		SKIP(return, "no THP for the buffer (AnonHugePages %ld kB)",
		     anon_huge_kb(b.ptr));
	info = calloc(b.npages, sizeof(*info));
	ASSERT_NE(info, NULL);
	ASSERT_EQ(classify(self->fd, b.ptr, b.npages, 0, info), 0);
	for (i = 0; i < b.npages; i++) {
		ASSERT_EQ(info[i].class, HMM_P2P_CLASS_SYSTEM);
		ASSERT_EQ(info[i].order, 9) TH_LOG("system page %lu", i);
	}
	ASSERT_EQ(get_info(self->fd, &di), 0);
	want = (di.flags & HMM_P2P_INFO_THP) ? 9 : 0;
	/* Coherent devices have no 2 MiB folios (test_device/main.c). */
	if (self->coherent)
		ASSERT_EQ(want, 0);
	ASSERT_EQ(get_stats(self->fd, &s0), 0);
	ASSERT_EQ(migrate_checked(self->fd, &b, 95), 0);
	ASSERT_EQ(get_stats(self->fd, &s1), 0);
	ASSERT_EQ(classify(self->fd, b.ptr, b.npages, HMM_P2P_CLASSIFY_NOFAULT,
			   info), 0);
	TH_LOG("device folio order %d (want %d), INFO_THP %d, thp_migrated +%llu",
	       info[0].order, want, !!(di.flags & HMM_P2P_INFO_THP),
	       (unsigned long long)(s1.thp_migrated - s0.thp_migrated));
	for (i = 0; i < b.npages; i++) {
		ASSERT_EQ(info[i].class, self->devclass) TH_LOG("page %lu", i);
		ASSERT_EQ(info[i].order, want) TH_LOG("device page %lu", i);
	}
	ASSERT_EQ(s1.thp_migrated - s0.thp_migrated, want ? 1 : 0);
	ASSERT_EQ(s1.migrated_to_dev - s0.migrated_to_dev, b.npages);
	ASSERT_EQ(check(b.ptr, b.size, 95), -1);
	free(info);
	buf_free(&b);
}

/* ---- INFO ---- */

/*
 * INFO says what the device is, and its geometry is the real one: capacity
 * is chunk_size * max_chunks, and chunk_size is what one registered chunk
 * holds (STATS pages_total per chunk), before any chunk exists as after.
 * Each device gets one page migrated to it (and back) to see a chunk.
 */
TEST(info)
{
	struct hmm_p2p_info info[NDEVS], after;
	struct hmm_p2p_stats s0, s1;
	int dev, fd;
	char *page;
	__u64 cp;

	page = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(page, MAP_FAILED);
	for (dev = 0; dev < NDEVS; dev++) {
		fd = dev_open(dev);
		ASSERT_GE(fd, 0) TH_LOG("/dev/hmm_dmirror%d", dev);
		ASSERT_EQ(get_info(fd, &info[dev]), 0);
		ASSERT_EQ(ioctl(fd, HMM_P2P_IOC_INFO, NULL), -1);
		ASSERT_EQ(errno, EFAULT);
		ASSERT_EQ(get_stats(fd, &s0), 0);
		TH_LOG("dev %d: type %u backend %u group %u chunk %llu x %llu, %s",
		       dev, info[dev].memory_type, info[dev].backend,
		       info[dev].owner_group,
		       (unsigned long long)info[dev].chunk_size,
		       (unsigned long long)info[dev].max_chunks,
		       info[dev].flags & HMM_P2P_INFO_THP ? "THP" : "no THP");
		TH_LOG("dev %d: capacity %llu MiB, %llu chunks registered", dev,
		       (unsigned long long)info[dev].capacity >> 20,
		       (unsigned long long)s0.chunks);
		ASSERT_EQ(info[dev].index, dev);
		ASSERT_EQ(info[dev].memory_type, dev_is_coherent(dev) ?
			  HMM_DMIRROR_MEMORY_DEVICE_COHERENT :
			  HMM_DMIRROR_MEMORY_DEVICE_PRIVATE);
		ASSERT_TRUE(info[dev].backend == HMM_P2P_BACKEND_SOFT ||
			    info[dev].backend == HMM_P2P_BACKEND_SPM ||
			    info[dev].backend == HMM_P2P_BACKEND_PCI);
		if (dev_is_coherent(dev))
			ASSERT_NE(info[dev].backend, HMM_P2P_BACKEND_SOFT);
		ASSERT_GT(info[dev].chunk_size, 0);
		ASSERT_EQ(info[dev].chunk_size % PMD_SZ, 0);
		ASSERT_GE(info[dev].max_chunks, 1);
		ASSERT_EQ(info[dev].capacity,
			  info[dev].chunk_size * info[dev].max_chunks);
		ASSERT_LE(s0.chunks, info[dev].max_chunks);
		ASSERT_EQ(s0.pages_total, s0.chunks * (info[dev].chunk_size / PAGE_SZ));

		/* One page on the device: at least one chunk, of that size. */
		page[0] = dev + 1;
		ASSERT_EQ(dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, page, some_page(), 1,
			     &cp), 0);
		ASSERT_EQ(cp, 1);
		ASSERT_EQ(get_stats(fd, &s1), 0);
		ASSERT_EQ(get_info(fd, &after), 0);
		EXPECT_EQ(s1.chunks, s0.chunks ? s0.chunks : 1);
		EXPECT_EQ(s1.pages_total, s1.chunks * (info[dev].chunk_size / PAGE_SZ));
		EXPECT_EQ(after.chunk_size, info[dev].chunk_size);
		EXPECT_EQ(after.max_chunks, info[dev].max_chunks);
		EXPECT_EQ(after.capacity, info[dev].capacity);
		ASSERT_EQ(dm(fd, HMM_DMIRROR_MIGRATE_TO_SYS, page, some_page(), 1,
			     &cp), 0);
		ASSERT_EQ(page[0], dev + 1);
		close(fd);
	}
	munmap(page, PAGE_SZ);
	/* Each upstream-compatible node is its own pagemap owner. */
	ASSERT_NE(info[DEV_PRIV0].owner_group, info[DEV_PRIV1].owner_group);
	ASSERT_NE(info[DEV_COH0].owner_group, info[DEV_COH1].owner_group);
}

/* ---- bad ioctl input ---- */

static const struct {
	unsigned long req;
	const char *name;
} range_cmds[] = {
	{ HMM_DMIRROR_READ, "READ" },
	{ HMM_DMIRROR_WRITE, "WRITE" },
	{ HMM_DMIRROR_MIGRATE_TO_DEV, "MIGRATE_TO_DEV" },
	{ HMM_DMIRROR_MIGRATE_TO_SYS, "MIGRATE_TO_SYS" },
	{ HMM_DMIRROR_SNAPSHOT, "SNAPSHOT" },
	{ HMM_DMIRROR_EXCLUSIVE, "EXCLUSIVE" },
	{ HMM_DMIRROR_CHECK_EXCLUSIVE, "CHECK_EXCLUSIVE" },
};

#define NCMDS	ARRAY_SIZE(range_cmds)

static int classify_raw(int fd, __u64 addr, __u64 ptr, __u64 npages, __u64 flags)
{
	struct hmm_p2p_classify_cmd c = {
		.addr = addr, .ptr = ptr, .npages = npages, .flags = flags,
	};

	return ioctl(fd, HMM_P2P_IOC_CLASSIFY, &c) ? -errno : 0;
}

FIXTURE(bad)
{
	int fd;
	struct buf b;
	void *ro;		/* read-only pages (STATS-sized header inside) */
};

FIXTURE_VARIANT(bad)
{
	int dev;
};

FIXTURE_VARIANT_ADD(bad, private) { .dev = DEV_PRIV0 };
FIXTURE_VARIANT_ADD(bad, coherent) { .dev = DEV_COH0 };

FIXTURE_SETUP(bad)
{
	self->fd = dev_open(variant->dev);
	if (self->fd < 0 && dev_is_coherent(variant->dev))
		SKIP(return, "no coherent device");
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(buf_alloc(&self->b, 16, false), 0);
	fill(self->b.ptr, self->b.size, 100);
	self->ro = mmap(NULL, 16 * PAGE_SZ, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->ro, MAP_FAILED);
	memset(self->ro, 0, 16 * PAGE_SZ);
	((struct hmm_p2p_stats *)self->ro)->size = sizeof(struct hmm_p2p_stats);
	ASSERT_EQ(mprotect(self->ro, 16 * PAGE_SZ, PROT_READ), 0);
}

FIXTURE_TEARDOWN(bad)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Unaligned, empty, wrapping and absurd ranges: -EINVAL, nothing touched. */
TEST_F(bad, ranges)
{
	const __u64 a = U64(self->b.ptr), m = U64(self->b.mirror);
	static const struct {
		__u64 off;
		__u64 npages;
		const char *what;
	} bad[] = {
		{ 1, 1, "unaligned addr" },
		{ 2048, 1, "half-page addr" },
		{ 0, 0, "zero npages" },
		{ 0, 1ULL << 50, "absurd npages (1 << 50)" },
		{ 0, (1ULL << 52) + 1, "npages << PAGE_SHIFT wraps to 1 page" },
		{ 0, ~0ULL, "npages ~0" },
		{ 0, (~0ULL >> 12) - 1, "addr + size wraps" },
	};
	const __u64 top = ~0ULL & ~(PAGE_SZ - 1);
	unsigned int c, i;
	int ret;

	for (c = 0; c < NCMDS; c++) {
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			ret = dm_cmd(self->fd, range_cmds[c].req, a + bad[i].off, m,
				     bad[i].npages, NULL);
			EXPECT_EQ(ret, -EINVAL)
				TH_LOG("%s: %s", range_cmds[c].name, bad[i].what);
		}
		/* The last page of the address space plus one wraps. */
		ret = dm_cmd(self->fd, range_cmds[c].req, top, m, 2, NULL);
		EXPECT_EQ(ret, -EINVAL) TH_LOG("%s: wrapping range", range_cmds[c].name);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = classify_raw(self->fd, a + bad[i].off, m, bad[i].npages, 0);
		EXPECT_EQ(ret, -EINVAL) TH_LOG("CLASSIFY: %s", bad[i].what);
	}
	EXPECT_EQ(classify_raw(self->fd, top, m, 2, 0), -EINVAL);
	/* Nothing was migrated or written by any of that. */
	ASSERT_EQ(pagemap_resident(self->b.ptr, self->b.npages, NULL), 0);
	ASSERT_EQ(check(self->b.ptr, self->b.size, 100), -1);
	/* The device still works. */
	ASSERT_EQ(read_checked(self->fd, &self->b, 100), 0);
}

/* Unmapped and PROT_NONE memory: upstream's errno per command. */
TEST_F(bad, unmapped_and_prot_none)
{
	struct hmm_p2p_page_info info[32];
	unsigned char snap[16];
	struct buf *b = &self->b;
	char *edge, *hole;
	__u64 cp;
	int i;

	/* Unmapped: the device faults -> -EFAULT; migration -> -EINVAL. */
	hole = fresh_hole(16 * PAGE_SZ);
	ASSERT_NE(hole, NULL);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_READ, hole, b->mirror, 16, NULL), -EFAULT);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_WRITE, hole, b->mirror, 16, NULL), -EFAULT);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, hole, b->mirror, 16,
		     NULL), -EINVAL);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, hole, b->mirror, 16,
		     NULL), -EINVAL);
	/* SNAPSHOT does not fault: an error byte per page (upstream). */
	memset(snap, 0x5a, sizeof(snap));
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_SNAPSHOT, hole, snap, 16, &cp), 0);
	for (i = 0; i < 16; i++)
		EXPECT_EQ(snap[i], HMM_DMIRROR_PROT_ERROR);
	/* CLASSIFY without faulting: not present (or error). */
	ASSERT_EQ(classify(self->fd, hole, 16, HMM_P2P_CLASSIFY_NOFAULT, info), 0);
	for (i = 0; i < 16; i++)
		EXPECT_TRUE(info[i].class == HMM_P2P_CLASS_NONE ||
			    info[i].class == HMM_P2P_CLASS_ERROR);
	/* A low address nothing can map (below mmap_min_addr). */
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_READ, (void *)0x2000, b->mirror, 8,
		     NULL), -EFAULT);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, (void *)0x2000,
		     b->mirror, 8, NULL), -EINVAL);

	/* A range that runs off the end of its mapping. */
	edge = mmap(NULL, 32 * PAGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(edge, MAP_FAILED);
	fill(edge, 16 * PAGE_SZ, 102);
	ASSERT_EQ(munmap(edge + 16 * PAGE_SZ, 16 * PAGE_SZ), 0);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, edge, b->mirror, 32,
		     NULL), -EINVAL);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_READ, edge, b->mirror, 32, NULL),
		  -EFAULT);
	ASSERT_EQ(check(edge, 16 * PAGE_SZ, 102), -1);
	munmap(edge, 16 * PAGE_SZ);

	/* PROT_NONE: device access -> -EFAULT, mirror buffer untouched. */
	ASSERT_EQ(mprotect(b->ptr, b->size, PROT_NONE), 0);
	memset(b->mirror, 0x5a, b->size);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_READ, b->ptr, b->mirror, b->npages,
		     NULL), -EFAULT);
	for (i = 0; i < (int)b->size; i++)
		if ((unsigned char)b->mirror[i] != 0x5a)
			break;
	EXPECT_EQ(i, (int)b->size);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_WRITE, b->ptr, b->mirror, b->npages,
		     NULL), -EFAULT);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, b->ptr, b->mirror,
		     b->npages, NULL), -EINVAL);
	ASSERT_EQ(mprotect(b->ptr, b->size, PROT_READ), 0);
	/* Read-only memory: the device may not write it -> -EPERM. */
	fill(b->mirror, b->size, 101);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_WRITE, b->ptr, b->mirror, b->npages,
		     NULL), -EPERM);
	ASSERT_EQ(check(b->ptr, b->size, 100), -1);
	ASSERT_EQ(mprotect(b->ptr, b->size, PROT_READ | PROT_WRITE), 0);
	ASSERT_EQ(pagemap_resident(b->ptr, b->npages, NULL), 0);
	ASSERT_EQ(read_checked(self->fd, b, 100), 0);
}

/* Bad user pointers: -EFAULT, and no half-done damage. */
TEST_F(bad, pointers)
{
	static const __u64 badptr[] = { 0, 1, 0xfffffffffffff000ULL };
	struct buf *b = &self->b;
	unsigned int i;
	char *short_buf, *hole;
	__u64 cp;
	int ret;

	/* The ioctl argument itself. */
	for (i = 0; i < NCMDS; i++) {
		EXPECT_EQ(ioctl(self->fd, range_cmds[i].req, NULL), -1);
		EXPECT_EQ(errno, EFAULT) TH_LOG("%s(NULL)", range_cmds[i].name);
		EXPECT_EQ(ioctl(self->fd, range_cmds[i].req, (void *)1), -1);
		EXPECT_EQ(errno, EFAULT) TH_LOG("%s(0x1)", range_cmds[i].name);
		hole = fresh_hole(PAGE_SZ);
		EXPECT_EQ(ioctl(self->fd, range_cmds[i].req, hole), -1);
		EXPECT_EQ(errno, EFAULT) TH_LOG("%s(hole)", range_cmds[i].name);
	}
	EXPECT_EQ(ioctl(self->fd, HMM_P2P_IOC_CLASSIFY, NULL), -1);
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(ioctl(self->fd, HMM_P2P_IOC_STATS, NULL), -1);
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(ioctl(self->fd, HMM_P2P_IOC_FAULT_INJECT, (void *)1), -1);
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(ioctl(self->fd, HMM_P2P_IOC_INFO, (void *)1), -1);
	EXPECT_EQ(errno, EFAULT);
	/* STATS into read-only memory (a valid size in it). */
	EXPECT_EQ(ioctl(self->fd, HMM_P2P_IOC_STATS, self->ro), -1);
	EXPECT_EQ(errno, EFAULT);

	/* cmd.ptr: the device's side of the copy. */
	for (i = 0; i < ARRAY_SIZE(badptr); i++) {
		EXPECT_EQ(dm_cmd(self->fd, HMM_DMIRROR_READ, U64(b->ptr), badptr[i],
				 b->npages, NULL), -EFAULT);
		EXPECT_EQ(dm_cmd(self->fd, HMM_DMIRROR_WRITE, U64(b->ptr), badptr[i],
				 b->npages, NULL), -EFAULT);
		EXPECT_EQ(dm_cmd(self->fd, HMM_DMIRROR_SNAPSHOT, U64(b->ptr),
				 badptr[i], b->npages, NULL), -EFAULT);
		EXPECT_EQ(classify_raw(self->fd, U64(b->ptr), badptr[i], b->npages,
				       0), -EFAULT);
	}
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_READ, b->ptr, self->ro, b->npages,
		     NULL), -EFAULT);
	EXPECT_EQ(classify_raw(self->fd, U64(b->ptr), U64(self->ro), b->npages, 0),
		  -EFAULT);
	/* A device-side buffer one page short (its last page unmapped). */
	short_buf = mmap(NULL, b->size + PAGE_SZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(short_buf, MAP_FAILED);
	ASSERT_EQ(munmap(short_buf + b->size, PAGE_SZ), 0);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_READ, b->ptr, short_buf + PAGE_SZ,
		     b->npages, NULL), -EFAULT);
	memset(short_buf, 0x77, b->size);
	EXPECT_EQ(dm(self->fd, HMM_DMIRROR_WRITE, b->ptr, short_buf + PAGE_SZ,
		     b->npages, NULL), -EFAULT);
	munmap(short_buf, b->size);
	/* Failed WRITEs wrote nothing. */
	ASSERT_EQ(check(b->ptr, b->size, 100), -1);

	/* MIGRATE_TO_DEV with a bad ptr: -EFAULT and no data lost. */
	ret = dm_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, U64(b->ptr), 0,
		     b->npages, NULL);
	EXPECT_EQ(ret, -EFAULT);
	ASSERT_EQ(read_checked(self->fd, b, 100), 0);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, b->ptr, b->mirror,
		     b->npages, &cp), 0);
	ASSERT_EQ(check(b->ptr, b->size, 100), -1);
}

/* Unknown commands, STATS sizes, fault injection points. */
TEST_F(bad, commands)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = U64(self->b.ptr), .ptr = U64(self->b.mirror), .npages = 1,
	};
	struct hmm_p2p_stats st;
	struct hmm_p2p_fault_cmd f = { 0 };
	unsigned char raw[sizeof(st) + 64];

	/* Unknown commands: -ENOTTY. */
	EXPECT_EQ(ioctl(self->fd, _IOWR('H', 0x3f, struct hmm_dmirror_cmd), &cmd), -1);
	EXPECT_EQ(errno, ENOTTY);
	EXPECT_EQ(ioctl(self->fd, _IOWR('H', 0x7f, struct hmm_dmirror_cmd), &cmd), -1);
	EXPECT_EQ(errno, ENOTTY);
	EXPECT_EQ(ioctl(self->fd, _IO('H', 0x45), 0), -1);
	EXPECT_EQ(errno, ENOTTY);
	EXPECT_EQ(ioctl(self->fd, _IOWR('Z', 0x00, struct hmm_dmirror_cmd), &cmd), -1);
	EXPECT_EQ(errno, ENOTTY);
	/* A known number with the wrong size is not that command. */
	EXPECT_EQ(ioctl(self->fd, _IOWR('H', 0x00, __u64), &cmd), -1);
	EXPECT_EQ(errno, ENOTTY);

	/* STATS: size below the header -> -EINVAL. */
	memset(&st, 0, sizeof(st));
	EXPECT_EQ(ioctl(self->fd, HMM_P2P_IOC_STATS, &st), -1);
	EXPECT_EQ(errno, EINVAL);
	st.size = 4;
	EXPECT_EQ(ioctl(self->fd, HMM_P2P_IOC_STATS, &st), -1);
	EXPECT_EQ(errno, EINVAL);
	/* A short but sane size: the kernel writes no more than that. */
	memset(raw, 0x5a, sizeof(raw));
	((struct hmm_p2p_stats *)raw)->size = offsetof(struct hmm_p2p_stats,
						       migrated_to_sys);
	((struct hmm_p2p_stats *)raw)->reset = 0;
	if (ioctl(self->fd, HMM_P2P_IOC_STATS, raw) == 0) {
		size_t i;

		for (i = offsetof(struct hmm_p2p_stats, migrated_to_sys);
		     i < sizeof(raw); i++)
			ASSERT_EQ(raw[i], 0x5a) TH_LOG("byte %zu written", i);
	} else {
		EXPECT_EQ(errno, EINVAL);
	}
	/* A bigger caller: the kernel says its own size, writes no more. */
	memset(raw, 0x5a, sizeof(raw));
	((struct hmm_p2p_stats *)raw)->size = sizeof(raw);
	((struct hmm_p2p_stats *)raw)->reset = 0;
	ASSERT_EQ(ioctl(self->fd, HMM_P2P_IOC_STATS, raw), 0);
	EXPECT_EQ(((struct hmm_p2p_stats *)raw)->size, sizeof(st));

	/* FAULT_INJECT: unknown points -> -EINVAL; count 0 disarms. */
	f.point = HMM_P2P_FAULT_NR;
	f.count = 1;
	EXPECT_EQ(ioctl(self->fd, HMM_P2P_IOC_FAULT_INJECT, &f), -1);
	EXPECT_EQ(errno, EINVAL);
	f.point = ~0U;
	EXPECT_EQ(ioctl(self->fd, HMM_P2P_IOC_FAULT_INJECT, &f), -1);
	EXPECT_EQ(errno, EINVAL);
	for (f.point = 0; f.point < HMM_P2P_FAULT_NR; f.point++) {
		f.count = 0;
		EXPECT_EQ(ioctl(self->fd, HMM_P2P_IOC_FAULT_INJECT, &f), 0);
	}
	/* The device is fine after all that. */
	ASSERT_EQ(read_checked(self->fd, &self->b, 100), 0);
}

TEST_HARNESS_MAIN
