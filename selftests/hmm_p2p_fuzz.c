// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-p2p fuzzer: random commands with random and boundary arguments on the
 * test devices, from several processes and threads, while other threads of
 * the same processes munmap, mremap, mprotect, fork, close and migrate the
 * ranges under them.
 *
 *   hmm_p2p_fuzz [-s SEED] [-t SECONDS] [-n CALLS] [-P PROCS] [-j THREADS]
 *                [-k KERNEL] [-d] [-u] [-K KILLS] [-v]
 *
 *   -s  seed (default: from the clock; always printed: replay with -s)
 *   -t  time bound of the fuzzing phase, seconds (default 60)
 *   -n  call bound over all processes (default 1000000)
 *   -P  processes (default 3), each with -j calling threads (default 3) and
 *       one thread that changes the address space under them
 *   -k  kernel name for the summary line (default: uname -r)
 *   -d  debug kernel: time limits four times as long
 *   -u  deterministic probe: one process, one thread, no races, only the
 *       upstream commands (0x00-0x09), each call logged before it is made:
 *       the part that also runs against upstream's test_hmm
 *   -K  fatal-signal rounds after the fuzzing (default 12)
 *
 * Rules every call is held to (a call that breaks one is an "error"):
 *   - it returns success or an errno in its command's list in
 *     uapi/hmm_p2p_test.h (hmm_p2p_errno_table), or for the DRM front
 *     end's commands on its render nodes (when hmm_p2p_drm.ko is loaded) in
 *     uapi/hmm_p2p_drm.h (hmm_p2p_drm_errno_table);
 *   - it takes no longer than its size explains: base + per-MiB limit
 *     (-d multiplies both);
 *   - a success reports no more pages than asked (cpages <= npages).
 * After the fuzzing, rounds of: a child starts a long command, is sent
 * SIGKILL, and must be gone within 1 s (2 s with -d). At the end every
 * device's pages_in_use is 0 and no injection is left armed.
 *
 * Output: TAP, one line per rule, per-command errno tallies, and the line
 *   fuzz: kernel=K calls=N ok=M errors=E seed=S slowest_ms=T
 * Exit status 0 when nothing broke a rule.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/memfd.h>

#define HMM_P2P_WANT_ERRNO_TABLE
#include "hmm_p2p_test.h"
#include "hmm_p2p_drm.h"	/* its drm.h: libdrm-dev's include/libdrm */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define PAGE		4096UL
#define PMD		(2UL << 20)
#define MAXDEV		7		/* hmm_dmirror0..3, hmm_p2p0..2 */
#define MAXDRM		16		/* /dev/dri/renderD128.. */
#define NSLOT		12		/* regions per process */
#define SLOT_SZ		(4UL << 20)	/* arena slot: 4 MiB, 2 MiB aligned */
/* regions in the first NSLOT slots, then room for mremap, then a guard */
#define ARENA_SZ	((2UL << 30) + 4 * SLOT_SZ)
#define BUF_PAGES	1024UL		/* a thread's buffer: 4 MiB */
#define MAXERRS		24
#define MAXCMD		32
#define MAXERRNO	134

/* ---- the ABI's errno lists ---- */

static const int e_raw[] = { ENOTTY, 0 };
/* a DRM driver command number past the driver's table: the DRM core's */
static const int e_drm_raw[] = { EINVAL, 0 };

/* The command's errno list (uapi), or NULL for an unknown command. */
static const int *abi_errnos(unsigned long req)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hmm_p2p_errno_table); i++)
		if (hmm_p2p_errno_table[i].cmd == req)
			return hmm_p2p_errno_table[i].errnos;
	for (i = 0; i < ARRAY_SIZE(hmm_p2p_drm_errno_table); i++)
		if (hmm_p2p_drm_errno_table[i].cmd == req)
			return hmm_p2p_drm_errno_table[i].errnos;
	return NULL;
}

enum kind { K_RANGE, K_RELEASE, K_FLAGS, K_CLASSIFY, K_STATS, K_INJECT, K_INFO,
	    K_BENCH, K_DMA, K_OBSERVE, K_PREFETCH, K_JOB, K_RAW,
	    /* the DRM front end's, on its render nodes */
	    K_DINFO, K_DBIND, K_DUNBIND, K_DMIGRATE, K_DPREFETCH, K_DEXEC, K_DQUERY, K_DSTATS,
	    K_DRAW };

struct cmdspec {
	const char *name;
	unsigned long req;
	enum kind kind;
	const int *unused;
	bool upstream;
	int weight;
	int unit;		/* bytes of ptr buffer per page */
	bool writes_range;	/* the device writes the range's memory */
	bool drm;		/* on a render node of hmm_p2p_drm.ko */
};

static const struct cmdspec cmds[] = {
	{ "READ", HMM_DMIRROR_READ, K_RANGE, NULL, true, 14, PAGE, false },
	{ "READ_UNLOCKED", HMM_DMIRROR_READ_UNLOCKED, K_RANGE, NULL, true, 4, PAGE, false },
	{ "WRITE", HMM_DMIRROR_WRITE, K_RANGE, NULL, true, 10, PAGE, true },
	{ "MIGRATE_TO_DEV", HMM_DMIRROR_MIGRATE_TO_DEV, K_RANGE, NULL, true, 14, PAGE, false },
	{ "MIGRATE_TO_SYS", HMM_DMIRROR_MIGRATE_TO_SYS, K_RANGE, NULL, true, 10, 0, false },
	{ "SNAPSHOT", HMM_DMIRROR_SNAPSHOT, K_RANGE, NULL, true, 8, 1, false },
	{ "EXCLUSIVE", HMM_DMIRROR_EXCLUSIVE, K_RANGE, NULL, true, 5, PAGE, false },
	{ "CHECK_EXCLUSIVE", HMM_DMIRROR_CHECK_EXCLUSIVE, K_RANGE, NULL, true, 4, 0, false },
	{ "RELEASE", HMM_DMIRROR_RELEASE, K_RELEASE, NULL, true, 1, 0, false },
	{ "FLAGS", HMM_DMIRROR_FLAGS, K_FLAGS, NULL, true, 2, 0, false },
	{ "CLASSIFY", HMM_P2P_IOC_CLASSIFY, K_CLASSIFY, NULL, false, 8,
	  sizeof(struct hmm_p2p_page_info), false },
	{ "STATS", HMM_P2P_IOC_STATS, K_STATS, NULL, false, 2, 0, false },
	{ "FAULT_INJECT", HMM_P2P_IOC_FAULT_INJECT, K_INJECT, NULL, false, 1, 0, false },
	{ "INFO", HMM_P2P_IOC_INFO, K_INFO, NULL, false, 1, 0, false },
	{ "COPY_BENCH", HMM_P2P_IOC_COPY_BENCH, K_BENCH, NULL, false, 1, 0, false },
	{ "DMA", HMM_P2P_IOC_DMA, K_DMA, NULL, false, 3, 0, false },
	{ "OBSERVE", HMM_P2P_IOC_OBSERVE, K_OBSERVE, NULL, false, 3, 0, false },
	{ "PREFETCH", HMM_P2P_IOC_PREFETCH, K_PREFETCH, NULL, false, 6, 0, false },
	{ "JOB", HMM_P2P_IOC_JOB, K_JOB, NULL, false, 5, PAGE, true },
	{ "MIGRATE_PEERS", HMM_P2P_IOC_MIGRATE_PEERS, K_RANGE, NULL, false, 6, 0, false },
	{ "RAW", 0, K_RAW, e_raw, true, 2, 0, false },
	/*
	 * BIND's ranges are written by later EXECs (WRITE) through their
	 * handles: they follow the writing commands' rule (gen_range()).
	 */
	{ "DRM_INFO", DRM_IOCTL_HMM_P2P_INFO, K_DINFO, NULL, false, 1, 0, false, true },
	{ "DRM_BIND", DRM_IOCTL_HMM_P2P_BIND, K_DBIND, NULL, false, 6, 0, true, true },
	{ "DRM_UNBIND", DRM_IOCTL_HMM_P2P_UNBIND, K_DUNBIND, NULL, false, 3, 0, false, true },
	{ "DRM_MIGRATE", DRM_IOCTL_HMM_P2P_MIGRATE, K_DMIGRATE, NULL, false, 8, 0, false, true },
	{ "DRM_PREFETCH", DRM_IOCTL_HMM_P2P_PREFETCH, K_DPREFETCH, NULL, false, 3, 0, false, true },
	{ "DRM_EXEC", DRM_IOCTL_HMM_P2P_EXEC, K_DEXEC, NULL, false, 5, PAGE, false, true },
	{ "DRM_QUERY", DRM_IOCTL_HMM_P2P_QUERY, K_DQUERY, NULL, false, 4,
	  sizeof(struct hmm_p2p_page_info), false, true },
	{ "DRM_STATS", DRM_IOCTL_HMM_P2P_STATS, K_DSTATS, NULL, false, 2, 0, false, true },
	{ "DRM_RAW", 0, K_DRAW, e_drm_raw, false, 1, 0, false, true },
};

