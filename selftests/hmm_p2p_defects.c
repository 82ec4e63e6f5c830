// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-p2p regression tests for the defects found where the driver meets
 * core mm (issue 9). Each test failed, hung or crashed the kernel on the
 * tree before its fix; what it did then is written above it. They talk to
 * the devices only through the uapi.
 *
 * Some need the plan's setup: thp_hole_device_full a private device of
 * 4 MiB (hmm_p2p_test private_mb=4), the privilege tests root (they drop
 * it themselves). Without it they skip, and say why.
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
#include <sys/syscall.h>
#include <linux/io_uring.h>

#include "hmm_p2p_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A 2 MiB-aligned, MADV_HUGEPAGE range of @n PMDs inside a mapping. */
static char *thp_range(struct buf *b, unsigned long n)
{
	if (buf_alloc(b, n * NPAGES_THP, true))
		return NULL;
	return b->ptr;
}

/* Each page's first word: a stamp naming the page (and the round). */
static void stamp(char *p, unsigned long npages, __u64 round)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		__u64 *w = (__u64 *)(p + i * PAGE_SZ);

		w[0] = (round << 32) | i;
		w[1] = ~w[0];
	}
}

/* The page index stamped into @page, or -1. */
static long stamp_of(const char *page, __u64 round)
{
	const __u64 *w = (const __u64 *)page;

	if (w[1] != ~w[0] || (w[0] >> 32) != round)
		return -1;
	return (long)(w[0] & 0xffffffffULL);
}

/*
 * Defect 1. A compound source (a THP, or a 2 MiB hole) whose 2 MiB device
 * folio cannot be had is moved as 4 KiB pages; a failure in the middle left
 * holes in its destinations, and __migrate_device_pages() dereferenced
 * them. Before the fix: "BUG: kernel NULL pointer dereference" in
 * __migrate_device_pages (the guest died). Now: the whole entry stays.
 */
FIXTURE(hole)
{
	int fd;
};

FIXTURE_VARIANT(hole)
{
	bool touched;
};

FIXTURE_VARIANT_ADD(hole, untouched) { .touched = false };
FIXTURE_VARIANT_ADD(hole, touched) { .touched = true };

FIXTURE_SETUP(hole)
{
	self->fd = dev_open(DEV_PRIV0);
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(hole)
{
	if (geteuid() == 0)
		inject_disarm_all(self->fd);
	close(self->fd);
}

TEST_F(hole, thp_hole_alloc_fail_injected)
{
	struct hmm_p2p_info info;
	struct hmm_p2p_stats st;
	struct buf b;
	__u64 cp = 0;
	char *p;
	int ret;

	if (geteuid())
		SKIP(return, "fault injection needs CAP_SYS_ADMIN");
	p = thp_range(&b, 1);
	ASSERT_NE(p, NULL);
	if (variant->touched)
		fill(p, PMD_SZ, 91);
	/* no 2 MiB folio (FAIL_ALLOC), then the second 4 KiB page fails */
	ASSERT_EQ(dm_cmd(self->fd, HMM_DMIRROR_FLAGS, 0, 0, HMM_DMIRROR_FLAG_FAIL_ALLOC,
			 NULL), 0);
	ASSERT_EQ(inject(self->fd, HMM_P2P_FAULT_ALLOC_PAGE, 1, 1), 0);
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, b.mirror, NPAGES_THP, &cp);
	TH_LOG("migrate: %d, %llu pages", ret, (unsigned long long)cp);
	ASSERT_TRUE(ret == 0 || ret == -ENOMEM);
	ASSERT_EQ(get_info(self->fd, &info), 0);
	ASSERT_EQ(get_stats(self->fd, &st), 0);
	if (info.flags & HMM_P2P_INFO_THP) {
		/* all or nothing for the one compound entry: nothing moved */
		ASSERT_EQ(pagemap_resident(p, NPAGES_THP, NULL), 0);
		/* and nothing leaked: the discarded 4 KiB pages went back */
		ASSERT_EQ(st.pages_in_use, 0);
	} else {
		/* 4 KiB entries only (6.12): one page stays, the rest moved */
		ASSERT_EQ(pagemap_resident(p, NPAGES_THP, NULL), NPAGES_THP - 1);
		ASSERT_EQ(st.pages_in_use, NPAGES_THP - 1);
	}
	ASSERT_EQ(variant->touched ? check(p, PMD_SZ, 91) :
		  check_zero(p, PMD_SZ), -1);
	/* the next try, without injection, moves it */
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, b.mirror, NPAGES_THP, &cp), 0);
	ASSERT_EQ(pagemap_resident(p, NPAGES_THP, NULL), NPAGES_THP);
	ASSERT_EQ(variant->touched ? check(p, PMD_SZ, 91) :
		  check_zero(p, PMD_SZ), -1);
	buf_free(&b);
}

/*
 * Defect 1 without injection: a private device of 4 MiB (1024 pages) with
 * 513 pages in use has no free 2 MiB block and 511 free pages. A THP then
 * falls back to 4 KiB pages and runs out at the 512th. Before the fix: the
 * same NULL pointer dereference. Now: -ENOMEM, the THP stays, data intact.
 */
