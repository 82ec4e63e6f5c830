// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p_reload: a process whose pages are on the devices while the
 * modules are unloaded, round after round, and a reader that keeps reading
 * through a PCI device while the plan unbinds and rebinds it
 * (selftests/plans/reload.sh).
 *
 * usage: hmm_p2p_reload hold DIR ROUNDS
 *        hmm_p2p_reload reader DIR
 *
 * hold: one process for all ROUNDS. Each round R (1..ROUNDS):
 *  1. wait for DIR/load.R (the plan loaded both modules);
 *  2. fill its buffers with a pattern of the round and move them to
 *     device memory: 2 MiB THP (aligned, MADV_HUGEPAGE, moved whole where
 *     the device has large folios) and 1 MiB of 4 KiB pages on
 *     /dev/hmm_dmirror0 (private), 1 MiB on /dev/hmm_dmirror2 (coherent),
 *     1 MiB on /dev/hmm_p2p0 (PCI, private);
 *  3. check that every page is in device memory (pagemap) and STATS
 *     pages_in_use covers them, then arm fail_sys_page injection on each
 *     device and close the files: the eviction at close (upstream's rule)
 *     cannot place a page and leaves them all on the device, where it finds
 *     them again (pagemap) after the close. An open file holds a module
 *     reference (fops owner), so a module can only be removed once every
 *     file is closed: this is how the unload itself meets live pages;
 *     removal disarms the injection and evicts them;
 *  4. write DIR/ready.R ("ok=1 ..." or "ok=0 why") and wait for
 *     DIR/unloaded.R (the plan removed both modules);
 *  5. check every byte and that no page is in device memory any more;
 *     write DIR/done.R ("ok=1" or "ok=0 why").
 * Exit 0 when every round was ok.
 *
 * reader: moves a 256 KiB buffer to /dev/hmm_p2p1 and reads it through
 * /dev/hmm_p2p0 (peer to peer where there is a path) until DIR/stop
 * exists, while the plan unbinds and rebinds the PCI devices. A file whose
 * device was unbound fails with ENODEV (or ESRCH): it is closed and opened
 * again when the node is back, and the buffer moved to the device again.
 * Every successful read must return the pattern. Prints one summary line;
 * exit 0 when no read returned wrong data or an unexpected error, reads
 * succeeded and the buffer is intact at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hmm_p2p_util.h"

#define NP_4K		256UL		/* 1 MiB */
#define NP_THP		(PMD_SZ / PAGE_SZ)
#define WAIT_SECS	600
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* the coherent range of /dev/hmm_dmirror2 (lib.sh, the test module's default) */
#define COH_LO		0x180000000ULL
#define COH_HI		(COH_LO + 0x20000000ULL)

static const char *dir;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put_file(const char *name, const char *text)
{
	char tmp[4096], path[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) || rename(tmp, path)) {
		perror(path);
		exit(2);
	}
}

static bool have_file(const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return !access(path, F_OK);
}

static int wait_file(const char *name)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	for (i = 0; i < WAIT_SECS * 50; i++) {
		if (have_file(name))
			return 0;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "reload: no %s/%s after %d s\n", dir, name, WAIT_SECS);
	return -1;
}

/* The pattern seed of buffer @buf of round @round. */
static __u64 seed_of(unsigned int round, unsigned int buf)
{
	return (__u64)round << 8 | buf;
}

/* ---- hold ---- */

struct hbuf {
	const char *node;
	int fd;		/* -1: closed; a buffer on the node of an earlier one shares its file */
	void *p;
	unsigned long npages;
	bool thp;
	void *out;	/* the device's copy */
};

static void *close_fn(void *arg)
{
	struct hbuf *b = arg;

	close(b->fd);
	b->fd = -1;
	return NULL;
}

static void *map_buf(unsigned long npages, bool thp)
{
	size_t size = npages * PAGE_SZ;
	char *p;

	if (!thp) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	p = mmap(NULL, size + PMD_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)p + PMD_SZ - 1) & ~(PMD_SZ - 1));
	if (madvise(p, size, MADV_HUGEPAGE))
		return NULL;
	return p;
}

