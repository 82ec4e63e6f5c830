// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-bench: migration, fault-back and mirror benchmark for any driver with
 * the kernel's lib/test_hmm ioctl interface (/dev/hmm_dmirrorN).
 *
 * For each size and page mode (4 KiB with MADV_NOHUGEPAGE, THP with a
 * 2 MiB aligned buffer and MADV_HUGEPAGE) and each run, on a fresh mapping:
 *
 *   fill a pattern unique to the run
 *   s2d    HMM_DMIRROR_MIGRATE_TO_DEV, timed; cpages checked; the device's
 *          copy of the data (returned in cmd.ptr) checked against the pattern
 *   d2s    HMM_DMIRROR_MIGRATE_TO_SYS, timed; cpages checked; the buffer
 *          checked against the pattern by the CPU
 *   snap   HMM_DMIRROR_SNAPSHOT of the now system-resident range, timed
 *          (hmm_range_fault mirror throughput); every page must be a system
 *          page with access, so pages left on the device are caught
 *   fault  migrate to the device again, then touch one byte per 4 KiB page
 *          (4k mode) or per 2 MiB (thp mode), each touch timed; values checked
 *
 * plus, per size, the kernel's own page copy rate (HMM_P2P_IOC_COPY_BENCH,
 * an hmm-p2p extension; n/a on upstream's test_hmm). Medians of the runs are
 * reported, as a table and as JSON (--json). --compare UP.json OURS.json
 * prints both side by side and ends with one summary line; each side may be
 * several files (rounds, comma separated), whose samples are pooled.
 *
 * Build: make hmm-bench (gcc -static -O2 -Wall, see bench.mk)
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define COPY_MAX_PAGES	65536UL
#define KPF_THP		22

enum { MODE_4K, MODE_THP, NR_MODES };
static const char *const mode_name[NR_MODES] = { "4k", "thp" };

/* ---------------------------------------------------------------- utils */

double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A sorted copy of v[0..n-1] (free it), or NULL when empty or out of memory. */
static double *sorted_copy(const double *v, int n)
{
	double *s;

	if (n <= 0)
		return NULL;
	s = malloc(n * sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return s;
}

/* p in [0,100], nearest rank; NAN when empty. */
static double percentile(const double *v, int n, double p)
{
	double *s = sorted_copy(v, n), r;
	long k;

	if (!s)
		return NAN;
	k = (long)ceil(p / 100.0 * n) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	r = s[k];
	free(s);
	return r;
}

/* Median: the mean of the two middle values for an even count. */
double median(const double *v, int n)
{
	double *s = sorted_copy(v, n), r;

	if (!s)
		return NAN;
	r = n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return r;
}

/* ------------------------------------------------------------- results */

void series_add(struct series *s, double x)
{
	if (s->n < MAX_RUNS)
		s->v[s->n++] = x;
}

struct result {
	unsigned long size_mib;
	int mode;
	int runs;		/* runs asked for */
	int ok;
	char error[512];
	struct series s2d;	/* GiB/s */
	struct series d2s;	/* GiB/s */
	struct series snap;	/* Mpages/s */
	struct series fault_p50;	/* us per fault unit */
	struct series fault_p99;
	struct series fault_gibps;	/* bytes brought back / sum of fault times */
	struct series thp_before;	/* fraction of the buffer THP-backed */
	struct series thp_after;	/* same, after migrating back */
	int dev_class;		/* snapshot class of device pages, -1 unknown */
	double dev_pmd;		/* fraction of device pages reported as PMD */
};

struct copy_result {
	unsigned long size_mib;
	struct series gibps;
};

static struct {
	const char *dev;
	const char *label;
	const char *variant;
	const char *json;
	unsigned long sizes[MAX_SIZES];
	int size_runs[MAX_SIZES];	/* 0: --runs */
	int nsizes;
	int runs;
	int modes[NR_MODES];
	int warmup;
	int verbose;
} opt = {
	.dev = "/dev/hmm_dmirror0",
	.label = "unnamed",
	.variant = "",
	.runs = 5,
	.modes = { 1, 1 },
	.warmup = 1,
};

static struct result results[MAX_SIZES * NR_MODES];
static int nresults;
static struct copy_result copies[MAX_SIZES];
static int copy_supported = -1;		/* -1 not tried, 0 n/a, 1 yes */
static char copy_note[128] = "not tried";
static char fatal_error[512];
static int mem_type_info = -1;		/* from HMM_P2P_IOC_INFO if any */

void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("hmm-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void set_error(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
	note("error: %s", dst);
}

/* ------------------------------------------------------------- buffers */

/* A fresh anonymous mapping of @size, 2 MiB aligned, with the THP advice. */
void *buf_alloc(size_t size, int thp)
{
	size_t len = size + THP_SZ;
	uintptr_t p, a;
	void *m;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	p = (uintptr_t)m;
	a = (p + THP_SZ - 1) & ~(THP_SZ - 1);
	if (a > p)
		munmap(m, a - p);
	if (p + len > a + size)
		munmap((void *)(a + size), p + len - (a + size));
	if (madvise((void *)a, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
		note("madvise(%s): %s", thp ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE",
		     strerror(errno));
		munmap((void *)a, size);
		errno = EINVAL;
		return NULL;
	}
	return (void *)a;
}

static inline uint64_t pat(uint64_t seed, size_t off)
{
	return (seed << 40) ^ 0x5a5a0000a5a5ULL ^ off;
}

void fill(void *buf, size_t size, uint64_t seed)
{
	uint64_t *p = buf;
	size_t i, n = size / 8;

	for (i = 0; i < n; i++)
		p[i] = pat(seed, i * 8);
}

/* Returns the byte offset of the first mismatch, or -1. */
long verify(const void *buf, size_t size, uint64_t seed)
{
	const uint64_t *p = buf;
	size_t i, n = size / 8;

	for (i = 0; i < n; i++)
		if (p[i] != pat(seed, i * 8))
			return (long)(i * 8);
	return -1;
}

/*
 * Fraction of [buf, buf+size) backed by THP: from /proc/self/pagemap and
 * /proc/kpageflags when they give PFNs (root), else from the AnonHugePages
 * of the enclosing VMA in /proc/self/smaps. -1 if neither works.
 */
static double thp_fraction_pagemap(void *buf, size_t size)
{
	size_t npages = size / PAGE_SZ, i, j, thp = 0;
	uint64_t *pm;
	int fd, kfd;
	double r = -1;

	fd = open("/proc/self/pagemap", O_RDONLY);
	kfd = open("/proc/kpageflags", O_RDONLY);
	pm = malloc(npages * 8);
	if (fd < 0 || kfd < 0 || !pm)
		goto out;
	if (pread(fd, pm, npages * 8, (uintptr_t)buf / PAGE_SZ * 8) !=
	    (ssize_t)(npages * 8))
		goto out;
	for (i = 0; i + 512 <= npages; i += 512) {
		uint64_t pfn0 = pm[i] & ((1ULL << 55) - 1), flags;

		if (!(pm[i] >> 63))
			continue;		/* not present */
		if (!pfn0)
			goto out;		/* PFNs hidden: not root */
		if (pfn0 % 512)
			continue;
		for (j = 1; j < 512; j++)
			if (!(pm[i + j] >> 63) ||
			    (pm[i + j] & ((1ULL << 55) - 1)) != pfn0 + j)
				break;
		if (j < 512)
			continue;
		if (pread(kfd, &flags, 8, pfn0 * 8) != 8)
			goto out;
		if (flags & (1ULL << KPF_THP))
			thp += 512;
	}
	r = (double)thp / npages;
out:
	free(pm);
	if (fd >= 0)
		close(fd);
	if (kfd >= 0)
		close(kfd);
	return r;
}

static double thp_fraction_smaps(void *buf, size_t size)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	double r = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e, kb;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') &&
		    isxdigit((unsigned char)line[0])) {
			in = s <= (uintptr_t)buf && (uintptr_t)buf < e;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
			r = (double)kb * 1024 / size;
			if (r > 1)
				r = 1;
			break;
		}
	}
	fclose(f);
	return r;
}