TEST_F(hole, thp_hole_device_full)
{
	struct hmm_p2p_info info;
	struct hmm_p2p_stats st;
	struct buf a, b;
	__u64 cp = 0;
	int ret;

	ASSERT_EQ(get_info(self->fd, &info), 0);
	if (info.capacity != 4UL << 20)
		SKIP(return, "needs a 4 MiB private device (private_mb=4); this one has %llu MiB",
		     (unsigned long long)info.capacity >> 20);
	ASSERT_EQ(buf_alloc(&a, 513, false), 0);
	fill(a.ptr, a.size, 92);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, a.ptr, a.mirror, 513, &cp), 0);
	ASSERT_EQ(cp, 513);
	ASSERT_NE(thp_range(&b, 1), NULL);
	if (variant->touched)
		fill(b.ptr, PMD_SZ, 93);
	ret = dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, NPAGES_THP, &cp);
	TH_LOG("THP into 511 free pages: %d", ret);
	ASSERT_EQ(ret, -ENOMEM);
	ASSERT_EQ(get_stats(self->fd, &st), 0);
	if (info.flags & HMM_P2P_INFO_THP) {
		ASSERT_EQ(pagemap_resident(b.ptr, NPAGES_THP, NULL), 0);
		ASSERT_EQ(st.pages_in_use, 513);
	} else {
		/* 4 KiB entries only (6.12): the device fills up, one stays */
		ASSERT_EQ(pagemap_resident(b.ptr, NPAGES_THP, NULL), NPAGES_THP - 1);
		ASSERT_EQ(st.pages_in_use, 1024);
	}
	ASSERT_EQ(variant->touched ? check(b.ptr, PMD_SZ, 93) :
		  check_zero(b.ptr, PMD_SZ), -1);
	ASSERT_EQ(check(a.ptr, a.size, 92), -1);
	buf_free(&a);
	buf_free(&b);
	ASSERT_EQ(wait_in_use(self->fd, 0, 2000), 0);
}

/* Tests on the first private device, no variants. */
FIXTURE(priv)
{
	int fd;
};

FIXTURE_SETUP(priv)
{
	self->fd = dev_open(DEV_PRIV0);
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(priv)
{
	close(self->fd);
}

/*
 * Defect 2. hmm_range_fault() reports a clean writable PTE as writable; a
 * device write did not dirty the folio, so after MADV_FREE (folio clean
 * and lazyfree) reclaim discarded what the device wrote. Before the fix:
 * the page read back as zeros after MADV_PAGEOUT. Now: the device's data.
 */
FIXTURE(dirty)
{
	int fd;
};

FIXTURE_VARIANT(dirty)
{
	int dev;
};

FIXTURE_VARIANT_ADD(dirty, private) { .dev = DEV_PRIV0 };
FIXTURE_VARIANT_ADD(dirty, coherent) { .dev = DEV_COH0 };

FIXTURE_SETUP(dirty)
{
	self->fd = dev_open(variant->dev);
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(dirty)
{
	close(self->fd);
}

TEST_F(dirty, device_write_after_madv_free)
{
	const unsigned long n = 16;
	struct buf b;
	char *src;
	__u64 cp = 0;

	ASSERT_EQ(buf_alloc(&b, n, false), 0);
	src = malloc(b.size);
	ASSERT_NE(src, NULL);
	fill(b.ptr, b.size, 94);
	ASSERT_EQ(madvise(b.ptr, b.size, MADV_FREE), 0);
	fill(src, b.size, 95);
	ASSERT_EQ(dm(self->fd, HMM_DMIRROR_WRITE, b.ptr, src, n, &cp), 0);
	ASSERT_EQ(cp, n);
	if (madvise(b.ptr, b.size, MADV_PAGEOUT))
		SKIP(return, "MADV_PAGEOUT: %s", strerror(errno));
	ASSERT_EQ(check(b.ptr, b.size, 95), -1);
	free(src);
	buf_free(&b);
}

/*
 * Defect 3. hmm_range_fault() of a range that starts inside a PMD-mapped
 * device-private folio reports the folio's pages counted from its head
 * (a kernel bug in 7.3's hmm_vma_handle_absent_pmd(); patches/ has the
 * fix). Before the library's workaround: a READ of pages 368-383 of a THP
 * on the device returned pages 0-15. Now: the right pages. Kernels without
 * device-private PMDs (6.12) skip.
 */
TEST(thp_subrange_read)
{
	static const unsigned long off[] = { 1, 16, 368, 496 };
	unsigned char prot[NPAGES_THP];
	const unsigned long n = 16;
	struct buf b;
	unsigned long i, j;
	__u64 cp = 0;
	char *out;
	int fd;

	fd = dev_open(DEV_PRIV0);
	ASSERT_GE(fd, 0);
	ASSERT_NE(thp_range(&b, 1), NULL);
	stamp(b.ptr, NPAGES_THP, 3);
	ASSERT_EQ(dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, NPAGES_THP, &cp), 0);
	ASSERT_EQ(dm(fd, HMM_DMIRROR_SNAPSHOT, b.ptr, prot, NPAGES_THP, &cp), 0);
	if (!(prot[0] & HMM_DMIRROR_PROT_PMD))
		SKIP(goto out, "the THP is not PMD-mapped on the device (prot %#x)", prot[0]);
	out = malloc(n * PAGE_SZ);
	ASSERT_NE(out, NULL);
	for (i = 0; i < ARRAY_SIZE(off); i++) {
		ASSERT_EQ(dm(fd, HMM_DMIRROR_READ, b.ptr + off[i] * PAGE_SZ, out, n, &cp), 0);
		for (j = 0; j < n; j++) {
			long s = stamp_of(out + j * PAGE_SZ, 3);

			if (s != (long)(off[i] + j))
				TH_LOG("READ at page %lu: page %lu holds page %ld's data",
				       off[i], off[i] + j, s);
			ASSERT_EQ(s, (long)(off[i] + j));
		}
	}
	free(out);
out:
	buf_free(&b);
	close(fd);
}

/*
 * Defect 11. FAULT_INJECT and COPY_BENCH change what every user of the
 * device sees (or hold much memory): they need CAP_SYS_ADMIN, and the nodes
 * are root's (0600) by default. Before: any user could arm an injection
 * (the nodes were 0666).
 */
TEST(privilege)
{
	struct hmm_p2p_copy_bench cb = { .npages = 1, .passes = 1 };
	struct stat sb;
	pid_t pid;
	int fd;

	if (geteuid())
		SKIP(return, "needs root to drop privilege");
	ASSERT_EQ(stat("/dev/hmm_dmirror0", &sb), 0);
	ASSERT_EQ(sb.st_mode & 0777, 0600);
	fd = dev_open(DEV_PRIV0);
	ASSERT_GE(fd, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		CCHECK(!setgid(65534) && !setuid(65534), "drop to nobody");
		CCHECK(dev_open(DEV_PRIV0) < 0 && errno == EACCES, "open: %d", errno);
		CCHECK(inject(fd, HMM_P2P_FAULT_ALLOC_PAGE, 1, 0) == -EPERM, "inject");
		CCHECK(inject(fd, HMM_P2P_FAULT_COPY_TO_SYS, 1, 0) == -EPERM, "inject");
		CCHECK(ioctl(fd, HMM_P2P_IOC_COPY_BENCH, &cb) && errno == EPERM, "bench");
		_exit(0);
	}
	ASSERT_EQ(wait_child(pid), 0);
	ASSERT_EQ(inject(fd, HMM_P2P_FAULT_ALLOC_PAGE, 0, 0), 0);
	close(fd);
}

/*
 * Defect 11. Ranges are capped (HMM_P2P_MAX_NPAGES), and a command over the
 * largest range is ended by SIGKILL at once. Before: no cap (a 64 TiB
 * MAP_NORESERVE range migrated for hours), and the migration and its read
 * back held the mmap lock and ignored signals: a 1 GiB MIGRATE_TO_DEV with
 * its read-back ran to the end, several seconds under TCG, after SIGKILL.
 */
TEST(npages_cap)
{
	void *p = some_page();
	int fd;

	fd = dev_open(DEV_PRIV0);
	ASSERT_GE(fd, 0);
	ASSERT_NE(p, NULL);
	ASSERT_EQ(dm(fd, HMM_DMIRROR_READ, p, p, HMM_P2P_MAX_NPAGES + 1, NULL), -EINVAL);
	ASSERT_EQ(dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, p, HMM_P2P_MAX_NPAGES + 1, NULL),
		  -EINVAL);
	ASSERT_EQ(dm(fd, HMM_DMIRROR_SNAPSHOT, p, p, HMM_P2P_MAX_NPAGES + 1, NULL), -EINVAL);
	close(fd);
}

