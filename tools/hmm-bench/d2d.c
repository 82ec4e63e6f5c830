// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-bench --peer, device to device: moving a range from the exporter's
 * memory to an importer's, two ways, each on a fresh range with its own
 * pattern, for 4 KiB pages and THPs:
 *
 *   move     HMM_P2P_IOC_MIGRATE_PEERS on the importer: its driver moves
 *            the pages device to device where the two share a P2P group
 *            (the importer's engine reads the exporter's BAR), and through
 *            system memory where they do not
 *   bounce   what a driver without device-to-device moves does: the
 *            exporter moves the range to system memory
 *            (HMM_DMIRROR_MIGRATE_TO_SYS), then the importer takes it
 *            (HMM_P2P_IOC_MIGRATE_PEERS of system pages), timed as one
 *
 * Neither reads the data back in the timing; the CPU checks every byte
 * after each. The path the move took comes from the importer's STATS
 * (migrated_from_peer, bounced). The summary line, in --compare, is the
 * 64 MiB 4 KiB move through the switch against its bounce.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define D2D_MAX		(MAX_SIZES * 4 * 2)

struct d2d_result {
	unsigned long size_mib;
	const char *imp;
	int thp;
	int ok;
	char error[256];
	struct series move;	/* GiB/s */
	struct series bounce;	/* GiB/s */
	unsigned long long from_peer, bounced, pages;	/* the moves' paths */
};

static struct {
	const char *exp;
	struct d2d_result res[D2D_MAX];
	int nres;
} d2d;

/* A fresh range of @size with the pattern of @seed, on the exporter. */
static void *d2d_resident(struct d2d_result *r, int efd, size_t size, uint64_t seed,
			  void *out)
{
	unsigned long npages = size / PAGE_SZ;
	struct hmm_dmirror_cmd c;
	void *buf = buf_alloc(size, r->thp);
	int ret;

	if (!buf) {
		set_error(r->error, sizeof(r->error), "cannot map %zu bytes", size);
		return NULL;
	}
	fill(buf, size, seed);
	ret = dcmd(efd, HMM_DMIRROR_MIGRATE_TO_DEV, buf, out, npages, &c);
	if (ret || c.cpages != npages) {
		set_error(r->error, sizeof(r->error), "%s: MIGRATE_TO_DEV: %s, cpages=%llu",
			  d2d.exp, ret ? strerror(-ret) : "short",
			  (unsigned long long)c.cpages);
		munmap(buf, size);
		return NULL;
	}
	return buf;
}

/* Timed MIGRATE_PEERS of the whole range on @ifd: every page must move. */
static int d2d_take(struct d2d_result *r, int ifd, void *buf, size_t size, double *ns)
{
	unsigned long npages = size / PAGE_SZ;
	struct hmm_dmirror_cmd c;
	double t0 = now_ns();
	int ret;

	ret = dcmd(ifd, HMM_P2P_IOC_MIGRATE_PEERS, buf, NULL, npages, &c);
	*ns += now_ns() - t0;
	if (ret || c.cpages != npages) {
		set_error(r->error, sizeof(r->error),
			  "%s: MIGRATE_PEERS of %lu pages: %s, cpages=%llu", r->imp, npages,
			  ret ? strerror(-ret) : "short", (unsigned long long)c.cpages);
		return ret ? ret : -EIO;
	}
	return 0;
}

static int d2d_verify(struct d2d_result *r, void *buf, size_t size, uint64_t seed,
		      const char *what)
{
	long bad = verify(buf, size, seed);

	if (bad < 0)
		return 0;
	set_error(r->error, sizeof(r->error), "%s: the CPU reads wrong data at offset %ld",
		  what, bad);
	return -EIO;
}

static double d2d_gibps(size_t size, double ns)
{
	return (double)size / (1 << 30) / (ns / 1e9);
}

