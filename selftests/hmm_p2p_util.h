/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm-p2p selftests: helpers shared by the test programs (device open,
 * command wrappers, STATS/INFO/CLASSIFY, fault injection, fill and check
 * patterns, buffers, pipes and children), as mm's vm_util.c is for mm.
 * Include after kselftest_harness.h and the system headers.
 */
#ifndef _HMM_P2P_UTIL_H
#define _HMM_P2P_UTIL_H

#include "hmm_p2p_test.h"
#include "hmm_p2p_libfail.h"

#define PAGE_SZ		4096UL
#define PMD_SZ		(2UL << 20)
#define NPAGES_4K	256UL		/* 1 MiB */
#define NPAGES_THP	(PMD_SZ / PAGE_SZ)
#define NDEVS		4
#define NPROCS		4
#define NRACE		6
#define LONG_TIMEOUT	300		/* seconds; TCG is slow */
#define INJECT_FOREVER	0x40000000U	/* 2^30 */

#define U64(p)		((__u64)(uintptr_t)(p))

enum { DEV_PRIV0, DEV_PRIV1, DEV_COH0, DEV_COH1 };

static inline bool dev_is_coherent(int dev)
{
	return dev >= DEV_COH0;
}

static inline int dev_open(int dev)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/hmm_dmirror%d", dev);
	return open(path, O_RDWR);
}

/* One device command; returns 0 or -errno. @out gets the command back. */
static inline int dm_cmd(int fd, unsigned long req, __u64 addr, __u64 ptr,
			 __u64 npages, struct hmm_dmirror_cmd *out)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = addr, .ptr = ptr, .npages = npages,
	};
	int ret;

	do {
		ret = ioctl(fd, req, &cmd);
	} while (ret && errno == EINTR);
	if (ret)
		return -errno;
	if (out)
		*out = cmd;
	return 0;
}

/* READ/WRITE/MIGRATE_* on a buffer; returns 0 or -errno, @cpages out. */
static inline int dm(int fd, unsigned long req, const void *addr, void *ptr,
		     unsigned long npages, __u64 *cpages)
{
	struct hmm_dmirror_cmd cmd = { 0 };
	int ret;

	ret = dm_cmd(fd, req, U64(addr), U64(ptr), npages, &cmd);
	if (cpages)
		*cpages = ret ? 0 : cmd.cpages;
	return ret;
}

static inline int get_stats(int fd, struct hmm_p2p_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(fd, HMM_P2P_IOC_STATS, st) ? -errno : 0;
}

static inline int get_info(int fd, struct hmm_p2p_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, HMM_P2P_IOC_INFO, info) ? -errno : 0;
}

/* inject()'s points of the library (hmm_p2p_libfail.h), not of the device */
#define INJECT_SYS_PAGE	0x100U	/* LIBFAIL_SYS_PAGE */
#define INJECT_SYS_THP	0x101U	/* LIBFAIL_SYS_THP */

/*
 * Arm a failure injection point: HMM_P2P_FAULT_* (the device's, through
 * HMM_P2P_IOC_FAULT_INJECT) or INJECT_SYS_* (the library's, in debugfs).
 */
static inline int inject(int fd, __u32 point, __u32 count, __u32 skip)
{
	struct hmm_p2p_fault_cmd f = {
		.point = point, .count = count, .skip = skip,
	};

	if (point == INJECT_SYS_PAGE)
		return libfail_arm(fd, LIBFAIL_SYS_PAGE, count, skip);
	if (point == INJECT_SYS_THP)
		return libfail_arm(fd, LIBFAIL_SYS_THP, count, skip);
	return ioctl(fd, HMM_P2P_IOC_FAULT_INJECT, &f) ? -errno : 0;
}

static inline void inject_disarm_all(int fd)
{
	__u32 p;

	for (p = 0; p < HMM_P2P_FAULT_NR; p++)
		inject(fd, p, 0, 0);
	inject(fd, INJECT_SYS_PAGE, 0, 0);
	inject(fd, INJECT_SYS_THP, 0, 0);
}