TEST_F_TIMEOUT(priv, killed_at_the_cap, 120)
{
	const size_t len = HMM_P2P_MAX_NPAGES * PAGE_SZ;
	double t0, t1;
	int go[2], st;
	pid_t pid;

	ASSERT_EQ(pipe(go), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		__u64 cp = 0;
		int ret;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		char *q = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		/* its own file: an inherited one mirrors the parent's mm */
		int fd = dev_open(DEV_PRIV0);

		CCHECK(fd >= 0 && p != MAP_FAILED && q != MAP_FAILED, "open, mmap");
		madvise(p, len, MADV_NOHUGEPAGE);
		pipe_put(go[1], 1);
		ret = dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, q, HMM_P2P_MAX_NPAGES, &cp);
		fprintf(stderr, "# migrate returned before the kill: %d, %llu pages\n", ret,
			(unsigned long long)cp);
		_exit(2);
	}
	ASSERT_EQ(pipe_get(go[0]), 1);
	sleep(1);
	t0 = now_s();
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	t1 = now_s();
	TH_LOG("SIGKILL to exit: %.3f s", t1 - t0);
	ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ASSERT_LT(t1 - t0, 2.0);
	close(go[0]);
	close(go[1]);
	/* what moved before the kill is freed with the child's mm */
	ASSERT_EQ(wait_in_use(self->fd, 0, 10000), 0);
}

/*
 * EXCLUSIVE copies the range's data to cmd.ptr: a bad pointer is -EFAULT,
 * and a retry with a good one works. Before: after a buffer too short the
 * pages stayed exclusive and every later EXCLUSIVE on them got -EBUSY.
 */
