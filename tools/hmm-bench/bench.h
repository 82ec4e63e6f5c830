/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm-bench: what its parts share. hmm-bench.c holds the migration,
 * fault-back and mirror benchmark, the output and the comparison; peer.c
 * the peer-access benchmark (P2P against migrate-then-access).
 */
#ifndef HMM_BENCH_H
#define HMM_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hmm_p2p_test.h"

#define PAGE_SZ		4096UL
#define THP_SZ		(2UL << 20)
#define BIT(n)		(1UL << (n))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIB		BIT(20)
#define MAX_SIZES	16
#define MAX_RUNS	100
#define MAX_DOCS	16

/* Samples of one figure. */
struct series {
	double v[MAX_RUNS];
	int n;
};

void series_add(struct series *s, double x);
double med(const struct series *s);
double median(const double *v, int n);
double now_ns(void);
void note(const char *fmt, ...);
void set_error(char *dst, size_t len, const char *fmt, ...);
void fmtnum(char *b, size_t n, double v, const char *f);
void ratio_str(char *b, size_t n, double up, double ours);
int parse_size_list(const char *what, const char *arg, unsigned long max_mib,
		    unsigned long *sizes, int *runs);

/* Buffers: a fresh 2 MiB aligned mapping and a pattern unique to a seed. */
void *buf_alloc(size_t size, int thp);
void fill(void *buf, size_t size, uint64_t seed);
long verify(const void *buf, size_t size, uint64_t seed);

/* One test_hmm command; 0 or -errno. */
int dcmd(int fd, unsigned long req, void *addr, void *ptr,
	 unsigned long npages, struct hmm_dmirror_cmd *out);

/* JSON output. */
void json_str(FILE *f, const char *s);
void json_num(FILE *f, double v);
void json_series(FILE *f, const char *name, const struct series *s);

/* JSON input (the files hmm-bench writes). */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype t;
	double num;
	char *str;
	int n;
	char **keys;
	struct jv **items;
};

struct jv *jget(const struct jv *o, const char *key);
const char *jstr(const struct jv *o, const char *key);
double jnum(const struct jv *v);
void add_samples(const struct jv *st, double *v, int *n, int max);

/* One driver's results: one JSON document per round, samples pooled. */
struct docset {
	struct jv *d[MAX_DOCS];
	int n;
	int bad;	/* a file could not be used */
};

/* mirrormap.c */
int mirrormap_parse(const char *arg);
int mirrormap_enabled(void);
int mirrormap_run(void);

/* peer.c */
int bench_stats(int fd, struct hmm_p2p_stats *st);
int peer_parse(const char *arg);
int peer_parse_sizes(const char *arg);
int peer_enabled(void);
int peer_run(int runs);
void peer_print(FILE *o);
void peer_json(FILE *f);
void peer_compare(const struct docset *ours);

/* d2d.c: --peer's device-to-device moves */
int d2d_run(const char *exp, char *const *imps, int nimp, const unsigned long *sizes,
	    int nsizes, int runs);
void d2d_print(FILE *o);
void d2d_json(FILE *f);
void d2d_compare(const struct docset *ours);

/* importer.c */
int importer_enabled(void);
int importer_parse(const char *arg);
int importer_parse_periods(const char *arg);
int importer_parse_secs(const char *arg);
int importer_run(void);

#endif /* HMM_BENCH_H */