static int d2d_one(struct d2d_result *r, int efd, int ifd, void *out, int run, int timed)
{
	size_t size = r->size_mib * MIB;
	uint64_t seed = 0x9000 + (uint64_t)run * 37 + r->size_mib * 5 + r->thp;
	struct hmm_p2p_stats s0, s1;
	struct hmm_dmirror_cmd c;
	double ns = 0;
	void *buf;
	int ret;

	buf = d2d_resident(r, efd, size, seed, out);
	if (!buf)
		return -EIO;
	ret = bench_stats(ifd, &s0);
	ret = ret ?: d2d_take(r, ifd, buf, size, &ns);
	ret = ret ?: bench_stats(ifd, &s1);
	if (!ret && timed) {
		series_add(&r->move, d2d_gibps(size, ns));
		r->from_peer += s1.migrated_from_peer - s0.migrated_from_peer;
		r->bounced += s1.bounced - s0.bounced;
		r->pages += size / PAGE_SZ;
	}
	ret = ret ?: d2d_verify(r, buf, size, seed, "after the move");
	munmap(buf, size);
	if (ret)
		return ret;

	seed ^= 0x77;
	buf = d2d_resident(r, efd, size, seed, out);
	if (!buf)
		return -EIO;
	ns = 0;
	{
		double t0 = now_ns();

		ret = dcmd(efd, HMM_DMIRROR_MIGRATE_TO_SYS, buf, NULL, size / PAGE_SZ, &c);
		ns = now_ns() - t0;
	}
	if (ret)
		set_error(r->error, sizeof(r->error), "%s: MIGRATE_TO_SYS: %s", d2d.exp,
			  strerror(-ret));
	ret = ret ?: d2d_take(r, ifd, buf, size, &ns);
	if (!ret && timed)
		series_add(&r->bounce, d2d_gibps(size, ns));
	ret = ret ?: d2d_verify(r, buf, size, seed, "after the bounce");
	munmap(buf, size);
	return ret;
}

static const char *d2d_path(const struct d2d_result *r)
{
	if (!r->pages)
		return "n/a";
	if (r->from_peer == r->pages && !r->bounced)
		return "p2p";
	if (r->bounced == r->pages && !r->from_peer)
		return "bounce";
	return "mixed";
}

/**
 * d2d_run() - time device-to-device moves from @exp to each importer
 * @exp: the exporter's device node
 * @imps: the importers' nodes
 * @nimp: how many
 * @sizes: range sizes, MiB
 * @nsizes: how many
 * @runs: timed runs per case (after one untimed warm-up)
 *
 * Return: 0, or -1 if a case failed (its error is recorded).
 */
