// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-p2p selftests: the invalidation contract. Once an invalidation of a
 * range has returned, the device never reads or writes the pages it had
 * mapped there before. Each test mirrors a range on a device (a device READ,
 * so the device has every page mapped), changes what backs the range:
 *   migrate_and_back   migration to another device and back to system memory
 *   munmap_mmap        munmap, then new memory mmap()ed at the same address
 *   dontneed           MADV_DONTNEED
 *   mprotect           read-only (a device WRITE must fail) and back
 * and rewrites the pages through the CPU right after. The device then READs:
 * it must see the new data, never the old; and a device WRITE must land in
 * the new pages (checked through the CPU). STATS shows that the device was
 * sent an invalidation for each.
 *
 * Variants: the mirroring device is device-private (dmirror0, 4 KiB pages
 * and a THP), device-coherent (dmirror2) or a PCI device (hmm_p2p0).
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

#include "hmm_p2p_util.h"

static int open_node(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/%s", name);
	return open(path, O_RDWR);
}

FIXTURE(inval)
{
	int fd;			/* the mirroring device */
	int other;		/* the device the pages visit */
	char *buf;		/* the range, PMD aligned */
	void *map;
	size_t size, map_size;
	unsigned long npages;
	char *out;		/* the device's copy buffer */
};

FIXTURE_VARIANT(inval)
{
	const char *dev;
	const char *other;
	bool thp;
};

FIXTURE_VARIANT_ADD(inval, private)
{
	.dev = "hmm_dmirror0", .other = "hmm_dmirror1", .thp = false,
};

FIXTURE_VARIANT_ADD(inval, private_thp)
{
	.dev = "hmm_dmirror0", .other = "hmm_dmirror1", .thp = true,
};

FIXTURE_VARIANT_ADD(inval, coherent)
{
	.dev = "hmm_dmirror2", .other = "hmm_dmirror3", .thp = false,
};

FIXTURE_VARIANT_ADD(inval, pci)
{
	.dev = "hmm_p2p0", .other = "hmm_p2p1", .thp = false,
};

