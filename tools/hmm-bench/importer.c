// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-bench --importer: an ODP-style importer under an invalidation storm,
 * and what prefetching (HMM_P2P_IOC_PREFETCH, the ibv_advise_mr of an RDMA
 * NIC's on-demand-paging memory region) buys on first touch.
 *
 * Storm: a range of 1 MiB lives on the exporter (HMM_DMIRROR_MIGRATE_TO_DEV
 * on its node) or in system memory. Pass after pass, the importer's mirror
 * entries are dropped (untimed: the exporter takes the range back, which
 * undoes an earlier migration, and an mprotect toggle of the whole range),
 * then the importer reads the range one page per HMM_DMIRROR_READ, each
 * read a device fault, timed. Meanwhile another thread toggles the
 * protection of one page of the range (PROT_READ, then read-write again:
 * two invalidations) every PERIOD microseconds, on absolute deadlines; the
 * rate it achieved is reported (TCG may not reach the one asked for). Both
 * threads run on CPU 1 (see pin()).
 * Reported per case: fault latency p50/p99/max, the importer's retries
 * (HMM_P2P_IOC_STATS: interval sequence retries, hmm_range_fault -EBUSY,
 * timeouts, the longest fault round) and how its pages were mapped (P2P or
 * migrated). A fault round that ran into HMM_RANGE_DEFAULT_TIMEOUT (1 s:
 * a timeout, or a round as long), EBUSY, any error or wrong data fails the
 * run; a READ over 1 s by the clock is counted ("slow").
 *
 * Prefetch: a 16 MiB range on the exporter, read by the importer one page
 * per READ (first touch) with no prefetch, after a synchronous prefetch
 * (its own time reported apart), and right after an asynchronous one was
 * queued (the touches race the worker); medians of PF_RUNS passes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define IMP_MAX		2
#define STORM_PAGES	256UL
#define PF_PAGES	4096UL
#define PF_RUNS		3
#define MAX_PERIODS	4
#define MAX_SAMPLES	(1024UL * 1024)
#define HMM_TIMEOUT_US	1e6	/* HMM_RANGE_DEFAULT_TIMEOUT */

struct storm_case {
	const char *imp;
	int on_exp;		/* pages live on the exporter, else system memory */
	long period_us;		/* 0: no storm */
	double secs;
	unsigned long reads, faults, toggles, errors, ebusy, bad, slow;
	double p50, p99, max, rate;
	unsigned long long seq, busy, timeouts, max_ns, p2p, no_path;
	int failed;
};

struct pf_case {
	const char *imp;
	double none_ms, sync_pf_ms, sync_touch_ms, async_touch_ms, async_all_ms;
	unsigned long none_faults, sync_faults, async_faults;
	int failed;
};

static struct {
	char *exp;
	char *imp[IMP_MAX];
	int nimp;
	long periods[MAX_PERIODS];
	int nperiods;
	double secs;
	struct storm_case sc[IMP_MAX * 2 * (MAX_PERIODS + 1)];
	int nsc;
	struct pf_case pc[IMP_MAX];
	int npc;
	double *samples;
} imp = {
	.periods = { 100, 1000 },
	.nperiods = 2,
	.secs = 4,
};

int importer_enabled(void)
{
	return !!imp.exp;
}

/* --importer EXPORTER,IMPORTER[,IMPORTER] */
int importer_parse(const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!n)
			imp.exp = tok;
		else if (n <= IMP_MAX)
			imp.imp[n - 1] = tok;
		n++;
	}
	if (n < 2 || n > IMP_MAX + 1) {
		note("--importer: an exporter and 1..%d importers, comma separated", IMP_MAX);
		imp.exp = NULL;
		return -1;
	}
	imp.nimp = n - 1;
	return 0;
}

/* --storm-us LIST: invalidation periods in microseconds */
int importer_parse_periods(const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL, *end;
	int n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long v = strtol(tok, &end, 10);

		if (*end || v < 10 || v > 1000000 || n == MAX_PERIODS) {
			note("--storm-us: 1..%d periods of 10..1000000 us", MAX_PERIODS);
			free(copy);
			return -1;
		}
		imp.periods[n++] = v;
	}
	free(copy);
	imp.nperiods = n;
	return n ? 0 : -1;
}

