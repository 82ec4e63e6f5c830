// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p_holder: a process that keeps a buffer whose pages went to a device
 * while a test plan tries to unload the module, then unloads it
 * (selftests/plans/ours.sh).
 *
 * usage: hmm_p2p_holder DEV NPAGES DIR [thp]
 *        hmm_p2p_holder --stats DEV
 *
 * Every open file of a device holds hmm_p2p_test.ko (its fops' owner), and
 * every close() evicts all of the device's pages (upstream's rule): so no
 * unpinned page can be on the device when the module goes. What can be
 * tested is that rmmod is refused while the pages are live, that they stay
 * on the device and intact through that, that the close() takes every one
 * home (seen through a second file opened before), and that the data is
 * intact after the unload. Holder mode, with DIR a directory for the
 * handshake with the plan:
 *  1. open /dev/hmm_dmirrorDEV, fill NPAGES pages with a pattern, migrate
 *     them to the device; check the copy the device returned, that the pages
 *     are in device memory (pagemap: device-private entries, or PFNs in the
 *     coherent range given as HOLDER_COHERENT=0xSTART-0xEND), and that STATS
 *     agree exactly (a freshly loaded module: pages in use and migrated ==
 *     NPAGES, bytes copied twice the buffer, one chunk of INFO's chunk
 *     size). Write DIR/migrated ("ok=1" or "ok=0" and details), wait for
 *     DIR/go1.
 *  2. with the file still open, read STATS through it and write DIR/held
 *     (pages_in_use=N, on_device=N): the plan tries rmmod now, which must
 *     fail. Wait for DIR/go2.
 *  3. check that every page is still in device memory and that the device
 *     reads it right; open a second file, close the first (the eviction),
 *     read STATS through the second (pages_in_use 0, evicted NPAGES more),
 *     check no page is in device memory, close it. Write DIR/closed, wait
 *     for DIR/go3.
 *  4. (the plan unloads the module meanwhile) check every page by CPU and
 *     that none is in device memory. Write DIR/done, exit 0 when every check
 *     passed, 1 otherwise.
 *
 * --stats: print the device's STATS as key=value lines (the file is opened
 * and closed, which evicts on upstream semantics: use it when the device
 * should be idle).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "hmm_p2p_test.h"

#define PAGE_SZ		4096UL
#define PMD_SZ		(2UL << 20)
#define WAIT_SECS	600
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char *dir;

static __u64 pat(unsigned long i)
{
	return 0x5eed000000000000ULL ^ ((__u64)i + 1);
}

static long bad_word(const __u64 *w, size_t size)
{
	unsigned long i;

	for (i = 0; i < size / sizeof(*w); i++)
		if (w[i] != pat(i))
			return i;
	return -1;
}

/* Physical range of coherent device memory ($HOLDER_COHERENT=START-END). */
static unsigned long long coh_lo, coh_hi;

/*
 * Pages of the buffer that are in device memory, from /proc/self/pagemap:
 * device-private pages are non-present swap-type entries (the guest has no
 * swap); coherent pages are present with a PFN in the coherent range (PFNs
 * are only shown to root).
 */
static long on_device(const void *addr, unsigned long npages)
{
	unsigned long i, n = 0;
	__u64 e, pfn;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return -1;
	for (i = 0; i < npages; i++) {
		if (pread(fd, &e, sizeof(e), ((uintptr_t)addr / PAGE_SZ + i) * 8) !=
		    sizeof(e)) {
			close(fd);
			return -1;
		}
		pfn = e & ((1ULL << 55) - 1);
		if (!(e & (1ULL << 63)))
			n += !!(e & (1ULL << 62));
		else if (coh_hi && pfn * PAGE_SZ >= coh_lo && pfn * PAGE_SZ < coh_hi)
			n++;
	}
	close(fd);
	return n;
}

/* Write DIR/NAME atomically (through a temporary and rename). */
static void put_file(const char *name, const char *text)
{
	char tmp[4096], path[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(tmp);
		exit(2);
	}
	if (rename(tmp, path)) {
		perror(path);
		exit(2);
	}
}

static int wait_file(const char *name)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	char path[4096];
	int i;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (i = 0; i < WAIT_SECS * 20; i++) {
		if (!access(path, F_OK))
			return 0;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "holder: no %s after %d s\n", path, WAIT_SECS);
	return -1;
}