TEST(exclusive_bad_pointer)
{
	struct buf b;
	char *shortbuf;
	int fd;

	fd = dev_open(DEV_PRIV0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(buf_alloc(&b, 4, false), 0);
	fill(b.ptr, b.size, 96);
	ASSERT_EQ(dm(fd, HMM_DMIRROR_EXCLUSIVE, b.ptr, (void *)0xffff888000000000UL, 4, NULL),
		  -EFAULT);
	shortbuf = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(shortbuf, MAP_FAILED);
	ASSERT_EQ(munmap(shortbuf + PAGE_SZ, PAGE_SZ), 0);
	ASSERT_EQ(dm(fd, HMM_DMIRROR_EXCLUSIVE, b.ptr, shortbuf, 4, NULL), -EFAULT);
	/* the pages stay exclusive after that failure: a retry works */
	ASSERT_EQ(dm(fd, HMM_DMIRROR_EXCLUSIVE, b.ptr, b.mirror, 4, NULL), 0);
	ASSERT_EQ(check(b.mirror, b.size, 96), -1);
	ASSERT_EQ(check(b.ptr, b.size, 96), -1);
	munmap(shortbuf, PAGE_SZ);
	buf_free(&b);
	close(fd);
}

/*
 * Defect 4. Moving a PMD-mapped device-private folio back leaves a PMD
 * migration entry naming it; 7.3's zap_huge_pmd() (MADV_DONTNEED on the
 * exact 2 MiB) took that entry for a device-private mapping and dropped a
 * reference and a mapcount it never held (a kernel bug; patches/ has the
 * fix). Before the library's workaround: the debug kernel hit
 * VM_BUG_ON_PAGE(page_ref_count(page) == 0) in __migrate_device_finalize;
 * the normal kernel freed the device folio twice (pages_in_use underflowed,
 * "Bad rss-counter state"), and ioctls hung (a soft lockup in
 * __migrate_device_finalize, 3 runs of 3). Thread A moves piece 0 to the
 * device and back, thread B zaps exactly piece 0, thread D reads it with the
 * CPU (the fault path moves it back), thread C moves piece 1 to the device
 * and back and checks its data (only C touches it), so that a block freed
 * too early is reused at once.
 */
struct race {
	int fd;
	char *p;
	int stop;
	unsigned long ops[4];
	unsigned long bad;
	unsigned long over;
	__u64 total;
};

static void *race_a(void *arg)
{
	struct race *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		dm(r->fd, HMM_DMIRROR_MIGRATE_TO_DEV, r->p, NULL, NPAGES_THP, NULL);
		dm(r->fd, HMM_DMIRROR_MIGRATE_TO_SYS, r->p, NULL, NPAGES_THP, NULL);
		r->ops[0]++;
	}
	return NULL;
}

static void *race_b(void *arg)
{
	struct race *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		madvise(r->p, PMD_SZ, MADV_DONTNEED);
		r->ops[1]++;
	}
	return NULL;
}

/* CPU reads of piece 0: the fault path moving a PMD-mapped device folio */
static void *race_d(void *arg)
{
	struct race *r = arg;
	unsigned long sum = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		sum += __atomic_load_n(r->p + 300 * PAGE_SZ, __ATOMIC_RELAXED);
		r->ops[3]++;
	}
	return (void *)sum;
}

static void *race_c(void *arg)
{
	struct race *r = arg;
	char *q = r->p + PMD_SZ;
	struct hmm_p2p_stats st;
	__u64 round = 1;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		stamp(q, NPAGES_THP, round);
		dm(r->fd, HMM_DMIRROR_MIGRATE_TO_DEV, q, NULL, NPAGES_THP, NULL);
		dm(r->fd, HMM_DMIRROR_MIGRATE_TO_SYS, q, NULL, NPAGES_THP, NULL);
		if (stamp_of(q + 77 * PAGE_SZ, round) != 77 ||
		    stamp_of(q + 500 * PAGE_SZ, round) != 500)
			r->bad++;
		if (!get_stats(r->fd, &st) && st.pages_in_use > r->total)
			r->over++;
		r->ops[2]++;
		round++;
	}
	return NULL;
}

static int stress_secs(int dflt)
{
	const char *e = getenv("HMM_P2P_STRESS_SECS");

	return e && atoi(e) > 0 ? atoi(e) : dflt;
}

