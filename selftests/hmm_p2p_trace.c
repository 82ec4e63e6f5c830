// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p_trace: the workload of the tracepoint plan (selftests/plans/trace.sh).
 *
 * usage: hmm_p2p_trace
 *
 * On the first two PCI test devices that share a P2P group (the switch
 * pair), A and B: reset both devices' STATS; move a 2 MiB buffer (a THP
 * where the kernel gives one) and a 64-page buffer of 4 KiB pages to A;
 * read the 64 pages through B (peer to peer: B maps A's pages); touch one of
 * them by CPU (a fault on a device page, with its fault-around); move the
 * 64 pages to B (HMM_P2P_IOC_MIGRATE_PEERS: those still on A device to
 * device, B's engine reading A's BAR) and home from there; move the THP
 * home from A. The work lies between two lines written to
 * tracefs' trace_marker: "hmm_p2p_trace: start" after the reset and
 * "hmm_p2p_trace: stats" before both devices' STATS are read and printed
 * as lines "stat NODE NAME VALUE": the plan compares the events between
 * the marks with the counters. Every step's data is checked; exit 0 when all
 * went as expected, 1 otherwise (and 4 when there is no switch pair).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "hmm_p2p_test.h"

#define PAGE_SZ		4096UL
#define PMD_SZ		(2UL << 20)
#define NSMALL		64UL
#define TOUCH		40UL	/* the page the CPU touches */
#define U64(p)		((__u64)(uintptr_t)(p))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int failed;

#define expect(cond, ...) do {					\
	if (!(cond)) {						\
		printf("# FAIL %s:%d: ", __FILE__, __LINE__);	\
		printf(__VA_ARGS__);				\
		printf("\n");					\
		failed = 1;					\
	}							\
} while (0)

static __u64 pat(unsigned long i)
{
	return 0x7ace000000000000ULL ^ ((__u64)i + 1);
}

static void fill(__u64 *w, unsigned long npages, unsigned long base)
{
	unsigned long i;

	for (i = 0; i < npages * PAGE_SZ / sizeof(*w); i++)
		w[i] = pat(base + i);
}

static long bad(const __u64 *w, unsigned long npages, unsigned long base)
{
	unsigned long i;

	for (i = 0; i < npages * PAGE_SZ / sizeof(*w); i++)
		if (w[i] != pat(base + i))
			return i;
	return -1;
}

static int dmc(int fd, unsigned long req, void *addr, void *ptr, unsigned long npages,
	       __u64 *cpages)
{
	struct hmm_dmirror_cmd cmd = { .addr = U64(addr), .ptr = U64(ptr), .npages = npages };
	int ret;

	do {
		ret = ioctl(fd, req, &cmd);
	} while (ret && errno == EINTR);
	*cpages = ret ? 0 : cmd.cpages;
	return ret ? -errno : 0;
}

static int stats(int fd, struct hmm_p2p_stats *st, int reset)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->reset = reset;
	return ioctl(fd, HMM_P2P_IOC_STATS, st) ? -errno : 0;
}

#define F(f)	{ #f, offsetof(struct hmm_p2p_stats, f) }
static const struct {
	const char *name;
	size_t off;
} fields[] = {
	F(migrated_to_dev), F(migrated_to_sys), F(cpu_faults), F(cpu_faults_for_mirrors),
	F(evicted), F(alloc_failures), F(mirror_faults), F(invalidations), F(pages_in_use),
	F(chunks), F(thp_migrated), F(p2p_mappings), F(p2p_fallback_no_path),
	F(p2p_fallback_write), F(p2p_fallback_gone), F(mirror_seq_retries),
	F(mirror_busy_retries), F(mirror_fault_timeouts), F(migrated_from_peer), F(bounced),
};

static void print_stats(int n, const struct hmm_p2p_stats *st)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fields); i++)
		printf("stat hmm_p2p%d %s %llu\n", n, fields[i].name,
		       *(const unsigned long long *)((const char *)st + fields[i].off));
}

static void *map_aligned(unsigned long size, int advice)
{
	char *p = mmap(NULL, size + PMD_SZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + PMD_SZ - 1) & ~(PMD_SZ - 1));
	madvise(a, size, advice);
	return a;
}

static void marker(const char *text)
{
	static const char *const paths[] = {
		"/sys/kernel/tracing/trace_marker", "/sys/kernel/debug/tracing/trace_marker",
	};
	unsigned int i;

	for (i = 0; i < 2; i++) {
		int fd = open(paths[i], O_WRONLY);

		if (fd < 0)
			continue;
		expect(write(fd, text, strlen(text)) == (ssize_t)strlen(text),
		       "write %s: %s", paths[i], strerror(errno));
		close(fd);
		return;
	}
	expect(0, "no trace_marker");
}

