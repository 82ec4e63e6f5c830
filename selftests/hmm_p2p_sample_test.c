// SPDX-License-Identifier: GPL-2.0
/*
 * The sample driver (samples/hmm_p2p_sample.c) does what its guide says:
 * a range moves to its device-private memory and back with its data, the
 * device's read through its mirror sees the data wherever the pages are
 * (system memory, its own memory), a CPU touch brings a page back by
 * itself, and bad arguments get their errno.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/types.h>

#include "hmm_p2p_util.h"

/* the sample's own interface (it has no uapi header: it is a sample) */
struct sample_range { __u64 addr, npages, to_dev, sum; };
#define HMM_P2P_SAMPLE_MIGRATE	_IOW('S', 1, struct sample_range)
#define HMM_P2P_SAMPLE_SUM	_IOWR('S', 2, struct sample_range)

#define NPAGES	256UL

FIXTURE(sample)
{
	int fd;
	unsigned char *buf;
	size_t size;
	__u64 sum;
};

FIXTURE_SETUP(sample)
{
	size_t i;

	self->fd = open("/dev/hmm_p2p_sample", O_RDWR);
	if (self->fd < 0)
		SKIP(return, "no /dev/hmm_p2p_sample (the sample module is not loaded)");
	self->size = NPAGES * PAGE_SZ;
	self->buf = map_anon(self->size);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, madvise(self->buf, self->size, MADV_NOHUGEPAGE));
	fill(self->buf, self->size, 7);
	self->sum = 0;
	for (i = 0; i < self->size; i++)
		self->sum += self->buf[i];
}

FIXTURE_TEARDOWN(sample)
{
	if (self->buf)
		munmap(self->buf, self->size);
	if (self->fd >= 0)
		close(self->fd);
}

static int sample(int fd, unsigned long req, void *addr, unsigned long npages, __u64 to_dev,
		  __u64 *sum)
{
	struct sample_range r = { .addr = (uintptr_t)addr, .npages = npages, .to_dev = to_dev };
	int ret = ioctl(fd, req, &r);

	if (sum)
		*sum = r.sum;
	return ret ? -errno : 0;
}

TEST_F(sample, migrate_and_back)
{
	__u64 sum;

	ASSERT_EQ(0, sample(self->fd, HMM_P2P_SAMPLE_SUM, self->buf, NPAGES, 0, &sum));
	EXPECT_EQ(self->sum, sum);

	ASSERT_EQ(0, sample(self->fd, HMM_P2P_SAMPLE_MIGRATE, self->buf, NPAGES, 1, NULL));
	EXPECT_EQ((long)NPAGES, pagemap_resident(self->buf, NPAGES, NULL));
	/* the device reads its own memory through the mirror */
	ASSERT_EQ(0, sample(self->fd, HMM_P2P_SAMPLE_SUM, self->buf, NPAGES, 0, &sum));
	EXPECT_EQ(self->sum, sum);
	EXPECT_EQ((long)NPAGES, pagemap_resident(self->buf, NPAGES, NULL));

	ASSERT_EQ(0, sample(self->fd, HMM_P2P_SAMPLE_MIGRATE, self->buf, NPAGES, 0, NULL));
	EXPECT_EQ(0, pagemap_resident(self->buf, NPAGES, NULL));
	EXPECT_EQ(-1, check(self->buf, self->size, 7));
}

TEST_F(sample, cpu_fault_brings_it_back)
{
	ASSERT_EQ(0, sample(self->fd, HMM_P2P_SAMPLE_MIGRATE, self->buf, NPAGES, 1, NULL));
	EXPECT_EQ((long)NPAGES, pagemap_resident(self->buf, NPAGES, NULL));
	/* the CPU reads: migrate_to_ram, page by page */
	EXPECT_EQ(-1, check(self->buf, self->size, 7));
	EXPECT_EQ(0, pagemap_resident(self->buf, NPAGES, NULL));
	/* and writes: on the device again, then the new data comes back */
	ASSERT_EQ(0, sample(self->fd, HMM_P2P_SAMPLE_MIGRATE, self->buf, NPAGES, 1, NULL));
	fill(self->buf, self->size, 8);
	EXPECT_EQ(-1, check(self->buf, self->size, 8));
}

TEST_F(sample, holes_and_bad_input)
{
	unsigned char *hole = map_anon(4 * PAGE_SZ);
	__u64 sum;

	ASSERT_NE(NULL, hole);
	/* never touched: the device's pages come zero filled */
	ASSERT_EQ(0, sample(self->fd, HMM_P2P_SAMPLE_MIGRATE, hole, 4, 1, NULL));
	ASSERT_EQ(0, sample(self->fd, HMM_P2P_SAMPLE_SUM, hole, 4, 0, &sum));
	EXPECT_EQ(0, sum);
	EXPECT_EQ(-1, check_zero(hole, 4 * PAGE_SZ));
	munmap(hole, 4 * PAGE_SZ);

	EXPECT_EQ(-EINVAL, sample(self->fd, HMM_P2P_SAMPLE_SUM, self->buf, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, sample(self->fd, HMM_P2P_SAMPLE_SUM, self->buf + 1, 1, 0, NULL));
	EXPECT_EQ(-EINVAL, sample(self->fd, HMM_P2P_SAMPLE_MIGRATE, self->buf, 1UL << 40, 1,
				  NULL));
	EXPECT_EQ(-ENOTTY, sample(self->fd, _IO('S', 9), self->buf, 1, 0, NULL));
	/* a range with no mapping */
	EXPECT_NE(0, sample(self->fd, HMM_P2P_SAMPLE_SUM, (void *)PAGE_SZ, 1, 0, NULL));
}

TEST_HARNESS_MAIN