int importer_parse_secs(const char *arg)
{
	char *end;
	double v = strtod(arg, &end);

	if (*end || v < 0.5 || v > 60) {
		note("--storm-secs: 0.5..60");
		return -1;
	}
	imp.secs = v;
	return 0;
}

static int get_stats(int fd, struct hmm_p2p_stats *st, int reset)
{
	union {
		struct hmm_p2p_stats s;
		unsigned char pad[512];
	} u;

	memset(&u, 0, sizeof(u));
	u.s.size = sizeof(u.s);
	u.s.reset = reset;
	if (ioctl(fd, HMM_P2P_IOC_STATS, &u))
		return -errno;
	*st = u.s;
	return 0;
}

static double mono_us(void)
{
	return now_ns() / 1e3;
}

struct storm {
	char *buf;
	unsigned long npages;
	long period_us;
	int stop;
	unsigned long toggles;
	unsigned long errors;
	double t0, t1;
};

/*
 * Reader and storm share one CPU (CPU 1 when there are two or more): the
 * storm thread sleeps to its deadlines and preempts the reader when one
 * comes. On two CPUs, each mprotect of a present page would need a TLB
 * shootdown IPI to the reader's vCPU, which under TCG costs milliseconds
 * (the storm on system pages then reached 50 toggles a second).
 */
static void pin(void)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *storm_fn(void *arg)
{
	struct storm *s = arg;
	struct timespec next;
	unsigned long k = 0;

	clock_gettime(CLOCK_MONOTONIC, &next);
	s->t0 = mono_us();
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		char *p = s->buf + ((k * 37) % s->npages) * PAGE_SZ;

		if (mprotect(p, PAGE_SZ, PROT_READ) ||
		    mprotect(p, PAGE_SZ, PROT_READ | PROT_WRITE))
			s->errors++;
		k++;
		next.tv_nsec += s->period_us * 1000;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	s->t1 = mono_us();
	s->toggles = k;
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, unsigned long n, double p)
{
	unsigned long i = (unsigned long)(p * (n - 1) + 0.5);

	return n ? v[i] : 0;
}

/* Untimed: the importer's entries for the range go. */
static int drop_entries(int efd, char *buf, size_t size, void *scratch, int on_exp)
{
	struct hmm_dmirror_cmd c;

	/* pages an importer without a path migrated come back to the exporter */
	if (on_exp && dcmd(efd, HMM_DMIRROR_MIGRATE_TO_DEV, buf, scratch, size / PAGE_SZ, &c))
		return -1;
	if (mprotect(buf, size, PROT_READ) || mprotect(buf, size, PROT_READ | PROT_WRITE))
		return -1;
	return 0;
}