TEST_F_TIMEOUT(priv, thp_zap_race, 300)
{
	struct hmm_p2p_info info;
	struct hmm_p2p_stats st;
	struct race r = { 0 };
	__u64 thp0;
	pthread_t t[4];
	unsigned long last = 0;
	int secs = stress_secs(15), i, idle = 0;
	struct buf b;

	ASSERT_EQ(get_stats(self->fd, &st), 0);
	ASSERT_NE(thp_range(&b, 2), NULL);
	r.fd = self->fd;
	r.p = b.ptr;
	r.total = st.pages_total ? st.pages_total : ~0ULL;
	ASSERT_EQ(get_info(self->fd, &info), 0);
	ASSERT_EQ(get_stats(self->fd, &st), 0);
	thp0 = st.thp_migrated;
	ASSERT_EQ(pthread_create(&t[0], NULL, race_a, &r), 0);
	ASSERT_EQ(pthread_create(&t[1], NULL, race_b, &r), 0);
	ASSERT_EQ(pthread_create(&t[2], NULL, race_c, &r), 0);
	ASSERT_EQ(pthread_create(&t[3], NULL, race_d, &r), 0);
	for (i = 0; i < secs || (idle && idle < 60); i++) {
		unsigned long n;

		sleep(1);
		n = r.ops[0] + r.ops[2];
		idle = n == last ? idle + 1 : 0;
		last = n;
		if (i >= secs)
			__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
		if (idle >= 60)
			break;
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	if (idle >= 60) {
		TH_LOG("no progress for 60 s: the migrations hang");
		_exit(1);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%d s: %lu move rounds on piece 0, %lu zaps, %lu CPU reads,", secs, r.ops[0],
	       r.ops[1], r.ops[3]);
	TH_LOG("%lu checked rounds on piece 1", r.ops[2]);
	ASSERT_EQ(get_stats(self->fd, &st), 0);
	TH_LOG("thp_migrated %llu, cpu_faults %llu, pages_in_use %llu",
	       (unsigned long long)st.thp_migrated, (unsigned long long)st.cpu_faults,
	       (unsigned long long)st.pages_in_use);
	ASSERT_GT(r.ops[0], 0);
	ASSERT_GT(r.ops[2], 0);
	/* 2 MiB device folios really moved, where the kernel has them */
	if (info.flags & HMM_P2P_INFO_THP)
		ASSERT_GT(st.thp_migrated - thp0, 0);
	ASSERT_EQ(r.bad, 0);
	ASSERT_EQ(r.over, 0);
	buf_free(&b);
	ASSERT_EQ(wait_in_use(self->fd, 0, 5000), 0);
}

/*
 * Defect 12. After fork, a PMD-mapped 2 MiB device-private folio is mapped
 * by the child too. Moving it back (MIGRATE_VMA_SELECT_COMPOUND) replaces
 * the child's mapping by a PMD migration entry as well (try_to_migrate()),
 * and the child's zap of that entry (MADV_DONTNEED, munmap, exit) runs
 * 7.3's zap_huge_pmd() under the child's locks only, which the driver's
 * workaround (the migrating mm's mmap write lock) does not exclude: it drops
 * a mapcount and a reference the entry never held, the folio is freed under
 * the migration and reused. Before the fix (the stress plan: "Bad page map",
 * a GPF in remove_migration_ptes, a soft lockup) pages_in_use underflowed
 * here. Now a 2 MiB device folio another mm may map moves back as 4 KiB
 * pages (PTE migration entries, which zap handles). Each round: stamp piece
 * 0, move it to the device, fork; the child zaps piece 0 (MADV_DONTNEED,
 * munmap or exit, after a varying delay) while the parent moves it back
 * (MIGRATE_TO_SYS, a CPU read, or a READ by the other private device, whose
 * hmm_range_fault() cannot retry) and checks it; a thread moves piece 1 back
 * and forth and checks it, so that a block freed too early is reused at
 * once.
 */
struct fork_race {
	int go;
	int child_done;
};

static void fork_zap_child(char *p, int how, unsigned int spin, struct fork_race *fr)
{
	unsigned int i;

	while (!__atomic_load_n(&fr->go, __ATOMIC_ACQUIRE))
		;
	for (i = 0; i < spin; i++)
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (how == 0)
		madvise(p, PMD_SZ, MADV_DONTNEED);
	else if (how == 1)
		munmap(p, PMD_SZ);
	__atomic_store_n(&fr->child_done, 1, __ATOMIC_RELEASE);
	_exit(0);
}

TEST_F_TIMEOUT(priv, thp_fork_zap_race, 300)
{
	struct hmm_p2p_info info;
	struct hmm_p2p_stats st;
	struct race r = { 0 };
	struct fork_race *fr;
	unsigned long rounds = 0, bad = 0, bad_read = 0, over = 0, thp = 0, kids_bad = 0;
	int fd1 = dev_open(DEV_PRIV1);
	char *rbuf = malloc(PMD_SZ);
	int secs = stress_secs(15);
	unsigned int seed = 1;
	__u64 thp0;
	double end;
	pthread_t tc;
	struct buf b;
	char *p;

	ASSERT_EQ(get_info(self->fd, &info), 0);
	if (!(info.flags & HMM_P2P_INFO_THP))
		SKIP(return, "no 2 MiB device folios on this kernel");
	ASSERT_GE(fd1, 0);
	ASSERT_NE(rbuf, NULL);
	fr = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(fr, MAP_FAILED);
	ASSERT_EQ(get_stats(self->fd, &st), 0);
	ASSERT_NE(thp_range(&b, 2), NULL);
	p = b.ptr;
	r.fd = self->fd;
	r.p = p;
	r.total = st.pages_total ? st.pages_total : ~0ULL;
	thp0 = st.thp_migrated;
	ASSERT_EQ(pthread_create(&tc, NULL, race_c, &r), 0);
	end = now_s() + secs;
	while (now_s() < end) {
		__u64 round = ++rounds + 1000;
		int path = rounds % 3, how = (rounds / 3) % 3;
		pid_t pid;

		/* a fresh THP each round: a move in 4 KiB pages leaves none */
		madvise(p, PMD_SZ, MADV_DONTNEED);
		stamp(p, NPAGES_THP, round);
		dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, NULL, NPAGES_THP, NULL);
		if (!(rounds % 16))
			fprintf(stderr, "# round %lu at %.1f s\n", rounds, now_s() - end + secs);
		__atomic_store_n(&fr->go, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&fr->child_done, 0, __ATOMIC_RELEASE);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid)
			fork_zap_child(p, how, rand_r(&seed) % 20000, fr);
		rand_r(&seed);
		__atomic_store_n(&fr->go, 1, __ATOMIC_RELEASE);
		if (path == 0) {
			dm(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, p, NULL, NPAGES_THP, NULL);
		} else if (path == 1) {
			/* the CPU fault path: the worker moves the 2 MiB folio */
			(void)__atomic_load_n(p + 300 * PAGE_SZ, __ATOMIC_RELAXED);
		} else {
			/*
			 * Another device's READ: hmm_range_fault() under its
			 * mirror's mmap lock, a fault that cannot be retried
			 */
			memset(rbuf, 0, PMD_SZ);
			if (dm(fd1, HMM_DMIRROR_READ, p, rbuf, NPAGES_THP, NULL) ||
			    stamp_of(rbuf, round) != 0 ||
			    stamp_of(rbuf + 300 * PAGE_SZ, round) != 300 ||
			    stamp_of(rbuf + 511 * PAGE_SZ, round) != 511)
				bad_read++;
		}
		if (stamp_of(p, round) != 0 || stamp_of(p + 300 * PAGE_SZ, round) != 300 ||
		    stamp_of(p + 511 * PAGE_SZ, round) != 511)
			bad++;
		if (wait_child(pid))
			kids_bad++;
		if (!get_stats(self->fd, &st) && st.pages_in_use > r.total)
			over++;
		if (over)
			break;
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	pthread_join(tc, NULL);
	ASSERT_EQ(get_stats(self->fd, &st), 0);
	thp = st.thp_migrated - thp0;
	TH_LOG("%lu fork rounds, %lu checked rounds on piece 1, %lu 2 MiB moves", rounds,
	       r.ops[2], thp);
	TH_LOG("pages_in_use %lld, %lu bad rounds, %lu bad device reads, %lu bad on piece 1",
	       (long long)st.pages_in_use, bad, bad_read, r.bad);
	ASSERT_GT(rounds, 0);
	ASSERT_GT(thp, 0);
	ASSERT_EQ(over, 0);
	ASSERT_EQ(bad, 0);
	ASSERT_EQ(bad_read, 0);
	ASSERT_EQ(r.bad, 0);
	ASSERT_EQ(r.over, 0);
	ASSERT_EQ(kids_bad, 0);
	buf_free(&b);
	munmap(fr, PAGE_SZ);
	free(rbuf);
	close(fd1);
	ASSERT_EQ(wait_in_use(self->fd, 0, 5000), 0);
}

