// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-p2p stress test with a model: several threads and forked children
 * work on one shared range of 4 KiB and 2 MiB pieces (one a THP) and on a
 * process mapping of a PCI device's p2pmem, and every byte any of them sees
 * is checked against a model of what the range may hold.
 *
 *   hmm_p2p_stress [-s SEED] [-n OPS] [-t SECONDS] [-j THREADS] [-k KERNEL]
 *                  [-v] [-X N]
 *
 *   -s  seed (default: from the clock; always printed: replay with -s).
 *       Thread i draws its operations from its own generator seeded with
 *       (SEED, i), and no draw depends on an outcome, so a replay runs the
 *       same operations in each thread (the interleaving may differ).
 *   -n  operations per thread (default 3000)
 *   -t  time cap, seconds (default 60): a safety net; a run it cuts short
 *       says so
 *   -j  threads (default 4)
 *   -k  kernel name for the summary line (default: uname -r)
 *   -X  (test of the test) corrupt one byte of the N-th expected page the
 *       checker compares: the run must report a mismatch
 *   -F  no fork; -D MASK, -c MASK: the devices (bit N: device N) the threads,
 *       and a forked child, migrate to (debugging aids); -v: a child's ops
 *
 * The model. Every page holds a "stamp": its words are stamp_word(stamp,
 * page, word), stamp 0 being zeros. Per piece the model keeps each page's
 * current stamp (and a second possible one after a device WRITE that
 * failed part way) and which of the page's locations (none, zero page,
 * system, each device) it may be in. Operations on one piece race, except
 * that the data writers (CPU write, device WRITE, MADV_DONTNEED, munmap and
 * remap, mprotect) take the piece's writer lock, so at most one writer is
 * in flight per piece: every other pair races (writer against migrations,
 * device READs and SNAPSHOTs, and those among themselves). Each operation
 * logs, as it starts, the stamp it may leave and the locations it may move
 * pages to in the piece's history, so a reader accepts, per page and byte,
 * only the stamps the page held at its start or was given by a writer that
 * ran during it, and a SNAPSHOT accepts only the locations the page could
 * have held between its start and its end. A writer verifies the whole
 * piece through the CPU after its write: a completed store that a racing
 * migration lost is a mismatch. A fork takes every writer lock (the child
 * gets an exact copy of the model); the child opens its own device files and
 * works on its copy alone, while the parent's threads race on.
 *
 * Racing pairs (counted, both orders): each writer against migrate_dev,
 * migrate_sys, dev_read and snapshot; those four among themselves; a fork
 * (its child's whole life) against all four. Serialised per piece: writer
 * against writer, and fork against every writer (it takes every piece's
 * writer lock while it forks).
 *
 * Where the model is looser than exact, on purpose: a location set only
 * shrinks when an op ran alone on its piece and did everything it was asked;
 * a child's pages may be anywhere (the parent migrates pages they share);
 * a snapshot may report the zero page where the model has "not present"
 * (counted: "zero page where none") and an error entry where the page may be
 * absent, unmapped or another owner's device-private page (error_ok()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define HMM_P2P_WANT_ERRNO_TABLE
#include "hmm_p2p_test.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PAGE		4096UL
#define PMD		(2UL << 20)
#define SLOT		(64UL << 10)	/* a 4 KiB piece's slot: the fault-around window */
#define MAXDEV		7		/* hmm_dmirror0..3, hmm_p2p0..2 */
#define MAXTHR		16
#define RING		64		/* history events kept per piece */
#define NOSTAMP		(~0ULL)
#define NSMALL		8		/* 4 KiB pieces */
#define P2P_PAGES	16

/* ---- locations a page may be in (a bit mask per piece) ---- */

enum { L_NONE, L_ZERO, L_SYS, L_DEV0 /* .. L_DEV0 + 6 */, L_P2PDMA = L_DEV0 + MAXDEV, L_NLOC };
#define LB(l)		(1U << (l))
#define LDEV(d)		LB(L_DEV0 + (d))
#define L_ALLDEV	(((1U << MAXDEV) - 1) << L_DEV0)

/* ---- actions ---- */

enum act { A_CPUW, A_MIGDEV, A_MIGSYS, A_DREAD, A_DWRITE, A_SNAP, A_FORK, A_MPROT,
	   A_DONTNEED, A_REMAP, A_NACT };

static const char *const act_name[A_NACT] = {
	"cpu_write", "migrate_dev", "migrate_sys", "dev_read", "dev_write", "snapshot",
	"fork", "mprotect", "dontneed", "remap",
};

static const int act_weight[A_NACT] = { 12, 20, 10, 14, 8, 14, 1, 4, 4, 3 };

static bool act_is_writer(int a)
{
	return a == A_CPUW || a == A_DWRITE || a == A_MPROT || a == A_DONTNEED || a == A_REMAP;
}

/* racing pairs: writer kind x reader kind, and which started first */
enum { RW_CPUW, RW_DWRITE, RW_MPROT, RW_DONTNEED, RW_REMAP, RW_N };
enum { RR_MIGDEV, RR_MIGSYS, RR_DREAD, RR_SNAP, RR_N };
static const char *const rw_name[RW_N] = { "cpu_write", "dev_write", "mprotect", "dontneed",
					   "remap" };
static const char *const rr_name[RR_N] = { "migrate_dev", "migrate_sys", "dev_read",
					   "snapshot" };

static int rw_index(int a)
{
	switch (a) {
	case A_CPUW: return RW_CPUW;
	case A_DWRITE: return RW_DWRITE;
	case A_MPROT: return RW_MPROT;
	case A_DONTNEED: return RW_DONTNEED;
	default: return RW_REMAP;
	}
}

static int rr_index(int a)
{
	switch (a) {
	case A_MIGDEV: return RR_MIGDEV;
	case A_MIGSYS: return RR_MIGSYS;
	case A_DREAD: return RR_DREAD;
	default: return RR_SNAP;
	}
}

/* ---- snapshot labels, for the transitions table ---- */

enum { T_NONE, T_ZERO, T_SYS, T_THP, T_DEV0, T_PEER = T_DEV0 + MAXDEV, T_COH_OTHER, T_P2PDMA,
	T_ERROR, T_N, T_UNSEEN = 0xff };
static const char *const t_name[T_N] = {
	"none", "zero", "sys", "sys-thp", "dmirror0", "dmirror1", "dmirror2", "dmirror3",
	"p2p0", "p2p1", "p2p2", "priv-peer", "coh-other", "p2pdma", "error",
};

/* ---- pieces ---- */

enum pkind { P_THP, P_SMALL, P_MULTI, P_P2P };

struct event {
	__u64 seq;
	__u64 stamp;		/* NOSTAMP: the op writes nothing */
	__u32 locs;		/* locations the op may move pages to */
};

#define HIST 12

struct piece {
	char *addr;
	unsigned long npages;
	unsigned long gp;	/* global index of the first page */
	enum pkind kind;
	pthread_mutex_t wlock;	/* one writer at a time */
	pthread_mutex_t lk;	/* the model below */
	__u64 *cur, *alt;	/* per page: stamp, second possible stamp */
	__u64 pend;		/* the writer in flight's stamp */
	__u32 loc;		/* locations the pages may be in now */
	int flightcnt[L_NLOC];	/* in-flight ops that may move pages there */
	int nflight;
	__u64 seq;		/* events so far */
	struct event ring[RING];
	int remapping;		/* remap ops in flight */
	__u64 mapgen;		/* remaps started */
	__u64 wseq;		/* odd: a writer in flight */
	int wkind;		/* last writer's RW_* */
	unsigned char *last;	/* per page: last snapshot label */
	struct lochist {	/* the last location updates, for a mismatch report */
		signed char a, dev;
		bool alone, complete;
		__u32 before, after;
	} hist[HIST];
	unsigned int nhist;
};

static struct piece pieces[NSMALL + 4];
static int npieces;
static char *arena;
static size_t arena_size;

/* ---- shared results (MAP_SHARED: children add to them) ---- */

#define MAXERRNO 134

struct results {
	unsigned long ops[A_NACT], ok[A_NACT];
	unsigned int err[A_NACT][MAXERRNO];
	unsigned long mismatches, data_mismatches, class_mismatches, errors, inconclusive;
	unsigned long page_checks, zero_for_none;
	unsigned long races[RW_N][RR_N][2];	/* [0]: writer first, [1]: reader first */
	unsigned long read_saw[3];		/* racing dev_read: old, new, torn */
	unsigned long trans[T_N][T_N];
	unsigned long child_ops, child_mismatches, child_errors, forks;
	unsigned long thr_ops[MAXTHR];
	__u64 thr_hash[MAXTHR];
	int nmsg, nprinted;
	char msg[24][256];
	int stop;
};

static struct results *R;
static pthread_mutex_t *rlock;		/* process-shared */

static unsigned long opt_seed, opt_ops = 3000;
static int opt_secs = 60, opt_threads = 4, opt_verbose;
static long opt_corrupt = -1;
static int opt_nofork;
static unsigned int opt_devmask = 0x7f;	/* migration targets */
static unsigned int opt_childmask = 0x7f;	/* a forked child's */
static const char *opt_kernel;
static struct timespec t_start;
static int fds[MAXDEV];
static bool devok[MAXDEV];
static int p2p_owner = -1;		/* device whose p2pmem the P_P2P piece is */
static int p2pmem_fd = -1;
static bool in_child;

static double elapsed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t_start.tv_sec) + (t.tv_nsec - t_start.tv_nsec) / 1e9;
}