static void storm_one(struct storm_case *r, int efd, int ifd)
{
	size_t size = STORM_PAGES * PAGE_SZ;
	struct storm s = { .npages = STORM_PAGES, .period_us = r->period_us };
	struct hmm_p2p_stats st;
	char *buf, *ref, *scratch, page[PAGE_SZ];
	unsigned long n = 0, i;
	double t_end;
	pthread_t t;
	int ret;

	buf = buf_alloc(size, 0);
	ref = malloc(size);
	scratch = malloc(size);
	if (!buf || !ref || !scratch) {
		r->failed = 1;
		return;
	}
	fill(buf, size, 0x5100 + r->period_us);
	memcpy(ref, buf, size);
	if (drop_entries(efd, buf, size, scratch, r->on_exp)) {
		note("importer: %s: cannot set the range up: %s", r->imp, strerror(errno));
		r->failed = 1;
		goto out;
	}
	get_stats(ifd, &st, 1);
	s.buf = buf;
	if (r->period_us && pthread_create(&t, NULL, storm_fn, &s)) {
		r->failed = 1;
		goto out;
	}
	t_end = mono_us() + r->secs * 1e6;
	while (mono_us() < t_end && n < MAX_SAMPLES) {
		if (drop_entries(efd, buf, size, scratch, r->on_exp)) {
			r->errors++;
			break;
		}
		for (i = 0; i < STORM_PAGES && n < MAX_SAMPLES; i++) {
			struct hmm_dmirror_cmd c;
			double a = mono_us(), dt;

			ret = dcmd(ifd, HMM_DMIRROR_READ, buf + i * PAGE_SZ, page, 1, &c);
			dt = mono_us() - a;
			imp.samples[n++] = dt;
			r->faults += ret ? 0 : c.faults;
			if (dt > HMM_TIMEOUT_US)
				r->slow++;
			if (ret == -EBUSY)
				r->ebusy++;
			else if (ret)
				r->errors++;
			else if (memcmp(page, ref + i * PAGE_SZ, PAGE_SZ))
				r->bad++;
		}
		if (mono_us() >= t_end)
			break;
	}
	if (r->period_us) {
		__atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
		pthread_join(t, NULL);
		r->toggles = s.toggles;
		r->rate = s.t1 > s.t0 ? s.toggles / ((s.t1 - s.t0) / 1e6) : 0;
		r->errors += s.errors;
	}
	get_stats(ifd, &st, 0);
	r->seq = st.mirror_seq_retries;
	r->busy = st.mirror_busy_retries;
	r->timeouts = st.mirror_fault_timeouts;
	r->max_ns = st.mirror_fault_max_ns;
	r->p2p = st.p2p_mappings;
	r->no_path = st.p2p_fallback_no_path;
	r->reads = n;
	qsort(imp.samples, n, sizeof(double), cmp_double);
	r->p50 = pct(imp.samples, n, 0.5);
	r->p99 = pct(imp.samples, n, 0.99);
	r->max = n ? imp.samples[n - 1] : 0;
	/*
	 * The rule is the kernel's: no fault round may run into
	 * hmm_range_fault's timeout (the importer's counters, and its longest
	 * round). A READ's own time adds whatever held the reader up (a
	 * stalled host under TCG: 0.9 s seen with a 4 ms longest round), so
	 * reads over 1 s are counted and reported, not failed.
	 */
	if (!n || r->ebusy || r->errors || r->bad || r->timeouts || r->max_ns >= 1000000000ULL)
		r->failed = 1;
out:
	munmap(buf, size);
	free(ref);
	free(scratch);
}

/* One first-touch pass: every page of the range read once, one per READ. */
static int touch(int ifd, char *buf, const char *ref, unsigned long npages, double *ms,
		 unsigned long *faults)
{
	char page[PAGE_SZ];
	double t0 = mono_us();
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct hmm_dmirror_cmd c;

		if (dcmd(ifd, HMM_DMIRROR_READ, buf + i * PAGE_SZ, page, 1, &c) ||
		    memcmp(page, ref + i * PAGE_SZ, PAGE_SZ))
			return -1;
		*faults += c.faults;
	}
	*ms = (mono_us() - t0) / 1e3;
	return 0;
}

static int pf_cmd(int fd, char *buf, unsigned long npages, unsigned int flags)
{
	struct hmm_p2p_prefetch_cmd c = {
		.addr = (uintptr_t)buf, .npages = npages, .flags = flags,
	};

	return ioctl(fd, HMM_P2P_IOC_PREFETCH, &c) ? -errno : 0;
}

static int pf_wait(int fd)
{
	struct hmm_p2p_stats st;
	int i;

	for (i = 0; i < 6000; i++) {
		if (get_stats(fd, &st, 0))
			return -1;
		if (st.prefetch_async_done + st.prefetch_async_failed >= st.prefetch_async_queued)
			return st.prefetch_async_failed ? -1 : 0;
		usleep(5000);
	}
	return -1;
}

static void prefetch_once(struct pf_case *r, int efd, int ifd)
{
	size_t size = PF_PAGES * PAGE_SZ;
	char *buf = buf_alloc(size, 0), *ref = malloc(size), *scratch = malloc(size);
	double t0, ms;

	if (!buf || !ref || !scratch)
		goto fail;
	fill(buf, size, 0x5200);
	memcpy(ref, buf, size);

	/* no prefetch */
	if (drop_entries(efd, buf, size, scratch, 1) ||
	    touch(ifd, buf, ref, PF_PAGES, &r->none_ms, &r->none_faults))
		goto fail;
	/* synchronous prefetch, then the touches */
	if (drop_entries(efd, buf, size, scratch, 1))
		goto fail;
	t0 = mono_us();
	if (pf_cmd(ifd, buf, PF_PAGES, 0))
		goto fail;
	r->sync_pf_ms = (mono_us() - t0) / 1e3;
	if (touch(ifd, buf, ref, PF_PAGES, &r->sync_touch_ms, &r->sync_faults))
		goto fail;
	/* asynchronous: queued, then touched at once */
	if (drop_entries(efd, buf, size, scratch, 1))
		goto fail;
	get_stats(ifd, &(struct hmm_p2p_stats){ 0 }, 1);
	t0 = mono_us();
	if (pf_cmd(ifd, buf, PF_PAGES, HMM_P2P_PREFETCH_ASYNC) ||
	    touch(ifd, buf, ref, PF_PAGES, &r->async_touch_ms, &r->async_faults) ||
	    pf_wait(ifd))
		goto fail;
	ms = (mono_us() - t0) / 1e3;
	r->async_all_ms = ms;
	goto out;
fail:
	note("importer: prefetch on %s failed: %s", r->imp, strerror(errno));
	r->failed = 1;
out:
	if (buf)
		munmap(buf, size);
	free(ref);
	free(scratch);
}