/*
 * Defect 9. Fault-around collected the aligned 64 KiB window around a fault
 * with migrate_vma, which splits every PTE-mapped large device folio in it
 * with a blocking folio_lock() while the fault holds its own folio's lock.
 * Two faults on pieces of two device THPs mremapped side by side into one
 * window could each wait for the other's lock. Now a piece of a large folio
 * moves alone. Two threads fault the two halves at once, in a loop; a hang
 * fails the test (the guest's hung-task detector reports it too).
 */
struct fa_arg {
	char *p;
	pthread_barrier_t *bar;
	char got;
};

static void *fa_touch(void *arg)
{
	struct fa_arg *a = arg;

	pthread_barrier_wait(a->bar);
	a->got = __atomic_load_n(a->p, __ATOMIC_RELAXED);
	return NULL;
}

TEST_F_TIMEOUT(priv, fault_around_two_thps, 300)
{
	int secs = stress_secs(10), rounds = 0, i;
	struct hmm_p2p_info info;
	pthread_barrier_t bar;
	double until;

	ASSERT_EQ(get_info(self->fd, &info), 0);
	if (!(info.flags & HMM_P2P_INFO_THP))
		SKIP(return, "no 2 MiB device folios on this kernel");
	ASSERT_EQ(pthread_barrier_init(&bar, NULL, 2), 0);
	until = now_s() + secs;
	while (now_s() < until) {
		struct fa_arg a = { .bar = &bar }, b = { .bar = &bar };
		struct buf x, y;
		pthread_t ta, tb;
		char *w, *res;
		void *r1, *r2;

		ASSERT_NE(thp_range(&x, 1), NULL);
		ASSERT_NE(thp_range(&y, 1), NULL);
		stamp(x.ptr, NPAGES_THP, 1000 + rounds);
		stamp(y.ptr, NPAGES_THP, 2000 + rounds);
		ASSERT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, x.ptr, x.mirror, NPAGES_THP,
			     NULL), 0);
		ASSERT_EQ(dm(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, y.ptr, y.mirror, NPAGES_THP,
			     NULL), 0);
		/* a 64 KiB-aligned window: 32 KiB of each device THP */
		res = mmap(NULL, 128 << 10, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(res, MAP_FAILED);
		w = (char *)(((uintptr_t)res + (64 << 10) - 1) & ~((uintptr_t)(64 << 10) - 1));
		r1 = mremap(x.ptr + 64 * PAGE_SZ, 32 << 10, 32 << 10,
			    MREMAP_MAYMOVE | MREMAP_FIXED, w);
		r2 = mremap(y.ptr + 128 * PAGE_SZ, 32 << 10, 32 << 10,
			    MREMAP_MAYMOVE | MREMAP_FIXED, w + (32 << 10));
		ASSERT_EQ(r1, (void *)w);
		ASSERT_EQ(r2, (void *)(w + (32 << 10)));
		a.p = w;
		b.p = w + (32 << 10);
		ASSERT_EQ(pthread_create(&ta, NULL, fa_touch, &a), 0);
		ASSERT_EQ(pthread_create(&tb, NULL, fa_touch, &b), 0);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		for (i = 0; i < 8; i++) {
			ASSERT_EQ(stamp_of(w + i * PAGE_SZ, 1000 + rounds), 64 + i);
			ASSERT_EQ(stamp_of(w + (32 << 10) + i * PAGE_SZ, 2000 + rounds), 128 + i);
		}
		munmap(res, 128 << 10);
		buf_free(&x);
		buf_free(&y);
		rounds++;
	}
	TH_LOG("%d rounds of two faults on pieces of two device THPs", rounds);
	ASSERT_GT(rounds, 0);
	pthread_barrier_destroy(&bar);
}