static double thp_fraction(void *buf, size_t size)
{
	double r = thp_fraction_pagemap(buf, size);

	return r >= 0 ? r : thp_fraction_smaps(buf, size);
}

/* ------------------------------------------------------------- ioctls */

int dcmd(int fd, unsigned long req, void *addr, void *ptr,
	 unsigned long npages, struct hmm_dmirror_cmd *out)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)ptr,
		.npages = npages,
	};
	int ret;

	do
		ret = ioctl(fd, req, &cmd);
	while (ret && errno == EINTR);
	if (out)
		*out = cmd;
	return ret ? -errno : 0;
}

static const char *errhint(int err)
{
	if (err == ENOTTY)
		return " (the driver does not implement this test_hmm command)";
	return "";
}

/*
 * HMM_P2P_IOC_COPY_BENCH. The buffer is larger than the struct: upstream's
 * handler copies a whole struct hmm_dmirror_cmd in before rejecting an
 * unknown command (with EINVAL, not ENOTTY).
 */
static int copy_bench(int fd, unsigned long npages, unsigned long passes,
		      double *gibps)
{
	union {
		struct hmm_p2p_copy_bench b;
		unsigned char pad[64];
	} u;
	int ret;

	memset(&u, 0, sizeof(u));
	u.b.npages = npages;
	u.b.passes = passes;
	do
		ret = ioctl(fd, HMM_P2P_IOC_COPY_BENCH, &u);
	while (ret && errno == EINTR);
	if (ret)
		return -errno;
	if (!u.b.nsec)
		return -ERANGE;
	*gibps = (double)npages * PAGE_SZ * passes / (1 << 30) /
		 (u.b.nsec / 1e9);
	return 0;
}

static void probe_extensions(int fd)
{
	union {
		struct hmm_p2p_info i;
		unsigned char pad[128];
	} u;
	double g;
	int ret;

	memset(&u, 0, sizeof(u));
	if (ioctl(fd, HMM_P2P_IOC_INFO, &u) == 0)
		mem_type_info = u.i.memory_type;

	ret = copy_bench(fd, 256, 1, &g);
	if (ret == 0) {
		copy_supported = 1;
		snprintf(copy_note, sizeof(copy_note), "HMM_P2P_IOC_COPY_BENCH");
	} else {
		copy_supported = 0;
		snprintf(copy_note, sizeof(copy_note), "n/a (%s%s)",
			 ret == -ENOTTY ? "ENOTTY" : ret == -EINVAL ? "EINVAL" :
			 "error", ret == -ENOTTY || ret == -EINVAL ?
			 ": driver has no copy bench" : "");
		if (ret != -ENOTTY && ret != -EINVAL)
			note("copy bench failed: %s", strerror(-ret));
	}
}

/* ------------------------------------------------------------- one case */

static void *mirror_buf;
static size_t mirror_size;

static int prepare_mirror(size_t size)
{
	if (mirror_size >= size)
		return 0;
	if (mirror_buf)
		munmap(mirror_buf, mirror_size);
	mirror_buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mirror_buf == MAP_FAILED) {
		mirror_buf = NULL;
		mirror_size = 0;
		return -ENOMEM;
	}
	memset(mirror_buf, 0, size);	/* populated: no faults in the timing */
	mirror_size = size;
	return 0;
}

/* Returns 0, or a negative errno of a failed ioctl, or -EIO on bad data. */
static int migrate_checked(struct result *r, int fd, int to_dev, void *buf,
			   size_t size, uint64_t seed, double *ns)
{
	unsigned long npages = size / PAGE_SZ;
	struct hmm_dmirror_cmd c;
	const char *what = to_dev ? "MIGRATE_TO_DEV" : "MIGRATE_TO_SYS";
	double t0, t1;
	long bad;
	int ret;

	if (to_dev)
		memset(mirror_buf, 0, 8);	/* a stale copy cannot pass */
	t0 = now_ns();
	ret = dcmd(fd, to_dev ? HMM_DMIRROR_MIGRATE_TO_DEV :
		   HMM_DMIRROR_MIGRATE_TO_SYS, buf, mirror_buf, npages, &c);
	t1 = now_ns();
	if (ret) {
		set_error(r->error, sizeof(r->error), "%s of %lu pages: %s%s",
			  what, npages, strerror(-ret), errhint(-ret));
		return ret;
	}
	/*
	 * Upstream counts a THP migrated back to system memory as one page
	 * (MIGRATE_TO_SYS reports migrate entries, and a compound entry covers
	 * 512 pages), so back to system cpages is only checked for sanity; the
	 * snapshot after it proves every page is a system page.
	 */
	if (to_dev ? c.cpages != npages : !c.cpages || c.cpages > npages) {
		set_error(r->error, sizeof(r->error),
			  "%s: cpages=%llu, expected %s%lu", what,
			  (unsigned long long)c.cpages, to_dev ? "" : "1..",
			  npages);
		return -EIO;
	}
	bad = verify(to_dev ? mirror_buf : buf, size, seed);
	if (bad >= 0) {
		set_error(r->error, sizeof(r->error),
			  "%s: data mismatch at offset %ld (%s)", what, bad,
			  to_dev ? "device copy returned in cmd.ptr" :
			  "buffer read back by the CPU");
		return -EIO;
	}
	if (ns)
		*ns = t1 - t0;
	return 0;
}

/* Timed snapshot of a range; checks every page's class. */
static int snapshot(struct result *r, int fd, void *buf, size_t size,
		    int want_dev, double *ns, int *cls, double *pmd)
{
	unsigned long npages = size / PAGE_SZ, i, npmd = 0;
	unsigned char *perm = malloc(npages);
	struct hmm_dmirror_cmd c;
	double t0, t1;
	int ret, first = -1;

	if (!perm)
		return -ENOMEM;
	memset(perm, 0xee, npages);
	t0 = now_ns();
	ret = dcmd(fd, HMM_DMIRROR_SNAPSHOT, buf, perm, npages, &c);
	t1 = now_ns();
	if (ret) {
		set_error(r->error, sizeof(r->error), "SNAPSHOT of %lu pages: %s%s",
			  npages, strerror(-ret), errhint(-ret));
		goto out;
	}
	ret = -EIO;
	if (c.cpages != npages) {
		set_error(r->error, sizeof(r->error),
			  "SNAPSHOT: cpages=%llu, expected %lu",
			  (unsigned long long)c.cpages, npages);
		goto out;
	}
	for (i = 0; i < npages; i++) {
		unsigned char p = perm[i], klass = p & 0xf0;

		if (p == HMM_DMIRROR_PROT_ERROR ||
		    !(p & (HMM_DMIRROR_PROT_READ | HMM_DMIRROR_PROT_WRITE))) {
			set_error(r->error, sizeof(r->error),
				  "SNAPSHOT: page %lu has no access (0x%02x)",
				  i, p);
			goto out;
		}
		if (want_dev ? klass != HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL &&
		    klass != HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
		    klass != HMM_DMIRROR_PROT_NONE) {
			set_error(r->error, sizeof(r->error),
				  "SNAPSHOT: page %lu is 0x%02x, expected %s",
				  i, p, want_dev ? "a page of this device" :
				  "a system page");
			goto out;
		}
		if (first < 0)
			first = klass;
		if (p & HMM_DMIRROR_PROT_PMD)
			npmd++;
	}
	ret = 0;
	if (ns)
		*ns = t1 - t0;
	if (cls)
		*cls = first;
	if (pmd)
		*pmd = (double)npmd / npages;
out:
	free(perm);
	return ret;
}