static int get_stats(int fd, struct hmm_p2p_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(fd, HMM_P2P_IOC_STATS, st);
}

static int format_stats(char *out, size_t len, const struct hmm_p2p_stats *s)
{
	const struct {
		const char *name;
		__u64 val;
	} f[] = {
		{ "migrated_to_dev", s->migrated_to_dev },
		{ "migrated_to_sys", s->migrated_to_sys },
		{ "cpu_faults", s->cpu_faults },
		{ "cpu_faults_for_mirrors", s->cpu_faults_for_mirrors },
		{ "evicted", s->evicted },
		{ "bytes_copied", s->bytes_copied },
		{ "alloc_failures", s->alloc_failures },
		{ "mirror_faults", s->mirror_faults },
		{ "invalidations", s->invalidations },
		{ "pages_in_use", s->pages_in_use },
		{ "pages_total", s->pages_total },
		{ "chunks", s->chunks },
		{ "thp_migrated", s->thp_migrated },
	};
	size_t i, n = 0;

	for (i = 0; i < ARRAY_SIZE(f) && n < len; i++)
		n += snprintf(out + n, len - n, "%s=%llu\n", f[i].name,
			      (unsigned long long)f[i].val);
	return n;
}

static int dev_open(int dev)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/hmm_dmirror%d", dev);
	return open(path, O_RDWR);
}

static int stats_mode(int dev)
{
	struct hmm_p2p_stats st;
	char text[2048];
	int fd = dev_open(dev);

	if (fd < 0 || get_stats(fd, &st)) {
		perror("stats");
		return 1;
	}
	close(fd);
	format_stats(text, sizeof(text), &st);
	fputs(text, stdout);
	return 0;
}

/* Report a failed check into @why (the first one wins); returns false. */
static bool fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why[0]) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "holder: %s\n", why);
	return false;
}