static double med3(double a, double b, double c)
{
	double v[3] = { a, b, c };

	qsort(v, 3, sizeof(double), cmp_double);
	return v[1];
}

/* PF_RUNS passes of each; the medians (fault counts: the last pass's). */
static void prefetch_one(struct pf_case *r, int efd, int ifd)
{
	struct pf_case p[PF_RUNS];
	int i;

	for (i = 0; i < PF_RUNS; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].imp = r->imp;
		prefetch_once(&p[i], efd, ifd);
		r->failed |= p[i].failed;
	}
	if (r->failed)
		return;
	r->none_ms = med3(p[0].none_ms, p[1].none_ms, p[2].none_ms);
	r->sync_pf_ms = med3(p[0].sync_pf_ms, p[1].sync_pf_ms, p[2].sync_pf_ms);
	r->sync_touch_ms = med3(p[0].sync_touch_ms, p[1].sync_touch_ms, p[2].sync_touch_ms);
	r->async_touch_ms = med3(p[0].async_touch_ms, p[1].async_touch_ms, p[2].async_touch_ms);
	r->async_all_ms = med3(p[0].async_all_ms, p[1].async_all_ms, p[2].async_all_ms);
	r->none_faults = p[PF_RUNS - 1].none_faults;
	r->sync_faults = p[PF_RUNS - 1].sync_faults;
	r->async_faults = p[PF_RUNS - 1].async_faults;
}

static void print_results(FILE *o)
{
	int i;

	fprintf(o, "importer: fault latency, single-page device READs of a %lu KiB range,",
		STORM_PAGES * PAGE_SZ / 1024);
	fprintf(o, " one mprotect toggle of a page every PERIOD us meanwhile");
	fprintf(o, " (us; the counters are the device's STATS, mirror_fault_max_ns in us)\n");
	fprintf(o, "importer: %-16s %-6s %7s %9s %8s %8s %9s %7s %18s %19s %21s %19s %12s %20s\n",
		"importer", "pages", "period", "rate/s", "p50_us", "p99_us", "max_us", "reads",
		"mirror_seq_retries", "mirror_busy_retries", "mirror_fault_timeouts",
		"mirror_fault_max_us", "p2p_mappings", "p2p_fallback_no_path");
	for (i = 0; i < imp.nsc; i++) {
		struct storm_case *r = &imp.sc[i];

		fprintf(o, "importer: %-16s %-6s %7ld %9.0f %8.1f %8.1f %9.1f %7lu",
			r->imp, r->on_exp ? "exp" : "system", r->period_us, r->rate, r->p50,
			r->p99, r->max, r->reads);
		fprintf(o, " %18llu %19llu %21llu %19llu %12llu %20llu%s\n",
			r->seq, r->busy, r->timeouts,
			r->max_ns / 1000, r->p2p, r->no_path, r->failed ? "  FAILED" : "");
		if (r->failed || r->slow)
			fprintf(o, "importer:   %s: slow=%lu (> 1 s) ebusy=%lu errors=%lu",
				r->failed ? "failure" : "note", r->slow, r->ebusy, r->errors);
		if (r->failed || r->slow)
			fprintf(o, " bad=%lu mirror_fault_timeouts=%llu\n", r->bad, r->timeouts);
	}
	fprintf(o, "importer: first touch of %lu MiB on the exporter, a page a READ",
		PF_PAGES * PAGE_SZ >> 20);
	fprintf(o, " (ms, median of %d; faults)\n", PF_RUNS);
	for (i = 0; i < imp.npc; i++) {
		struct pf_case *r = &imp.pc[i];

		fprintf(o, "importer: %-16s none %.1f (%lu) | sync prefetch %.1f + touch %.1f",
			r->imp, r->none_ms, r->none_faults, r->sync_pf_ms, r->sync_touch_ms);
		fprintf(o, " (%lu) | async: touch %.1f (%lu), all done %.1f",
			r->sync_faults, r->async_touch_ms, r->async_faults, r->async_all_ms);
		fprintf(o, " | gain: touch %.1fx, sync total %.2fx, async %.2fx%s\n",
			r->sync_touch_ms > 0 ? r->none_ms / r->sync_touch_ms : 0,
			r->sync_pf_ms + r->sync_touch_ms > 0 ?
			r->none_ms / (r->sync_pf_ms + r->sync_touch_ms) : 0,
			r->async_touch_ms > 0 ? r->none_ms / r->async_touch_ms : 0,
			r->failed ? "  FAILED" : "");
	}
}