static void map_range(struct __test_metadata *_metadata, struct _test_data_inval *self, bool thp,
		      bool fixed)
{
	void *p;

	if (fixed) {
		p = mmap(self->buf, self->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		ASSERT_EQ(self->buf, p);
	}
	ASSERT_EQ(0, madvise(self->buf, self->size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE));
}

FIXTURE_SETUP(inval)
{
	self->fd = open_node(variant->dev);
	self->other = open_node(variant->other);
	if (self->fd < 0 || self->other < 0)
		SKIP(return, "no /dev/%s or /dev/%s", variant->dev, variant->other);
	self->npages = variant->thp ? NPAGES_THP : 16;
	self->size = self->npages * PAGE_SZ;
	self->map_size = self->size + PMD_SZ;
	self->map = mmap(NULL, self->map_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->buf = (char *)(((uintptr_t)self->map + PMD_SZ - 1) & ~(PMD_SZ - 1));
	map_range(_metadata, self, variant->thp, false);
	self->out = malloc(self->size);
	ASSERT_NE(NULL, self->out);
}

FIXTURE_TEARDOWN(inval)
{
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->map_size);
	free(self->out);
	if (self->fd >= 0)
		close(self->fd);
	if (self->other >= 0)
		close(self->other);
}

static __u64 invalidations(int fd)
{
	struct hmm_p2p_stats st;

	return get_stats(fd, &st) ? 0 : st.invalidations;
}

/* The old data (seed 1), mirrored: the device has read every page. */
static void mirror_old(struct __test_metadata *_metadata, struct _test_data_inval *self)
{
	__u64 cpages;

	fill(self->buf, self->size, 1);
	memset(self->out, 0, self->size);
	ASSERT_EQ(0, dm(self->fd, HMM_DMIRROR_READ, self->buf, self->out, self->npages, &cpages));
	ASSERT_EQ(self->npages, cpages);
	ASSERT_EQ(-1, check(self->out, self->size, 1));
}

/*
 * After the change: the CPU writes new data (seed 2) at once, the device
 * must read it (never seed 1), and its WRITE (seed 3) must reach the pages
 * the CPU sees.
 */
static void expect_new(struct __test_metadata *_metadata, struct _test_data_inval *self,
		       __u64 inv0)
{
	__u64 cpages, inv = invalidations(self->fd);

	EXPECT_LT(inv0, inv);
	TH_LOG("invalidations: %llu -> %llu", (unsigned long long)inv0,
	       (unsigned long long)inv);
	fill(self->buf, self->size, 2);
	memset(self->out, 0, self->size);
	ASSERT_EQ(0, dm(self->fd, HMM_DMIRROR_READ, self->buf, self->out, self->npages, &cpages));
	ASSERT_EQ(self->npages, cpages);
	EXPECT_EQ(-1, check(self->out, self->size, 2));

	fill(self->out, self->size, 3);
	ASSERT_EQ(0, dm(self->fd, HMM_DMIRROR_WRITE, self->buf, self->out, self->npages,
			&cpages));
	ASSERT_EQ(self->npages, cpages);
	EXPECT_EQ(-1, check(self->buf, self->size, 3));
	/* and again: a READ after the WRITE sees the WRITE */
	memset(self->out, 0, self->size);
	ASSERT_EQ(0, dm(self->fd, HMM_DMIRROR_READ, self->buf, self->out, self->npages, &cpages));
	EXPECT_EQ(-1, check(self->out, self->size, 3));
}

TEST_F(inval, migrate_and_back)
{
	__u64 cpages, inv0;

	mirror_old(_metadata, self);
	inv0 = invalidations(self->fd);
	ASSERT_EQ(0, dm(self->other, HMM_DMIRROR_MIGRATE_TO_DEV, self->buf, self->out,
			self->npages, &cpages));
	ASSERT_EQ(self->npages, cpages);
	ASSERT_EQ(0, dm(self->other, HMM_DMIRROR_MIGRATE_TO_SYS, self->buf, NULL, self->npages,
			&cpages));
	ASSERT_EQ(self->npages, cpages);
	expect_new(_metadata, self, inv0);
}

TEST_F(inval, munmap_mmap)
{
	__u64 inv0;

	mirror_old(_metadata, self);
	inv0 = invalidations(self->fd);
	ASSERT_EQ(0, munmap(self->buf, self->size));
	map_range(_metadata, self, variant->thp, true);
	expect_new(_metadata, self, inv0);
}

TEST_F(inval, dontneed)
{
	__u64 inv0, cpages;

	mirror_old(_metadata, self);
	inv0 = invalidations(self->fd);
	ASSERT_EQ(0, madvise(self->buf, self->size, MADV_DONTNEED));
	/* the device reads zeros now, not the old pages */
	memset(self->out, 0xee, self->size);
	ASSERT_EQ(0, dm(self->fd, HMM_DMIRROR_READ, self->buf, self->out, self->npages, &cpages));
	EXPECT_EQ(-1, check_zero(self->out, self->size));
	expect_new(_metadata, self, inv0);
}

TEST_F(inval, mprotect)
{
	__u64 inv0, cpages;

	mirror_old(_metadata, self);
	/* a WRITE maps the pages writable first */
	fill(self->out, self->size, 1);
	ASSERT_EQ(0, dm(self->fd, HMM_DMIRROR_WRITE, self->buf, self->out, self->npages,
			&cpages));
	inv0 = invalidations(self->fd);
	ASSERT_EQ(0, mprotect(self->buf, self->size, PROT_READ));
	EXPECT_LT(inv0, invalidations(self->fd));
	/* read-only now: the device may read, never write */
	fill(self->out, self->size, 4);
	EXPECT_EQ(-EPERM, dm(self->fd, HMM_DMIRROR_WRITE, self->buf, self->out, self->npages,
			     &cpages));
	EXPECT_EQ(-1, check(self->buf, self->size, 1));
	ASSERT_EQ(0, mprotect(self->buf, self->size, PROT_READ | PROT_WRITE));
	expect_new(_metadata, self, inv0);
}

TEST_HARNESS_MAIN