int d2d_run(const char *exp, char *const *imps, int nimp, const unsigned long *sizes,
	    int nsizes, int runs)
{
	size_t maxsize = 0;
	int efd, i, k, thp, run, failed = 0;
	void *out;

	d2d.exp = exp;
	for (i = 0; i < nsizes; i++)
		if (sizes[i] * MIB > maxsize)
			maxsize = sizes[i] * MIB;
	efd = open(exp, O_RDWR);
	out = mmap(NULL, maxsize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (efd < 0 || out == MAP_FAILED) {
		if (efd >= 0)
			close(efd);
		return -1;
	}
	for (k = 0; k < nimp; k++) {
		int ifd = open(imps[k], O_RDWR);

		if (ifd < 0) {
			failed = 1;
			continue;
		}
		for (i = 0; i < nsizes; i++) {
			for (thp = 0; thp < 2 && d2d.nres < D2D_MAX; thp++) {
				struct d2d_result *r = &d2d.res[d2d.nres++];
				double t0 = now_ns();
				int ret = 0;

				r->size_mib = sizes[i];
				r->imp = imps[k];
				r->thp = thp;
				for (run = -1; run < runs && !ret; run++)
					ret = d2d_one(r, efd, ifd, out, run, run >= 0);
				r->ok = !ret;
				failed |= !!ret;
				note("dev-to-dev %4luM %s %s <- %s: %s, path %s (%.1f s)",
				     r->size_mib, thp ? "thp" : "4k ", r->imp, exp,
				     ret ? "FAILED" : "done", d2d_path(r), (now_ns() - t0) / 1e9);
			}
		}
		close(ifd);
	}
	munmap(out, maxsize);
	close(efd);
	return failed ? -1 : 0;
}

void d2d_print(FILE *o)
{
	int i;

	if (!d2d.nres)
		return;
	fprintf(o, "\ndevice to device: ranges on %s moved to another device; GiB/s medians\n",
		d2d.exp);
	fprintf(o, "  move: MIGRATE_PEERS on the importer; bounce: MIGRATE_TO_SYS on the\n"
		   "  exporter, then MIGRATE_PEERS, timed as one\n");
	fprintf(o, "%6s %-4s %-16s %-7s %9s %9s %9s\n", "size", "mode", "importer", "path",
		"move", "bounce", "move/b");
	for (i = 0; i < d2d.nres; i++) {
		const struct d2d_result *r = &d2d.res[i];
		char b[3][24];

		fmtnum(b[0], 24, med(&r->move), "%.3f");
		fmtnum(b[1], 24, med(&r->bounce), "%.3f");
		ratio_str(b[2], 24, med(&r->bounce), med(&r->move));
		fprintf(o, "%5luM %-4s %-16s %-7s %9s %9s %9s\n", r->size_mib,
			r->thp ? "thp" : "4k", r->imp, d2d_path(r), b[0], b[1], b[2]);
		if (!r->ok)
			fprintf(o, "       FAILED: %s\n", r->error);
	}
}

/* The "d2d" member of the JSON document (with its leading comma). */
void d2d_json(FILE *f)
{
	int i;

	if (!d2d.nres)
		return;
	fputs(",\n \"d2d\": [", f);
	for (i = 0; i < d2d.nres; i++) {
		const struct d2d_result *r = &d2d.res[i];

		fprintf(f, "%s\n  {\"size_mib\": %lu, \"thp\": %d, \"importer\": ", i ? "," : "",
			r->size_mib, r->thp);
		json_str(f, r->imp);
		fprintf(f, ", \"ok\": %s, \"error\": ", r->ok ? "true" : "false");
		json_str(f, r->error);
		fputs(", \"path\": ", f);
		json_str(f, d2d_path(r));
		json_series(f, "move_gibps", &r->move);
		json_series(f, "bounce_gibps", &r->bounce);
		fputs("}", f);
	}
	fputs("]", f);
}

/* One figure's median over every round's samples of a row; NAN if none. */
static double d2d_metric(const struct docset *ds, const struct jv *row, const char *name)
{
	static double v[MAX_DOCS * MAX_RUNS];
	int i, k, n = 0;

	for (k = 0; k < ds->n; k++) {
		const struct jv *a = jget(ds->d[k], "d2d");

		for (i = 0; a && a->t == J_ARR && i < a->n; i++)
			if (jnum(jget(a->items[i], "size_mib")) == jnum(jget(row, "size_mib")) &&
			    jnum(jget(a->items[i], "thp")) == jnum(jget(row, "thp")) &&
			    !strcmp(jstr(a->items[i], "importer"), jstr(row, "importer")))
				add_samples(jget(a->items[i], name), v, &n, MAX_DOCS * MAX_RUNS);
	}
	return n ? median(v, n) : NAN;
}

/*
 * The device-to-device section of --compare (ours only), the rounds'
 * samples pooled, and its summary line: the 64 MiB 4 KiB move that went
 * peer to peer against its bounce.
 */
void d2d_compare(const struct docset *ours)
{
	const struct jv *a = ours->n ? jget(ours->d[0], "d2d") : NULL;
	double sum = NAN, sum_thp = NAN;
	const char *sum_imp = NULL;
	int i;

	if (!a || a->t != J_ARR || !a->n)
		return;
	printf("\ndevice to device (ours only), GiB/s medians\n");
	printf("%6s %-4s %-16s %-7s %9s %9s %9s\n", "size", "mode", "importer", "path", "move",
	       "bounce", "move/b");
	for (i = 0; i < a->n; i++) {
		const struct jv *row = a->items[i];
		double m = d2d_metric(ours, row, "move_gibps");
		double b = d2d_metric(ours, row, "bounce_gibps");
		int thp = jnum(jget(row, "thp")) != 0;
		char s[3][24];

		fmtnum(s[0], 24, m, "%.3f");
		fmtnum(s[1], 24, b, "%.3f");
		ratio_str(s[2], 24, b, m);
		printf("%5.0fM %-4s %-16s %-7s %9s %9s %9s\n", jnum(jget(row, "size_mib")),
		       thp ? "thp" : "4k", jstr(row, "importer"), jstr(row, "path"), s[0], s[1],
		       s[2]);
		if (*jstr(row, "error"))
			printf("       failed: %s\n", jstr(row, "error"));
		if (jnum(jget(row, "size_mib")) != 64 || strcmp(jstr(row, "path"), "p2p"))
			continue;
		if (!sum_imp)
			sum_imp = jstr(row, "importer");
		if (strcmp(sum_imp, jstr(row, "importer")))
			continue;
		if (thp)
			sum_thp = m / b;
		else
			sum = m / b;
	}
	if (sum_imp)
		printf("dev-to-dev vs bounce: %.2fx (64 MiB, %s <- %s peer to peer, 4 KiB pages;"
		       " THP: %.2fx)\n", sum, sum_imp, jstr(ours->d[0], "peer_exporter"), sum_thp);
	else
		printf("dev-to-dev vs bounce: n/a (no 64 MiB move went peer to peer)\n");
}