static int run_one(struct result *r, int fd, size_t size, int run, int timed)
{
	int thp = r->mode == MODE_THP;
	size_t step = thp ? THP_SZ : PAGE_SZ, nf = size / step, i;
	uint64_t seed = (uint64_t)(run + 2) * 0x1000193 + size / MIB * 7 + thp;
	double ns, tb, ta, *lat = NULL, sum = 0;
	void *buf;
	int ret;
	long bad;

	buf = buf_alloc(size, thp);
	if (!buf) {
		set_error(r->error, sizeof(r->error), "cannot map %zu bytes: %s",
			  size, strerror(errno));
		return -ENOMEM;
	}
	fill(buf, size, seed);
	tb = thp_fraction(buf, size);

	/* system -> device */
	ret = migrate_checked(r, fd, 1, buf, size, seed, &ns);
	if (ret)
		goto out;
	if (timed)
		series_add(&r->s2d, (double)size / (1 << 30) / (ns / 1e9));
	if (r->dev_class < 0) {
		ret = snapshot(r, fd, buf, size, 1, NULL, &r->dev_class,
			       &r->dev_pmd);
		if (ret)
			goto out;
	}

	/* device -> system */
	ret = migrate_checked(r, fd, 0, buf, size, seed, &ns);
	if (ret)
		goto out;
	if (timed)
		series_add(&r->d2s, (double)size / (1 << 30) / (ns / 1e9));
	ta = thp_fraction(buf, size);

	/* mirror a resident range */
	ret = snapshot(r, fd, buf, size, 0, &ns, NULL, NULL);
	if (ret)
		goto out;
	if (timed)
		series_add(&r->snap, (double)(size / PAGE_SZ) / 1e6 / (ns / 1e9));
	if (!timed)
		goto out;

	/* CPU fault-back */
	ret = migrate_checked(r, fd, 1, buf, size, seed, NULL);
	if (ret)
		goto out;
	lat = malloc(nf * sizeof(*lat));
	if (!lat) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nf; i++) {
		const uint64_t *p = (const uint64_t *)((char *)buf + i * step);
		double t0, t1;
		uint64_t v;

		t0 = now_ns();
		/* compiler barriers keep the faulting load inside the timing */
		asm volatile("" ::: "memory");
		v = *p;
		asm volatile("" : "+r" (v) : : "memory");
		t1 = now_ns();
		lat[i] = (t1 - t0) / 1e3;
		sum += t1 - t0;
		if (v != pat(seed, i * step)) {
			set_error(r->error, sizeof(r->error),
				  "fault-back: wrong data at offset %zu", i * step);
			ret = -EIO;
			goto out;
		}
	}
	bad = verify(buf, size, seed);
	if (bad >= 0) {
		set_error(r->error, sizeof(r->error),
			  "fault-back: data mismatch at offset %ld", bad);
		ret = -EIO;
		goto out;
	}
	series_add(&r->fault_p50, percentile(lat, nf, 50));
	series_add(&r->fault_p99, percentile(lat, nf, 99));
	series_add(&r->fault_gibps, (double)size / (1 << 30) / (sum / 1e9));
	series_add(&r->thp_before, tb);
	series_add(&r->thp_after, ta);
out:
	free(lat);
	munmap(buf, size);
	return ret;
}

static int run_case(struct result *r, int fd)
{
	size_t size = r->size_mib * MIB;
	int i, ret;

	r->dev_class = -1;
	r->dev_pmd = NAN;
	if (prepare_mirror(size)) {
		set_error(r->error, sizeof(r->error),
			  "cannot map a %zu byte mirror buffer", size);
		return -ENOMEM;
	}
	if (opt.warmup) {
		ret = run_one(r, fd, size, -1, 0);
		if (ret)
			return ret;
	}
	for (i = 0; i < r->runs; i++) {
		ret = run_one(r, fd, size, i, 1);
		if (ret)
			return ret;
		if (opt.verbose)
			note("  run %d: s2d %.3f d2s %.3f GiB/s, fault p50 %.1f us",
			     i, r->s2d.v[i], r->d2s.v[i], r->fault_p50.v[i]);
	}
	r->ok = 1;
	return 0;
}

static void run_copy(struct copy_result *c, int fd, int runs)
{
	unsigned long np = c->size_mib * MIB / PAGE_SZ, passes = 1;
	int i;
	double g;

	if (np > COPY_MAX_PAGES)
		np = COPY_MAX_PAGES;
	/* at least 32 MiB copied per measurement */
	while (np * passes * PAGE_SZ < 32 * MIB)
		passes++;
	for (i = 0; i < runs; i++) {
		int ret = copy_bench(fd, np, passes, &g);

		if (ret) {
			note("copy bench at %lu MiB: %s", c->size_mib,
			     strerror(-ret));
			return;
		}
		series_add(&c->gibps, g);
	}
}

/* ------------------------------------------------------------- output */

double med(const struct series *s)
{
	return median(s->v, s->n);
}

static const char *class_name(int c)
{
	switch (c) {
	case HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL: return "private";
	case HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL: return "coherent";
	default: return "unknown";
	}
}

static const char *memory_name(void)
{
	int i;

	for (i = 0; i < nresults; i++)
		if (results[i].dev_class >= 0)
			return class_name(results[i].dev_class);
	if (mem_type_info == HMM_DMIRROR_MEMORY_DEVICE_PRIVATE)
		return "private";
	if (mem_type_info == HMM_DMIRROR_MEMORY_DEVICE_COHERENT)
		return "coherent";
	return "unknown";
}

static double copy_at(unsigned long mib)
{
	int i;

	for (i = 0; i < opt.nsizes; i++)
		if (copies[i].size_mib == mib && copies[i].gibps.n)
			return med(&copies[i].gibps);
	return NAN;
}

void fmtnum(char *b, size_t n, double v, const char *f)
{
	if (isnan(v) || v < -0.5)
		snprintf(b, n, "n/a");
	else
		snprintf(b, n, f, v);
}

static void print_table(FILE *o)
{
	struct utsname u;
	int i;

	uname(&u);
	fprintf(o, "\nhmm-bench: %s on %s (%s memory), kernel %s\n",
		opt.label, opt.dev, memory_name(), u.release);
	fprintf(o,
		"medians; throughput in GiB/s, fault latency in us per fault unit (4k: one 4 KiB page, thp: one 2 MiB folio)\n");
	fprintf(o, "copy limit: %s\n", copy_note);
	fprintf(o, "%6s %4s %4s %9s %9s %9s %9s %9s %10s %6s %6s %9s\n",
		"size", "mode", "runs", "s2d", "d2s", "fault50", "fault99",
		"faultGiB", "snapMpg/s", "thp%", "thp%d2s", "copylim");
	for (i = 0; i < nresults; i++) {
		struct result *r = &results[i];
		char b[11][24];

		if (!r->ok && !r->s2d.n) {
			fprintf(o, "%5luM %4s FAILED: %s\n", r->size_mib,
				mode_name[r->mode], r->error);
			continue;
		}
		fmtnum(b[0], 24, med(&r->s2d), "%.3f");
		fmtnum(b[1], 24, med(&r->d2s), "%.3f");
		fmtnum(b[2], 24, med(&r->fault_p50), "%.2f");
		fmtnum(b[3], 24, med(&r->fault_p99), "%.2f");
		fmtnum(b[4], 24, med(&r->fault_gibps), "%.3f");
		fmtnum(b[5], 24, med(&r->snap), "%.3f");
		fmtnum(b[6], 24, 100 * med(&r->thp_before), "%.0f");
		fmtnum(b[7], 24, 100 * med(&r->thp_after), "%.0f");
		fmtnum(b[8], 24, copy_at(r->size_mib), "%.3f");
		fprintf(o, "%5luM %4s %4d %9s %9s %9s %9s %9s %10s %6s %6s %9s%s\n",
			r->size_mib, mode_name[r->mode], r->s2d.n, b[0], b[1],
			b[2], b[3], b[4], b[5], b[6], b[7], b[8],
			r->ok ? "" : "  (FAILED)");
		if (!r->ok)
			fprintf(o, "       %s\n", r->error);
		if (r->mode == MODE_THP && r->thp_before.n &&
		    med(&r->thp_before) >= 0 && med(&r->thp_before) < 0.999)
			fprintf(o,
				"       warning: THP backs only %.0f%% of the buffer before migration\n",
				100 * med(&r->thp_before));
	}
	if (fatal_error[0])
		fprintf(o, "FAILED: %s\n", fatal_error);
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

void json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.6g", v);
}