/*
 * Defect 6. An open device file held its opener's mm_users: registered as
 * an io_uring fixed file, with the ring mapped, the ring's VMA held the
 * io_uring file, which held the device file, which held the address space:
 * exit_mmap never ran, and the memory, its device pages and both modules
 * stayed pinned for good. Now the file holds only the mm_struct. Runs in a
 * boot of its own (plan iouring: on the old code it leaves the modules
 * pinned); the plan then unloads both modules.
 */
TEST(io_uring_fixed_file)
{
	pid_t pid;
	int fd;

	fd = dev_open(DEV_PRIV0);
	ASSERT_GE(fd, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct io_uring_params prm;
		struct buf b;
		__u64 cp = 0;
		int cfd, rfd;
		void *ring;

		cfd = dev_open(DEV_PRIV0);
		CCHECK(cfd >= 0, "open");
		CCHECK(!buf_alloc(&b, 64, false), "buf");
		fill(b.ptr, b.size, 97);
		CCHECK(!dm(cfd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, 64, &cp) && cp == 64,
		       "migrate");
		memset(&prm, 0, sizeof(prm));
		rfd = syscall(__NR_io_uring_setup, 4, &prm);
		CCHECK(rfd >= 0, "io_uring_setup: %d", errno);
		ring = mmap(NULL, prm.sq_off.array + prm.sq_entries * sizeof(__u32),
			    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, rfd,
			    IORING_OFF_SQ_RING);
		CCHECK(ring != MAP_FAILED, "ring mmap: %d", errno);
		CCHECK(!syscall(__NR_io_uring_register, rfd, IORING_REGISTER_FILES, &cfd, 1),
		       "register: %d", errno);
		close(cfd);
		close(rfd);
		_exit(0);	/* the ring's VMA holds the ring, which holds cfd */
	}
	ASSERT_EQ(wait_child(pid), 0);
	/* its address space went at exit, and its 64 device pages with it */
	ASSERT_EQ(wait_in_use(fd, 0, 20000), 0);
	close(fd);
}

/*
 * Defect 6, the inherited descriptor: A opens the device, puts pages on it
 * and forks B, which inherits the file; A exits. Before: the file held A's
 * address space, so it outlived A with its device pages, and B's commands
 * still acted on it (a READ of A's buffer succeeded). Now: A's memory goes
 * at its exit and B's commands on the file fail with -ESRCH.
 */