#define NCMD	ARRAY_SIZE(cmds)

/* ---- results, shared by all processes ---- */

struct shared {
	unsigned long calls, ok, errors, slow;
	unsigned long per_cmd[NCMD], per_cmd_ok[NCMD];
	unsigned int per_errno[NCMD][MAXERRNO];
	unsigned long slowest_us, slowest_npages;
	int slowest_cmd;
	double busy_us, busy_mib;		/* successful range calls */
	unsigned long nerrs, errcount[MAXERRS];
	char errs[MAXERRS][160];
	unsigned long races[8];
	/* device-wide evictions (RELEASE) in flight, and their count so far */
	unsigned long evicting, evictions;
	unsigned long slowest_alone_us;
	int slowest_alone_cmd;
	int stop;
};

static struct shared *sh;
static pthread_mutex_t *shlock;		/* process-shared */

static unsigned long opt_seed, opt_calls = 1000000, opt_kills = 12;
static int opt_secs = 60, opt_procs = 3, opt_threads = 3, opt_debug, opt_upstream, opt_verbose;
static const char *opt_kernel;
static struct timespec t_start;

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static bool time_up(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED) ||
	       t.tv_sec - t_start.tv_sec >= opt_secs ||
	       __atomic_load_n(&sh->calls, __ATOMIC_RELAXED) >= opt_calls;
}