/* xorshift64* */
static __u64 rnd(__u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static __u64 below(__u64 *s, __u64 n)
{
	return rnd(s) % n;
}

static __u64 mix(__u64 a, __u64 b)
{
	__u64 x = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x ? x : 1;
}

static void note(const char *fmt, ...)
{
	char m[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(rlock);
	if (R->nprinted++ < 40)
		fprintf(stderr, "# %s\n", m);
	if (R->nmsg < (int)ARRAY_SIZE(R->msg))
		memcpy(R->msg[R->nmsg++], m, sizeof(m));
	pthread_mutex_unlock(rlock);
}

/* ---- page contents ---- */

static __u64 stamp_word(__u64 stamp, unsigned long gp, unsigned long w)
{
	if (!stamp)
		return 0;
	return (stamp << 24) ^ ((__u64)gp << 9) ^ w ^ 0x5a5a000000000000ULL;
}

static void fill_page(__u64 *p, __u64 stamp, unsigned long gp)
{
	unsigned long w;

	for (w = 0; w < PAGE / 8; w++)
		p[w] = stamp_word(stamp, gp, w);
}

/* the -X hook: the N-th expected page, one byte off */
static __u64 expect_word(__u64 stamp, unsigned long gp, unsigned long w, bool corrupt)
{
	__u64 v = stamp_word(stamp, gp, w);

	return corrupt && w == 3 ? v ^ 0x100 : v;
}

static bool take_corrupt(void)
{
	unsigned long n = __atomic_fetch_add(&R->page_checks, 1, __ATOMIC_RELAXED);

	return opt_corrupt >= 0 && n == (unsigned long)opt_corrupt;
}

/* The page equals stamp @st everywhere? */
static bool page_is(const __u64 *p, __u64 st, unsigned long gp, bool corrupt)
{
	unsigned long w;

	for (w = 0; w < PAGE / 8; w++)
		if (p[w] != expect_word(st, gp, w, corrupt))
			return false;
	return true;
}

/*
 * Each byte of the page is the same byte of one of the @n stamps (a copy
 * racing a store may mix them). Returns -1 or the first bad byte offset.
 * *@which: the stamp the whole page matched, -1 when mixed.
 */
static long page_mixed(const __u64 *p, const __u64 *st, int n, unsigned long gp, bool corrupt,
		       int *which)
{
	unsigned long w;
	int i, b;

	for (i = 0; i < n; i++) {
		if (page_is(p, st[i], gp, corrupt)) {
			*which = i;
			return -1;
		}
	}
	*which = -1;
	for (w = 0; w < PAGE / 8; w++) {
		for (b = 0; b < 8; b++) {
			unsigned char got = p[w] >> (8 * b);
			bool ok = false;

			for (i = 0; i < n && !ok; i++)
				ok = got == (unsigned char)(expect_word(st[i], gp, w, corrupt) >>
							    (8 * b));
			if (!ok)
				return w * 8 + b;
		}
	}
	return -1;
}

/* ---- devices ---- */

static int open_dev(int i)
{
	char path[32];

	if (i < 4)
		snprintf(path, sizeof(path), "/dev/hmm_dmirror%d", i);
	else
		snprintf(path, sizeof(path), "/dev/hmm_p2p%d", i - 4);
	return open(path, O_RDWR | O_CLOEXEC);
}

static const char *dev_name(int i)
{
	static const char *const n[MAXDEV] = { "dmirror0", "dmirror1", "dmirror2", "dmirror3",
					       "p2p0", "p2p1", "p2p2" };
	return n[i];
}

static bool dev_is_pci(int d)
{
	return d >= 4;
}

static bool dev_is_coherent(int d)
{
	return d == 2 || d == 3;
}

static int cmd(int fd, unsigned long req, const void *addr, void *ptr, unsigned long npages,
	       __u64 *cpages)
{
	struct hmm_dmirror_cmd c = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)ptr, .npages = npages,
	};
	int ret;

	do {
		ret = ioctl(fd, req, &c);
	} while (ret && errno == EINTR);
	if (cpages)
		*cpages = ret ? 0 : c.cpages;
	return ret ? -errno : 0;
}

static bool abi_allows(unsigned long req, int e)
{
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(hmm_p2p_errno_table); i++) {
		if (hmm_p2p_errno_table[i].cmd != req)
			continue;
		for (j = 0; j < 16 && hmm_p2p_errno_table[i].errnos[j]; j++)
			if (hmm_p2p_errno_table[i].errnos[j] == e)
				return true;
	}
	return false;
}

/* ---- the model's bookkeeping ---- */

struct token {
	__u64 seq0;		/* the event this op logged */
	bool alone;		/* nothing else in flight on the piece at the start */
	__u64 mapgen0;
	int remapping0;
	__u64 wseq0;
	int wkind0;
	__u32 locs;
	__u32 loc0;		/* locations possible at the start (incl. in flight) */
	__u32 flight0;		/* locations ops in flight at the start may move to */
	__u64 pend0;
};