/* The round's setup: buffers on the devices, files closed. 0 or -1 (@why says). */
static int hold_setup(struct hbuf *b, int nb, unsigned int round, char *why, size_t len,
		      char *info, size_t ilen)
{
	struct hmm_p2p_stats st0, st;
	struct hmm_p2p_info di;
	bool joined[8];
	pthread_t t[8];
	__u64 cpages;
	double t0;
	long n;
	int i, ret;

	info[0] = 0;
	for (i = 0; i < nb; i++) {
		int j;

		/* a fresh THP each round: the last eviction split it */
		if (b[i].thp) {
			munmap(b[i].p, b[i].npages * PAGE_SZ);
			b[i].p = map_buf(b[i].npages, true);
			if (!b[i].p) {
				snprintf(why, len, "mmap: %s", strerror(errno));
				return -1;
			}
		}

		for (j = 0; j < i && strcmp(b[j].node, b[i].node); j++)
			;
		b[i].fd = j < i ? dup(b[j].fd) : open(b[i].node, O_RDWR);
		if (b[i].fd < 0) {
			snprintf(why, len, "open %s: %s", b[i].node, strerror(errno));
			return -1;
		}
	}
	for (i = 0; i < nb; i++) {
		fill(b[i].p, b[i].npages * PAGE_SZ, seed_of(round, i));
		if (get_stats(b[i].fd, &st0) || ioctl(b[i].fd, HMM_P2P_IOC_INFO, &di)) {
			snprintf(why, len, "STATS/INFO %s: %s", b[i].node, strerror(errno));
			return -1;
		}
		/* the device hands back what it got, as upstream's does */
		ret = dm(b[i].fd, HMM_DMIRROR_MIGRATE_TO_DEV, b[i].p, b[i].out, b[i].npages,
			 &cpages);
		if (ret || cpages != b[i].npages) {
			snprintf(why, len, "MIGRATE_TO_DEV %s: %d, %llu of %lu pages", b[i].node,
				 ret, (unsigned long long)cpages, b[i].npages);
			return -1;
		}
		if (bad_word(b[i].out, b[i].npages * PAGE_SZ, seed_of(round, i)) >= 0) {
			snprintf(why, len, "%s: the device's copy is wrong", b[i].node);
			return -1;
		}
		n = pagemap_on_device(b[i].p, b[i].npages, NULL, COH_LO, COH_HI);
		if (n != (long)b[i].npages) {
			snprintf(why, len, "%s: %ld of %lu pages in device memory", b[i].node, n,
				 b[i].npages);
			return -1;
		}
		if (get_stats(b[i].fd, &st) || st.pages_in_use < b[i].npages) {
			snprintf(why, len, "%s: STATS pages_in_use %llu < %lu", b[i].node,
				 (unsigned long long)st.pages_in_use, b[i].npages);
			return -1;
		}
		/* a THP goes whole where the device has large folios */
		if (b[i].thp && (di.flags & HMM_P2P_INFO_THP) &&
		    st.thp_migrated - st0.thp_migrated != 1) {
			snprintf(why, len, "%s: the THP did not move whole (thp_migrated +%llu)",
				 b[i].node,
				 (unsigned long long)(st.thp_migrated - st0.thp_migrated));
			return -1;
		}
		snprintf(info + strlen(info), ilen - strlen(info), " %s=%llu%s",
			 strrchr(b[i].node, '/') + 1, (unsigned long long)st.pages_in_use,
			 b[i].thp && (di.flags & HMM_P2P_INFO_THP) ? "(thp)" : "");
		ret = 0;
		ret = inject(b[i].fd, INJECT_SYS_PAGE, INJECT_FOREVER, 0);
		if (ret) {
			snprintf(why, len, "%s: %s: %s", b[i].node, LIBFAIL_SYS_PAGE,
				 strerror(-ret));
			return -1;
		}
	}
	/* each close tries its eviction for about a second: in parallel */
	t0 = now();
	for (i = 0; i < nb; i++) {
		joined[i] = !!pthread_create(&t[i], NULL, close_fn, &b[i]);
		if (joined[i])
			close_fn(&b[i]);
	}
	for (i = 0; i < nb; i++)
		if (!joined[i])
			pthread_join(t[i], NULL);
	snprintf(info + strlen(info), ilen - strlen(info), " close_ms=%.0f",
		 (now() - t0) * 1000);
	for (i = 0; i < nb; i++) {
		n = pagemap_on_device(b[i].p, b[i].npages, NULL, COH_LO, COH_HI);
		if (n != (long)b[i].npages) {
			snprintf(why, len, "%s: after close, %ld of %lu pages in device memory",
				 b[i].node, n, b[i].npages);
			return -1;
		}
	}
	return 0;
}

static int hold_check(struct hbuf *b, int nb, unsigned int round, char *why, size_t len)
{
	long n, w;
	int i;

	for (i = 0; i < nb; i++) {
		n = pagemap_on_device(b[i].p, b[i].npages, NULL, COH_LO, COH_HI);
		if (n) {
			snprintf(why, len, "%s: %ld pages still in device memory", b[i].node, n);
			return -1;
		}
		w = bad_word(b[i].p, b[i].npages * PAGE_SZ, seed_of(round, i));
		if (w >= 0) {
			snprintf(why, len, "%s: wrong data at word %ld (page %ld)", b[i].node, w,
				 w * 8 / (long)PAGE_SZ);
			return -1;
		}
	}
	return 0;
}

