// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-bench --peer: peer access against migrate-then-access.
 *
 * A range of 4 KiB pages is resident in one device's memory (the exporter,
 * HMM_DMIRROR_MIGRATE_TO_DEV on its node); another device (an importer)
 * reads it with HMM_DMIRROR_READ. Two ways are timed, each on a fresh range
 * with its own pattern, each followed by a second read of the same range:
 *
 *   direct      the importer reads the exporter's pages as they are: its
 *               driver maps them peer to peer where the PCI topology allows
 *               it and migrates them to system memory where it does not
 *   mig+acc     the exporter first moves the range to system memory
 *               (HMM_DMIRROR_MIGRATE_TO_SYS), then the importer reads it:
 *               what a driver without P2P does, timed as one
 *
 * What the importer's driver did on the direct read is taken from its
 * HMM_P2P_IOC_STATS counters (pages mapped peer to peer, pages migrated
 * for lack of a path) and reported as the path: p2p, migrate or mixed.
 * Every read is checked against the pattern. hmm-p2p devices only: the
 * test_hmm interface has no notion of peers.
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

#define MAX_IMPORTERS	4
#define PEER_MAX_MIB	256

struct peer_result {
	unsigned long size_mib;
	int imp;		/* index into peer.imp[] */
	int ok;
	char error[256];
	struct series direct;	/* GiB/s, first read of the exporter's pages */
	struct series direct2;	/* GiB/s, the same range read again */
	struct series mig;	/* GiB/s, exporter's MIGRATE_TO_SYS + read */
	struct series mig2;	/* GiB/s, the migrated range read again */
	unsigned long long p2p_pages;	/* direct reads: pages mapped P2P */
	unsigned long long mig_pages;	/* direct reads: pages migrated */
	unsigned long long pages;	/* direct reads: pages read */
};

static struct {
	char *exp;
	char *imp[MAX_IMPORTERS];
	int nimp;
	unsigned long sizes[MAX_SIZES];
	int nsizes;
	struct peer_result res[MAX_SIZES * MAX_IMPORTERS];
	int nres;
	char error[256];
} peer = {
	.sizes = { 8, 64 },
	.nsizes = 2,
};

int peer_enabled(void)
{
	return !!peer.exp;
}

/* --peer EXPORTER,IMPORTER[,IMPORTER...] */
int peer_parse(const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!n)
			peer.exp = tok;
		else if (n <= MAX_IMPORTERS)
			peer.imp[n - 1] = tok;
		n++;
	}
	if (n < 2 || n > MAX_IMPORTERS + 1) {
		note("--peer: an exporter and 1..%d importers, comma separated",
		     MAX_IMPORTERS);
		peer.exp = NULL;
		return -1;
	}
	peer.nimp = n - 1;
	return 0;	/* copy is kept: the names point into it */
}

/* --peer-sizes LIST: at most PEER_MAX_MIB each (the exporter's pool) */
int peer_parse_sizes(const char *arg)
{
	int n = parse_size_list("--peer-sizes", arg, PEER_MAX_MIB, peer.sizes, NULL);

	if (n < 0)
		return -1;
	peer.nsizes = n;
	return 0;
}

/* The device's HMM_P2P_IOC_STATS (a newer kernel's larger struct fits). */
int bench_stats(int fd, struct hmm_p2p_stats *st)
{
	union {
		struct hmm_p2p_stats s;
		unsigned char pad[512];
	} u;

	memset(&u, 0, sizeof(u));
	u.s.size = sizeof(u.s);
	if (ioctl(fd, HMM_P2P_IOC_STATS, &u))
		return -errno;
	*st = u.s;
	return 0;
}

static unsigned long long fallbacks(const struct hmm_p2p_stats *s)
{
	return s->p2p_fallback_no_path + s->p2p_fallback_write +
	       s->p2p_fallback_gone;
}

/*
 * A fresh range of @size holding the pattern of @seed, resident on the
 * exporter. @out receives the exporter's copy, which is checked.
 */
static void *resident_range(struct peer_result *r, int efd, size_t size,
			    uint64_t seed, void *out)
{
	unsigned long npages = size / PAGE_SZ;
	struct hmm_dmirror_cmd c;
	void *buf = buf_alloc(size, 0);
	int ret;

	if (!buf) {
		set_error(r->error, sizeof(r->error), "cannot map %zu bytes: %s",
			  size, strerror(errno));
		return NULL;
	}
	fill(buf, size, seed);
	ret = dcmd(efd, HMM_DMIRROR_MIGRATE_TO_DEV, buf, out, npages, &c);
	if (ret || c.cpages != npages || verify(out, size, seed) >= 0) {
		set_error(r->error, sizeof(r->error),
			  "%s: MIGRATE_TO_DEV of %lu pages: %s, cpages=%llu",
			  peer.exp, npages, ret ? strerror(-ret) : "bad data",
			  (unsigned long long)c.cpages);
		munmap(buf, size);
		return NULL;
	}
	return buf;
}