static void op_begin(struct piece *pc, struct token *t, __u64 stamp, __u32 locs)
{
	struct event *ev;
	int l;

	pthread_mutex_lock(&pc->lk);
	ev = &pc->ring[++pc->seq % RING];
	ev->seq = pc->seq;
	ev->stamp = stamp;
	ev->locs = locs;
	t->seq0 = pc->seq;
	t->alone = pc->nflight == 0;
	t->mapgen0 = pc->mapgen;
	t->remapping0 = pc->remapping;
	t->wseq0 = pc->wseq;
	t->wkind0 = pc->wkind;
	t->locs = locs;
	t->flight0 = 0;
	for (l = 0; l < L_NLOC; l++)
		if (pc->flightcnt[l])
			t->flight0 |= LB(l);
	t->loc0 = pc->loc | t->flight0;
	t->pend0 = pc->pend;
	for (l = 0; l < L_NLOC; l++)
		if (locs & LB(l))
			pc->flightcnt[l]++;
	pc->nflight++;
	pthread_mutex_unlock(&pc->lk);
}

/*
 * End of an op, piece lock held: *@alone when nothing else ran on the piece
 * during it; *@locs_during and the stamps of writers that started during it
 * (into @st from index *@n), false when the history ran over (inconclusive).
 */
static bool op_window(struct piece *pc, struct token *t, bool *alone, __u32 *locs_during,
		      __u64 *st, int *n, int max)
{
	__u64 q;
	bool ok = true;

	*alone = t->alone && pc->seq == t->seq0 && pc->nflight == 1;
	if (locs_during)
		*locs_during = 0;
	if (pc->seq - t->seq0 >= RING)
		ok = false;
	for (q = t->seq0 + 1; ok && q <= pc->seq; q++) {
		struct event *ev = &pc->ring[q % RING];

		if (locs_during)
			*locs_during |= ev->locs;
		if (st && ev->stamp != NOSTAMP && *n < max)
			st[(*n)++] = ev->stamp;
	}
	return ok;
}

static void op_end_locked(struct piece *pc, struct token *t)
{
	int l;

	for (l = 0; l < L_NLOC; l++)
		if (t->locs & LB(l))
			pc->flightcnt[l]--;
	pc->nflight--;
}

/* Race tallies of a reader op that ends now (piece lock held). */
static void count_race(struct piece *pc, struct token *t, int a)
{
	int rr = rr_index(a);

	if (t->wseq0 & 1)
		R->races[t->wkind0][rr][0]++;
	else if (pc->wseq > t->wseq0)
		R->races[pc->wkind][rr][1]++;
}

/* ---- location images: where an op leaves a page that was at @l ---- */

static bool pci_peers(int a, int b)
{
	return dev_is_pci(a) && dev_is_pci(b);
}

static __u32 image(int a, int dev, int l)
{
	int x = l - L_DEV0;

	switch (a) {
	case A_MIGDEV:	/* what stays behind is read back through the mirror */
		return LB(l) | LDEV(dev) | image(A_DREAD, dev, l);
	case A_MIGSYS:
		return l >= L_DEV0 && l < L_P2PDMA ? LB(L_SYS) | LB(l) : LB(l);
	case A_DREAD:	/* a read fault: the zero page; another owner's pages come home */
		if (l == L_NONE)
			return LB(L_ZERO);
		if (l >= L_DEV0 && l < L_P2PDMA && !dev_is_coherent(x) && x != dev)
			return LB(L_SYS) | (pci_peers(x, dev) ? LB(l) : 0);
		return LB(l);
	case A_DWRITE:	/* a write fault: system memory, or in place */
		if (l == L_NONE || l == L_ZERO || l == L_SYS)
			return LB(L_SYS);
		if (l >= L_DEV0 && l < L_P2PDMA && !dev_is_coherent(x) && x != dev &&
		    !pci_peers(x, dev))
			return LB(L_SYS);
		return LB(l) | LB(L_SYS);
	case A_CPUW:
		if (l >= L_DEV0 && l < L_P2PDMA && dev_is_coherent(x))
			return LB(l) | LB(L_SYS);	/* in place, or copied on write */
		return l == L_P2PDMA ? LB(l) : LB(L_SYS);
	case A_DONTNEED:
	case A_REMAP:
		return LB(L_NONE);
	default:
		return LB(l);
	}
}

static __u32 image_mask(int a, int dev, __u32 loc)
{
	__u32 m = 0;
	int l;

	for (l = 0; l < L_NLOC; l++)
		if (loc & LB(l))
			m |= image(a, dev, l);
	return m;
}

/* What an op may move pages to, as logged at its start (plus transients). */
static __u32 op_locs(int a, int dev, enum pkind k)
{
	if (k == P_P2P || a == A_SNAP || a == A_MPROT)
		return 0;
	switch (a) {
	case A_MIGDEV:
		return LDEV(dev) | LB(L_NONE) | LB(L_SYS) | LB(L_ZERO);
	case A_MIGSYS:
	case A_DWRITE:
	case A_CPUW:
		return LB(L_SYS) | LB(L_NONE);
	case A_DREAD:
		return LB(L_SYS) | LB(L_ZERO) | LB(L_NONE);
	case A_FORK:
		return L_ALLDEV | LB(L_SYS) | LB(L_ZERO) | LB(L_NONE);
	default:
		return LB(L_NONE);
	}
}

/*
 * Update the piece's locations at the end of op @a (piece lock held): the
 * image of the locations at the start, exactly when it ran alone and did all
 * it was asked, else added to what was possible. An op that raced others
 * may have acted on a page after a racing op moved it and before that op
 * ended (a device READ faulting back a page a racing migration has just put
 * on another owner's device): its image then covers @window too, every
 * location the page could take during the op (its token's loc0 and the
 * locations of the ops that started during it).
 */
static void update_loc(struct piece *pc, int a, int dev, bool alone, bool complete,
		       __u32 extra, __u32 window)
{
	struct lochist *h;
	__u32 img;

	if (pc->kind == P_P2P || in_child)	/* a child's: anywhere (child_main()) */
		return;
	img = image_mask(a, dev, alone ? pc->loc : pc->loc | window);
	if (a == A_MIGDEV && complete && alone)
		img = LDEV(dev);
	h = &pc->hist[pc->nhist++ % HIST];
	h->a = a;
	h->dev = dev;
	h->alone = alone;
	h->complete = complete;
	h->before = pc->loc;
	if (alone && complete)
		pc->loc = img;
	else
		pc->loc |= img | extra;
	h->after = pc->loc;
}

/* ---- per-thread state ---- */

struct thr {
	int id;
	__u64 s;
	__u64 *buf;		/* PMD bytes */
	unsigned char *snap;
	__u64 *cur;		/* reader's copy of the model, PMD / PAGE entries */
	__u64 *alt;
	unsigned long done;
	__u64 hash;
	__u64 opno;
	bool child;
	int *fd;
	__u64 printed;		/* opno + 1 of the last op that printed a mismatch */
};

static void mismatch(struct thr *t, const char *what, struct piece *pc, unsigned long pg,
		     long off, __u64 got, const char *want)
{
	__atomic_add_fetch(&R->mismatches, 1, __ATOMIC_RELAXED);
	/* the first bad page of an op tells it; the count tells the rest */
	if (t->printed == t->opno + 1)
		return;
	t->printed = t->opno + 1;
	note("MISMATCH seed=%lu %s%d op=%llu %s piece=%ld page=%lu +%ld: got %#llx, %s",
	     opt_seed, t->child ? "child-of-" : "thread", t->id,
	     (unsigned long long)t->opno, what, (long)(pc - pieces), pg, off,
	     (unsigned long long)got, want);
}