/* CLASSIFY; returns 0 or -errno. */
static inline int classify(int fd, const void *addr, unsigned long npages,
			   __u64 flags, struct hmm_p2p_page_info *info)
{
	struct hmm_p2p_classify_cmd c = {
		.addr = U64(addr), .ptr = U64(info), .npages = npages,
		.flags = flags,
	};
	int ret;

	memset(info, 0xa5, npages * sizeof(*info));
	do {
		ret = ioctl(fd, HMM_P2P_IOC_CLASSIFY, &c);
	} while (ret && errno == EINTR);
	if (ret)
		return -errno;
	return c.cpages == npages ? 0 : -ERANGE;
}

static inline unsigned long count_class(const struct hmm_p2p_page_info *info,
					unsigned long n, int class)
{
	unsigned long i, c = 0;

	for (i = 0; i < n; i++)
		c += info[i].class == class;
	return c;
}

/* Pages at @addr that are non-present swap-type entries (device-private). */
static inline long pagemap_resident(const void *addr, unsigned long npages,
				    unsigned long *present)
{
	unsigned long i, dev = 0, pres = 0;
	__u64 *e;
	ssize_t want = npages * sizeof(*e);
	int fd;

	e = malloc(want);
	if (!e)
		return -ENOMEM;
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0 || pread(fd, e, want, (uintptr_t)addr / PAGE_SZ * 8) != want) {
		if (fd >= 0)
			close(fd);
		free(e);
		return -EIO;
	}
	close(fd);
	for (i = 0; i < npages; i++) {
		if (e[i] & (1ULL << 63))
			pres++;
		else if (e[i] & (1ULL << 62))
			dev++;
	}
	free(e);
	if (present)
		*present = pres;
	return dev;
}

/* The word pattern of a buffer: never zero, different per seed and word. */
static inline __u64 pat(__u64 seed, unsigned long i)
{
	return (seed << 40) ^ ((__u64)i + 1);
}

static inline void fill(void *p, size_t size, __u64 seed)
{
	__u64 *w = p;
	unsigned long i;

	for (i = 0; i < size / sizeof(*w); i++)
		w[i] = pat(seed, i);
}

/*
 * Check @size bytes at @p against the pattern of @seed; the pattern index
 * starts at @first (in bytes of the original buffer). Returns the byte
 * offset of the first bad word, or -1.
 */
static inline long check_at(const void *p, size_t size, __u64 seed, size_t first)
{
	const __u64 *w = p;
	unsigned long i, base = first / sizeof(*w);

	for (i = 0; i < size / sizeof(*w); i++) {
		if (w[i] != pat(seed, base + i)) {
			fprintf(stderr, "# mismatch at +%#lx: %#llx, want %#llx\n",
				i * 8, (unsigned long long)w[i],
				(unsigned long long)pat(seed, base + i));
			return i * sizeof(*w);
		}
	}
	return -1;
}

static inline long check(const void *p, size_t size, __u64 seed)
{
	return check_at(p, size, seed, 0);
}

static inline long check_zero(const void *p, size_t size)
{
	const __u64 *w = p;
	unsigned long i;

	for (i = 0; i < size / sizeof(*w); i++)
		if (w[i])
			return i * sizeof(*w);
	return -1;
}

/* Index of the first word of @size bytes at @p off @seed's pattern, or -1. */
static inline long bad_word(const void *p, size_t size, __u64 seed)
{
	const __u64 *w = p;
	unsigned long i;

	for (i = 0; i < size / sizeof(*w); i++)
		if (w[i] != pat(seed, i))
			return i;
	return -1;
}

/*
 * Pages at @addr in device memory: device-private ones are non-present
 * swap-type pagemap entries; with @coh_hi > @coh_lo, present pages whose
 * PFN (shown to root) is in [@coh_lo, @coh_hi) count too (coherent memory).
 * @map (may be NULL) gets one bool per page. Returns the count or -1.
 */
static inline long pagemap_on_device(const void *addr, unsigned long npages, bool *map,
				     __u64 coh_lo, __u64 coh_hi)
{
	unsigned long i, n = 0;
	ssize_t want = npages * sizeof(__u64);
	__u64 *e = malloc(want);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (!e || fd < 0 || pread(fd, e, want, (uintptr_t)addr / PAGE_SZ * 8) != want) {
		if (fd >= 0)
			close(fd);
		free(e);
		return -1;
	}
	close(fd);
	for (i = 0; i < npages; i++) {
		__u64 pa = (e[i] & ((1ULL << 55) - 1)) * PAGE_SZ;
		bool dev;

		if (!(e[i] & (1ULL << 63)))
			dev = e[i] & (1ULL << 62);
		else
			dev = pa >= coh_lo && pa < coh_hi;
		if (map)
			map[i] = dev;
		n += dev;
	}
	free(e);
	return n;
}