/* The summary: the first importer, pages on the exporter, at each period. */
static void print_summary(FILE *o)
{
	int i;

	fprintf(o, "importer summary:");
	for (i = 0; i < imp.nsc; i++) {
		struct storm_case *r = &imp.sc[i];

		if (!r->on_exp || !r->period_us)
			continue;
		fprintf(o, " %s@%ldus(%.0f/s) p50=%.0f p99=%.0f max=%.0f",
			strrchr(r->imp, '/') ? strrchr(r->imp, '/') + 1 : r->imp, r->period_us,
			r->rate, r->p50, r->p99, r->max);
		fprintf(o, " mirror_fault_max_us=%llu mirror_retries=%llu", r->max_ns / 1000,
			r->seq + r->busy);
		fprintf(o, " mirror_fault_timeouts=%llu slow=%lu;", r->timeouts, r->slow);
	}
	for (i = 0; i < imp.npc; i++) {
		struct pf_case *r = &imp.pc[i];

		fprintf(o, " prefetch %s: touch %.1fx, sync total %.2fx;",
			strrchr(r->imp, '/') ? strrchr(r->imp, '/') + 1 : r->imp,
			r->sync_touch_ms > 0 ? r->none_ms / r->sync_touch_ms : 0,
			r->sync_pf_ms + r->sync_touch_ms > 0 ?
			r->none_ms / (r->sync_pf_ms + r->sync_touch_ms) : 0);
	}
	fprintf(o, "\n");
}

/* Run it all; 0 when every case passed. */
int importer_run(void)
{
	int efd, ifd[IMP_MAX], i, j, k, failed = 0;

	pin();
	imp.samples = malloc(MAX_SAMPLES * sizeof(double));
	efd = open(imp.exp, O_RDWR);
	if (efd < 0 || !imp.samples) {
		note("importer: cannot open %s: %s", imp.exp, strerror(errno));
		return 1;
	}
	for (i = 0; i < imp.nimp; i++) {
		ifd[i] = open(imp.imp[i], O_RDWR);
		if (ifd[i] < 0) {
			note("importer: cannot open %s: %s", imp.imp[i], strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < imp.nimp; i++) {
		for (k = 1; k >= 0; k--) {
			/* system memory: the first importer only */
			if (!k && i)
				continue;
			for (j = -1; j < imp.nperiods; j++) {
				struct storm_case *r = &imp.sc[imp.nsc++];

				r->imp = imp.imp[i];
				r->on_exp = k;
				r->period_us = j < 0 ? 0 : imp.periods[j];
				r->secs = j < 0 ? imp.secs / 2 : imp.secs;
				storm_one(r, efd, ifd[i]);
				note("importer: %s %s period %ld us: %s", r->imp,
				     k ? "exporter's pages" : "system pages", r->period_us,
				     r->failed ? "FAILED" : "done");
				failed |= r->failed;
			}
		}
	}
	for (i = 0; i < imp.nimp; i++) {
		struct pf_case *r = &imp.pc[imp.npc++];

		r->imp = imp.imp[i];
		prefetch_one(r, efd, ifd[i]);
		failed |= r->failed;
	}
	for (i = 0; i < imp.nimp; i++)
		close(ifd[i]);
	close(efd);
	print_results(stdout);
	print_summary(stdout);
	free(imp.samples);
	return failed;
}