TEST(fd_outlives_opener)
{
	int res[2], fd, c;
	pid_t pid;

	fd = dev_open(DEV_PRIV0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(pipe(res), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		pid_t a = getpid(), b_pid;
		int afd = dev_open(DEV_PRIV0);
		struct buf b;
		__u64 cp = 0;

		CCHECK(afd >= 0 && !buf_alloc(&b, 16, false), "open, buf");
		fill(b.ptr, b.size, 88);
		CCHECK(!dm(afd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, 16, &cp) && cp == 16,
		       "migrate");
		b_pid = fork();
		CCHECK(b_pid >= 0, "fork");
		if (!b_pid) {
			int ret;

			close(res[0]);
			while (getppid() == a)	/* until A has exited */
				usleep(10000);
			ret = dm(afd, HMM_DMIRROR_READ, b.ptr, b.mirror, 16, NULL);
			if (ret != -ESRCH)
				fprintf(stderr, "# READ, opener gone: %d\n", ret);
			pipe_put(res[1], ret == -ESRCH ? 'y' : 'n');
			_exit(0);
		}
		_exit(0);
	}
	close(res[1]);
	ASSERT_EQ(wait_child(pid), 0);
	c = pipe_get(res[0]);
	close(res[0]);
	ASSERT_EQ(c, 'y');
	/* A's device pages (and B's copies of them) went with both */
	ASSERT_EQ(wait_in_use(fd, 0, 20000), 0);
	close(fd);
}

static int observe(int fd, struct hmm_p2p_observe_cmd *c)
{
	return ioctl(fd, HMM_P2P_IOC_OBSERVE, c) ? -errno : 0;
}

/*
 * An observer (HMM_P2P_IOC_OBSERVE) on a file whose opener has exited. A
 * opens the device and forks B, which inherits the file; A exits before
 * any command, so nothing of the file's own has an interval notifier on
 * A's address space yet. START must not register one on an address space
 * with no users (mmu_notifier_register() has BUG_ON(mm_users <= 0)): it
 * fails with -ESRCH, as every other command does. And while the opener
 * lives, an observer counts a munmap over its range, page by page.
 */
TEST(observe_opener_gone)
{
	struct hmm_p2p_observe_cmd c = { .op = HMM_P2P_OBS_START };
	int res[2], fd, ch;
	size_t sz = 4 * PAGE_SZ;
	char *p;
	pid_t pid;

	fd = dev_open(DEV_PRIV0);
	ASSERT_GE(fd, 0);
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(p, MAP_FAILED);
	memset(p, 1, sz);
	c.addr = U64(p);
	c.npages = 4;
	ASSERT_EQ(observe(fd, &c), 0);
	ASSERT_EQ(munmap(p + PAGE_SZ, PAGE_SZ), 0);
	c.op = HMM_P2P_OBS_STOP;
	ASSERT_EQ(observe(fd, &c), 0);
	ASSERT_EQ(c.events[HMM_P2P_OBS_UNMAP], 1);
	ASSERT_EQ(c.pages, 1);
	ASSERT_EQ(observe(fd, &c), -ENOENT);
	munmap(p, sz);

	ASSERT_EQ(pipe(res), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		pid_t a = getpid(), b_pid;
		int afd = dev_open(DEV_PRIV0);

		CCHECK(afd >= 0, "open");
		b_pid = fork();
		CCHECK(b_pid >= 0, "fork");
		if (!b_pid) {
			struct hmm_p2p_observe_cmd o = {
				.op = HMM_P2P_OBS_START,
				.addr = 1UL << 30, .npages = 16,
			};
			int ret;

			close(res[0]);
			while (getppid() == a)	/* until A has exited */
				usleep(10000);
			ret = observe(afd, &o);
			if (ret != -ESRCH)
				fprintf(stderr, "# OBSERVE START, opener gone: %d\n", ret);
			pipe_put(res[1], ret == -ESRCH ? 'y' : 'n');
			_exit(0);
		}
		_exit(0);
	}
	close(res[1]);
	ASSERT_EQ(wait_child(pid), 0);
	ch = pipe_get(res[0]);
	close(res[0]);
	ASSERT_EQ(ch, 'y');
	close(fd);
}

/*
 * Defect 7. A mirror mapping lives while the CPU keeps writing through the
 * PTE, with no sync: under bounce buffering (swiotlb=force, a confidential
 * guest) the device read the copy taken at map time, and the unmap copied
 * it back over newer CPU writes. Now such mappings are refused
 * (-EOPNOTSUPP, and the log says so). Needs swiotlb=force (plan swiotlb).
 */
TEST(swiotlb_refused)
{
	char cmdline[4096] = "";
	struct buf b;
	int fd, cfd, ret;
	ssize_t n;

	cfd = open("/proc/cmdline", O_RDONLY);
	ASSERT_GE(cfd, 0);
	n = read(cfd, cmdline, sizeof(cmdline) - 1);
	close(cfd);
	if (n <= 0 || !strstr(cmdline, "swiotlb=force"))
		SKIP(return, "needs swiotlb=force on the kernel command line");
	fd = dev_open(DEV_PRIV0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(buf_alloc(&b, 4, false), 0);
	fill(b.ptr, b.size, 98);
	ret = dm(fd, HMM_DMIRROR_READ, b.ptr, b.mirror, 4, NULL);
	if (ret == -EOPNOTSUPP)
		goto out;
	/* if it maps at all, it must see what the CPU writes next */
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(check(b.mirror, b.size, 98), -1);
	fill(b.ptr, b.size, 99);
	ASSERT_EQ(dm(fd, HMM_DMIRROR_READ, b.ptr, b.mirror, 4, NULL), 0);
	ASSERT_EQ(check(b.mirror, b.size, 99), -1);
out:
	/* either way the CPU's data stands */
	ASSERT_EQ(check(b.ptr, b.size, ret == -EOPNOTSUPP ? 98 : 99), -1);
	buf_free(&b);
	close(fd);
}

/*
 * Defect 5. Eviction (HMM_DMIRROR_RELEASE, close, device removal) moved
 * pages with migrate_device_range(), which pins no anon_vma, while their
 * process was free to munmap them: remove_migration_ptes() then walked a
 * freed anon_vma (KASAN: slab-use-after-free in rmap_walk_anon, seen on the
 * debug kernel). Now eviction goes through each mirrored address space with
 * its mmap lock held. Process A loops {mmap 2 MiB, fill, MIGRATE_TO_DEV,
 * munmap}, process B loops RELEASE on the same device; the judge is the
 * debug kernel's KASAN (any report fails the run).
 */
TEST_F_TIMEOUT(priv, release_vs_munmap, 300)
{
	int secs = stress_secs(10), st, releases = 0;
	double until;
	pid_t pid;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int fd = dev_open(DEV_PRIV0), rounds = 0;
		double end = now_s() + secs;

		CCHECK(fd >= 0, "open");
		while (now_s() < end) {
			struct buf b;

			CCHECK(!buf_alloc(&b, NPAGES_THP, rounds & 1), "buf");
			fill(b.ptr, b.size, rounds);
			dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, b.ptr, b.mirror, NPAGES_THP, NULL);
			CCHECK(check(b.ptr, b.size, rounds) == -1, "data, round %d", rounds);
			buf_free(&b);
			rounds++;
		}
		fprintf(stderr, "# A: %d rounds\n", rounds);
		_exit(0);
	}
	until = now_s() + secs;
	while (now_s() < until) {
		int ret = dm_cmd(self->fd, HMM_DMIRROR_RELEASE, 0, 0, 0, NULL);

		ASSERT_TRUE(ret == 0 || ret == -EBUSY);
		releases++;
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	TH_LOG("B: %d releases", releases);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ASSERT_EQ(wait_in_use(self->fd, 0, 5000), 0);
}

TEST_HARNESS_MAIN