/* A timed, checked HMM_DMIRROR_READ of the whole range by @fd. */
static int timed_read(struct peer_result *r, int fd, const char *who,
		      void *buf, size_t size, uint64_t seed, void *out,
		      double *ns)
{
	unsigned long npages = size / PAGE_SZ;
	struct hmm_dmirror_cmd c;
	double t0;
	long bad;
	int ret;

	memset(out, 0, 8);	/* a stale copy cannot pass */
	t0 = now_ns();
	ret = dcmd(fd, HMM_DMIRROR_READ, buf, out, npages, &c);
	*ns += now_ns() - t0;
	if (ret || c.cpages != npages) {
		set_error(r->error, sizeof(r->error),
			  "%s: READ of %lu pages: %s, cpages=%llu", who, npages,
			  ret ? strerror(-ret) : "short", (unsigned long long)c.cpages);
		return ret ? ret : -EIO;
	}
	bad = verify(out, size, seed);
	if (bad >= 0) {
		set_error(r->error, sizeof(r->error),
			  "%s: READ: data mismatch at offset %ld", who, bad);
		return -EIO;
	}
	return 0;
}

static double gibps(size_t size, double ns)
{
	return (double)size / (1 << 30) / (ns / 1e9);
}

static int peer_one(struct peer_result *r, int efd, int ifd, void *out,
		    int run, int timed)
{
	size_t size = r->size_mib * MIB;
	unsigned long npages = size / PAGE_SZ;
	const char *imp = peer.imp[r->imp];
	uint64_t seed = 0x7000 + (uint64_t)run * 31 + r->size_mib * 3 + r->imp;
	struct hmm_p2p_stats s0, s1;
	struct hmm_dmirror_cmd c;
	double ns, t0;
	void *buf;
	int ret;

	/* direct: whatever the importer's driver does with peer pages */
	buf = resident_range(r, efd, size, seed, out);
	if (!buf)
		return -EIO;
	ret = bench_stats(ifd, &s0);
	if (ret) {
		set_error(r->error, sizeof(r->error), "%s: STATS: %s", imp,
			  strerror(-ret));
		goto out;
	}
	ns = 0;
	ret = timed_read(r, ifd, imp, buf, size, seed, out, &ns);
	if (ret)
		goto out;
	if (timed)
		series_add(&r->direct, gibps(size, ns));
	ret = bench_stats(ifd, &s1);
	if (ret) {
		set_error(r->error, sizeof(r->error), "%s: STATS: %s", imp,
			  strerror(-ret));
		goto out;
	}
	if (timed) {
		r->p2p_pages += s1.p2p_mappings - s0.p2p_mappings;
		r->mig_pages += fallbacks(&s1) - fallbacks(&s0);
		r->pages += npages;
	}
	ns = 0;
	ret = timed_read(r, ifd, imp, buf, size, seed, out, &ns);
	if (ret)
		goto out;
	if (timed)
		series_add(&r->direct2, gibps(size, ns));
	munmap(buf, size);

	/* mig+acc: the exporter gives the range back first */
	seed ^= 0x55;
	buf = resident_range(r, efd, size, seed, out);
	if (!buf)
		return -EIO;
	t0 = now_ns();
	ret = dcmd(efd, HMM_DMIRROR_MIGRATE_TO_SYS, buf, out, npages, &c);
	ns = now_ns() - t0;	/* the read below adds its own time */
	if (ret || !c.cpages) {
		set_error(r->error, sizeof(r->error),
			  "%s: MIGRATE_TO_SYS of %lu pages: %s, cpages=%llu",
			  peer.exp, npages, ret ? strerror(-ret) : "none moved",
			  (unsigned long long)c.cpages);
		ret = ret ? ret : -EIO;
		goto out;
	}
	ret = timed_read(r, ifd, imp, buf, size, seed, out, &ns);
	if (ret)
		goto out;
	if (timed)
		series_add(&r->mig, gibps(size, ns));
	ns = 0;
	ret = timed_read(r, ifd, imp, buf, size, seed, out, &ns);
	if (ret)
		goto out;
	if (timed)
		series_add(&r->mig2, gibps(size, ns));
	if (verify(buf, size, seed) >= 0) {
		set_error(r->error, sizeof(r->error),
			  "after MIGRATE_TO_SYS: the CPU reads wrong data");
		ret = -EIO;
	}
out:
	munmap(buf, size);
	return ret;
}

