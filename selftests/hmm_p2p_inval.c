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
 *
 * The same contract with device jobs in flight (fixture "inflight",
 * HMM_P2P_IOC_JOB): the device reads or writes a range page by page after
 * its set-up let go of the mirror lock, and the range changes under it:
 *   write_munmap     a shared memory range, its WRITE job in flight, is
 *                    unmapped; the pages then get new data through a second
 *                    mapping of the same memory: no write of the job may
 *                    land after that (the job must be fenced)
 *   write_mprotect   the range becomes read-only: its contents must not
 *                    change after mprotect() returned
 *   read_munmap      a READ job: after the unmap the pages get new data
 *                    through the second mapping: the job must not read it
 *   write_migrate    anonymous memory moves to another device: each page
 *                    the job says it wrote holds its data, the others the
 *                    old data (a write to the old page after the
 *                    migration's invalidation would be lost)
 * Each asserts that the job was fenced part way (the invalidation met it in
 * flight), retrying a few times if the timing missed.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* ---- jobs in flight ---- */

#define JOB_PAGES	64
#define JOB_DELAY_US	3000		/* the whole job: about 0.2 s */
#define JOB_TRIES	6

FIXTURE(inflight)
{
	int fd;
	int other;
	int memfd;
	char *a;		/* the mirrored mapping */
	char *b;		/* a second mapping of the same memory */
	size_t size;
	char *data;		/* the job's buffer */
};

FIXTURE_VARIANT(inflight)
{
	const char *dev;
	const char *other;
};

FIXTURE_VARIANT_ADD(inflight, private)
{
	.dev = "hmm_dmirror0", .other = "hmm_dmirror1",
};

FIXTURE_VARIANT_ADD(inflight, coherent)
{
	.dev = "hmm_dmirror2", .other = "hmm_dmirror3",
};

FIXTURE_VARIANT_ADD(inflight, pci)
{
	.dev = "hmm_p2p0", .other = "hmm_p2p1",
};

FIXTURE_SETUP(inflight)
{
	self->fd = open_node(variant->dev);
	self->other = open_node(variant->other);
	self->memfd = -1;
	if (self->fd < 0 || self->other < 0)
		SKIP(return, "no /dev/%s or /dev/%s", variant->dev, variant->other);
	self->size = JOB_PAGES * PAGE_SZ;
	self->data = malloc(self->size);
	ASSERT_NE(NULL, self->data);
}

FIXTURE_TEARDOWN(inflight)
{
	free(self->data);
	if (self->memfd >= 0)
		close(self->memfd);
	if (self->fd >= 0)
		close(self->fd);
	if (self->other >= 0)
		close(self->other);
}

struct job_run {
	int fd;
	struct hmm_p2p_job_cmd cmd;
	int ret;
};

static void *job_thread(void *arg)
{
	struct job_run *r = arg;

	r->ret = ioctl(r->fd, HMM_P2P_IOC_JOB, &r->cmd) ? -errno : 0;
	return NULL;
}

/* Start a job on another thread; the caller changes the range meanwhile. */
static void job_start(struct job_run *r, pthread_t *th, int fd, void *addr, void *buf,
		      __u32 op)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->cmd.addr = U64(addr);
	r->cmd.ptr = U64(buf);
	r->cmd.npages = JOB_PAGES;
	r->cmd.op = op;
	r->cmd.delay_us = JOB_DELAY_US;
	pthread_create(th, NULL, job_thread, r);
	/* into the job: set-up done, a few pages gone */
	usleep(JOB_DELAY_US * JOB_PAGES / 4);
}

/* A shared memory range mapped twice: a (mirrored) and b. */
static void map_shared(struct __test_metadata *_metadata, struct _test_data_inflight *self)
{
	if (self->memfd >= 0)
		close(self->memfd);
	self->memfd = memfd_create("hmm_p2p_inval", 0);
	ASSERT_LE(0, self->memfd);
	ASSERT_EQ(0, ftruncate(self->memfd, self->size));
	self->a = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->memfd, 0);
	self->b = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->memfd, 0);
	ASSERT_NE(MAP_FAILED, self->a);
	ASSERT_NE(MAP_FAILED, self->b);
}

static bool fenced_part_way(const struct job_run *r)
{
	return r->ret == 0 && r->cmd.fenced_at > 0 && r->cmd.fenced_at < JOB_PAGES;
}