static void bad_errno(struct thr *t, int a, struct piece *pc, int dev, int e, const char *why)
{
	__atomic_add_fetch(&R->errors, 1, __ATOMIC_RELAXED);
	note("ERROR seed=%lu %s%d op=%llu %s piece=%ld dev=%s: %s (%s)", opt_seed,
	     t->child ? "child-of-" : "thread", t->id, (unsigned long long)t->opno,
	     act_name[a], (long)(pc - pieces), dev >= 0 ? dev_name(dev) : "-", strerror(-e), why);
}

/* Tally one op; false when its errno is one it must not get. */
static void tally(int a, int e)
{
	__atomic_add_fetch(&R->ops[a], 1, __ATOMIC_RELAXED);
	if (!e)
		__atomic_add_fetch(&R->ok[a], 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&R->err[a][-e < MAXERRNO ? -e : MAXERRNO - 1], 1,
				   __ATOMIC_RELAXED);
}

static unsigned long req_of(int a)
{
	switch (a) {
	case A_MIGDEV: return HMM_DMIRROR_MIGRATE_TO_DEV;
	case A_MIGSYS: return HMM_DMIRROR_MIGRATE_TO_SYS;
	case A_DREAD: return HMM_DMIRROR_READ;
	case A_DWRITE: return HMM_DMIRROR_WRITE;
	default: return HMM_DMIRROR_SNAPSHOT;
	}
}

/*
 * Is errno @e of a device op acceptable here? In the ABI's list, and: EFAULT
 * only with a remap in the op's window; EREMOTEIO on the p2pmem piece from a
 * device with no path to it; ENOENT for a migration (pages on another
 * device); EBUSY (invalidated again and again) anywhere.
 */
static bool errno_ok(struct piece *pc, struct token *t, int a, int dev, int e)
{
	if (!abi_allows(req_of(a), -e))
		return false;
	switch (-e) {
	case EBUSY:
		return true;
	case EFAULT:
		return t->remapping0 || pc->mapgen != t->mapgen0 || pc->remapping;
	case EINVAL:	/* a migration of a range not mapped (remap), or of p2pmem */
		if (t->remapping0 || pc->mapgen != t->mapgen0 || pc->remapping)
			return a == A_MIGDEV || a == A_MIGSYS;
		return pc->kind == P_P2P && (a == A_MIGDEV || a == A_MIGSYS);
	case ENOENT:
		return a == A_MIGDEV;
	case EREMOTEIO:
		return pc->kind == P_P2P || a == A_MIGDEV;
	case EPERM:	/* migration of the p2pmem piece: not anonymous memory */
	case EOPNOTSUPP:
		return pc->kind == P_P2P && (a == A_MIGDEV || a == A_MIGSYS);
	default:
		return false;
	}
}

/* ---- the CPU checks ---- */

/*
 * Verify the piece through the CPU, writer lock held, no writer in flight
 * but this one: each page must be one of its possible stamps, as a whole;
 * the model then holds the stamp seen. @want: the writer's stamp when it
 * must have landed (NOSTAMP: any of cur/alt/@maybe).
 */
static void cpu_verify(struct thr *t, struct piece *pc, __u64 want, __u64 maybe, const char *what)
{
	unsigned long i;

	for (i = 0; i < pc->npages; i++) {
		const __u64 *p = (const __u64 *)(pc->addr + i * PAGE);
		unsigned long gp = pc->gp + i;
		bool corrupt = take_corrupt();
		__u64 st[3];
		int n = 0, which;
		long off;
		char w[64];

		if (want != NOSTAMP) {
			st[n++] = want;
		} else {
			st[n++] = pc->cur[i];
			if (pc->alt[i] != NOSTAMP)
				st[n++] = pc->alt[i];
			if (maybe != NOSTAMP)
				st[n++] = maybe;
		}
		for (which = 0; which < n; which++)
			if (page_is(p, st[which], gp, corrupt))
				break;
		if (which < n) {
			pc->cur[i] = st[which];
			pc->alt[i] = NOSTAMP;
			continue;
		}
		off = page_mixed(p, st, n, gp, corrupt, &which);
		if (off < 0)
			off = 0;
		snprintf(w, sizeof(w), "want stamp %#llx%s", (unsigned long long)st[0],
			 n > 1 ? " or another" : "");
		mismatch(t, what, pc, i, off, p[off / 8], w);
		__atomic_add_fetch(&R->data_mismatches, 1, __ATOMIC_RELAXED);
		/* resynchronise: the model takes what is there, if it is a stamp */
		pc->cur[i] = p[0] ? (p[0] ^ 0x5a5a000000000000ULL ^ (gp << 9)) >> 24 : 0;
		pc->alt[i] = NOSTAMP;
	}
}

/* ---- the operations ---- */

static int pick_act(__u64 *s)
{
	int total = 0, i, x;

	for (i = 0; i < A_NACT; i++)
		total += act_weight[i];
	x = below(s, total);
	for (i = 0; i < A_NACT; i++) {
		if (x < act_weight[i])
			return i;
		x -= act_weight[i];
	}
	return 0;
}