static inline void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline bool thp_enabled(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);

	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return !strstr(buf, "[never]");
}

/* AnonHugePages (kB) of the mapping that contains @addr, from smaps. */
static inline long anon_huge_kb(const void *addr)
{
	unsigned long lo, hi, a = (uintptr_t)addr;
	char line[256];
	bool in = false;
	long kb = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') <
		    strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/*
 * A test buffer: @ptr, @npages pages (2 MiB aligned for THP), inside a larger
 * mapping @map; @mirror is the device-side copy buffer.
 */
struct buf {
	void *map;
	size_t map_size;
	char *ptr;
	size_t size;
	unsigned long npages;
	char *mirror;
};

/* As buf_alloc(), @ptr 2 MiB aligned when @align (always for THP). */
static inline int buf_alloc_aligned(struct buf *b, unsigned long npages, bool thp,
				    bool align)
{
	uintptr_t a;

	align |= thp;
	memset(b, 0, sizeof(*b));
	b->npages = npages;
	b->size = npages * PAGE_SZ;
	b->map_size = b->size + (align ? PMD_SZ : 0);
	b->map = mmap(NULL, b->map_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->map == MAP_FAILED)
		return -errno;
	a = ((uintptr_t)b->map + (align ? PMD_SZ - 1 : 0)) & ~(align ? PMD_SZ - 1 : 0);
	b->ptr = (char *)a;
	if (madvise(b->ptr, b->size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		return -errno;
	b->mirror = malloc(b->size);
	if (!b->mirror)
		return -ENOMEM;
	memset(b->mirror, 0xee, b->size);
	return 0;
}

static inline int buf_alloc(struct buf *b, unsigned long npages, bool thp)
{
	return buf_alloc_aligned(b, npages, thp, false);
}

static inline void buf_free(struct buf *b)
{
	if (b->map && b->map != MAP_FAILED)
		munmap(b->map, b->map_size);
	free(b->mirror);
	memset(b, 0, sizeof(*b));
}

/* Wait up to @ms for the device's pages_in_use to drop to @limit. */
static inline __u64 wait_in_use(int fd, __u64 limit, int ms)
{
	struct hmm_p2p_stats st;

	for (;;) {
		if (get_stats(fd, &st))
			return ~0ULL;
		if (st.pages_in_use <= limit || ms <= 0)
			return st.pages_in_use;
		usleep(10000);
		ms -= 10;
	}
}

/* Block until a byte arrives (returns it) or EOF (returns -1). */
static inline int pipe_get(int fd)
{
	unsigned char c;
	ssize_t r;

	do {
		r = read(fd, &c, 1);
	} while (r < 0 && errno == EINTR);
	return r == 1 ? c : -1;
}

static inline void pipe_put(int fd, unsigned char c)
{
	ssize_t r;

	do {
		r = write(fd, &c, 1);
	} while (r < 0 && errno == EINTR);
}

static inline int wait_child(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	fprintf(stderr, "# child %d killed by signal %d\n", pid,
		WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/*
 * An address range with nothing mapped: mapped and unmapped again right
 * here, so use it before the next mmap().
 */
static inline void *fresh_hole(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || munmap(p, len))
		return NULL;
	return p;
}

/* A page-aligned address for commands that only need a valid range. */
static inline void *some_page(void)
{
	static void *page;

	if (!page)
		page = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return page == MAP_FAILED ? NULL : page;
}

/*
 * In forked processes: report and fail. Such a process runs one function, as
 * _exit(fn(...)), so a failed check ends it right here with exit status 1.
 */
#define CCHECK(cond, fmt, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "# %s:%d: pid %d: %s: " fmt "\n", __func__, \
			__LINE__, getpid(), #cond, ##__VA_ARGS__); \
		_exit(1); \
	} \
} while (0)

#endif /* _HMM_P2P_UTIL_H */
