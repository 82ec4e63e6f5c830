// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_thp_subrange: device reads of ranges that start inside a 2 MiB
 * device-private folio mapped by a PMD.
 *
 * usage: hmm_thp_subrange [DEVICE]      (default /dev/hmm_dmirror0)
 *
 * One 2 MiB-aligned THP (MADV_HUGEPAGE, in a 4 MiB anonymous mapping plus
 * TAIL_PAGES 4 KiB pages, MADV_NOHUGEPAGE outside the THP) gets a stamp in
 * every page (its index, a per-run salt), is moved to the device with
 * HMM_DMIRROR_MIGRATE_TO_DEV, must then be device-private and PMD mapped
 * (HMM_DMIRROR_SNAPSHOT; if it is not, the rest is skipped: no device-private
 * PMDs before 6.19, or a driver without large device folios), and is read
 * by the device (HMM_DMIRROR_READ) at pages 0, 1, 16 and 368 (16 pages each)
 * and from page 500 across the end of the THP into the 4 KiB pages after it.
 * Every page read must hold its own stamp; the first one that does not is
 * named, with whose stamp it holds. Last, the CPU reads everything back.
 *
 * Linux 7.3's hmm_vma_handle_absent_pmd() fills the PFNs of such a PMD from
 * its head page whatever page the walk starts at, so a driver that fills its
 * mirror with hmm_range_fault() from the read's start address reads the
 * THP's first pages instead (pages 368..383 give pages 0..15). lib/test_hmm
 * serves these reads from the table it filled at migration time and never
 * walks the PMD here: it passes on any kernel (a check of this test).
 *
 * kselftest TAP output; exit 0 all passed, 1 any failure, 4 skipped.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/types.h>

#include "kselftest.h"
#include "hmm_p2p_test.h"

#define PAGE_SZ		4096UL
#define THP_SZ		(2UL << 20)
#define THP_PAGES	(THP_SZ / PAGE_SZ)
#define MAP_SZ		(4UL << 20)
#define TAIL_PAGES	32UL
#define WORDS		(PAGE_SZ / sizeof(__u64))
#define GOLDEN		0x9e3779b97f4a7c15ULL

/* A device-private page of this device, writable, mapped by a PMD. */
#define PROT_WANT	(HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE | \
			 HMM_DMIRROR_PROT_PMD)

struct subrange {
	unsigned long first;	/* page index from the THP's start */
	unsigned long npages;
};

static const struct subrange reads[] = {
	{ 0, 16 },
	{ 1, 16 },
	{ 16, 16 },
	{ 368, 16 },
	{ 500, THP_PAGES - 500 + 20 },	/* 12 THP pages, 20 after it */
};

#define SNAP_OTHER	0x100
#define PROT_TYPE(p)	((p) & 0xf0)	/* HMM_DMIRROR_PROT_ZERO, _DEV_* */

/* setup, migrate, migrated data, snapshot, the reads, snapshot, CPU */
#define NTESTS		(6 + ARRAY_SIZE(reads))

static __u32 salt;
static char *thp;	/* the 2 MiB-aligned THP; TAIL_PAGES follow it */
static __u64 *bounce;	/* one buffer for the device to copy into */

static __u64 stamp_word(unsigned long page, unsigned long i)
{
	return (((__u64)salt << 32) | page) ^ (i * GOLDEN);
}

static void stamp(void *p, unsigned long page)
{
	__u64 *w = p;
	unsigned long i;

	for (i = 0; i < WORDS; i++)
		w[i] = stamp_word(page, i);
}

/* Does @p hold exactly the stamp of @page? */
static int has_stamp(const void *p, unsigned long page)
{
	const __u64 *w = p;
	unsigned long i;

	for (i = 0; i < WORDS; i++)
		if (w[i] != stamp_word(page, i))
			return 0;
	return 1;
}

/* Say what a page that should hold @want's stamp holds instead. */
static void describe(const void *p, unsigned long want, char *buf, size_t len)
{
	const __u64 *w = p;
	unsigned long other = (unsigned long)(w[0] & 0xffffffffULL);

	if ((__u32)(w[0] >> 32) != salt)
		snprintf(buf, len, "page %lu holds no stamp of this run (first word 0x%llx)",
			 want, (unsigned long long)w[0]);
	else if (has_stamp(p, other))
		snprintf(buf, len, "page %lu holds the stamp of page %lu", want, other);
	else
		snprintf(buf, len, "page %lu starts like page %lu's stamp but differs later",
			 want, other);
}