static void remap_piece(struct piece *pc)
{
	void *p;

	munmap(pc->addr, pc->npages * PAGE);
	p = mmap(pc->addr, pc->npages * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		perror("remap");
		_exit(3);
	}
	madvise(p, pc->npages * PAGE, pc->kind == P_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

static void do_fork(struct thr *t, __u64 cseed);

static void do_writer(struct thr *t, struct piece *pc, int a, int dev, __u64 stamp, __u64 aux)
{
	struct token tk;
	__u64 cpages = 0, newst = stamp;
	unsigned long i;
	bool alone, complete = true, verify;
	__u32 during;
	int e = 0;

	if (a == A_DONTNEED || a == A_REMAP)
		newst = 0;
	if (a == A_MPROT)
		newst = NOSTAMP;
	pthread_mutex_lock(&pc->wlock);
	pthread_mutex_lock(&pc->lk);
	pc->pend = newst;
	pc->wseq++;
	pc->wkind = rw_index(a);
	if (a == A_REMAP) {
		pc->remapping++;
		pc->mapgen++;
	}
	pthread_mutex_unlock(&pc->lk);
	op_begin(pc, &tk, newst, op_locs(a, dev, pc->kind));

	switch (a) {
	case A_CPUW:
		for (i = 0; i < pc->npages; i++)
			fill_page((__u64 *)(pc->addr + i * PAGE), stamp, pc->gp + i);
		cpu_verify(t, pc, stamp, NOSTAMP, "cpu_write");
		break;
	case A_DWRITE:
		for (i = 0; i < pc->npages; i++)
			fill_page(t->buf + i * PAGE / 8, stamp, pc->gp + i);
		e = cmd(t->fd[dev], HMM_DMIRROR_WRITE, pc->addr, t->buf, pc->npages, &cpages);
		complete = !e && cpages == pc->npages;
		if (e && !errno_ok(pc, &tk, a, dev, e))
			bad_errno(t, a, pc, dev, e, "device write");
		/* a failed write may have written some pages; the CPU sees which */
		cpu_verify(t, pc, complete ? stamp : NOSTAMP, e ? stamp : NOSTAMP, "dev_write");
		if (!e && !complete)
			bad_errno(t, a, pc, dev, -ERANGE, "cpages short");
		break;
	case A_MPROT:
		mprotect(pc->addr, pc->npages * PAGE, PROT_READ);
		if (aux & 1)
			sched_yield();
		else
			usleep(aux % 500);
		mprotect(pc->addr, pc->npages * PAGE, PROT_READ | PROT_WRITE);
		break;
	case A_DONTNEED:
		madvise(pc->addr, pc->npages * PAGE, MADV_DONTNEED);
		break;
	case A_REMAP:
		remap_piece(pc);
		break;
	}
	if (a == A_DONTNEED || a == A_REMAP) {
		for (i = 0; i < pc->npages; i++) {
			pc->cur[i] = 0;
			pc->alt[i] = NOSTAMP;
		}
	}
	if (a == A_REMAP) {
		pthread_mutex_lock(&pc->lk);
		pc->remapping--;
		pthread_mutex_unlock(&pc->lk);
	}
	/* zeros now: checked at once one time in four, else by a later reader */
	verify = (a == A_DONTNEED || a == A_REMAP) && aux % 4 == 0;
	if (verify)
		cpu_verify(t, pc, 0, NOSTAMP, act_name[a]);
	tally(a, e);
	pthread_mutex_lock(&pc->lk);
	op_window(pc, &tk, &alone, &during, NULL, NULL, 0);
	update_loc(pc, a, dev, alone, complete, tk.locs, tk.loc0 | during);
	if (verify && !in_child)	/* the CPU read: the zero page (or a THP's) */
		pc->loc = alone ? LB(L_ZERO) | LB(L_SYS) : pc->loc | LB(L_ZERO) | LB(L_SYS);
	pc->pend = NOSTAMP;
	pc->wseq++;
	op_end_locked(pc, &tk);
	pthread_mutex_unlock(&pc->lk);
	pthread_mutex_unlock(&pc->wlock);
}

static int snap_label(unsigned char b, int dev)
{
	int nib = b & 0xf0;

	if (b == HMM_DMIRROR_PROT_ERROR)
		return T_ERROR;
	if (b == HMM_DMIRROR_PROT_NONE)
		return T_NONE;
	switch (nib) {
	case 0x00:
		return (b & HMM_DMIRROR_PROT_PMD) ? T_THP : T_SYS;
	case HMM_DMIRROR_PROT_ZERO:
		return T_ZERO;
	case HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL:
		return T_DEV0 + dev;
	case HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE:
		return T_PEER;
	case HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL:
		return T_DEV0 + dev;
	case HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE:
		return dev == 2 ? T_DEV0 + 3 : dev == 3 ? T_DEV0 + 2 : T_COH_OTHER;
	}
	return T_ERROR;
}

/*
 * HMM_PFN_ERROR, which a snapshot (no fault) reports for an address with no
 * VMA (a remap in the window), a non-present PMD (a THP being migrated, or
 * another owner's device-private THP) and, on 7.3, another owner's
 * device-private page: acceptable where the page may be one of those.
 */
static bool error_ok(int dev, __u32 loc, bool remapped)
{
	int x;

	if (remapped || (loc & LB(L_NONE)))
		return true;
	for (x = 0; x < MAXDEV; x++)
		if ((loc & LDEV(x)) && x != dev && !dev_is_coherent(x))
			return true;
	return false;
}

/* May a snapshot through @dev report @b for a page that may be at @loc? */
static bool snap_ok(unsigned char b, int dev, __u32 loc, enum pkind k)
{
	int nib = b & 0xf0, l;

	if (k == P_P2P)
		return nib == 0 && (b & 3);
	for (l = 0; l < L_NLOC; l++) {
		int x = l - L_DEV0;

		if (!(loc & LB(l)))
			continue;
		switch (l) {
		case L_NONE:
			if (b == 0)
				return true;
			/*
			 * The zero page where the model has none: a read
			 * fault it does not track (seen without a racing
			 * op, cause not found): accepted, and counted.
			 */
			if (nib == HMM_DMIRROR_PROT_ZERO && !(loc & LB(L_ZERO))) {
				__atomic_add_fetch(&R->zero_for_none, 1, __ATOMIC_RELAXED);
				return true;
			}
			break;
		case L_ZERO:
			if (nib == HMM_DMIRROR_PROT_ZERO)
				return true;
			break;
		case L_SYS:
			if (nib == 0 && (b & 3))
				return true;
			break;
		case L_P2PDMA:
			break;
		default:
			if (dev_is_coherent(x)) {
				if (nib == (x == dev ? HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
					    HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE))
					return true;
			} else if (x == dev) {
				if (nib == HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL)
					return true;
			} else if (b == 0 || nib == HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE) {
				return true;
			}
		}
	}
	return false;
}

static const char *loc_str(__u32 loc, char *buf, size_t n)
{
	static const char *const ln[L_NLOC] = { "none", "zero", "sys", "dmirror0", "dmirror1",
		"dmirror2", "dmirror3", "p2p0", "p2p1", "p2p2", "p2pdma" };
	size_t o = 0;
	int l;

	buf[0] = 0;
	for (l = 0; l < L_NLOC && o < n; l++)
		if (loc & LB(l))
			o += snprintf(buf + o, n - o, "%s%s", o ? "|" : "", ln[l]);
	return buf;
}

/* The piece's last location updates, oldest first (piece lock held). */
static void print_hist(struct piece *pc)
{
	unsigned int k, n = pc->nhist < HIST ? pc->nhist : HIST;
	char b[96], c[96];

	for (k = pc->nhist - n; k < pc->nhist; k++) {
		const struct lochist *h = &pc->hist[k % HIST];
		bool via = h->a == A_MIGDEV || h->a == A_DREAD || h->a == A_DWRITE;

		note("  piece %ld history: %s%s%s%s: %s -> %s", (long)(pc - pieces),
		     h->a >= 0 && h->a < A_NACT ? act_name[h->a] : "?",
		     via ? " via " : "", via ? dev_name(h->dev) : "",
		     h->alone && h->complete ? " (alone, complete)" :
		     h->alone ? " (alone)" : h->complete ? " (complete)" : "",
		     loc_str(h->before, b, sizeof(b)), loc_str(h->after, c, sizeof(c)));
	}
}

static void do_reader(struct thr *t, struct piece *pc, int a, int dev)
{
	struct token tk;
	__u64 cpages = 0, st[RING + 3];
	__u32 during = 0;
	unsigned long i;
	bool alone, full, complete;
	int e, n = 0, which;

	op_begin(pc, &tk, NOSTAMP, op_locs(a, dev, pc->kind));
	if (a == A_DREAD) {
		/* the model at the start (only writers change it: they log) */
		pthread_mutex_lock(&pc->lk);
		memcpy(t->cur, pc->cur, pc->npages * sizeof(__u64));
		memcpy(t->alt, pc->alt, pc->npages * sizeof(__u64));
		pthread_mutex_unlock(&pc->lk);
		memset(t->buf, 0xee, pc->npages * PAGE);
	}
	if (a == A_SNAP)
		memset(t->snap, 0xee, pc->npages);
	e = cmd(t->fd[dev], req_of(a), pc->addr, a == A_SNAP ? (void *)t->snap : (void *)t->buf,
		pc->npages, &cpages);
	complete = !e && cpages == pc->npages;

	pthread_mutex_lock(&pc->lk);
	full = op_window(pc, &tk, &alone, &during, st, &n, RING);
	count_race(pc, &tk, a);
	if (e && !errno_ok(pc, &tk, a, dev, e))
		bad_errno(t, a, pc, dev, e, "reader");
	if (!e && (a == A_DREAD || a == A_SNAP) && cpages != pc->npages)
		bad_errno(t, a, pc, dev, -ERANGE, "cpages short");
	if (!e && a == A_SNAP && full) {
		__u32 may = tk.loc0 | during;

		for (i = 0; i < pc->npages; i++) {
			unsigned char b = t->snap[i];
			int lab = snap_label(b, dev);

			/*
			 * A THP being migrated is a non-present PMD, which a
			 * snapshot (no fault) reports as an error.
			 */
			bool remapped = tk.remapping0 || pc->mapgen != tk.mapgen0 ||
					pc->remapping;

			if (!snap_ok(b, dev, may, pc->kind) &&
			    !(b == HMM_DMIRROR_PROT_ERROR && error_ok(dev, may, remapped))) {
				char ls[96], w[200];

				char fl[64], du[64];

				snprintf(w, sizeof(w), "via %s: may be %s; flight %s, during %s%s",
					 dev_name(dev),
					 loc_str(tk.loc0 & ~tk.flight0, ls, sizeof(ls)),
					 loc_str(tk.flight0, fl, sizeof(fl)),
					 loc_str(during, du, sizeof(du)), alone ? ", alone" : "");
				mismatch(t, "snapshot", pc, i, 0, b, w);
				__atomic_add_fetch(&R->class_mismatches, 1, __ATOMIC_RELAXED);
				print_hist(pc);
			}
			if (pc->kind == P_P2P && lab == T_SYS)
				lab = T_P2PDMA;
			if (pc->last[i] != T_UNSEEN && pc->last[i] != lab)
				R->trans[pc->last[i]][lab]++;
			pc->last[i] = lab;
		}
	} else if (!full) {
		R->inconclusive++;
	}
	update_loc(pc, a, dev, alone, complete, 0, tk.loc0 | during);
	op_end_locked(pc, &tk);
	pthread_mutex_unlock(&pc->lk);

	if (!e && a == A_DREAD && full) {
		__u64 pend0 = tk.pend0;
		bool raced = pend0 != NOSTAMP || n > 0;

		for (i = 0; i < pc->npages; i++) {
			const __u64 *p = t->buf + i * PAGE / 8;
			bool corrupt = take_corrupt();
			int k = 0, j;
			__u64 s2[RING + 3];
			long off;
			char w[80];

			s2[k++] = t->cur[i];
			if (t->alt[i] != NOSTAMP)
				s2[k++] = t->alt[i];
			if (pend0 != NOSTAMP)
				s2[k++] = pend0;
			for (j = 0; j < n; j++)
				s2[k++] = st[j];
			off = page_mixed(p, s2, k, pc->gp + i, corrupt, &which);
			if (off >= 0) {
				snprintf(w, sizeof(w), "device read via %s: want stamp %#llx%s",
					 dev_name(dev), (unsigned long long)s2[0],
					 k > 1 ? " or a racing one" : "");
				mismatch(t, "dev_read", pc, i, off, p[off / 8], w);
				__atomic_add_fetch(&R->data_mismatches, 1, __ATOMIC_RELAXED);
			} else if (raced) {
				__atomic_add_fetch(&R->read_saw[which < 0 ? 2 : which == 0 ? 0 : 1],
						   1, __ATOMIC_RELAXED);
			}
		}
	}
	tally(a, e);
}

static void one_op(struct thr *t)
{
	__u64 x1 = rnd(&t->s), x2 = rnd(&t->s), x3 = rnd(&t->s), x4 = rnd(&t->s);
	__u64 s1 = x1;
	int pi = x2 % npieces, a = pick_act(&s1), dev = x3 % MAXDEV;
	struct piece *pc = &pieces[pi];
	__u64 stamp = ((__u64)(t->id + 1 + (t->child ? 32 : 0)) << 26) + (t->opno & 0x3ffffff) + 1;

	t->hash = mix(t->hash, (__u64)pi << 16 | a << 8 | dev);
	if (!devok[dev])
		dev = 0;
	if (pc->kind == P_P2P && (a == A_DONTNEED || a == A_REMAP || a == A_FORK))
		a = A_CPUW;	/* a shared BAR mapping: no zap, no remap, no fork here */
	if ((t->child || opt_nofork) && a == A_FORK)
		a = A_MIGSYS;
	if (a == A_MIGDEV && !((t->child ? opt_childmask : opt_devmask) & (1U << dev)))
		dev = 0;
	/* the p2pmem piece is MAP_SHARED: the parent's, not the child's copy */
	if (t->child && pc->kind == P_P2P)
		pc = &pieces[0];
	if (a == A_MIGDEV && pc->kind == P_P2P && dev == p2p_owner)
		dev = 0;
	if (opt_verbose && t->child)
		fprintf(stderr, "# child %d: op %llu %s piece %d %s\n", getpid(),
			(unsigned long long)t->opno, act_name[a], (int)(pc - pieces),
			dev_name(dev));
	if (a == A_FORK)
		do_fork(t, mix(opt_seed, x4));
	else if (act_is_writer(a))
		do_writer(t, pc, a, dev, stamp, x4);
	else
		do_reader(t, pc, a, dev);
	t->opno++;
}

/* ---- the forked child: its own device files, its own copy ---- */

static void child_main(struct thr *parent, __u64 cseed)
{
	struct thr c = *parent;
	int cfd[MAXDEV], i, n;

	in_child = true;
	c.child = true;
	c.s = cseed;
	c.opno = 0;
	for (i = 0; i < MAXDEV; i++)
		cfd[i] = devok[i] ? open_dev(i) : -1;
	c.fd = cfd;
	/*
	 * The parent's locks: the forking thread held every writer lock, the
	 * others may be held by threads that are not here. Single-threaded
	 * now: reset them.
	 */
	for (i = 0; i < npieces; i++) {
		pthread_mutex_init(&pieces[i].wlock, NULL);
		pthread_mutex_init(&pieces[i].lk, NULL);
		pieces[i].nflight = 0;
		pieces[i].remapping = 0;
		memset(pieces[i].flightcnt, 0, sizeof(pieces[i].flightcnt));
		pieces[i].pend = NOSTAMP;
		/*
		 * The parent's threads migrate pages the child shares
		 * (copy-on-write) under it, fork may have copied device
		 * pages and copies no page table of a VMA without anon_vma:
		 * the child checks every byte, not where pages are.
		 */
		pieces[i].loc = (1U << L_NLOC) - 1;
	}
	/* the copy is exact: no writer was in flight at the fork */
	for (i = 0; i < npieces; i++)
		if (pieces[i].kind != P_P2P)
			cpu_verify(&c, &pieces[i], NOSTAMP, NOSTAMP, "child: copy at fork");
	n = 4 + below(&c.s, 8);
	for (i = 0; i < n; i++) {
		one_op(&c);
		__atomic_add_fetch(&R->child_ops, 1, __ATOMIC_RELAXED);
	}
	for (i = 0; i < npieces; i++)
		if (pieces[i].kind != P_P2P)
			cpu_verify(&c, &pieces[i], NOSTAMP, NOSTAMP, "child: at exit");
	_exit(0);
}

static void do_fork(struct thr *t, __u64 cseed)
{
	struct token tk[ARRAY_SIZE(pieces)];
	int i, st;
	pid_t pid;

	if (t->child)
		return;
	for (i = 0; i < npieces; i++)
		pthread_mutex_lock(&pieces[i].wlock);
	for (i = 0; i < npieces; i++)
		op_begin(&pieces[i], &tk[i], NOSTAMP, op_locs(A_FORK, 0, pieces[i].kind));
	pid = fork();
	if (pid == 0)
		child_main(t, cseed);
	if (opt_verbose) {
		char ls[96];

		for (i = 0; i < npieces; i++)
			fprintf(stderr, "# fork %d: piece %d may be %s\n", pid, i,
				loc_str(pieces[i].loc, ls, sizeof(ls)));
	}
	for (i = npieces - 1; i >= 0; i--)
		pthread_mutex_unlock(&pieces[i].wlock);
	if (pid < 0) {
		__atomic_add_fetch(&R->errors, 1, __ATOMIC_RELAXED);
		note("fork: %s", strerror(errno));
	} else {
		st = 0;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			__atomic_add_fetch(&R->errors, 1, __ATOMIC_RELAXED);
			note("child of thread %d (op %llu): status %#x", t->id,
			     (unsigned long long)t->opno, st);
		}
		__atomic_add_fetch(&R->forks, 1, __ATOMIC_RELAXED);
	}
	for (i = 0; i < npieces; i++) {
		bool alone;

		pthread_mutex_lock(&pieces[i].lk);
		op_window(&pieces[i], &tk[i], &alone, NULL, NULL, NULL, 0);
		update_loc(&pieces[i], A_FORK, 0, false, false, tk[i].locs, tk[i].loc0);
		op_end_locked(&pieces[i], &tk[i]);
		pthread_mutex_unlock(&pieces[i].lk);
	}
	tally(A_FORK, pid < 0 ? -errno : 0);
}

static void *worker(void *arg)
{
	struct thr *t = arg;

	while (t->done < opt_ops) {
		if (elapsed() >= opt_secs || __atomic_load_n(&R->stop, __ATOMIC_RELAXED))
			break;
		one_op(t);
		t->done++;
	}
	R->thr_ops[t->id] = t->done;
	R->thr_hash[t->id] = t->hash;
	return NULL;
}

/* ---- setup ---- */

static void add_piece(char *addr, unsigned long npages, enum pkind k, unsigned long *gp)
{
	struct piece *pc = &pieces[npieces++];
	unsigned long i;

	pc->addr = addr;
	pc->npages = npages;
	pc->kind = k;
	pc->gp = *gp;
	*gp += npages;
	pthread_mutex_init(&pc->wlock, NULL);
	pthread_mutex_init(&pc->lk, NULL);
	pc->cur = calloc(npages, sizeof(__u64));
	pc->alt = malloc(npages * sizeof(__u64));
	pc->last = malloc(npages);
	if (!pc->cur || !pc->alt || !pc->last)
		exit(2);
	for (i = 0; i < npages; i++)
		pc->alt[i] = NOSTAMP;
	memset(pc->last, T_UNSEEN, npages);
	pc->pend = NOSTAMP;
	pc->loc = k == P_P2P ? LB(L_P2PDMA) : LB(L_NONE);
}

static int setup_range(void)
{
	unsigned long gp = 0, i;
	char *base, path[128];
	void *p;

	/* [THP 2 MiB][2 MiB of 4 KiB slots: NSMALL pieces, one 16-page piece] */
	arena_size = 2 * PMD;
	p = mmap(NULL, arena_size + PMD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	arena = (char *)(((uintptr_t)p + PMD - 1) & ~(PMD - 1));
	base = arena;
	if (mmap(base, PMD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) == MAP_FAILED || madvise(base, PMD, MADV_HUGEPAGE))
		return -errno;
	add_piece(base, PMD / PAGE, P_THP, &gp);
	/* each 4 KiB piece alone in a 64 KiB slot: fault-around stays inside */
	for (i = 0; i < NSMALL + 1; i++) {
		char *a = arena + PMD + i * SLOT;
		unsigned long np = i == NSMALL ? 16 : 1;

		if (mmap(a, np * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
		    madvise(a, np * PAGE, MADV_NOHUGEPAGE))
			return -errno;
		add_piece(a, np, i == NSMALL ? P_MULTI : P_SMALL, &gp);
	}
	/* a PCI device's p2pmem, mapped into the process */
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/sys/class/misc/hmm_p2p%lu/device/p2pmem/allocate",
			 i);
		p2pmem_fd = open(path, O_RDWR | O_CLOEXEC);
		if (p2pmem_fd < 0)
			continue;
		p = mmap(NULL, P2P_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, p2pmem_fd, 0);
		if (p == MAP_FAILED) {
			close(p2pmem_fd);
			p2pmem_fd = -1;
			continue;
		}
		/* its content: ours to define */
		memset(p, 0, P2P_PAGES * PAGE);
		p2p_owner = 4 + i;
		add_piece(p, P2P_PAGES, P_P2P, &gp);
		break;
	}
	return 0;
}

static void final_check(void)
{
	struct thr t = { .id = 99 };
	int i;

	for (i = 0; i < npieces; i++)
		cpu_verify(&t, &pieces[i], NOSTAMP, NOSTAMP, "final");
}

static int devices_idle(void)
{
	int i, bad = 0, tries;

	for (i = 0; i < MAXDEV; i++) {
		struct hmm_p2p_stats st;
		int fd = open_dev(i);

		if (fd < 0)
			continue;
		for (tries = 0; tries < 50; tries++) {
			memset(&st, 0, sizeof(st));
			st.size = sizeof(st);
			if (ioctl(fd, HMM_P2P_IOC_STATS, &st) || !st.pages_in_use)
				break;
			usleep(100000);
		}
		printf("# %s: pages_in_use=%llu migrated_to_dev=%llu migrated_to_sys=%llu",
		       dev_name(i), (unsigned long long)st.pages_in_use,
		       (unsigned long long)st.migrated_to_dev,
		       (unsigned long long)st.migrated_to_sys);
		printf(" cpu_faults=%llu invalidations=%llu thp_migrated=%llu p2p_mappings=%llu\n",
		       (unsigned long long)st.cpu_faults,
		       (unsigned long long)st.invalidations, (unsigned long long)st.thp_migrated,
		       (unsigned long long)st.p2p_mappings);
		if (st.pages_in_use)
			bad++;
		close(fd);
	}
	return bad;
}

static void tap(int n, bool ok, const char *what, int *np, int *nf)
{
	printf("%sok %d %s\n", ok ? "" : "not ", n, what);
	ok ? (*np)++ : (*nf)++;
}

int main(int argc, char **argv)
{
	struct thr th[MAXTHR];
	pthread_t tid[MAXTHR];
	pthread_mutexattr_t ma;
	struct utsname un;
	unsigned long total = 0, w, r;
	int opt, i, j, np = 0, nf = 0, raced_pairs = 0, bad_idle;
	bool capped = false, cpu_mig_both;
	char line[160];

	opt_seed = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
	while ((opt = getopt(argc, argv, "s:n:t:j:k:vX:FD:c:")) != -1) {
		switch (opt) {
		case 's':
			opt_seed = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			opt_ops = strtoul(optarg, NULL, 0);
			break;
		case 't':
			opt_secs = atoi(optarg);
			break;
		case 'j':
			opt_threads = atoi(optarg);
			break;
		case 'k':
			opt_kernel = optarg;
			break;
		case 'v':
			opt_verbose = 1;
			break;
		case 'F':
			opt_nofork = 1;
			break;
		case 'D':
			opt_devmask = strtoul(optarg, NULL, 0) | 1;
			break;
		case 'c':
			opt_childmask = strtoul(optarg, NULL, 0) | 1;
			break;
		case 'X':
			opt_corrupt = strtol(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr,
				"usage: %s [-s SEED] [-n OPS] [-t SECS] [-j THREADS] [-k KERNEL]\n",
				argv[0]);
			return 2;
		}
	}
	if (opt_threads < 1 || opt_threads > MAXTHR) {
		fprintf(stderr, "-j takes 1..%d\n", MAXTHR);
		return 2;
	}
	uname(&un);
	if (!opt_kernel)
		opt_kernel = un.release;
	setvbuf(stdout, NULL, _IOLBF, 0);
	R = mmap(NULL, sizeof(*R) + sizeof(*rlock), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (R == MAP_FAILED)
		return 2;
	rlock = (pthread_mutex_t *)(R + 1);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(rlock, &ma);

	printf("TAP version 13\n");
	printf("# stress: seed=%lu (replay: -s %lu) ops/thread=%lu threads=%d time cap=%d s%s\n",
	       opt_seed, opt_seed, opt_ops, opt_threads, opt_secs,
	       opt_corrupt >= 0 ? " CORRUPTING ONE EXPECTED BYTE (-X)" : "");
	for (i = 0; i < MAXDEV; i++) {
		fds[i] = open_dev(i);
		devok[i] = fds[i] >= 0;
	}
	if (!devok[0]) {
		printf("1..0 # SKIP no /dev/hmm_dmirror0\n");
		return 4;
	}
	if (setup_range()) {
		perror("range");
		return 2;
	}
	printf("# pieces: %d (THP 2 MiB at %p, %d x 4 KiB, one 16 x 4 KiB, %s)\n", npieces,
	       pieces[0].addr, NSMALL,
	       p2p_owner >= 0 ? "p2pmem of the PCI device" : "no p2pmem");
	if (p2p_owner >= 0)
		printf("# p2pmem piece: 16 pages of %s's BAR\n", dev_name(p2p_owner));

	clock_gettime(CLOCK_MONOTONIC, &t_start);
	for (i = 0; i < opt_threads; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].id = i;
		th[i].s = mix(opt_seed, i + 1);
		th[i].hash = 1;
		th[i].fd = fds;
		th[i].buf = aligned_alloc(PAGE, PMD);
		th[i].snap = malloc(PMD / PAGE);
		th[i].cur = malloc(PMD / PAGE * sizeof(__u64));
		th[i].alt = malloc(PMD / PAGE * sizeof(__u64));
		if (!th[i].buf || !th[i].snap || !th[i].cur || !th[i].alt)
			return 2;
		pthread_create(&tid[i], NULL, worker, &th[i]);
	}
	for (i = 0; i < opt_threads; i++)
		pthread_join(tid[i], NULL);
	printf("# ran %.1f s\n", elapsed());
	for (i = 0; i < opt_threads; i++) {
		printf("# thread %d: ops=%lu seqhash=%016llx\n", i, R->thr_ops[i],
		       (unsigned long long)R->thr_hash[i]);
		total += R->thr_ops[i];
		if (R->thr_ops[i] < opt_ops)
			capped = true;
	}
	if (capped)
		printf("# TIME CAP: the %d s cap cut the run short (%lu of %lu ops)\n", opt_secs,
		       total, opt_ops * opt_threads);
	final_check();

	printf("# %-12s %8s %8s  errnos\n", "op", "count", "ok");
	for (i = 0; i < A_NACT; i++) {
		int n = 0;

		line[0] = 0;
		for (j = 1; j < MAXERRNO; j++)
			if (R->err[i][j])
				n += snprintf(line + n, sizeof(line) - n, " %s:%u",
					      strerrorname_np(j) ?: "?", R->err[i][j]);
		printf("# %-12s %8lu %8lu %s\n", act_name[i], R->ops[i], R->ok[i], line);
	}
	printf("# forks=%lu child_ops=%lu\n", R->forks, R->child_ops);
	printf("# races (writer started first / reader started first):\n");
	for (w = 0; w < RW_N; w++) {
		int n = 0;

		for (r = 0; r < RR_N; r++) {
			n += snprintf(line + n, sizeof(line) - n, " %s %lu/%lu", rr_name[r],
				      R->races[w][r][0], R->races[w][r][1]);
			raced_pairs += R->races[w][r][0] && R->races[w][r][1];
		}
		printf("#   %-10s:%s\n", rw_name[w], line);
	}
	printf("# racing dev_read saw: old %lu, new %lu, mixed %lu pages\n", R->read_saw[0],
	       R->read_saw[1], R->read_saw[2]);
	printf("# page-type transitions seen by SNAPSHOT (from -> to: count):\n");
	for (i = 0; i < T_N; i++)
		for (j = 0; j < T_N; j++)
			if (R->trans[i][j])
				printf("#   %s -> %s: %lu\n", t_name[i], t_name[j], R->trans[i][j]);
	printf("# mismatches: data %lu, class %lu; inconclusive windows %lu; pages checked %lu; "
	       "zero page where none: %lu\n",
	       R->data_mismatches, R->class_mismatches, R->inconclusive, R->page_checks,
	       R->zero_for_none);

	/* every device file closed: the devices' pages come home */
	munmap(arena, arena_size);
	for (i = 0; i < npieces; i++)
		if (pieces[i].kind == P_P2P)
			munmap(pieces[i].addr, pieces[i].npages * PAGE);
	for (i = 0; i < MAXDEV; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (p2pmem_fd >= 0)
		close(p2pmem_fd);
	bad_idle = devices_idle();

	cpu_mig_both = R->races[RW_CPUW][RR_MIGDEV][0] && R->races[RW_CPUW][RR_MIGDEV][1];
	printf("1..6\n");
	tap(1, R->mismatches == 0, "every byte and every snapshot class matched the model", &np,
	    &nf);
	tap(2, R->errors == 0, "no call failed with an errno it must not get, every child passed",
	    &np, &nf);
	tap(3, bad_idle == 0, "every device's pages_in_use is back to 0", &np, &nf);
	snprintf(line, sizeof(line), "enough operations ran (%lu of %lu)", total,
		 opt_ops * opt_threads);
	tap(4, total * 2 >= opt_ops * opt_threads && total > 0, line, &np, &nf);
	snprintf(line, sizeof(line),
		 "cpu_write raced migrate_dev both ways; %d racing pairs saw both orders",
		 raced_pairs);
	tap(5, cpu_mig_both, line, &np, &nf);
	tap(6, R->forks == 0 || R->child_ops > 0, "forked children ran operations", &np, &nf);
	for (i = 0; i < R->nmsg; i++)
		printf("# %s\n", R->msg[i]);
	printf("stress: kernel=%s seed=%lu ops=%lu mismatches=%lu errors=%lu\n", opt_kernel,
	       opt_seed, total, R->mismatches, R->errors);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n", np, nf);
	return nf ? 1 : 0;
}