static const char *path_name(unsigned long long p2p, unsigned long long mig,
			     unsigned long long pages)
{
	if (!pages)
		return "n/a";
	if (p2p == pages && !mig)
		return "p2p";
	if (mig == pages && !p2p)
		return "migrate";
	if (!p2p && !mig)
		return "neither";
	return "mixed";
}

/**
 * peer_run() - run every size against every importer
 * @runs: timed runs per case (one untimed warm-up run comes first)
 *
 * Return: 0, or -1 if a case failed (its error is recorded).
 */
int peer_run(int runs)
{
	int efd, ifd[MAX_IMPORTERS], i, k, run, failed = 0;
	size_t maxsize = 0;
	void *out;

	efd = open(peer.exp, O_RDWR);
	if (efd < 0) {
		set_error(peer.error, sizeof(peer.error), "cannot open %s: %s",
			  peer.exp, strerror(errno));
		return -1;
	}
	for (k = 0; k < peer.nimp; k++) {
		ifd[k] = open(peer.imp[k], O_RDWR);
		if (ifd[k] < 0) {
			set_error(peer.error, sizeof(peer.error),
				  "cannot open %s: %s", peer.imp[k],
				  strerror(errno));
			while (k--)
				close(ifd[k]);
			close(efd);
			return -1;
		}
	}
	for (i = 0; i < peer.nsizes; i++)
		if (peer.sizes[i] * MIB > maxsize)
			maxsize = peer.sizes[i] * MIB;
	out = mmap(NULL, maxsize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (out == MAP_FAILED) {
		set_error(peer.error, sizeof(peer.error),
			  "cannot map a %zu byte read buffer", maxsize);
		out = NULL;
		failed = 1;
	}
	for (i = 0; out && i < peer.nsizes; i++) {
		for (k = 0; k < peer.nimp; k++) {
			struct peer_result *r = &peer.res[peer.nres++];
			double t0 = now_ns();
			int ret = 0;

			r->size_mib = peer.sizes[i];
			r->imp = k;
			for (run = -1; run < runs && !ret; run++)
				ret = peer_one(r, efd, ifd[k], out, run, run >= 0);
			r->ok = !ret;
			failed |= !!ret;
			note("peer %4luM %s <- %s: %s, path %s (%.1f s)", r->size_mib,
			     peer.imp[k], peer.exp, ret ? "FAILED" : "done",
			     path_name(r->p2p_pages, r->mig_pages, r->pages),
			     (now_ns() - t0) / 1e9);
		}
	}
	if (out)
		munmap(out, maxsize);
	for (k = 0; k < peer.nimp; k++)
		close(ifd[k]);
	close(efd);
	/* and the same devices, moving ranges device to device (d2d.c) */
	if (d2d_run(peer.exp, peer.imp, peer.nimp, peer.sizes, peer.nsizes, runs))
		failed = 1;
	return failed ? -1 : 0;
}

void peer_print(FILE *o)
{
	int i;

	if (!peer_enabled())
		return;
	fprintf(o, "\npeer access: ranges resident on %s read by another device; GiB/s medians\n",
		peer.exp);
	fprintf(o, "  direct: the importer reads the pages where they are; mig+acc: the exporter\n"
		   "  moves them to system memory first, timed with the read; again: second read\n");
	if (peer.error[0])
		fprintf(o, "FAILED: %s\n", peer.error);
	fprintf(o, "%6s %-16s %-8s %9s %9s %9s %9s %9s\n", "size", "importer",
		"path", "direct", "again", "mig+acc", "again", "dir/mig");
	for (i = 0; i < peer.nres; i++) {
		struct peer_result *r = &peer.res[i];
		char b[5][24];

		fmtnum(b[0], 24, med(&r->direct), "%.3f");
		fmtnum(b[1], 24, med(&r->direct2), "%.3f");
		fmtnum(b[2], 24, med(&r->mig), "%.3f");
		fmtnum(b[3], 24, med(&r->mig2), "%.3f");
		ratio_str(b[4], 24, med(&r->mig), med(&r->direct));
		fprintf(o, "%5luM %-16s %-8s %9s %9s %9s %9s %9s\n", r->size_mib,
			peer.imp[r->imp],
			path_name(r->p2p_pages, r->mig_pages, r->pages),
			b[0], b[1], b[2], b[3], b[4]);
		if (!r->ok)
			fprintf(o, "       FAILED: %s\n", r->error);
	}
	d2d_print(o);
}

/* The "peer" member of the JSON document (with its leading comma). */
void peer_json(FILE *f)
{
	int i;

	if (!peer_enabled())
		return;
	fputs(",\n \"peer_exporter\": ", f);
	json_str(f, peer.exp);
	fputs(", \"peer_error\": ", f);
	json_str(f, peer.error);
	fputs(",\n \"peer\": [", f);
	for (i = 0; i < peer.nres; i++) {
		struct peer_result *r = &peer.res[i];

		fprintf(f, "%s\n  {\"size_mib\": %lu, \"importer\": ", i ? "," : "",
			r->size_mib);
		json_str(f, peer.imp[r->imp]);
		fprintf(f, ", \"ok\": %s, \"error\": ", r->ok ? "true" : "false");
		json_str(f, r->error);
		fputs(", \"path\": ", f);
		json_str(f, path_name(r->p2p_pages, r->mig_pages, r->pages));
		fprintf(f, ", \"pages\": %llu, \"p2p_pages\": %llu, \"migrated_pages\": %llu",
			r->pages, r->p2p_pages, r->mig_pages);
		json_series(f, "direct_gibps", &r->direct);
		json_series(f, "direct_again_gibps", &r->direct2);
		json_series(f, "migrate_access_gibps", &r->mig);
		json_series(f, "migrate_again_gibps", &r->mig2);
		fputs("}", f);
	}
	fputs("]", f);
	d2d_json(f);
}

/* Median of one peer figure over every round's samples; NAN if none. */
static double peer_metric(const struct docset *ds, double mib, const char *imp,
			  const char *name)
{
	static double v[MAX_DOCS * MAX_RUNS];
	int i, k, n = 0;

	for (k = 0; k < ds->n; k++) {
		const struct jv *a = jget(ds->d[k], "peer");

		for (i = 0; a && a->t == J_ARR && i < a->n; i++)
			if (jnum(jget(a->items[i], "size_mib")) == mib &&
			    !strcmp(jstr(a->items[i], "importer"), imp))
				add_samples(jget(a->items[i], name), v, &n,
					    MAX_DOCS * MAX_RUNS);
	}
	return n ? median(v, n) : NAN;
}

/*
 * The peer section of --compare: ours only (upstream's test_hmm has no
 * peers), the rounds' samples pooled. Prints nothing without peer results.
 */
void peer_compare(const struct docset *ours)
{
	const struct jv *rows[MAX_DOCS * MAX_SIZES * MAX_IMPORTERS];
	int nrows = 0, i, j, k, header = 0;

	for (k = 0; k < ours->n; k++) {
		const struct jv *a = jget(ours->d[k], "peer");

		for (i = 0; a && a->t == J_ARR && i < a->n; i++) {
			const struct jv *r = a->items[i];

			for (j = 0; j < nrows; j++)
				if (jnum(jget(rows[j], "size_mib")) ==
				    jnum(jget(r, "size_mib")) &&
				    !strcmp(jstr(rows[j], "importer"), jstr(r, "importer")))
					break;
			if (j == nrows && nrows < (int)ARRAY_SIZE(rows))
				rows[nrows++] = r;
		}
	}
	for (i = 0; i < nrows; i++) {
		double mib = jnum(jget(rows[i], "size_mib"));
		const char *imp = jstr(rows[i], "importer");
		double d = peer_metric(ours, mib, imp, "direct_gibps");
		double d2 = peer_metric(ours, mib, imp, "direct_again_gibps");
		double m = peer_metric(ours, mib, imp, "migrate_access_gibps");
		double m2 = peer_metric(ours, mib, imp, "migrate_again_gibps");
		char b[5][24];

		if (!header++) {
			printf("\npeer access (%s), exporter %s; GiB/s medians\n",
			       "ours only: test_hmm has no peers",
			       jstr(ours->d[0], "peer_exporter"));
			printf("%6s %-16s %-8s %9s %9s %9s %9s %9s\n", "size",
			       "importer", "path", "direct", "again", "mig+acc",
			       "again", "dir/mig");
		}
		fmtnum(b[0], 24, d, "%.3f");
		fmtnum(b[1], 24, d2, "%.3f");
		fmtnum(b[2], 24, m, "%.3f");
		fmtnum(b[3], 24, m2, "%.3f");
		ratio_str(b[4], 24, m, d);
		printf("%5.0fM %-16s %-8s %9s %9s %9s %9s %9s\n", mib, imp,
		       jstr(rows[i], "path"), b[0], b[1], b[2], b[3], b[4]);
	}
	for (k = 0; k < ours->n; k++) {
		const struct jv *a = jget(ours->d[k], "peer");

		if (*jstr(ours->d[k], "peer_error"))
			printf("       peer run failed: %s\n",
			       jstr(ours->d[k], "peer_error"));
		for (i = 0; a && a->t == J_ARR && i < a->n; i++)
			if (*jstr(a->items[i], "error"))
				printf("       peer %.0fM %s failed: %s\n",
				       jnum(jget(a->items[i], "size_mib")),
				       jstr(a->items[i], "importer"),
				       jstr(a->items[i], "error"));
	}
	d2d_compare(ours);
}