/*
 * Check @n pages at @buf against the stamps of pages @first...: 0 when all
 * match, else the number of wrong pages, the first of them described.
 */
static unsigned long check_pages(const void *buf, unsigned long first, unsigned long n,
				 char *why, size_t len)
{
	unsigned long i, bad = 0;

	for (i = 0; i < n; i++) {
		const char *p = (const char *)buf + i * PAGE_SZ;

		if (has_stamp(p, first + i))
			continue;
		if (!bad++)
			describe(p, first + i, why, len);
	}
	return bad;
}

static int dmirror(int fd, unsigned long req, void *addr, unsigned long npages, void *ptr,
		   struct hmm_dmirror_cmd *cmd)
{
	int ret;

	memset(cmd, 0, sizeof(*cmd));
	cmd->addr = (uintptr_t)addr;
	cmd->ptr = (uintptr_t)ptr;
	cmd->npages = npages;
	do {
		ret = ioctl(fd, req, cmd);
	} while (ret == -1 && errno == EINTR);
	return ret ? -errno : 0;
}

/*
 * SNAPSHOT of the THP: 0 when every page is @want, -1 when the ioctl fails,
 * else SNAP_OTHER | the first other value.
 */
static int snapshot(int fd, unsigned char want, char *why, size_t len)
{
	static unsigned char prot[THP_PAGES];
	struct hmm_dmirror_cmd cmd;
	unsigned long i;
	int ret;

	memset(prot, 0xaa, sizeof(prot));
	ret = dmirror(fd, HMM_DMIRROR_SNAPSHOT, thp, THP_PAGES, prot, &cmd);
	if (ret) {
		snprintf(why, len, "HMM_DMIRROR_SNAPSHOT: %s", strerror(-ret));
		return -1;
	}
	for (i = 0; i < THP_PAGES; i++) {
		if (prot[i] != want) {
			snprintf(why, len, "page %lu is 0x%02x, not 0x%02x (%llu pages reported)",
				 i, prot[i], want, (unsigned long long)cmd.cpages);
			return SNAP_OTHER | prot[i];
		}
	}
	return 0;
}

/* The tests not run yet are skipped. */
static void skip_rest(const char *why)
{
	while (ksft_test_num() < NTESTS)
		ksft_test_result_skip("%s\n", why);
}