/* One member "name": {"median": M, "samples": [...]}, on a line of its own. */
void json_series(FILE *f, const char *name, const struct series *s)
{
	int i;

	fprintf(f, ",\n   \"%s\": {\"median\": ", name);
	json_num(f, med(s));
	fputs(", \"samples\": [", f);
	for (i = 0; i < s->n; i++) {
		if (i)
			fputs(", ", f);
		json_num(f, s->v[i]);
	}
	fputs("]}", f);
}

static void read_line(const char *path, char *b, size_t n)
{
	FILE *f = fopen(path, "r");

	b[0] = 0;
	if (f) {
		if (fgets(b, n, f))
			b[strcspn(b, "\n")] = 0;
		fclose(f);
	}
}

static int write_json(const char *path)
{
	FILE *f = fopen(path, "w");
	struct utsname u;
	char thp[128];
	int i, c, ok = !fatal_error[0];

	if (!f) {
		note("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	uname(&u);
	read_line("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp));
	for (i = 0; i < nresults; i++)
		ok &= results[i].ok;
	fputs("{\"tool\": \"hmm-bench\", \"format\": 1", f);
	fputs(",\n \"label\": ", f);
	json_str(f, opt.label);
	fputs(", \"variant\": ", f);
	json_str(f, opt.variant);
	fputs(", \"dev\": ", f);
	json_str(f, opt.dev);
	fputs(", \"kernel\": ", f);
	json_str(f, u.release);
	fputs(", \"thp_enabled\": ", f);
	json_str(f, thp);
	fputs(", \"memory\": ", f);
	json_str(f, memory_name());
	fprintf(f, ",\n \"ok\": %s, \"error\": ", ok ? "true" : "false");
	json_str(f, fatal_error);
	fprintf(f,
		", \"units\": {\"s2d\": \"GiB/s\", \"d2s\": \"GiB/s\", \"fault\": \"us per 4 KiB page (4k) or 2 MiB folio (thp)\", \"snap\": \"Mpages/s\", \"copy_limit\": \"GiB/s\"}");
	fputs(",\n \"copy_limit_note\": ", f);
	json_str(f, copy_note);
	fputs(",\n \"copy_limit\": [", f);
	for (i = 0, c = 0; i < opt.nsizes && copy_supported == 1; i++) {
		if (!copies[i].gibps.n)
			continue;
		fprintf(f, "%s\n  {\"size_mib\": %lu", c++ ? "," : "",
			copies[i].size_mib);
		json_series(f, "gibps", &copies[i].gibps);
		fputs("}", f);
	}
	fputs("],\n \"results\": [", f);
	for (i = 0; i < nresults; i++) {
		struct result *r = &results[i];

		fprintf(f,
			"%s\n  {\"size_mib\": %lu, \"mode\": \"%s\", \"runs\": %d, \"ok\": %s, \"error\": ",
			i ? "," : "",
			r->size_mib, mode_name[r->mode], r->s2d.n,
			r->ok ? "true" : "false");
		json_str(f, r->error);
		fputs(", \"device_memory\": ", f);
		json_str(f, class_name(r->dev_class));
		fputs(", \"device_pmd_fraction\": ", f);
		json_num(f, r->dev_pmd);
		fputs(",\n   \"fault_unit\": ", f);
		json_str(f, r->mode == MODE_THP ? "2M" : "4k");
		json_series(f, "s2d_gibps", &r->s2d);
		json_series(f, "d2s_gibps", &r->d2s);
		json_series(f, "fault_p50_us", &r->fault_p50);
		json_series(f, "fault_p99_us", &r->fault_p99);
		json_series(f, "fault_gibps", &r->fault_gibps);
		json_series(f, "snap_mpages", &r->snap);
		json_series(f, "thp_fraction", &r->thp_before);
		json_series(f, "thp_fraction_after_d2s", &r->thp_after);
		fputs("}", f);
	}
	fputs("]", f);
	peer_json(f);
	fputs("}\n", f);
	if (fclose(f)) {
		note("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- compare */

/* A small JSON reader, enough for the files this program writes. */

struct jparser {
	const char *s;
	const char *err;
};

static void jws(struct jparser *p)
{
	while (*p->s && isspace((unsigned char)*p->s))
		p->s++;
}

static struct jv *jnew(enum jtype t)
{
	struct jv *v = calloc(1, sizeof(*v));

	if (!v) {
		perror("calloc");
		exit(2);
	}
	v->t = t;
	return v;
}

static char *jstring(struct jparser *p)
{
	size_t cap = 16, n = 0;
	char *b = malloc(cap);

	p->s++;			/* opening quote */
	while (b && *p->s && *p->s != '"') {
		char c = *p->s++;

		if (c == '\\') {
			c = *p->s++;
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'u': {
				unsigned int u = 0;

				if (sscanf(p->s, "%4x", &u) != 1) {
					p->err = "bad \\u escape";
					free(b);
					return NULL;
				}
				p->s += 4;
				c = u < 0x80 ? (char)u : '?';
				break;
			}
			case 0:
				p->err = "unterminated string";
				free(b);
				return NULL;
			default:	/* \" \\ \/ */
				break;
			}
		}
		if (n + 2 > cap) {
			char *nb = realloc(b, cap *= 2);

			if (!nb) {
				free(b);
				return NULL;
			}
			b = nb;
		}
		b[n++] = c;
	}
	if (!b || *p->s != '"') {
		p->err = "unterminated string";
		free(b);
		return NULL;
	}
	p->s++;
	b[n] = 0;
	return b;
}

static struct jv *jparse(struct jparser *p, int depth)
{
	struct jv *v;

	jws(p);
	if (depth > 32) {
		p->err = "nested too deep";
		return NULL;
	}
	if (*p->s == '{' || *p->s == '[') {
		int obj = *p->s == '{';
		char close = obj ? '}' : ']';

		v = jnew(obj ? J_OBJ : J_ARR);
		p->s++;
		jws(p);
		if (*p->s == close) {
			p->s++;
			return v;
		}
		for (;;) {
			char *key = NULL;
			struct jv *item;

			jws(p);
			if (obj) {
				if (*p->s != '"') {
					p->err = "expected a key";
					return NULL;
				}
				key = jstring(p);
				if (!key)
					return NULL;
				jws(p);
				if (*p->s++ != ':') {
					p->err = "expected ':'";
					return NULL;
				}
			}
			item = jparse(p, depth + 1);
			if (!item)
				return NULL;
			v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
			v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
			if (!v->items || !v->keys) {
				perror("realloc");
				exit(2);
			}
			v->items[v->n] = item;
			v->keys[v->n] = key;
			v->n++;
			jws(p);
			if (*p->s == ',') {
				p->s++;
				continue;
			}
			if (*p->s == close) {
				p->s++;
				return v;
			}
			p->err = obj ? "expected ',' or '}'" : "expected ',' or ']'";
			return NULL;
		}
	}
	if (*p->s == '"') {
		v = jnew(J_STR);
		v->str = jstring(p);
		return v->str ? v : NULL;
	}
	if (!strncmp(p->s, "true", 4) || !strncmp(p->s, "false", 5)) {
		v = jnew(J_BOOL);
		v->num = *p->s == 't';
		p->s += v->num ? 4 : 5;
		return v;
	}
	if (!strncmp(p->s, "null", 4)) {
		p->s += 4;
		return jnew(J_NULL);
	}
	if (*p->s == '-' || isdigit((unsigned char)*p->s)) {
		char *end;

		v = jnew(J_NUM);
		v->num = strtod(p->s, &end);
		p->s = end;
		return v;
	}
	p->err = "unexpected character";
	return NULL;
}

struct jv *jget(const struct jv *o, const char *key)
{
	int i;

	if (!o || o->t != J_OBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return o->items[i];
	return NULL;
}

const char *jstr(const struct jv *o, const char *key)
{
	const struct jv *v = jget(o, key);

	return v && v->t == J_STR ? v->str : "";
}

double jnum(const struct jv *v)
{
	return v && v->t == J_NUM ? v->num : NAN;
}

static struct jv *load_json(const char *path)
{
	struct jparser p = { 0 };
	char *text = NULL;
	size_t len = 0, cap = 0;
	struct jv *v;
	FILE *f = fopen(path, "r");

	if (!f) {
		note("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t got;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			text = realloc(text, cap);
			if (!text) {
				perror("realloc");
				exit(2);
			}
		}
		got = fread(text + len, 1, cap - len - 1, f);
		len += got;
		if (!got)
			break;
	}
	fclose(f);
	text[len] = 0;
	p.s = text;
	v = jparse(&p, 0);
	if (v) {
		jws(&p);
		if (*p.s)
			p.err = "trailing text", v = NULL;
	}
	if (!v || !jget(v, "tool") ||
	    strcmp(jstr(v, "tool"), "hmm-bench")) {
		note("%s: not an hmm-bench JSON file (%s at byte %ld)", path,
		     p.err ? p.err : "no \"tool\": \"hmm-bench\"",
		     (long)(p.s - text));
		return NULL;
	}
	return v;		/* text and tree are kept until exit */
}

/*
 * One driver's results (struct docset): one JSON file per round (the bench
 * plan alternates the drivers, round by round, so that a slow spell of the
 * host hits both), with the samples of all rounds pooled.
 */
static void load_docs(struct docset *ds, const char *paths)
{
	char *copy = strdup(paths), *tok, *save = NULL;

	memset(ds, 0, sizeof(*ds));
	if (!copy) {
		perror("strdup");
		exit(2);
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct jv *v = load_json(tok);

		if (!v || ds->n == MAX_DOCS)
			ds->bad = 1;
		else
			ds->d[ds->n++] = v;
	}
	free(copy);
}

/* Append a statistic's samples (its median when it has none) to v[]. */
void add_samples(const struct jv *st, double *v, int *n, int max)
{
	const struct jv *a = jget(st, "samples");
	int i;

	if (a && a->t == J_ARR && a->n) {
		for (i = 0; i < a->n && *n < max; i++)
			if (!isnan(jnum(a->items[i])))
				v[(*n)++] = jnum(a->items[i]);
	} else if (!isnan(jnum(jget(st, "median"))) && *n < max) {
		v[(*n)++] = jnum(jget(st, "median"));
	}
}

static const struct jv *find_result(const struct jv *doc, double mib,
				    const char *mode)
{
	const struct jv *rs = jget(doc, "results");
	int i;

	if (!rs || rs->t != J_ARR)
		return NULL;
	for (i = 0; i < rs->n; i++)
		if (jnum(jget(rs->items[i], "size_mib")) == mib &&
		    !strcmp(jstr(rs->items[i], "mode"), mode))
			return rs->items[i];
	return NULL;
}

/*
 * Median of a metric over the samples of every file of a set, NAN if absent
 * (a case that failed in one round still counts with the runs it did).
 */
static double metric(const struct docset *ds, double mib, const char *mode,
		     const char *name)
{
	static double v[MAX_DOCS * MAX_RUNS];
	int i, n = 0;

	for (i = 0; i < ds->n; i++) {
		const struct jv *r = find_result(ds->d[i], mib, mode);

		if (r)
			add_samples(jget(r, name), v, &n, MAX_DOCS * MAX_RUNS);
	}
	return n ? median(v, n) : NAN;
}

/*
 * ours/upstream for one figure. With as many rounds on both sides (the bench
 * plan alternates the drivers), each of ours' samples is divided by
 * upstream's median in the same round and the median of these ratios is
 * taken: under TCG the host's speed drifts during a boot, and the two
 * drivers of one round ran a minute apart, not a whole boot. Otherwise: the
 * ratio of the pooled medians. NAN when either side has no sample.
 */
static double ratio_of(const struct docset *up, const struct docset *ours,
		       double mib, const char *mode, const char *key)
{
	static double v[MAX_DOCS * MAX_RUNS];
	int i, k, n = 0;

	if (up->n < 2 || up->n != ours->n)
		return metric(ours, mib, mode, key) / metric(up, mib, mode, key);
	for (k = 0; k < up->n; k++) {
		struct docset u1 = { .d = { up->d[k] }, .n = 1 };
		const struct jv *r = find_result(ours->d[k], mib, mode);
		double base = metric(&u1, mib, mode, key), s[MAX_RUNS];
		int m = 0;

		if (!r || isnan(base) || base <= 0)
			continue;
		add_samples(jget(r, key), s, &m, MAX_RUNS);
		for (i = 0; i < m && n < (int)ARRAY_SIZE(v); i++)
			v[n++] = s[i] / base;
	}
	return n ? median(v, n) : NAN;
}

static void ratio_fmt(char *b, size_t n, double r)
{
	if (isnan(r) || isinf(r) || r <= 0)
		snprintf(b, n, "n/a");
	else
		snprintf(b, n, "%.2fx", r);
}

static double copy_limit_of(const struct docset *ds, double mib)
{
	static double v[MAX_DOCS * MAX_RUNS];
	int i, k, n = 0;

	for (k = 0; k < ds->n; k++) {
		const struct jv *cl = jget(ds->d[k], "copy_limit");

		if (!cl || cl->t != J_ARR)
			continue;
		for (i = 0; i < cl->n; i++)
			if (jnum(jget(cl->items[i], "size_mib")) == mib)
				add_samples(jget(cl->items[i], "gibps"), v, &n,
					    MAX_DOCS * MAX_RUNS);
	}
	return n ? median(v, n) : NAN;
}

static void collect_sizes(const struct docset *ds, double *sizes, int *n)
{
	int i, j, k;

	for (k = 0; k < ds->n; k++) {
		const struct jv *rs = jget(ds->d[k], "results");

		if (!rs || rs->t != J_ARR)
			continue;
		for (i = 0; i < rs->n; i++) {
			double m = jnum(jget(rs->items[i], "size_mib"));

			if (isnan(m))
				continue;
			for (j = 0; j < *n && sizes[j] != m; j++)
				;
			if (j == *n && *n < 64)
				sizes[(*n)++] = m;
		}
	}
}

void ratio_str(char *b, size_t n, double up, double ours)
{
	if (isnan(up) || isnan(ours) || up <= 0)
		snprintf(b, n, "n/a");
	else
		snprintf(b, n, "%.2fx", ours / up);
}

static void describe(const char *role, const char *path, const struct docset *ds)
{
	int k;

	if (!ds->n) {
		printf("%-8s %s: no usable results\n", role, path);
		return;
	}
	if (ds->n > 1)
		printf("%-8s %d rounds, samples pooled: %s\n", role, ds->n, path);
	for (k = 0; k < ds->n; k++) {
		const struct jv *d = ds->d[k];

		if (k && jget(d, "ok") && jget(d, "ok")->num && !*jstr(d, "error"))
			continue;
		printf("%-8s %s: label=%s dev=%s memory=%s kernel=%s thp=%s%s\n", role,
		       ds->n > 1 ? "round" : path, jstr(d, "label"), jstr(d, "dev"),
		       jstr(d, "memory"), jstr(d, "kernel"), jstr(d, "thp_enabled"),
		       jget(d, "ok") && jget(d, "ok")->num ? "" : "  [RUN FAILED]");
		if (*jstr(d, "error"))
			printf("         error: %s\n", jstr(d, "error"));
	}
}

/*
 * A variant of ours against upstream, fault figures only: the bench plan's
 * "ours-fa1" runs our module again with hmm_p2p.fault_around=1 (one page per
 * CPU fault), so that one served fault compares with upstream's.
 */
static void compare_variant(const struct docset *up, const struct docset *var,
			    const char *const *keys, int nkeys, const char *what)
{
	double sizes[64];
	int ns = 0, i, j, mo;

	if (!var->n)
		return;
	collect_sizes(var, sizes, &ns);
	qsort(sizes, ns, sizeof(*sizes), cmp_double);
	printf("\n%s: %s, %s against upstream\n", jstr(var->d[0], "label"),
	       *jstr(var->d[0], "variant") ? jstr(var->d[0], "variant") : "a variant of ours",
	       what);
	for (i = 0; i < ns; i++) {
		for (mo = 0; mo < NR_MODES; mo++) {
			for (j = 0; j < nkeys; j++) {
				double a = metric(up, sizes[i], mode_name[mo], keys[j]);
				double b = metric(var, sizes[i], mode_name[mo], keys[j]);
				char c[3][24];

				if (isnan(b))
					continue;
				fmtnum(c[0], 24, a, "%.3f");
				fmtnum(c[1], 24, b, "%.3f");
				ratio_fmt(c[2], 24, ratio_of(up, var, sizes[i], mode_name[mo],
							     keys[j]));
				printf("%5.0fM %4s %-16s %10s %10s %8s\n", sizes[i],
				       mode_name[mo], keys[j], c[0], c[1], c[2]);
			}
		}
	}
}

/* The summary figures: size 64 MiB, the metric, its mode. */
static const struct {
	const char *name, *mode, *key;
	int lower;		/* a latency: lower is better */
} summary[] = {
	{ "s2d_4k", "4k", "s2d_gibps", 0 },
	{ "d2s_4k", "4k", "d2s_gibps", 0 },
	{ "s2d_thp", "thp", "s2d_gibps", 0 },
	{ "d2s_thp", "thp", "d2s_gibps", 0 },
	{ "fault_p50", "4k", "fault_p50_us", 1 },
};

/* The best sample of a figure over every round: NAN if none. */
static double metric_best(const struct docset *ds, double mib, const char *mode,
			  const char *key, int lower)
{
	static double v[MAX_DOCS * MAX_RUNS];
	double best = NAN;
	int i, n = 0;

	for (i = 0; i < ds->n; i++) {
		const struct jv *r = find_result(ds->d[i], mib, mode);

		if (r)
			add_samples(jget(r, key), v, &n, MAX_DOCS * MAX_RUNS);
	}
	for (i = 0; i < n; i++)
		if (isnan(best) || (lower ? v[i] < best : v[i] > best))
			best = v[i];
	return best;
}

/*
 * The summary figures from each side's best run. Under TCG a run lands in a
 * fast or a slow mode of the host (about 1.6x apart, either driver); the
 * best runs compare the two drivers in the fast mode.
 */
static void print_best(const struct docset *up, const struct docset *ours,
		       const struct docset *var)
{
	int j;

	printf("best runs (each side's fastest):");
	for (j = 0; j < (int)ARRAY_SIZE(summary); j++) {
		char b[16];

		ratio_fmt(b, sizeof(b),
			  metric_best(ours, 64, summary[j].mode, summary[j].key, summary[j].lower) /
			  metric_best(up, 64, summary[j].mode, summary[j].key, summary[j].lower));
		printf(" %s=%s", summary[j].name, b);
	}
	if (var && var->n) {
		char b[16];

		ratio_fmt(b, sizeof(b), metric_best(var, 64, "4k", "fault_p50_us", 1) /
			  metric_best(up, 64, "4k", "fault_p50_us", 1));
		printf(" fault_p50[%s]=%s", jstr(var->d[0], "label"), b);
	}
	printf("\n");
}

/*
 * Each summary figure round by round (upstream's round k against ours'),
 * so the spread behind the pooled medians shows; needs as many rounds on
 * both sides.
 */
static void print_rounds(const struct docset *up, const struct docset *ours)
{
	int j, k;

	if (up->n < 2 || up->n != ours->n)
		return;
	printf("\nper round (ours/upstream at 64 MiB, rounds 1..%d):\n", up->n);
	for (j = 0; j < (int)ARRAY_SIZE(summary); j++) {
		printf("  %-10s", summary[j].name);
		for (k = 0; k < up->n; k++) {
			struct docset u1 = { .d = { up->d[k] }, .n = 1 };
			struct docset o1 = { .d = { ours->d[k] }, .n = 1 };
			char b[16];

			ratio_str(b, sizeof(b), metric(&u1, 64, summary[j].mode, summary[j].key),
				  metric(&o1, 64, summary[j].mode, summary[j].key));
			printf(" %7s", b);
		}
		printf("\n");
	}
}

static int do_compare(const char *upath, const char *opath, const char *vpath,
		      const char *kpath)
{
	static const char *const fault_keys[] = {
		"fault_p50_us", "fault_p99_us", "fault_gibps",
	};
	static const char *const mig_keys[] = {
		"s2d_gibps", "d2s_gibps", "fault_p50_us",
	};
	static const struct {
		const char *key, *name, *fmt;
		int tput;
	} m[] = {
		{ "s2d_gibps", "s2d GiB/s", "%.3f", 1 },
		{ "d2s_gibps", "d2s GiB/s", "%.3f", 1 },
		{ "fault_p50_us", "fault p50 us", "%.2f", 0 },
		{ "fault_p99_us", "fault p99 us", "%.2f", 0 },
		{ "fault_gibps", "fault GiB/s", "%.3f", 1 },
		{ "snap_mpages", "snap Mpages/s", "%.3f", 2 },
	};
	static struct docset ups, ourss, vars, kept;
	struct docset *up = &ups, *ours = &ourss;
	const struct jv *u0, *o0;
	double sizes[64];
	char fig[ARRAY_SIZE(summary)][16], fa1[16] = "-", kfig[4][16];
	int ns = 0, i, j, k, mo;

	load_docs(up, upath);
	load_docs(ours, opath);
	u0 = up->n ? up->d[0] : NULL;
	o0 = ours->n ? ours->d[0] : NULL;
	printf("\nhmm-bench comparison (medians; ratio = ours/upstream; "
	       "/lim = fraction of the kernel's page copy rate)\n");
	if (up->n > 1 && up->n == ours->n)
		printf("ratio: %s\n",
		       "median over ours' runs of each run / upstream's median in the same round");
	describe("upstream", upath, up);
	describe("ours", opath, ours);
	collect_sizes(up, sizes, &ns);
	collect_sizes(ours, sizes, &ns);
	qsort(sizes, ns, sizeof(*sizes), cmp_double);
	printf("%6s %4s %-16s %10s %10s %8s %8s %8s %9s\n", "size", "mode",
	       "metric", "upstream", "ours", "ratio", "up/lim", "ours/lim",
	       "limGiB/s");
	for (i = 0; i < ns; i++) {
		/* the copy limit comes from whichever driver measured it */
		double lim = copy_limit_of(ours, sizes[i]);

		if (isnan(lim))
			lim = copy_limit_of(up, sizes[i]);
		for (mo = 0; mo < NR_MODES; mo++) {
			const struct jv *rr;
			int any = 0, dk;

			for (k = 0; k < up->n + ours->n; k++)
				any |= !!find_result(k < up->n ? up->d[k] : ours->d[k - up->n],
						     sizes[i], mode_name[mo]);
			if (!any)
				continue;
			for (j = 0; j < (int)ARRAY_SIZE(m); j++) {
				double a = metric(up, sizes[i], mode_name[mo], m[j].key);
				double b = metric(ours, sizes[i], mode_name[mo], m[j].key);
				char c[6][24], name[32];

				snprintf(name, sizeof(name), "%s", m[j].name);
				if (!strncmp(m[j].key, "fault_p", 7))
					snprintf(name, sizeof(name), "%s/%s",
						 m[j].name, mo == MODE_THP ? "2M" : "4k");
				fmtnum(c[0], 24, a, m[j].fmt);
				fmtnum(c[1], 24, b, m[j].fmt);
				ratio_fmt(c[2], 24, ratio_of(up, ours, sizes[i], mode_name[mo],
							     m[j].key));
				if (m[j].tput == 1) {
					fmtnum(c[3], 24, a / lim, "%.2f");
					fmtnum(c[4], 24, b / lim, "%.2f");
					fmtnum(c[5], 24, lim, "%.3f");
				} else {
					c[3][0] = '\0';
					c[4][0] = '\0';
					c[5][0] = '\0';
				}
				printf("%5.0fM %4s %-16s %10s %10s %8s %8s %8s %9s\n",
				       sizes[i], mode_name[mo], name, c[0], c[1],
				       c[2], c[3], c[4], c[5]);
			}
			for (k = 0; k < up->n + ours->n; k++) {
				int is_ours = k >= up->n;

				dk = is_ours ? k - up->n : k;
				rr = find_result(is_ours ? ours->d[dk] : up->d[dk],
						 sizes[i], mode_name[mo]);
				if (rr && jget(rr, "ok") && !jget(rr, "ok")->num)
					printf("       %s failed: %s\n",
					       is_ours ? "ours" : "upstream",
					       jstr(rr, "error"));
				if (rr && mo == MODE_THP) {
					double t = jnum(jget(jget(rr, "thp_fraction"), "median"));

					if (!isnan(t) && t < 0.999)
						fprintf(stdout,
							"       warning: %s: THP backed only %.0f%% of the buffer\n",
							is_ours ? "ours" : "upstream", 100 * t);
				}
			}
		}
	}
	if (strcmp(jstr(u0, "dev"), "/dev/hmm_dmirror0") ||
	    strcmp(jstr(o0, "dev"), "/dev/hmm_dmirror0") ||
	    strcmp(jstr(u0, "memory"), "private") ||
	    strcmp(jstr(o0, "memory"), "private"))
		fprintf(stdout,
			"note: the summary is defined on /dev/hmm_dmirror0 (device-private); these runs are %s (%s) and %s (%s)\n",
			u0 ? jstr(u0, "dev") : "-", u0 ? jstr(u0, "memory") : "-",
			o0 ? jstr(o0, "dev") : "-",
			o0 ? jstr(o0, "memory") : "-");
	peer_compare(ours);
	if (vpath) {
		load_docs(&vars, vpath);
		compare_variant(up, &vars, fault_keys, ARRAY_SIZE(fault_keys), "fault-back");
		ratio_fmt(fa1, sizeof(fa1), ratio_of(up, &vars, 64, "4k", "fault_p50_us"));
	}
	if (kpath) {
		load_docs(&kept, kpath);
		compare_variant(up, &kept, mig_keys, ARRAY_SIZE(mig_keys), "migration");
	}
	print_rounds(up, ours);
	print_best(up, ours, vpath ? &vars : NULL);
	for (j = 0; j < (int)ARRAY_SIZE(summary); j++)
		ratio_fmt(fig[j], sizeof(fig[j]),
			  ratio_of(up, ours, 64, summary[j].mode, summary[j].key));
	if (kpath && kept.n) {
		for (j = 0; j < 4; j++)
			ratio_fmt(kfig[j], sizeof(kfig[j]),
				  ratio_of(up, &kept, 64, summary[j].mode, summary[j].key));
		printf("as deployed (%s, backing kept) vs upstream: %s=%s %s=%s %s=%s %s=%s\n",
		       jstr(kept.d[0], "label"), summary[0].name, kfig[0], summary[1].name,
		       kfig[1], summary[2].name, kfig[2], summary[3].name, kfig[3]);
	}
	/* one served fault (fault_around=1) next to the fault-around figure */
	printf("ratio vs upstream: %s=%s %s=%s %s=%s %s=%s %s=%s fault_p50_fa1=%s\n",
	       summary[0].name, fig[0], summary[1].name, fig[1], summary[2].name, fig[2],
	       summary[3].name, fig[3], summary[4].name, fig[4], fa1);
	fflush(stdout);
	return up->n && ours->n && !up->bad && !ours->bad ? 0 : 1;
}

/* ------------------------------------------------------------- main */

static void print_usage(FILE *o)
{
	fprintf(o,
		"usage: hmm-bench [options]\n"
		"       hmm-bench --compare UPSTREAM.json[,...] OURS.json[,...] [FA1.json[,...] [KEPT.json[,...]]]\n"
		"  --dev PATH        device node (default /dev/hmm_dmirror0)\n"
		"  --sizes LIST      sizes in MiB, even, comma separated; SIZE:RUNS sets the\n"
		"                    runs of one size (default 2,8,64,256)\n"
		"  --runs N          runs per size and mode (default 5, max %d)\n"
		"  --modes LIST      4k, thp or 4k,thp (default both)\n"
		"  --label NAME      name recorded in the output (e.g. upstream, ours)\n"
		"  --json FILE       also write the results as JSON\n"
		"  --quick           --sizes 2,64 --runs 3\n"
		"  --peer EXP,IMP[,IMP...]  also time peer access (hmm-p2p devices): a\n"
		"                    range resident on EXP read by each IMP directly (P2P\n"
		"                    where the topology allows it) against EXP migrating it\n"
		"                    to system memory first (see peer.c)\n"
		"  --peer-sizes LIST sizes in MiB for --peer (default 8,64)\n"
		"  --importer EXP,IMP[,IMP]  only this: single-page device READs by each IMP\n"
		"                    of pages on EXP (and in system memory) under an\n"
		"                    invalidation storm, and first touch with and without\n"
		"                    HMM_P2P_IOC_PREFETCH (see importer.c)\n"
		"  --storm-us LIST   storm periods for --importer, us (default 100,1000)\n"
		"  --mirror-map DEV  only this: a 64 MiB mirror faulted, mapped and\n"
		"                    invalidated on DEV (a PCI test device), with\n"
		"                    hmm_p2p.mirror_map=perpage against twostep, per phase\n"
		"                    (see mirrormap.c)\n"
		"  --storm-secs S    seconds per storm case (default 4)\n"
		"  --no-warmup       skip the untimed warm-up round of each case\n"
		"  --verbose         print every run\n"
		"  --compare A B [V] print A (upstream) and B (ours) side by side; the last\n"
		"                    line is the summary at 64 MiB. A and B may each list\n"
		"                    several JSON files (rounds), comma separated: their\n"
		"                    samples are pooled before the medians are taken. V: a\n"
		"                    variant of ours (e.g. another module setting), whose\n"
		"                    fault-back figures are shown against A\n"
		"  --variant TEXT    what this run's driver setting is (recorded in the JSON)\n"
		"  --cpu N           run on CPU N only (the process's mm then never runs\n"
		"                    elsewhere: no TLB shootdown IPIs, less noise under TCG)\n"
		"Every measured case migrates a pattern to the device and back and checks\n"
		"it; a driver that loses data fails rather than looks fast.\n", MAX_RUNS);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max || *s == '-')
		return -1;
	*out = v;
	return 0;
}

/*
 * A comma separated list of sizes in MiB (even, 2..@max_mib, an 'M' suffix
 * allowed) into @sizes[MAX_SIZES]; with @runs, SIZE:RUNS sets the runs of
 * that size (0: the default). Returns the count, or -1 after saying why.
 */
int parse_size_list(const char *what, const char *arg, unsigned long max_mib,
		    unsigned long *sizes, int *runs)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = runs ? strchr(tok, ':') : NULL;
		unsigned long mib, r = 0;
		size_t l;

		if (colon) {
			*colon = 0;
			if (parse_uint(colon + 1, MAX_RUNS, &r)) {
				note("%s: bad run count '%s'", what, colon + 1);
				goto bad;
			}
		}
		l = strlen(tok);
		if (l && (tok[l - 1] == 'M' || tok[l - 1] == 'm'))
			tok[l - 1] = 0;
		if (parse_uint(tok, max_mib, &mib) || mib % 2) {
			note("%s: bad size '%s' (MiB, an even number, 2..%lu)", what,
			     tok, max_mib);
			goto bad;
		}
		if (n == MAX_SIZES) {
			note("%s: at most %d sizes", what, MAX_SIZES);
			goto bad;
		}
		sizes[n] = mib;
		if (runs)
			runs[n] = r;
		n++;
	}
	free(copy);
	if (!n)
		note("%s: empty list", what);
	return n ? n : -1;
bad:
	free(copy);
	return -1;
}

static int parse_sizes(const char *arg)
{
	int n = parse_size_list("--sizes", arg, 16384, opt.sizes, opt.size_runs);

	if (n < 0)
		return -1;
	opt.nsizes = n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "sizes", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "modes", required_argument, NULL, 'm' },
		{ "label", required_argument, NULL, 'l' },
		{ "json", required_argument, NULL, 'j' },
		{ "quick", no_argument, NULL, 'q' },
		{ "no-warmup", no_argument, NULL, 'W' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "compare", no_argument, NULL, 'c' },
		{ "peer", required_argument, NULL, 'P' },
		{ "variant", required_argument, NULL, 'V' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "peer-sizes", required_argument, NULL, 'S' },
		{ "importer", required_argument, NULL, 'I' },
		{ "mirror-map", required_argument, NULL, 'M' },
		{ "storm-us", required_argument, NULL, 'U' },
		{ "storm-secs", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, i, mo, fd, compare = 0, failed = 0, sizes_given = 0, runs_given = 0;
	int cpu = -1;
	unsigned long v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_sizes("2,8,64,256");
	while ((c = getopt_long(argc, argv, "d:s:r:m:l:j:qWvchP:S:V:C:I:U:T:M:", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			opt.dev = optarg;
			break;
		case 's':
			if (parse_sizes(optarg))
				return 2;
			sizes_given = 1;
			break;
		case 'r':
			if (parse_uint(optarg, MAX_RUNS, &v)) {
				note("bad --runs '%s' (1..%d)", optarg, MAX_RUNS);
				return 2;
			}
			opt.runs = v;
			runs_given = 1;
			break;
		case 'm':
			opt.modes[MODE_4K] = !!strstr(optarg, "4k");
			opt.modes[MODE_THP] = !!strstr(optarg, "thp");
			if (!opt.modes[MODE_4K] && !opt.modes[MODE_THP]) {
				note("bad --modes '%s' (4k, thp or 4k,thp)", optarg);
				return 2;
			}
			break;
		case 'l':
			opt.label = optarg;
			break;
		case 'j':
			opt.json = optarg;
			break;
		case 'q':
			if (!sizes_given)
				parse_sizes("2,64");
			if (!runs_given)
				opt.runs = 3;
			break;
		case 'W':
			opt.warmup = 0;
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case 'c':
			compare = 1;
			break;
		case 'C':
			if (parse_uint(optarg, CPU_SETSIZE - 1, &v) && strcmp(optarg, "0")) {
				note("bad --cpu '%s'", optarg);
				return 2;
			}
			cpu = strcmp(optarg, "0") ? (int)v : 0;
			break;
		case 'V':
			opt.variant = optarg;
			break;
		case 'P':
			if (peer_parse(optarg))
				return 2;
			break;
		case 'S':
			if (peer_parse_sizes(optarg))
				return 2;
			break;
		case 'I':
			if (importer_parse(optarg))
				return 2;
			break;
		case 'M':
			if (mirrormap_parse(optarg))
				return 2;
			break;
		case 'U':
			if (importer_parse_periods(optarg))
				return 2;
			break;
		case 'T':
			if (importer_parse_secs(optarg))
				return 2;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	if (compare) {
		if (argc - optind < 2 || argc - optind > 4) {
			note("%s",
			     "--compare takes UPSTREAM OURS [FAULT-VARIANT [MIGRATION-VARIANT]] (each a JSON file, or several, comma separated)");
			return 2;
		}
		const char *fa = argc - optind >= 3 ? argv[optind + 2] : "";
		const char *kp = argc - optind == 4 ? argv[optind + 3] : "";

		/* an empty variant argument: that variant was not run */
		return do_compare(argv[optind], argv[optind + 1], *fa ? fa : NULL,
				  *kp ? kp : NULL);
	}
	if (optind != argc) {
		note("unexpected argument '%s'", argv[optind]);
		print_usage(stderr);
		return 2;
	}

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			note("--cpu %d: %s", cpu, strerror(errno));
			return 2;
		}
	}
	if (importer_enabled())
		return importer_run() ? 1 : 0;
	if (mirrormap_enabled())
		return mirrormap_run() ? 1 : 0;
	fd = open(opt.dev, O_RDWR);
	if (fd < 0) {
		set_error(fatal_error, sizeof(fatal_error),
			  "cannot open %s: %s (is test_hmm or hmm_p2p_test loaded?)",
			  opt.dev, strerror(errno));
		if (opt.json)
			write_json(opt.json);
		return 2;
	}
	probe_extensions(fd);
	note("%s on %s: sizes", opt.label, opt.dev);
	for (i = 0; i < opt.nsizes; i++)
		fprintf(stderr, " %luM:%d", opt.sizes[i],
			opt.size_runs[i] ? opt.size_runs[i] : opt.runs);
	fprintf(stderr, " (MiB:runs), copy limit %s\n", copy_note);

	for (i = 0; i < opt.nsizes && !fatal_error[0]; i++) {
		int runs = opt.size_runs[i] ? opt.size_runs[i] : opt.runs;

		for (mo = 0; mo < NR_MODES && !fatal_error[0]; mo++) {
			struct result *r;
			double t0 = now_ns();
			int ret;

			if (!opt.modes[mo])
				continue;
			r = &results[nresults++];
			r->size_mib = opt.sizes[i];
			r->mode = mo;
			r->runs = runs;
			ret = run_case(r, fd);
			note("%4luM %-3s %s (%.1f s)", r->size_mib, mode_name[mo],
			     ret ? "FAILED" : "done", (now_ns() - t0) / 1e9);
			if (ret) {
				failed = 1;
				/* a driver without the interface fails everywhere */
				if (ret == -ENOTTY || ret == -EINVAL || ret == -ENOMEM)
					snprintf(fatal_error, sizeof(fatal_error),
						 "%luM %s: %s", r->size_mib,
						 mode_name[mo], r->error);
			}
		}
		copies[i].size_mib = opt.sizes[i];
		if (copy_supported == 1 && !fatal_error[0])
			run_copy(&copies[i], fd, runs);
	}
	close(fd);
	if (peer_enabled() && !fatal_error[0] && peer_run(opt.runs))
		failed = 1;
	print_table(stdout);
	peer_print(stdout);
	if (opt.json && write_json(opt.json))
		failed = 1;
	return failed || fatal_error[0] ? 1 : 0;
}