TEST_F(inflight, write_munmap)
{
	struct job_run r;
	pthread_t th;
	int tries;

	for (tries = 0; tries < JOB_TRIES; tries++) {
		map_shared(_metadata, self);
		fill(self->b, self->size, 1);
		fill(self->data, self->size, 2);
		job_start(&r, &th, self->fd, self->a, self->data, HMM_P2P_JOB_WRITE);
		ASSERT_EQ(0, munmap(self->a, self->size));
		/* the invalidation has returned: the device writes no more */
		fill(self->b, self->size, 3);
		pthread_join(th, NULL);
		ASSERT_EQ(0, r.ret);
		EXPECT_EQ(-1, check(self->b, self->size, 3));
		munmap(self->b, self->size);
		if (fenced_part_way(&r))
			break;
	}
	TH_LOG("fenced at page %llu of %d, done %llu, after %d tries",
	       (unsigned long long)r.cmd.fenced_at, JOB_PAGES,
	       (unsigned long long)r.cmd.done, tries + 1);
	ASSERT_LT(tries, JOB_TRIES);
	EXPECT_EQ(r.cmd.fenced_at, r.cmd.done);
}

TEST_F(inflight, write_mprotect)
{
	char *seen = malloc(self->size);
	struct job_run r;
	pthread_t th;
	int tries;

	ASSERT_NE(NULL, seen);
	for (tries = 0; tries < JOB_TRIES; tries++) {
		map_shared(_metadata, self);
		fill(self->b, self->size, 1);
		fill(self->data, self->size, 2);
		job_start(&r, &th, self->fd, self->a, self->data, HMM_P2P_JOB_WRITE);
		ASSERT_EQ(0, mprotect(self->a, self->size, PROT_READ));
		memcpy(seen, self->b, self->size);
		pthread_join(th, NULL);
		ASSERT_EQ(0, r.ret);
		/* nothing changed after mprotect() returned */
		EXPECT_EQ(0, memcmp(seen, self->b, self->size));
		/* what the job wrote before, and only that, is there */
		EXPECT_EQ(-1, check_at(self->b, r.cmd.done * PAGE_SZ, 2, 0));
		munmap(self->a, self->size);
		munmap(self->b, self->size);
		if (fenced_part_way(&r))
			break;
	}
	free(seen);
	TH_LOG("fenced at page %llu of %d after %d tries",
	       (unsigned long long)r.cmd.fenced_at, JOB_PAGES, tries + 1);
	ASSERT_LT(tries, JOB_TRIES);
}

TEST_F(inflight, read_munmap)
{
	struct job_run r;
	pthread_t th;
	int tries;

	for (tries = 0; tries < JOB_TRIES; tries++) {
		map_shared(_metadata, self);
		fill(self->b, self->size, 1);
		memset(self->data, 0, self->size);
		job_start(&r, &th, self->fd, self->a, self->data, HMM_P2P_JOB_READ);
		ASSERT_EQ(0, munmap(self->a, self->size));
		fill(self->b, self->size, 3);
		pthread_join(th, NULL);
		ASSERT_EQ(0, r.ret);
		/* every page the device read is the old data, none the new */
		EXPECT_EQ(-1, check_at(self->data, r.cmd.done * PAGE_SZ, 1, 0));
		munmap(self->b, self->size);
		if (fenced_part_way(&r))
			break;
	}
	TH_LOG("fenced at page %llu of %d after %d tries",
	       (unsigned long long)r.cmd.fenced_at, JOB_PAGES, tries + 1);
	ASSERT_LT(tries, JOB_TRIES);
}

TEST_F(inflight, write_migrate)
{
	char *back = malloc(self->size);	/* MIGRATE_TO_DEV's read-back */
	size_t done;
	struct job_run r;
	pthread_t th;
	__u64 cpages;
	char *p;
	int tries;

	ASSERT_NE(NULL, back);
	for (tries = 0; tries < JOB_TRIES; tries++) {
		p = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
		ASSERT_NE(MAP_FAILED, p);
		ASSERT_EQ(0, madvise(p, self->size, MADV_NOHUGEPAGE));
		fill(p, self->size, 1);
		fill(self->data, self->size, 2);
		job_start(&r, &th, self->fd, p, self->data, HMM_P2P_JOB_WRITE);
		ASSERT_EQ(0, dm(self->other, HMM_DMIRROR_MIGRATE_TO_DEV, p, back, JOB_PAGES,
				&cpages));
		pthread_join(th, NULL);
		ASSERT_EQ(0, r.ret);
		/* the CPU reads what moved (faulting it back) */
		done = r.cmd.done * PAGE_SZ;
		EXPECT_EQ(-1, check_at(p, done, 2, 0));
		EXPECT_EQ(-1, check_at(p + done, self->size - done, 1, done));
		munmap(p, self->size);
		if (fenced_part_way(&r))
			break;
	}
	free(back);
	TH_LOG("fenced at page %llu of %d after %d tries",
	       (unsigned long long)r.cmd.fenced_at, JOB_PAGES, tries + 1);
	ASSERT_LT(tries, JOB_TRIES);
}

TEST_HARNESS_MAIN