static __noreturn void finish(void)
{
	ksft_print_cnts();
	if (ksft_get_fail_cnt() || ksft_get_error_cnt())
		exit(KSFT_FAIL);
	exit(ksft_get_xskip_cnt() ? KSFT_SKIP : KSFT_PASS);
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/hmm_dmirror0";
	struct hmm_dmirror_cmd cmd;
	unsigned long i, total = THP_PAGES + TAIL_PAGES, bad;
	char why[256];
	char *map;
	int fd, ret, prot;

	ksft_print_header();
	ksft_set_plan(NTESTS);
	salt = (__u32)(getpid() * 2654435761U ^ (unsigned int)time(NULL)) | 1;
	ksft_print_msg("device %s, salt 0x%08x\n", dev, salt);

	/* 1. setup: a THP in system memory, every page stamped */
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ksft_test_result_fail("setup: open %s: %s\n", dev, strerror(errno));
		skip_rest("no device");
		finish();
	}
	map = mmap(NULL, MAP_SZ + TAIL_PAGES * PAGE_SZ, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bounce = malloc(THP_SZ + TAIL_PAGES * PAGE_SZ);
	if (map == MAP_FAILED || !bounce) {
		ksft_test_result_fail("setup: mmap/malloc: %s\n", strerror(errno));
		skip_rest("no memory");
		finish();
	}
	thp = (char *)(((uintptr_t)map + THP_SZ - 1) & ~(THP_SZ - 1));
	/* 4 KiB pages around the THP, whatever transparent_hugepage says */
	if (thp > map)
		madvise(map, thp - map, MADV_NOHUGEPAGE);
	madvise(thp + THP_SZ, map + MAP_SZ + TAIL_PAGES * PAGE_SZ - (thp + THP_SZ),
		MADV_NOHUGEPAGE);
	if (madvise(thp, THP_SZ, MADV_HUGEPAGE)) {
		ksft_test_result_skip("setup: madvise(MADV_HUGEPAGE): %s\n", strerror(errno));
		skip_rest("no THP");
		finish();
	}
	for (i = 0; i < total; i++)
		stamp(thp + i * PAGE_SZ, i);
	prot = snapshot(fd, HMM_DMIRROR_PROT_WRITE | HMM_DMIRROR_PROT_PMD, why, sizeof(why));
	if (prot < 0) {
		ksft_test_result_fail("setup: %s\n", why);
		skip_rest("no snapshot");
		finish();
	}
	if (prot) {
		ksft_test_result_skip("setup: the buffer is no THP in system memory: %s\n", why);
		skip_rest("no THP in system memory");
		finish();
	}
	ksft_test_result_pass("setup: 2 MiB THP at %p, %lu pages stamped\n", thp, total);

	/* 2. migrate the THP to the device */
	memset(bounce, 0, THP_SZ);
	ret = dmirror(fd, HMM_DMIRROR_MIGRATE_TO_DEV, thp, THP_PAGES, bounce, &cmd);
	if (ret || cmd.cpages != THP_PAGES) {
		ksft_test_result_fail("migrate 512 pages to the device: %s, %llu pages\n",
				      ret ? strerror(-ret) : "ok", (unsigned long long)cmd.cpages);
		skip_rest("not migrated");
		finish();
	}
	ksft_test_result_pass("migrate 512 pages to the device\n");

	/* 3. what the device returned from the migration */
	bad = check_pages(bounce, 0, THP_PAGES, why, sizeof(why));
	ksft_test_result(!bad, "data returned by the migration%s%s\n",
			 bad ? ": " : "", bad ? why : "");

	/* 4. device-private and PMD mapped? */
	prot = snapshot(fd, PROT_WANT, why, sizeof(why));
	if (prot < 0 || (prot && PROT_TYPE(prot) != HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL)) {
		ksft_test_result_fail("snapshot: device-private, PMD mapped: %s\n", why);
		skip_rest("the THP is not on the device");
		finish();
	}
	if (prot) {
		ksft_test_result_skip("snapshot: device-private but not PMD mapped: %s\n", why);
		skip_rest("no device-private PMD");
		finish();
	}
	ksft_test_result_pass("snapshot: 512 pages device-private, PMD mapped\n");

	/* 5. device reads of sub-ranges */
	for (i = 0; i < ARRAY_SIZE(reads); i++) {
		const struct subrange *r = &reads[i];
		unsigned long last = r->first + r->npages - 1;

		memset(bounce, 0, r->npages * PAGE_SZ);
		ret = dmirror(fd, HMM_DMIRROR_READ, thp + r->first * PAGE_SZ, r->npages,
			      bounce, &cmd);
		if (ret || cmd.cpages != r->npages) {
			ksft_test_result_fail("read pages %lu..%lu: %s, %llu pages\n", r->first,
					      last, ret ? strerror(-ret) : "ok",
					      (unsigned long long)cmd.cpages);
			continue;
		}
		bad = check_pages(bounce, r->first, r->npages, why, sizeof(why));
		if (bad)
			ksft_print_msg("read pages %lu..%lu: %lu of %lu pages wrong; first: %s\n",
				       r->first, last, bad, r->npages, why);
		ksft_test_result(!bad, "read pages %lu..%lu%s%s%s\n", r->first, last,
				 last >= THP_PAGES ? " (across the end of the THP)" : "",
				 bad ? ": " : "", bad ? why : "");
	}

	/* 6. the reads left the THP where it was */
	prot = snapshot(fd, PROT_WANT, why, sizeof(why));
	ksft_test_result(!prot, "snapshot after the reads: still device-private, PMD mapped%s%s\n",
			 prot ? ": " : "", prot ? why : "");

	/* 7. the CPU faults it back and finds every stamp */
	bad = check_pages(thp, 0, total, why, sizeof(why));
	ksft_test_result(!bad, "CPU reads all %lu pages back%s%s\n", total,
			 bad ? ": " : "", bad ? why : "");

	close(fd);
	munmap(map, MAP_SZ + TAIL_PAGES * PAGE_SZ);
	free(bounce);
	finish();
}