static int hold(unsigned int rounds)
{
	struct hbuf b[] = {
		{ "/dev/hmm_dmirror0", -1, NULL, NP_THP, true },
		{ "/dev/hmm_dmirror0", -1, NULL, NP_4K, false },
		{ "/dev/hmm_dmirror2", -1, NULL, NP_4K, false },
		{ "/dev/hmm_p2p0", -1, NULL, NP_4K, false },
	};
	int nb = ARRAY_SIZE(b), i, bad = 0;
	char name[64], why[512], info[512], text[1200];
	unsigned int r;

	for (i = 0; i < nb; i++) {
		b[i].p = map_buf(b[i].npages, b[i].thp);
		b[i].out = map_buf(b[i].npages, false);
		if (!b[i].p || !b[i].out) {
			perror("mmap");
			return 2;
		}
	}
	for (r = 1; r <= rounds; r++) {
		snprintf(name, sizeof(name), "load.%u", r);
		if (wait_file(name))
			return 2;
		why[0] = 0;
		if (hold_setup(b, nb, r, why, sizeof(why), info, sizeof(info))) {
			for (i = 0; i < nb; i++)
				if (b[i].fd >= 0)
					close(b[i].fd);
			snprintf(text, sizeof(text), "ok=0 %s\n", why);
			bad++;
		} else {
			snprintf(text, sizeof(text), "ok=1%s\n", info);
		}
		snprintf(name, sizeof(name), "ready.%u", r);
		put_file(name, text);
		snprintf(name, sizeof(name), "unloaded.%u", r);
		if (wait_file(name))
			return 2;
		if (hold_check(b, nb, r, why, sizeof(why))) {
			snprintf(text, sizeof(text), "ok=0 %s\n", why);
			bad++;
		} else {
			snprintf(text, sizeof(text), "ok=1\n");
		}
		snprintf(name, sizeof(name), "done.%u", r);
		put_file(name, text);
	}
	return bad ? 1 : 0;
}

/* ---- reader ---- */

#define NP_READ	64UL

static int reader(void)
{
	unsigned long reads = 0, ok = 0, gone = 0, opens = 0, moves = 0, bad = 0, other = 0;
	void *buf = map_buf(NP_READ, false), *out = map_buf(NP_READ, false);
	int a = -1, b = -1, ret, lasterr = 0;
	double t0 = now();
	__u64 cpages;

	if (!buf || !out)
		return 2;
	fill(buf, NP_READ * PAGE_SZ, seed_of(0, 7));
	while (!have_file("stop")) {
		if (a < 0)
			a = open("/dev/hmm_p2p0", O_RDWR);
		if (b < 0) {
			b = open("/dev/hmm_p2p1", O_RDWR);
			/* the pages go to the peer each time it is back */
			if (b >= 0) {
				ret = dm(b, HMM_DMIRROR_MIGRATE_TO_DEV, buf, out, NP_READ,
					 &cpages);
				if (!ret)
					moves++;
				else if (ret == -ENODEV || ret == -ESRCH)
					gone++;
				else
					other++, lasterr = ret;
			}
		}
		if (a < 0 || b < 0) {
			opens++;
			usleep(2000);
			continue;
		}
		memset(out, 0, NP_READ * PAGE_SZ);
		ret = dm(a, HMM_DMIRROR_READ, buf, out, NP_READ, &cpages);
		reads++;
		if (!ret) {
			if (cpages != NP_READ ||
			    bad_word(out, NP_READ * PAGE_SZ, seed_of(0, 7)) >= 0)
				bad++;
			else
				ok++;
		} else if (ret == -ENODEV || ret == -ESRCH) {
			gone++;
			close(a);
			a = -1;
			close(b);	/* its peer may be gone too: start again */
			b = -1;
		} else {
			other++;
			lasterr = ret;
			usleep(1000);
		}
		/* the peer's file may have died: ask it, cheaply */
		if (b >= 0 && dm(b, HMM_DMIRROR_READ, buf, out, 1, &cpages) == -ENODEV) {
			gone++;
			close(b);
			b = -1;
		}
	}
	if (bad_word(buf, NP_READ * PAGE_SZ, seed_of(0, 7)) >= 0)
		bad++;
	printf("%s: %.1f s, reads=%lu ok=%lu wrong_data=%lu gone=%lu other_errors=%lu%s%s",
	       __func__, now() - t0, reads, ok, bad, gone, other, lasterr ? " last=" : "",
	       lasterr ? strerror(-lasterr) : "");
	printf(" reopen_waits=%lu migrations=%lu\n", opens, moves);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return !bad && !other && ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "hold")) {
		dir = argv[2];
		return hold(strtoul(argv[3], NULL, 0));
	}
	if (argc == 3 && !strcmp(argv[1], "reader")) {
		dir = argv[2];
		return reader();
	}
	fprintf(stderr, "usage: %s hold DIR ROUNDS | reader DIR\n", argv[0]);
	return 2;
}