int main(void)
{
	int fd[3], grp[3], a = -1, b = -1, i, j;
	struct hmm_p2p_stats sa, sb;
	__u64 *big, *small, *out, cpages;
	__u64 v;

	for (i = 0; i < 3; i++) {
		char path[32];
		struct hmm_p2p_info info;

		snprintf(path, sizeof(path), "/dev/hmm_p2p%d", i);
		fd[i] = open(path, O_RDWR);
		grp[i] = -1;
		if (fd[i] >= 0 && !ioctl(fd[i], HMM_P2P_IOC_INFO, &info))
			grp[i] = info.owner_group;
	}
	for (i = 0; i < 3 && a < 0; i++)
		for (j = i + 1; j < 3; j++)
			if (grp[i] >= 0 && grp[i] == grp[j]) {
				a = i;
				b = j;
				break;
			}
	if (a < 0) {
		printf("# no two PCI test devices in one P2P group\n");
		return 4;
	}
	printf("# exporter hmm_p2p%d, importer hmm_p2p%d (group %d)\n", a, b, grp[a]);

	big = map_aligned(PMD_SZ, MADV_HUGEPAGE);
	small = map_aligned(NSMALL * PAGE_SZ, MADV_NOHUGEPAGE);
	out = map_aligned(PMD_SZ, MADV_NOHUGEPAGE);
	if (!big || !small || !out) {
		printf("# mmap: %s\n", strerror(errno));
		return 1;
	}
	fill(big, PMD_SZ / PAGE_SZ, 0);
	fill(small, NSMALL, 1UL << 30);
	expect(!stats(fd[a], &sa, 1) && !stats(fd[b], &sb, 1), "STATS reset: %s",
	       strerror(errno));
	marker("hmm_p2p_trace: start");

	/* to the exporter */
	expect(!dmc(fd[a], HMM_DMIRROR_MIGRATE_TO_DEV, big, out, PMD_SZ / PAGE_SZ, &cpages) &&
	       cpages == PMD_SZ / PAGE_SZ, "MIGRATE_TO_DEV 2 MiB: %llu pages",
	       (unsigned long long)cpages);
	expect(!dmc(fd[a], HMM_DMIRROR_MIGRATE_TO_DEV, small, out, NSMALL, &cpages) &&
	       cpages == NSMALL, "MIGRATE_TO_DEV small: %llu pages", (unsigned long long)cpages);

	/* the importer reads them peer to peer */
	memset(out, 0, NSMALL * PAGE_SZ);
	expect(!dmc(fd[b], HMM_DMIRROR_READ, small, out, NSMALL, &cpages) && cpages == NSMALL,
	       "P2P READ: %llu pages", (unsigned long long)cpages);
	expect(bad(out, NSMALL, 1UL << 30) < 0, "P2P READ data: word %ld",
	       bad(out, NSMALL, 1UL << 30));

	/* a CPU fault on a device page */
	v = small[TOUCH * PAGE_SZ / sizeof(*small)];
	expect(v == pat((1UL << 30) + TOUCH * PAGE_SZ / sizeof(*small)), "CPU read after fault");

	/* the small buffer to the importer, device to device where it is on A */
	expect(!dmc(fd[b], HMM_P2P_IOC_MIGRATE_PEERS, small, out, NSMALL, &cpages) &&
	       cpages == NSMALL, "MIGRATE_PEERS: %llu pages", (unsigned long long)cpages);

	/* the rest home */
	expect(!dmc(fd[a], HMM_DMIRROR_MIGRATE_TO_SYS, big, out, PMD_SZ / PAGE_SZ, &cpages),
	       "MIGRATE_TO_SYS 2 MiB: %s", strerror(errno));
	expect(!dmc(fd[b], HMM_DMIRROR_MIGRATE_TO_SYS, small, out, NSMALL, &cpages),
	       "MIGRATE_TO_SYS small: %s", strerror(errno));

	marker("hmm_p2p_trace: stats");
	expect(!stats(fd[a], &sa, 0) && !stats(fd[b], &sb, 0), "STATS: %s", strerror(errno));
	print_stats(a, &sa);
	print_stats(b, &sb);
	expect(sa.migrated_to_dev == PMD_SZ / PAGE_SZ + NSMALL, "migrated_to_dev %llu",
	       (unsigned long long)sa.migrated_to_dev);
	expect(sa.migrated_to_sys + sb.migrated_from_peer == sa.migrated_to_dev,
	       "exporter migrated_to_sys %llu, importer migrated_from_peer %llu",
	       (unsigned long long)sa.migrated_to_sys, (unsigned long long)sb.migrated_from_peer);
	expect(sb.migrated_from_peer > 0 && sb.migrated_to_dev == NSMALL &&
	       sb.migrated_to_sys == NSMALL, "importer: from peer %llu, to dev %llu, to sys %llu",
	       (unsigned long long)sb.migrated_from_peer, (unsigned long long)sb.migrated_to_dev,
	       (unsigned long long)sb.migrated_to_sys);
	expect(sa.pages_in_use == 0 && sb.pages_in_use == 0, "pages_in_use %llu, %llu",
	       (unsigned long long)sa.pages_in_use, (unsigned long long)sb.pages_in_use);
	expect(sa.cpu_faults >= 1, "cpu_faults %llu", (unsigned long long)sa.cpu_faults);
	expect(sb.p2p_mappings >= NSMALL, "importer p2p_mappings %llu",
	       (unsigned long long)sb.p2p_mappings);
	expect(bad(big, PMD_SZ / PAGE_SZ, 0) < 0, "2 MiB data: word %ld",
	       bad(big, PMD_SZ / PAGE_SZ, 0));
	expect(bad(small, NSMALL, 1UL << 30) < 0, "small data: word %ld",
	       bad(small, NSMALL, 1UL << 30));
	printf("# %s\n", failed ? "FAILED" : "ok");
	return failed;
}