int main(int argc, char **argv)
{
	struct hmm_p2p_stats st, st2;
	struct hmm_p2p_info info;
	struct hmm_dmirror_cmd cmd;
	unsigned long npages, i;
	char text[4096], why[512] = "";
	size_t size, len;
	__u64 *w, *mirror;
	long bad, devpriv;
	bool thp, ok;
	char *map;
	int dev, fd, fd2;

	if (argc == 3 && !strcmp(argv[1], "--stats"))
		return stats_mode(atoi(argv[2]));
	if (argc < 4) {
		fprintf(stderr, "usage: %s DEV NPAGES DIR [thp] | --stats DEV\n",
			argv[0]);
		return 2;
	}
	if (getenv("HOLDER_COHERENT"))
		sscanf(getenv("HOLDER_COHERENT"), "%llx-%llx", &coh_lo, &coh_hi);
	dev = atoi(argv[1]);
	npages = strtoul(argv[2], NULL, 0);
	dir = argv[3];
	thp = argc > 4 && !strcmp(argv[4], "thp");
	size = npages * PAGE_SZ;

	map = mmap(NULL, size + PMD_SZ, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mirror = malloc(size);
	if (map == MAP_FAILED || !mirror) {
		perror("mmap");
		return 2;
	}
	w = (__u64 *)(((uintptr_t)map + PMD_SZ - 1) & ~(PMD_SZ - 1));
	madvise(w, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (i = 0; i < size / sizeof(*w); i++)
		w[i] = pat(i);

	/* 1. Migrate and check. */
	fd = dev_open(dev);
	if (fd < 0) {
		perror("open");
		return 2;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.addr = (uintptr_t)w;
	cmd.ptr = (uintptr_t)mirror;
	cmd.npages = npages;
	ok = true;
	if (ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd)) {
		ok = fail(why, sizeof(why), "MIGRATE_TO_DEV: %s", strerror(errno));
	} else if (cmd.cpages != npages) {
		ok = fail(why, sizeof(why), "migrated %llu of %lu",
			  (unsigned long long)cmd.cpages, npages);
	} else {
		bad = bad_word(mirror, size);
		if (bad >= 0)
			ok = fail(why, sizeof(why), "device copy wrong at word %ld", bad);
	}
	devpriv = on_device(w, npages);
	memset(&info, 0, sizeof(info));
	if (get_stats(fd, &st) || ioctl(fd, HMM_P2P_IOC_INFO, &info)) {
		ok = fail(why, sizeof(why), "STATS/INFO: %s", strerror(errno));
		memset(&st, 0, sizeof(st));
	} else if (ok && (st.pages_in_use != npages || st.migrated_to_dev != npages ||
			  st.bytes_copied != 2 * size || st.chunks != 1 ||
			  st.pages_total != info.chunk_size / PAGE_SZ)) {
		ok = fail(why, sizeof(why),
			  "STATS do not add up (a fresh module, %lu pages moved)", npages);
	}
	if (ok && (dev < 2 || coh_hi) && devpriv != (long)npages)
		ok = fail(why, sizeof(why), "%ld of %lu pages in device memory",
			  devpriv, npages);
	len = snprintf(text, sizeof(text), "ok=%d\nwhy=%s\non_device=%ld\n",
		       ok, why, devpriv);
	format_stats(text + len, sizeof(text) - len, &st);
	put_file("migrated", text);
	if (wait_file("go1"))
		return 2;

	/* 2. The file is open, the pages on the device: the plan tries rmmod. */
	if (get_stats(fd, &st)) {
		ok = fail(why, sizeof(why), "STATS before rmmod: %s", strerror(errno));
		memset(&st, 0, sizeof(st));
	}
	devpriv = on_device(w, npages);
	snprintf(text, sizeof(text), "pages_in_use=%llu\non_device=%ld\n",
		 (unsigned long long)st.pages_in_use, devpriv);
	put_file("held", text);
	if (wait_file("go2"))
		return 2;

	/* 3. Still there after the refused rmmod, and right; then close(). */
	devpriv = on_device(w, npages);
	if ((dev < 2 || coh_hi) && devpriv != (long)npages)
		ok = fail(why, sizeof(why),
			  "after rmmod was refused: %ld of %lu pages in device memory",
			  devpriv, npages);
	memset(mirror, 0, size);
	memset(&cmd, 0, sizeof(cmd));
	cmd.addr = (uintptr_t)w;
	cmd.ptr = (uintptr_t)mirror;
	cmd.npages = npages;
	bad = -1;
	if (ioctl(fd, HMM_DMIRROR_READ, &cmd) || cmd.cpages != npages)
		ok = fail(why, sizeof(why), "device READ after the refused rmmod: %s",
			  strerror(errno));
	else
		bad = bad_word(mirror, size);
	if (bad >= 0)
		ok = fail(why, sizeof(why),
			  "device READ after the refused rmmod: wrong at word %ld", bad);
	if (get_stats(fd, &st) || st.pages_in_use != npages)
		ok = fail(why, sizeof(why), "pages_in_use %llu after the refused rmmod",
			  (unsigned long long)st.pages_in_use);
	fd2 = dev_open(dev);
	if (fd2 < 0) {
		perror("open");
		return 2;
	}
	close(fd);
	devpriv = on_device(w, npages);
	if (get_stats(fd2, &st2)) {
		ok = fail(why, sizeof(why), "STATS after close: %s", strerror(errno));
		memset(&st2, 0, sizeof(st2));
	} else if (st2.pages_in_use || st2.evicted - st.evicted != npages) {
		ok = fail(why, sizeof(why),
			  "after close: pages_in_use %llu, evicted %llu (want 0, %lu)",
			  (unsigned long long)st2.pages_in_use,
			  (unsigned long long)(st2.evicted - st.evicted), npages);
	}
	if (devpriv)
		ok = fail(why, sizeof(why), "after close: %ld pages in device memory", devpriv);
	close(fd2);
	snprintf(text, sizeof(text), "on_device=%ld\npages_in_use=%llu\nevicted=%llu\n",
		 devpriv, (unsigned long long)st2.pages_in_use,
		 (unsigned long long)(st2.evicted - st.evicted));
	put_file("closed", text);
	if (wait_file("go3"))
		return 2;

	/* 4. The module is gone: every page is in system memory, and right. */
	devpriv = on_device(w, npages);
	bad = bad_word(w, size);
	snprintf(text, sizeof(text), "on_device=%ld\nbad_word=%ld\nok=%d\nwhy=%s\n",
		 devpriv, bad, ok, why);
	put_file("done", text);
	if (devpriv)
		ok = fail(why, sizeof(why), "%ld pages in device memory after unload", devpriv);
	if (bad >= 0)
		ok = fail(why, sizeof(why), "data wrong at word %ld: %#llx", bad,
			  (unsigned long long)w[bad]);
	return ok ? 0 : 1;
}