/* xorshift64*: each thread's own sequence from the seed */
static __u64 rnd(__u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static __u64 below(__u64 *s, __u64 n)
{
	return n ? rnd(s) % n : 0;
}

static void record_error(const char *fmt, ...)
{
	va_list ap;

	char msg[sizeof(sh->errs[0])];
	size_t key;
	unsigned long i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one example of each kind: the text before its arguments */
	key = strcspn(msg, "=");
	pthread_mutex_lock(shlock);
	for (i = 0; i < sh->nerrs && i < MAXERRS; i++)
		if (!strncmp(sh->errs[i], msg, key))
			break;
	if (i == sh->nerrs && i < MAXERRS) {
		memcpy(sh->errs[i], msg, sizeof(msg));
		sh->nerrs++;
	}
	if (i < MAXERRS)
		sh->errcount[i]++;
	sh->errors++;
	pthread_mutex_unlock(shlock);
}

/* ---- one process's world ---- */

enum rkind { R_ANON, R_EMPTY, R_RO, R_NONE, R_TMPFS, R_HUGETLB, R_THP, R_P2PMEM,
	     R_DEVMAP, R_DEVRES, R_HOLE, R_NKIND };

static const char *const rkind_name[R_NKIND] = {
	"anon", "empty", "ro", "none", "tmpfs", "hugetlb", "thp", "p2pmem",
	"devmap", "devres", "hole",
};

struct region {
	char *addr;		/* the slot's start (fixed) */
	size_t len;		/* mapped length, 0 when unmapped */
	enum rkind kind;
};

struct world {
	char *arena;
	struct region r[NSLOT];
	int fd[MAXDEV];		/* -1: no such device */
	int ndev;
	int dfd[MAXDRM];	/* hmm_p2p_drm render nodes, -1: none */
	int ndrm;
	bool nodev[MAXDEV];
	int p2pmem_fd;
	pthread_mutex_t maplock;	/* changes of the slots (chaos thread, fork) */
};

static struct world W;

static const char *dev_path(int i, char *buf, size_t n)
{
	if (i < 4)
		snprintf(buf, n, "/dev/hmm_dmirror%d", i);
	else
		snprintf(buf, n, "/dev/hmm_p2p%d", i - 4);
	return buf;
}

static int open_dev(int i)
{
	char path[32];

	return open(dev_path(i, path, sizeof(path)), O_RDWR | O_CLOEXEC);
}

static void open_devs(void)
{
	int i;

	W.ndev = 0;
	for (i = 0; i < MAXDEV; i++) {
		W.fd[i] = open_dev(i);
		if (W.fd[i] >= 0)
			W.ndev++;
		if (opt_upstream && i >= 4 && W.fd[i] >= 0) {
			close(W.fd[i]);
			W.fd[i] = -1;
			W.ndev--;
		}
	}
}

/* /dev/dri/renderD(128 + @i), when it is hmm_p2p_drm's; else -1. */
static int open_drm(int i)
{
	char path[32], name[32] = "";
	struct drm_version v = { .name_len = sizeof(name) - 1, .name = name };
	int fd;

	snprintf(path, sizeof(path), "/dev/dri/renderD%d", 128 + i);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ioctl(fd, DRM_IOCTL_VERSION, &v) || strcmp(name, DRM_HMM_P2P_DRIVER_NAME)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void open_drms(void)
{
	int i;

	W.ndrm = 0;
	for (i = 0; i < MAXDRM; i++) {
		W.dfd[i] = opt_upstream ? -1 : open_drm(i);
		if (W.dfd[i] >= 0)
			W.ndrm++;
	}
}

static int pick_drm_fd(__u64 *s)
{
	int i = below(s, MAXDRM), n;

	for (n = 0; n < MAXDRM; n++, i = (i + 1) % MAXDRM)
		if (W.dfd[i] >= 0)
			return W.dfd[i];
	return -1;
}

static int pick_fd(__u64 *s)
{
	int i, tries;

	for (tries = 0; tries < 16; tries++) {
		i = below(s, MAXDEV);
		if (W.fd[i] >= 0)
			return W.fd[i];
	}
	for (i = 0; i < MAXDEV; i++)
		if (W.fd[i] >= 0)
			return W.fd[i];
	return -1;
}

static void touch(char *p, size_t len, int v)
{
	size_t o;

	for (o = 0; o < len; o += PAGE)
		p[o] = (char)v;
}

/* (Re)create slot @i as @kind; the caller holds maplock. */
static void map_slot(int i, enum rkind kind, __u64 *s)
{
	struct region *r = &W.r[i];
	size_t len = (1 + below(s, 64)) * PAGE;
	int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	int fd = -1;
	void *p;

	if (r->len)
		munmap(r->addr, r->len);
	r->len = 0;
	/* keep the slot reserved (PROT_NONE), so nothing else lands there */
	mmap(r->addr, SLOT_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
	     -1, 0);
	switch (kind) {
	case R_NONE:
		prot = PROT_NONE;
		break;
	case R_HUGETLB:
		len = PMD;
		flags |= MAP_HUGETLB;
		break;
	case R_THP:
		len = PMD;
		break;
	case R_TMPFS:
		fd = syscall(SYS_memfd_create, "hmm-fuzz", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, len))
			goto fallback;
		flags = MAP_SHARED | MAP_FIXED;
		break;
	case R_P2PMEM:
		if (W.p2pmem_fd < 0)
			goto fallback;
		fd = dup(W.p2pmem_fd);
		len = 16 * PAGE;
		flags = MAP_SHARED | MAP_FIXED;
		break;
	case R_DEVMAP:
		fd = open_dev(0);
		if (fd < 0)
			goto fallback;
		len = 8 * PAGE;
		flags = MAP_SHARED | MAP_FIXED;
		break;
	case R_HOLE:
		r->kind = R_HOLE;
		return;
	default:
		break;
	}
	p = mmap(r->addr, len, prot, flags, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		goto fallback;
	r->len = len;
	r->kind = kind;
	if (kind == R_THP)
		madvise(p, len, MADV_HUGEPAGE);
	if (kind != R_NONE && kind != R_EMPTY)
		touch(p, len, (int)rnd(s));
	if (kind == R_RO)
		mprotect(p, len, PROT_READ);
	if (kind == R_DEVRES) {
		struct hmm_dmirror_cmd c = {
			.addr = (uintptr_t)p, .npages = len / PAGE,
		};
		int f = pick_fd(s);

		if (f >= 0)
			ioctl(f, HMM_DMIRROR_MIGRATE_TO_DEV, &c);
	}
	return;
fallback:
	if (fd >= 0)
		close(fd);
	p = mmap(r->addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p != MAP_FAILED) {
		r->len = len;
		r->kind = R_ANON;
		touch(p, len, 1);
	}
}

static void setup_world(__u64 *s)
{
	char path[128];
	int i;

	W.arena = mmap(NULL, ARENA_SZ + PMD, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (W.arena == MAP_FAILED) {
		perror("arena");
		exit(2);
	}
	W.arena = (char *)(((uintptr_t)W.arena + PMD - 1) & ~(PMD - 1));
	pthread_mutex_init(&W.maplock, NULL);
	open_devs();
	open_drms();
	W.p2pmem_fd = -1;
	for (i = 0; i < 3 && !opt_upstream; i++) {
		snprintf(path, sizeof(path), "/sys/class/misc/hmm_p2p%d/device/p2pmem/allocate", i);
		W.p2pmem_fd = open(path, O_RDWR | O_CLOEXEC);
		if (W.p2pmem_fd >= 0)
			break;
	}
	for (i = 0; i < NSLOT; i++) {
		W.r[i].addr = W.arena + i * SLOT_SZ;
		W.r[i].len = 0;
		map_slot(i, (enum rkind)(i % R_NKIND), s);
		if (opt_verbose)
			printf("# slot %d: %s at %p, %zu KiB\n", i, rkind_name[W.r[i].kind],
			       W.r[i].addr, W.r[i].len >> 10);
	}
}

/* ---- argument generation ---- */

static const __u64 bad_addrs[] = {
	0, 1, 4095, 4096, 0x7ffffffff000ULL, 0x800000000000ULL, 0x7fffffffffffULL,
	0xffff888000000000ULL, 0xffffffff81000000ULL, 0xfffffffffffff000ULL, ~0ULL,
};

static const __u64 bad_npages[] = {
	0, 1, 2, 511, 512, 513, HMM_P2P_MAX_NPAGES, HMM_P2P_MAX_NPAGES + 1,
	1ULL << 52, (1ULL << 52) + 1, 1ULL << 63, ~0ULL,
};

struct tstate {
	__u64 s;
	char *buf;		/* BUF_PAGES pages, in the arena's tail */
	int id;
};

/* A range: mostly inside one of the slots, else a boundary case. */
static void gen_range(struct tstate *t, const struct cmdspec *c, __u64 *addr,
		      __u64 *npages, __u64 *ptr)
{
	__u64 *s = &t->s;
	struct region *r = &W.r[below(s, NSLOT)];
	size_t len = __atomic_load_n(&r->len, __ATOMIC_RELAXED);
	__u64 x = below(s, 100);
	__u64 bufbytes = BUF_PAGES * PAGE;

	if (x < 65) {
		__u64 pages = len ? len / PAGE : 1 + below(s, 16);
		__u64 off = below(s, pages);

		*addr = (uintptr_t)r->addr + off * PAGE;
		*npages = below(s, 4) ? 1 + below(s, pages - off) : 1 + below(s, 2 * pages);
	} else if (x < 80) {
		*addr = (uintptr_t)r->addr + below(s, 8) * PAGE;
		if (!below(s, 3))
			*addr += 1 + below(s, 4095);
		*npages = bad_npages[below(s, ARRAY_SIZE(bad_npages))];
	} else if (x < 95) {
		*addr = bad_addrs[below(s, ARRAY_SIZE(bad_addrs))];
		*npages = below(s, 2) ? 1 + below(s, 16) :
			  bad_npages[below(s, ARRAY_SIZE(bad_npages))];
	} else {
		*addr = rnd(s) & (below(s, 2) ? ~0xfffULL : ~0ULL);
		*npages = below(s, 2) ? 1 + below(s, 64) : rnd(s);
	}
	/*
	 * A device WRITE writes the range: outside the arena it may only
	 * reach what cannot be this program's memory (the low 64 KiB, the
	 * top of user space, kernel and non-canonical addresses).
	 */
	if (c->writes_range && (*addr < (uintptr_t)W.arena ||
				*addr >= (uintptr_t)W.arena + ARENA_SZ)) {
		if (*addr < 0x10000 && *npages > (0x10000 - *addr) / PAGE)
			*npages = 1;
		else if (*addr >= 0x10000 && *addr < 0x7ffffffff000ULL)
			*addr = 0x7ffffffff000ULL;
	}
	/* the buffer: this thread's, when it holds what the kernel writes */
	x = below(s, 100);
	if (!c->unit) {
		*ptr = below(s, 2) ? (uintptr_t)t->buf : rnd(s);
	} else if (x < 75 && *npages <= bufbytes / c->unit) {
		*ptr = (uintptr_t)t->buf + (below(s, 8) ? 0 : below(s, 64) * c->unit);
		if (*npages * c->unit + (*ptr - (uintptr_t)t->buf) > bufbytes)
			*ptr = (uintptr_t)t->buf;
	} else if (x < 85) {
		/* PROT_NONE, in the arena's spare slots */
		*ptr = (uintptr_t)W.arena + (NSLOT + 2) * SLOT_SZ;
	} else {
		static const __u64 bad[] = { 0, 1, 0xffff888000000000ULL, ~0ULL,
						0x7ffffffff000ULL };

		*ptr = bad[below(s, 5)];
	}
}

static void bump_errno(int ci, int e)
{
	if (e < 0 || e >= MAXERRNO)
		e = MAXERRNO - 1;
	__atomic_add_fetch(&sh->per_errno[ci][e], 1, __ATOMIC_RELAXED);
}

static bool errno_allowed(const struct cmdspec *c, int e)
{
	const int *list = c->kind == K_RAW ? e_raw : c->kind == K_DRAW ? e_drm_raw :
			  abi_errnos(c->req);
	int i;

	if (e == ESRCH || e == EINTR)
		return true;
	for (i = 0; list && i < 16 && list[i]; i++)
		if (list[i] == e)
			return true;
	return false;
}

/*
 * Time limit of a call that asked for @bytes of work, in microseconds: 3 s,
 * plus 40 ms a MiB (TCG migrates 50-100 MiB/s). RELEASE works on the whole
 * device (its size: what is in use, up to 512 MiB here); a call that ran
 * while a RELEASE was in flight may have waited for it (an eviction holds
 * off new device pages) and gets its allowance too. -d: all x4.
 */
#define EVICT_ALLOW_US	20e6

static double limit_us(double bytes, bool overlapped)
{
	double mib = bytes / (1 << 20);

	if (mib > 1024)
		mib = 1024;
	return (3e6 + mib * 40e3 + (overlapped ? EVICT_ALLOW_US : 0)) * (opt_debug ? 4 : 1);
}

/* A handle: mostly one of the first few (some bound), else 0 or random. */
static __u32 drm_handle(__u64 *s)
{
	if (below(s, 8))
		return 1 + below(s, 8);
	return below(s, 2) ? 0 : below(s, 2) ? DRM_HMM_P2P_MAX_BINDINGS + below(s, 4) :
	       (__u32)rnd(s);
}

/* An offset and a length inside a binding, mostly; else a boundary case. */
static void drm_window(__u64 *s, __u64 *off, __u64 *npages)
{
	__u64 x = below(s, 4);

	if (x < 2) {
		/* the start of a binding: most are a few pages or more */
		*off = 0;
		*npages = 1 + below(s, 4);
	} else if (x < 3) {
		*off = below(s, 16);
		*npages = 1 + below(s, 64);
	} else {
		*off = below(s, 2) ? bad_npages[below(s, ARRAY_SIZE(bad_npages))] : 0;
		*npages = bad_npages[below(s, ARRAY_SIZE(bad_npages))];
	}
}

/*
 * The DRM front end's commands (uapi/hmm_p2p_drm.h): their structures in
 * @u, mostly valid, with random and boundary values. Returns the request.
 */
static unsigned long drm_call(struct tstate *t, const struct cmdspec *c, void *up,
			      __u64 *addr, __u64 *npages, __u64 *ptr, double *bytes)
{
	__u64 *s = &t->s, off = 0, n = 0;
	union {
		struct drm_hmm_p2p_bind db;
		struct drm_hmm_p2p_unbind du;
		struct drm_hmm_p2p_migrate dm;
		struct drm_hmm_p2p_prefetch dp;
		struct drm_hmm_p2p_exec de;
		struct drm_hmm_p2p_query dq;
		struct drm_hmm_p2p_stats ds;
	} *u = up;

	switch (c->kind) {
	case K_DBIND:
		gen_range(t, c, addr, npages, ptr);
		u->db.addr = *addr;
		u->db.npages = *npages;
		u->db.flags = below(s, 8) ? (below(s, 3) ? 0 : 1 + below(s, 3)) : (__u32)rnd(s);
		u->db.handle = rnd(s);
		if (u->db.flags & DRM_HMM_P2P_BIND_POPULATE)
			*bytes = *npages < (1ULL << 40) ? (double)*npages * PAGE : 1e18;
		break;
	case K_DUNBIND:
		u->du.handle = drm_handle(s);
		u->du.pad = below(s, 16) ? 0 : 1;
		break;
	case K_DMIGRATE:
		drm_window(s, &off, &n);
		u->dm.handle = drm_handle(s);
		u->dm.dir = below(s, 8) ? below(s, 2) : (__u32)rnd(s);
		u->dm.offset = off;
		u->dm.npages = n;
		u->dm.moved = rnd(s);
		break;
	case K_DPREFETCH:
		drm_window(s, &off, &n);
		u->dp.handle = drm_handle(s);
		u->dp.flags = below(s, 8) ? below(s, 4) : (__u32)rnd(s);
		u->dp.offset = off;
		u->dp.npages = n;
		break;
	case K_DEXEC:
		drm_window(s, &off, &n);
		u->de.handle = drm_handle(s);
		u->de.op = below(s, 8) ? below(s, 2) : (__u32)rnd(s);
		u->de.offset = off;
		u->de.npages = n;
		u->de.ptr = below(s, 8) ? (uintptr_t)t->buf : below(s, 2) ? 0 : rnd(s);
		/* as JOB: a time per page only for a short job */
		u->de.delay_us = below(s, 8) ? (n <= 8 ? below(s, 20) : 0) :
				 HMM_P2P_JOB_MAX_DELAY_US + 1;
		u->de.pad = below(s, 16) ? 0 : 1;
		*ptr = u->de.ptr;
		break;
	case K_DQUERY:
		drm_window(s, &off, &n);
		u->dq.handle = drm_handle(s);
		u->dq.flags = below(s, 8) ? below(s, 2) : (__u32)rnd(s);
		u->dq.offset = off;
		u->dq.npages = n;
		u->dq.ptr = below(s, 8) ? (uintptr_t)t->buf : below(s, 2) ? 0 : rnd(s);
		*ptr = u->dq.ptr;
		break;
	case K_DSTATS:
		u->ds.ptr = below(s, 8) ? (uintptr_t)t->buf : bad_addrs[below(s, 4)];
		u->ds.size = below(s, 4) ? sizeof(struct hmm_p2p_stats) : below(s, 600);
		u->ds.flags = below(s, 8) ? 0 : (__u32)rnd(s) & ~DRM_HMM_P2P_STATS_RESET;
		break;
	case K_DRAW:
		/* driver command numbers past the table, any size */
		return _IOC(below(s, 4), DRM_IOCTL_BASE,
			       DRM_COMMAND_BASE + DRM_HMM_P2P_NR + below(s, 0x60 - DRM_HMM_P2P_NR),
			       below(s, 256));
	default:
		break;
	}
	/* the window's work: bounded by its binding, at most HMM_P2P_MAX_NPAGES */
	if (n)
		*bytes = n <= HMM_P2P_MAX_NPAGES ? (double)n * PAGE : 1e18;
	*npages = n;
	return c->req;
}

static void one_call(struct tstate *t, int ci)
{
	const struct cmdspec *c = &cmds[ci];
	__u64 *s = &t->s;
	union {
		struct hmm_dmirror_cmd d;
		struct hmm_p2p_classify_cmd cl;
		struct hmm_p2p_stats st;
		struct hmm_p2p_fault_cmd f;
		struct hmm_p2p_info in;
		struct hmm_p2p_copy_bench b;
		struct hmm_p2p_dma_cmd dma;
		struct hmm_p2p_observe_cmd obs;
		struct hmm_p2p_prefetch_cmd pf;
		struct hmm_p2p_job_cmd job;
		struct drm_hmm_p2p_info di;
		struct drm_hmm_p2p_bind db;
		struct drm_hmm_p2p_unbind du;
		struct drm_hmm_p2p_migrate dm;
		struct drm_hmm_p2p_prefetch dp;
		struct drm_hmm_p2p_exec de;
		struct drm_hmm_p2p_query dq;
		struct drm_hmm_p2p_stats ds;
		char raw[512];
	} u;
	__u64 addr = 0, npages = 0, ptr = 0;
	unsigned long req = c->req;
	double t0, dt, bytes = 0;
	unsigned long ev0;
	bool overlapped;
	int fd, ret, e = 0;
	void *arg = &u;

	memset(&u, 0, sizeof(u));
	fd = c->drm ? pick_drm_fd(s) : pick_fd(s);
	if (fd < 0)
		return;
	switch (c->kind) {
	case K_RANGE:
	case K_CLASSIFY:
		gen_range(t, c, &addr, &npages, &ptr);
		if (c->kind == K_RANGE) {
			u.d.addr = addr;
			u.d.ptr = ptr;
			u.d.npages = npages;
			u.d.cpages = rnd(s);
		} else {
			u.cl.addr = addr;
			u.cl.ptr = ptr;
			u.cl.npages = npages;
			u.cl.flags = below(s, 8) ? below(s, 2) : rnd(s);
		}
		bytes = npages < (1ULL << 40) ? (double)npages * PAGE : 1e18;
		break;
	case K_RELEASE:
		break;
	case K_FLAGS:
		u.d.npages = below(s, 4) ? 0 : (below(s, 2) ? HMM_DMIRROR_FLAG_FAIL_ALLOC : rnd(s));
		break;
	case K_STATS:
		u.st.size = below(s, 4) ? sizeof(u.st) : below(s, 600);
		u.st.reset = 0;
		if (!below(s, 8))
			arg = (void *)(uintptr_t)bad_addrs[below(s, 4)];
		break;
	case K_INJECT:
		/*
		 * Rarely armed, for a few failures, and only where the caller
		 * gets an errno: a failed system page in a CPU fault would kill
		 * a process by design (SIGBUS), which is the pressure test's.
		 */
		{
			static const __u32 pts[] = { HMM_P2P_FAULT_ALLOC_PAGE,
				HMM_P2P_FAULT_CHUNK_GROW, HMM_P2P_FAULT_COPY_TO_DEV };

			u.f.point = below(s, 4) ? pts[below(s, 3)] :
				    HMM_P2P_FAULT_NR + (__u32)below(s, 1000);
		}
		u.f.count = below(s, 2) ? 0 : 1 + below(s, 3);
		u.f.skip = below(s, 20);
		u.f.pad = below(s, 16) ? 0 : 1;
		break;
	case K_INFO:
		if (!below(s, 8))
			arg = (void *)(uintptr_t)bad_addrs[below(s, 4)];
		break;
	case K_BENCH:
		u.b.npages = below(s, 2) ? 1 + below(s, 64) : bad_npages[below(s, 12)];
		u.b.passes = below(s, 2) ? 1 + below(s, 4) : bad_npages[below(s, 12)];
		if (u.b.npages <= 65536 && u.b.passes <= 1000)
			bytes = (double)u.b.npages * u.b.passes * PAGE;
		break;
	case K_DMA:
		gen_range(t, c, &addr, &npages, &ptr);
		u.dma.addr = addr;
		u.dma.op = below(s, 4) ? HMM_P2P_DMA_LOOKUP :
			   below(s, 2) ? HMM_P2P_DMA_READ : rnd(s);
		/*
		 * Raw reads only of addresses that decode to no memory (unaligned,
		 * beyond RAM): a raw read of a freed page is what a rogue device
		 * does, and KASAN would rightly report the engine's copy.
		 */
		{
			static const __u64 d[] = { 0x1, 0xfff, 1ULL << 46, ~0xfffULL, ~0ULL };

			u.dma.dma = below(s, 2) ? d[below(s, 5)] : (rnd(s) | 1);
		}
		u.dma.ptr = (uintptr_t)t->buf;
		bytes = PAGE;
		break;
	case K_OBSERVE:
		/*
		 * Mostly a start over one of the ranges or a read or stop of a
		 * live id, sometimes a bad op, id, flags or pad. Closed files
		 * (the chaos thread's) free their observers.
		 */
		gen_range(t, c, &addr, &npages, &ptr);
		u.obs.op = below(s, 8) ? below(s, 3) : (__u32)rnd(s);
		u.obs.id = below(s, 8) ? below(s, HMM_P2P_OBS_MAX) : (__u32)rnd(s);
		u.obs.addr = addr;
		u.obs.npages = npages;
		u.obs.flags = below(s, 8) ? (u.obs.op == HMM_P2P_OBS_READ ? below(s, 2) : 0) :
			      (__u32)rnd(s);
		u.obs.pad = below(s, 16) ? 0 : 1;
		if (!below(s, 16))
			arg = (void *)(uintptr_t)bad_addrs[below(s, 4)];
		break;
	case K_PREFETCH:
		/* the range rules; flags mostly valid (sync, async, write), pad mostly 0 */
		gen_range(t, c, &addr, &npages, &ptr);
		u.pf.addr = addr;
		u.pf.npages = npages;
		u.pf.flags = below(s, 8) ? below(s, 4) : (__u32)rnd(s);
		u.pf.pad = below(s, 16) ? 0 : 1;
		u.pf.cpages = rnd(s);
		if (!below(s, 16))
			arg = (void *)(uintptr_t)bad_addrs[below(s, 4)];
		/* an asynchronous request only queues */
		if (!(u.pf.flags & HMM_P2P_PREFETCH_ASYNC))
			bytes = npages < (1ULL << 40) ? (double)npages * PAGE : 1e18;
		break;
	case K_JOB:
		/*
		 * The range rules (at most HMM_P2P_JOB_MAX_PAGES), op mostly
		 * valid, the device's time per page mostly short.
		 */
		gen_range(t, c, &addr, &npages, &ptr);
		u.job.addr = addr;
		u.job.ptr = ptr;
		u.job.npages = npages;
		u.job.op = below(s, 8) ? below(s, 2) : (__u32)rnd(s);
		/*
		 * A time per page only for a short job: each page's sleep is
		 * a timer (about 0.1 ms under TCG), and 512 of them would make
		 * JOB the fuzzer's slowest command by far.
		 */
		u.job.delay_us = below(s, 8) ? (npages <= 8 ? below(s, 20) : 0) :
				 below(s, 2) ? HMM_P2P_JOB_MAX_DELAY_US + 1 : (__u32)rnd(s);
		if (!below(s, 16))
			arg = (void *)(uintptr_t)bad_addrs[below(s, 4)];
		if (npages <= HMM_P2P_JOB_MAX_PAGES && u.job.delay_us < 20)
			bytes = (double)npages * PAGE;
		break;
	case K_DINFO:
	case K_DBIND:
	case K_DUNBIND:
	case K_DMIGRATE:
	case K_DPREFETCH:
	case K_DEXEC:
	case K_DQUERY:
	case K_DSTATS:
	case K_DRAW:
		req = drm_call(t, c, &u, &addr, &npages, &ptr, &bytes);
		if (!below(s, 32))
			arg = (void *)(uintptr_t)bad_addrs[below(s, 4)];
		break;
	case K_RAW:
		/* unknown numbers, known numbers with the wrong size or direction */
		req = _IOC(below(s, 4), below(s, 4) ? 'H' : rnd(s) & 0xff,
			   below(s, 2) ? 0x0a + below(s, 0x36) : 0x4a + below(s, 0xb5),
			   below(s, 3) ? below(s, 512) : sizeof(struct hmm_dmirror_cmd));
		for (ret = 0; ret < 64; ret++)
			u.raw[ret] = (char)rnd(s);
		break;
	}

	if (opt_verbose)
		printf("# call %lu: %s fd=%d addr=%#llx npages=%#llx ptr=%#llx\n",
		       __atomic_load_n(&sh->calls, __ATOMIC_RELAXED), c->name, fd,
		       (unsigned long long)addr, (unsigned long long)npages,
		       (unsigned long long)ptr);
	if (c->kind == K_RELEASE)
		__atomic_add_fetch(&sh->evicting, 1, __ATOMIC_SEQ_CST);
	ev0 = __atomic_load_n(&sh->evictions, __ATOMIC_SEQ_CST);
	overlapped = __atomic_load_n(&sh->evicting, __ATOMIC_SEQ_CST) > 0;
	t0 = now_us();
	ret = ioctl(fd, req, arg);
	if (ret)
		e = errno;
	dt = now_us() - t0;
	if (c->kind == K_RELEASE) {
		__atomic_add_fetch(&sh->evictions, 1, __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(&sh->evicting, 1, __ATOMIC_SEQ_CST);
	}
	overlapped = overlapped || ev0 != __atomic_load_n(&sh->evictions, __ATOMIC_SEQ_CST) ||
		     __atomic_load_n(&sh->evicting, __ATOMIC_SEQ_CST) > 0;

	__atomic_add_fetch(&sh->calls, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->per_cmd[ci], 1, __ATOMIC_RELAXED);
	bump_errno(ci, e);
	if (!ret) {
		__atomic_add_fetch(&sh->ok, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&sh->per_cmd_ok[ci], 1, __ATOMIC_RELAXED);
	} else if (e == EBADF && c->kind != K_RAW) {
		/* the chaos thread closed this fd just now: not the driver's */
	} else if (!errno_allowed(c, e)) {
		record_error("%s: errno %d (%s) not in its list: addr=%#llx npages=%#llx ptr=%#llx",
			     c->name, e, strerror(e), (unsigned long long)addr,
			     (unsigned long long)npages, (unsigned long long)ptr);
	}
	if (!ret && c->kind == K_RANGE && u.d.cpages > npages)
		record_error("%s: cpages %llu > npages %llu", c->name,
			     (unsigned long long)u.d.cpages, (unsigned long long)npages);
	if (!ret && c->kind == K_PREFETCH && arg == &u &&
	    u.pf.cpages != ((u.pf.flags & HMM_P2P_PREFETCH_ASYNC) ? 0 : npages))
		record_error("PREFETCH: success with cpages %llu of %llu (flags %#x)",
			     (unsigned long long)u.pf.cpages, (unsigned long long)npages,
			     u.pf.flags);
	if (!ret && c->kind == K_CLASSIFY && u.cl.cpages != npages)
		record_error("CLASSIFY: success with cpages %llu of %llu",
			     (unsigned long long)u.cl.cpages, (unsigned long long)npages);
	if (dt > limit_us(bytes, overlapped))
		record_error("%s: %.0f ms, %.1f MiB%s (limit %.0f ms): addr=%#llx n=%#llx e=%d",
			     c->name, dt / 1e3, bytes / (1 << 20),
			     overlapped ? ", with a RELEASE in flight" : "",
			     limit_us(bytes, overlapped) / 1e3,
			     (unsigned long long)addr, (unsigned long long)npages, e);
	pthread_mutex_lock(shlock);
	if (!overlapped && dt > sh->slowest_alone_us) {
		sh->slowest_alone_us = dt;
		sh->slowest_alone_cmd = ci;
	}
	if (dt > sh->slowest_us) {
		sh->slowest_us = dt;
		sh->slowest_cmd = ci;
		sh->slowest_npages = npages;
	}
	if (!ret && (c->kind == K_RANGE || c->kind == K_CLASSIFY) && npages <= HMM_P2P_MAX_NPAGES) {
		sh->busy_us += dt;
		sh->busy_mib += bytes / (1 << 20);
	}
	pthread_mutex_unlock(shlock);
}

static int pick_cmd(__u64 *s)
{
	int total = 0, i, x;

	for (i = 0; i < (int)NCMD; i++)
		if (!opt_upstream || cmds[i].upstream)
			total += cmds[i].weight;
	x = below(s, total);
	for (i = 0; i < (int)NCMD; i++) {
		if (opt_upstream && !cmds[i].upstream)
			continue;
		if (x < cmds[i].weight)
			return i;
		x -= cmds[i].weight;
	}
	return 0;
}

static void *caller(void *arg)
{
	struct tstate *t = arg;

	while (!time_up())
		one_call(t, pick_cmd(&t->s));
	return NULL;
}

/* ---- the chaos thread: the address space changes under the calls ---- */

static void child_calls(__u64 seed)
{
	struct tstate t = { .s = seed | 1 };
	int i, n = 20 + below(&t.s, 40), own;

	t.buf = W.arena + ARENA_SZ - BUF_PAGES * PAGE - SLOT_SZ;
	/* the inherited files act on the parent's address space; one of our own */
	own = open_dev(below(&t.s, 4));
	if (own >= 0 && below(&t.s, 2)) {
		close(W.fd[0] >= 0 ? W.fd[0] : own);
		if (W.fd[0] >= 0)
			W.fd[0] = own;
	}
	for (i = 0; i < n && !time_up(); i++)
		one_call(&t, pick_cmd(&t.s));
	_exit(0);
}

static void chaos_step(__u64 *s)
{
	int i = below(s, NSLOT), x = below(s, 100);
	struct region *r = &W.r[i];
	struct hmm_dmirror_cmd c = { 0 };
	int fd;

	pthread_mutex_lock(&W.maplock);
	if (x < 20) {
		map_slot(i, (enum rkind)below(s, R_NKIND), s);
		sh->races[0]++;
	} else if (x < 30 && r->len) {
		/* munmap part of it */
		size_t off = below(s, r->len / PAGE) * PAGE;

		munmap(r->addr + off, PAGE * (1 + below(s, 4)));
		r->kind = R_HOLE;	/* no CPU touch: it has holes now */
		sh->races[1]++;
	} else if (x < 38 && r->len && r->kind != R_P2PMEM && r->kind != R_DEVMAP) {
		/* mremap it into a spare slot and back */
		char *spare = W.arena + (NSLOT + (i & 1)) * SLOT_SZ;
		void *p = mremap(r->addr, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED, spare);

		if (p != MAP_FAILED) {
			p = mremap(spare, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED, r->addr);
			if (p == MAP_FAILED) {
				munmap(spare, r->len);
				r->len = 0;
			}
		}
		mmap(spare, SLOT_SZ, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		sh->races[2]++;
	} else if (x < 48 && r->len) {
		int prot = below(s, 3) == 0 ? PROT_NONE : below(s, 2) ? PROT_READ :
			   PROT_READ | PROT_WRITE;

		if (!mprotect(r->addr, r->len, prot))
			r->kind = prot == PROT_NONE ? R_NONE : prot == PROT_READ ? R_RO : r->kind;
		sh->races[3]++;
	} else if (x < 70 && r->len) {
		fd = pick_fd(s);
		c.addr = (uintptr_t)r->addr;
		c.npages = r->len / PAGE;
		if (fd >= 0)
			ioctl(fd, below(s, 3) ? HMM_DMIRROR_MIGRATE_TO_DEV :
				  HMM_DMIRROR_MIGRATE_TO_SYS, &c);
		sh->races[4]++;
	} else if (x < 80 && r->len && (r->kind == R_ANON || r->kind == R_THP ||
					r->kind == R_TMPFS || r->kind == R_DEVRES ||
					r->kind == R_HUGETLB || r->kind == R_EMPTY)) {
		/* the CPU touches it (device pages come back) */
		touch(r->addr, r->len, (int)rnd(s));
		if (r->kind == R_EMPTY)
			r->kind = R_ANON;
		sh->races[5]++;
	} else if (x < 86) {
		pid_t pid = fork();

		if (pid == 0)
			child_calls(rnd(s));
		if (pid > 0)
			waitpid(pid, NULL, below(s, 2) ? 0 : WNOHANG);
		sh->races[6]++;
	} else if (x < 92) {
		/*
		 * Close a device (a test node, or a render node: its
		 * bindings go) under the callers: dup2 swaps the file
		 * atomically.
		 */
		int d = below(s, MAXDEV), nfd;
		bool drm = W.ndrm && !below(s, 3);

		if (drm)
			d = below(s, MAXDRM);
		if (drm ? W.dfd[d] >= 0 : W.fd[d] >= 0) {
			nfd = drm ? open_drm(d) : open_dev(d);
			if (nfd >= 0) {
				/*
				 * The old file's last close evicts the
				 * device's pages from every process, as
				 * RELEASE does: calls meanwhile get its
				 * allowance (6.12 CI: four DRM calls waited
				 * 3.2 s behind one, limit 3 s).
				 */
				__atomic_add_fetch(&sh->evicting, 1, __ATOMIC_SEQ_CST);
				dup2(nfd, drm ? W.dfd[d] : W.fd[d]);
				close(nfd);
				__atomic_add_fetch(&sh->evictions, 1, __ATOMIC_SEQ_CST);
				__atomic_sub_fetch(&sh->evicting, 1, __ATOMIC_SEQ_CST);
			}
		}
		sh->races[7]++;
	} else if (r->len && r->kind != R_HUGETLB) {
		madvise(r->addr, r->len, below(s, 2) ? MADV_DONTNEED : MADV_FREE);
	}
	pthread_mutex_unlock(&W.maplock);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void *chaos(void *arg)
{
	__u64 *s = arg;

	while (!time_up()) {
		chaos_step(s);
		usleep(below(s, 2000));
	}
	return NULL;
}

static void fuzz_process(int p)
{
	pthread_t th[16], ch;
	struct tstate ts[16];
	__u64 cs = opt_seed * 7919 + p * 104729 + 1;
	int i;

	setup_world(&cs);
	for (i = 0; i < opt_threads; i++) {
		ts[i].s = (opt_seed + 1) * 0x9e3779b97f4a7c15ULL + p * 1000003ULL + i * 7777ULL;
		ts[i].id = i;
		ts[i].buf = mmap(W.arena + ARENA_SZ - (i + 2) * SLOT_SZ, BUF_PAGES * PAGE,
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (ts[i].buf == MAP_FAILED) {
			perror("buffer");
			exit(2);
		}
		memset(ts[i].buf, 0, BUF_PAGES * PAGE);
	}
	if (opt_upstream) {
		/* one thread, no races: a reproducible sequence */
		caller(&ts[0]);
		return;
	}
	pthread_create(&ch, NULL, chaos, &cs);
	for (i = 0; i < opt_threads; i++)
		pthread_create(&th[i], NULL, caller, &ts[i]);
	for (i = 0; i < opt_threads; i++)
		pthread_join(th[i], NULL);
	pthread_join(ch, NULL);
	while (waitpid(-1, NULL, 0) > 0)
		;
}

/* ---- fatal signals: a killed call ends within the limit ---- */

static void kill_rounds(void)
{
	double worst = 0, lim = opt_debug ? 2e6 : 1e6;
	unsigned long r;
	__u64 s = opt_seed ^ 0x5bd1e995;

	for (r = 0; r < opt_kills; r++) {
		int pfd[2], kind = r % 4;
		size_t len = 64UL << 20;
		pid_t pid;
		double t0, dt;
		char c;

		if (pipe(pfd))
			return;
		pid = fork();
		if (pid == 0) {
			struct hmm_dmirror_cmd cmd = { 0 };
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			int fd = open_dev(kind == 3 ? 2 : 0);

			if (p == MAP_FAILED || buf == MAP_FAILED || fd < 0)
				_exit(3);
			cmd.addr = (uintptr_t)p;
			cmd.npages = len / PAGE;
			cmd.ptr = (uintptr_t)buf;
			if (write(pfd[1], "x", 1) != 1)
				_exit(3);
			for (;;) {
				static const unsigned long reqs[] = {
					HMM_DMIRROR_MIGRATE_TO_DEV, HMM_DMIRROR_READ,
					HMM_DMIRROR_WRITE, HMM_DMIRROR_MIGRATE_TO_DEV,
				};

				ioctl(fd, reqs[kind], &cmd);
				ioctl(fd, HMM_DMIRROR_MIGRATE_TO_SYS, &cmd);
			}
		}
		close(pfd[1]);
		if (pid < 0 || read(pfd[0], &c, 1) != 1) {
			close(pfd[0]);
			if (pid > 0)
				waitpid(pid, NULL, 0);
			continue;
		}
		close(pfd[0]);
		usleep(20000 + below(&s, 300000));
		t0 = now_us();
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		dt = now_us() - t0;
		if (dt > worst)
			worst = dt;
		if (dt > lim)
			record_error("SIGKILL: child gone after %.0f ms (limit %.0f ms), cmd %d",
				     dt / 1e3, lim / 1e3, kind);
	}
	printf("# kill: %lu rounds, slowest exit after SIGKILL %.1f ms (limit %.0f ms)\n",
	       opt_kills, worst / 1e3, lim / 1e3);
}

/* ---- the end state ---- */

static int check_devices_idle(void)
{
	int i, bad = 0, tries;

	for (i = 0; i < MAXDEV; i++) {
		struct hmm_p2p_stats st;
		int fd = open_dev(i);

		if (fd < 0)
			continue;
		if (opt_upstream) {
			close(fd);
			continue;
		}
		/* disarm what the fuzzing armed */
		for (tries = 0; tries < HMM_P2P_FAULT_NR; tries++) {
			struct hmm_p2p_fault_cmd f = { .point = tries };

			ioctl(fd, HMM_P2P_IOC_FAULT_INJECT, &f);
		}
		/* freeing is asynchronous for folios still referenced briefly */
		for (tries = 0; tries < 50; tries++) {
			memset(&st, 0, sizeof(st));
			st.size = sizeof(st);
			if (ioctl(fd, HMM_P2P_IOC_STATS, &st))
				break;
			if (!st.pages_in_use)
				break;
			usleep(100000);
		}
		printf("# device %d: pages_in_use=%llu pages_total=%llu chunks=%llu evicted=%llu\n",
		       i, (unsigned long long)st.pages_in_use,
		       (unsigned long long)st.pages_total, (unsigned long long)st.chunks,
		       (unsigned long long)st.evicted);
		if (st.pages_in_use) {
			record_error("device %d: %llu pages in use after every process exited",
				     i, (unsigned long long)st.pages_in_use);
			bad++;
		}
		close(fd);
	}
	return bad;
}

static void tap(int n, bool ok, const char *what)
{
	printf("%sok %d %s\n", ok ? "" : "not ", n, what);
}

int main(int argc, char **argv)
{
	unsigned long errs_before_end;
	pthread_mutexattr_t ma;
	struct utsname un;
	int opt, p, i, j, npass = 0, nfail = 0, ok;
	unsigned long min_calls;
	pid_t pids[16];
	char name[96];

	opt_seed = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
	while ((opt = getopt(argc, argv, "s:t:n:P:j:k:duK:v")) != -1) {
		switch (opt) {
		case 's':
			opt_seed = strtoul(optarg, NULL, 0);
			break;
		case 't':
			opt_secs = atoi(optarg);
			break;
		case 'n':
			opt_calls = strtoul(optarg, NULL, 0);
			break;
		case 'P':
			opt_procs = atoi(optarg);
			break;
		case 'j':
			opt_threads = atoi(optarg);
			break;
		case 'k':
			opt_kernel = optarg;
			break;
		case 'd':
			opt_debug = 1;
			break;
		case 'u':
			opt_upstream = 1;
			break;
		case 'K':
			opt_kills = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			opt_verbose = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-t SECS] [-n CALLS] [-P PROCS]\n"
				"  [-j THREADS] [-k KERNEL] [-d] [-u] [-K KILLS] [-v]\n", argv[0]);
			return 2;
		}
	}
	if (opt_procs < 1 || opt_procs > 16 || opt_threads < 1 || opt_threads > 16) {
		fprintf(stderr, "-P and -j take 1..16\n");
		return 2;
	}
	if (opt_upstream) {
		opt_procs = 1;
		opt_threads = 1;
		opt_kills = 0;
	}
	uname(&un);
	if (!opt_kernel)
		opt_kernel = un.release;
	setvbuf(stdout, NULL, _IOLBF, 0);

	sh = mmap(NULL, sizeof(*sh) + sizeof(*shlock), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	shlock = (pthread_mutex_t *)(sh + 1);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(shlock, &ma);

	printf("TAP version 13\n");
	printf("# fuzz: seed=%lu (replay: -s %lu) secs=%d calls<=%lu procs=%d threads=%d%s%s\n",
	       opt_seed, opt_seed, opt_secs, opt_calls, opt_procs, opt_threads,
	       opt_debug ? " debug" : "", opt_upstream ? " upstream-probe" : "");
	open_devs();
	if (!W.ndev) {
		printf("1..0 # SKIP no test device\n");
		return 4;
	}
	for (i = 0; i < MAXDEV; i++)
		if (W.fd[i] >= 0)
			close(W.fd[i]);
	open_drms();
	printf("# fuzz: %d test device nodes, %d hmm_p2p_drm render nodes%s\n", W.ndev, W.ndrm,
	       W.ndrm || opt_upstream ? "" : " (hmm_p2p_drm.ko not loaded: no DRM commands)");
	for (i = 0; i < MAXDRM; i++)
		if (W.dfd[i] >= 0)
			close(W.dfd[i]);
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	for (p = 0; p < opt_procs; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			fuzz_process(p);
			_exit(0);
		}
	}
	for (p = 0; p < opt_procs; p++) {
		int st;

		if (pids[p] < 0 || waitpid(pids[p], &st, 0) < 0) {
			record_error("process %d: fork/wait failed", p);
			continue;
		}
		if (WIFSIGNALED(st))
			record_error("process %d died of signal %d", p, WTERMSIG(st));
		else if (WEXITSTATUS(st))
			record_error("process %d exited %d", p, WEXITSTATUS(st));
	}
	{
		struct timespec t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		printf("# fuzzing took %ld s\n", (long)(t.tv_sec - t_start.tv_sec));
	}
	errs_before_end = sh->errors;
	if (opt_kills)
		kill_rounds();

	/* per-command tallies: calls, successes, and each errno seen */
	printf("# %-16s %8s %8s  errnos\n", "command", "calls", "ok");
	for (i = 0; i < (int)NCMD; i++) {
		char line[512];
		int n = 0;

		if (!sh->per_cmd[i])
			continue;
		for (j = 1; j < MAXERRNO; j++)
			if (sh->per_errno[i][j])
				n += snprintf(line + n, sizeof(line) - n, " %s:%u",
					      j == MAXERRNO - 1 ? "other" :
					      strerrorname_np(j) ?: "?",
					      sh->per_errno[i][j]);
		line[n] = 0;
		printf("# %-16s %8lu %8lu %s\n", cmds[i].name, sh->per_cmd[i],
		       sh->per_cmd_ok[i], line);
	}
	printf("# races: remap %lu munmap %lu mremap %lu mprotect %lu",
	       sh->races[0], sh->races[1], sh->races[2], sh->races[3]);
	printf(" migrate %lu cpu %lu fork %lu close %lu\n",
	       sh->races[4], sh->races[5], sh->races[6], sh->races[7]);
	printf("# slowest call: %s npages=%#lx %.1f ms; with no RELEASE in flight: %s %.1f ms\n",
	       cmds[sh->slowest_cmd].name, sh->slowest_npages, sh->slowest_us / 1e3,
	       cmds[sh->slowest_alone_cmd].name, sh->slowest_alone_us / 1e3);
	printf("# successful range calls: %.1f MiB in %.1f s (%.2f ms/MiB)\n",
	       sh->busy_mib, sh->busy_us / 1e6,
	       sh->busy_mib > 0 ? sh->busy_us / 1e3 / sh->busy_mib : 0.0);

	printf("1..%d\n", opt_upstream ? 2 : 5);
	ok = errs_before_end == 0;
	tap(1, ok, "every call returned an errno of its list, in time, and every process lived");
	ok ? npass++ : nfail++;
	if (!opt_upstream) {
		ok = sh->ok * 5 >= sh->calls && sh->calls > 0;
		snprintf(name, sizeof(name), "at least a fifth of the calls succeeded (%lu of %lu)",
			 sh->ok, sh->calls);
		tap(2, ok, name);
		ok ? npass++ : nfail++;
		ok = sh->errors == errs_before_end;
		tap(3, ok, "a killed call ended within the limit");
		ok ? npass++ : nfail++;
		errs_before_end = sh->errors;
		ok = !check_devices_idle();
		tap(4, ok, "every device's pages_in_use is back to 0");
		ok ? npass++ : nfail++;
	}
	/*
	 * A liveness floor, not the count the reliability issue asks of a
	 * whole make check (that is the sum over the kernels): ten calls per
	 * second of fuzzing, or the -n bound if lower. A fuzzer whose
	 * processes died or stalled early stays far below it; a debug kernel
	 * sharing the CPUs with another boot made 38 calls a second.
	 */
	min_calls = opt_upstream ? 1 : 10UL * opt_secs;
	if (min_calls > opt_calls)
		min_calls = opt_calls;
	ok = sh->calls >= min_calls;
	snprintf(name, sizeof(name), "enough calls were made (%lu, at least %lu: %.0f a second)",
		 sh->calls, min_calls, opt_secs > 0 ? (double)sh->calls / opt_secs : 0.0);
	tap(opt_upstream ? 2 : 5, ok, name);
	ok ? npass++ : nfail++;

	for (i = 0; i < (int)sh->nerrs; i++)
		printf("# error (%lu x): %s\n", sh->errcount[i], sh->errs[i]);
	printf("fuzz: kernel=%s calls=%lu ok=%lu errors=%lu seed=%lu slowest_ms=%.0f\n",
	       opt_kernel, sh->calls, sh->ok, sh->errors, opt_seed, sh->slowest_us / 1e3);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n", npass, nfail);
	return nfail ? 1 : 0;
}
