// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-demo: move a buffer to device memory and back, and say what happened.
 *
 * usage: hmm-demo [-p] [-s MiB] DEVICE...
 *        hmm-demo -j
 *   DEVICE  index N of /dev/hmm_dmirrorN (0, 1: device-private; 2, 3:
 *           device-coherent, in the upstream test_hmm numbering)
 *   -s MiB  buffer size (default 64)
 *   -p      probe only: exit 0 if one page migrates to DEVICE and back
 *   -j      journey: a 32-page buffer moved step by step between system RAM,
 *           device-private and device-coherent memory and, with the PCI
 *           devices /dev/hmm_p2p0..2, read by a peer through the PCIe switch
 *           (P2P) and by one without a path (migrated); after each step a
 *           strip, one character a page, of what a device's mirror sees
 *
 * Speaks the test_hmm ioctl interface (uapi/hmm_p2p_test.h, commands
 * 0x00-0x3f), so it runs on upstream's lib/test_hmm.ko and on hmm-p2p's test
 * device alike; the hmm-p2p counters (HMM_P2P_IOC_STATS) are shown when the
 * driver has them.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include "hmm_p2p_test.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int dmirror(int fd, unsigned long req, void *buf, unsigned long npages,
		   void *ptr, struct hmm_dmirror_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->addr = (uintptr_t)buf;
	cmd->ptr = (uintptr_t)ptr;
	cmd->npages = npages;
	return ioctl(fd, req, cmd) ? -errno : 0;
}

static void show_count(unsigned long n, const char *what)
{
	if (n)
		printf(" %lu %s;", n, what);
}

/* Print where the buffer's pages are, as the device's mirror sees them. */
static void show_where(int fd, void *buf, unsigned long npages, unsigned char *snap)
{
	unsigned long sys = 0, zero = 0, priv = 0, privr = 0, coh = 0, cohr = 0,
		      none = 0, err = 0, i;
	struct hmm_dmirror_cmd cmd;
	int ret;

	ret = dmirror(fd, HMM_DMIRROR_SNAPSHOT, buf, npages, snap, &cmd);
	if (ret) {
		printf("     where: snapshot failed: %s\n", strerror(-ret));
		return;
	}
	for (i = 0; i < npages; i++) {
		unsigned char p = snap[i];

		if (p == HMM_DMIRROR_PROT_ERROR) {
			err++;
			continue;
		}
		if (p == HMM_DMIRROR_PROT_NONE) {
			none++;
			continue;
		}
		switch (p & 0xf0) {
		case HMM_DMIRROR_PROT_ZERO:
			zero++;
			break;
		case HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL:
			priv++;
			break;
		case HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE:
			privr++;
			break;
		case HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL:
			coh++;
			break;
		case HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE:
			cohr++;
			break;
		default:
			sys++;
			break;
		}
	}
	printf("     where:");
	show_count(sys, "in system RAM");
	show_count(zero, "zero page");
	show_count(priv, "in this device's private memory");
	show_count(privr, "in another device's private memory");
	show_count(coh, "in this device's coherent memory");
	show_count(cohr, "in another device's coherent memory");
	show_count(none, "not present");
	show_count(err, "error");
	printf("\n");
}

static void stats(int fd)
{
	static int unsupported;
	struct hmm_p2p_stats st;

	if (unsupported)
		return;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	if (ioctl(fd, HMM_P2P_IOC_STATS, &st)) {
		printf("     counters: none (this driver has no HMM_P2P_IOC_STATS: %s)\n",
		       strerror(errno));
		unsupported = 1;
		return;
	}
	printf("     counters: migrated_to_dev %llu, migrated_to_sys %llu, cpu_faults %llu,\n"
	       "               pages_in_use %llu of %llu, chunks %llu, thp_migrated %llu\n",
	       (unsigned long long)st.migrated_to_dev, (unsigned long long)st.migrated_to_sys,
	       (unsigned long long)st.cpu_faults, (unsigned long long)st.pages_in_use,
	       (unsigned long long)st.pages_total, (unsigned long long)st.chunks,
	       (unsigned long long)st.thp_migrated);
}

static double gbps(unsigned long bytes, double ms)
{
	return ms > 0 ? bytes / (ms * 1e6) : 0;
}

static int run_demo(int dev, unsigned long mib, int probe)
{
	unsigned long size = probe ? 4096 : mib << 20, npages, i, bad = 0;
	long psize = sysconf(_SC_PAGESIZE);
	struct hmm_dmirror_cmd cmd;
	unsigned char *snap;
	uint64_t *p;
	uint64_t *view;
	char path[64];
	double t;
	int fd, ret, coherent = dev >= 2;
	uint64_t sum = 0;
	void *buf;

	snprintf(path, sizeof(path), "/dev/hmm_dmirror%d", dev);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "hmm-demo: %s: %s\n", path, strerror(errno));
		return 1;
	}
	npages = size / psize;
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	snap = malloc(npages);
	/* The driver copies what the device read after migrating into here. */
	view = malloc(size);
	if (buf == MAP_FAILED || !snap || !view) {
		fprintf(stderr, "hmm-demo: out of memory\n");
		return 1;
	}
	p = buf;
	for (i = 0; i < size / 8; i++)
		p[i] = i * 0x9e3779b97f4a7c15ULL;

	if (probe) {
		ret = dmirror(fd, HMM_DMIRROR_MIGRATE_TO_DEV, buf, npages, view, &cmd);
		if (!ret && cmd.cpages == npages && p[1] == 0x9e3779b97f4a7c15ULL) {
			/* Leave the demo's counters at zero (where supported). */
			struct hmm_p2p_stats st = { .size = sizeof(st), .reset = 1 };

			ioctl(fd, HMM_P2P_IOC_STATS, &st);
			return 0;
		}
		fprintf(stderr, "hmm-demo: %s cannot migrate (%s, %llu of %lu pages)\n",
			path, ret ? strerror(-ret) : "ok", (unsigned long long)cmd.cpages, npages);
		return 1;
	}

	printf("\n== %s (%s memory): a %lu MiB buffer, %lu pages ==\n", path,
	       coherent ? "device-coherent" : "device-private", mib, npages);
	printf("  1. the process fills the buffer in system RAM\n");
	show_where(fd, buf, npages, snap);

	printf("  2. migrate it to the device (HMM_DMIRROR_MIGRATE_TO_DEV)\n");
	t = now_ms();
	ret = dmirror(fd, HMM_DMIRROR_MIGRATE_TO_DEV, buf, npages, view, &cmd);
	t = now_ms() - t;
	if (ret) {
		printf("     failed: %s\n", strerror(-ret));
		return 1;
	}
	for (i = 0; i < size / 8; i++)
		if (view[i] != i * 0x9e3779b97f4a7c15ULL)
			bad++;
	printf("     %llu pages moved in %.1f ms (%.2f GB/s), device read them back: %s\n",
	       (unsigned long long)cmd.cpages, t, gbps(cmd.cpages * psize, t),
	       bad ? "DATA CORRUPTED" : "data intact");
	show_where(fd, buf, npages, snap);
	stats(fd);

	if (coherent) {
		printf("  3. the CPU reads the buffer in place (coherent memory: no fault)\n");
	} else {
		printf("  3. the CPU reads the buffer: each access faults, and the\n"
		       "     driver's migrate_to_ram brings the page back to system RAM\n");
	}
	t = now_ms();
	for (i = 0; i < size / 8; i++) {
		if (p[i] != i * 0x9e3779b97f4a7c15ULL)
			bad++;
		sum += p[i];
	}
	t = now_ms() - t;
	printf("     read %lu MiB in %.1f ms (%.2f GB/s): %s\n", mib, t, gbps(size, t),
	       bad ? "DATA CORRUPTED" : "data intact");
	show_where(fd, buf, npages, snap);

	if (coherent) {
		printf("  4. migrate it back to system RAM (HMM_DMIRROR_MIGRATE_TO_SYS)\n");
		t = now_ms();
		ret = dmirror(fd, HMM_DMIRROR_MIGRATE_TO_SYS, buf, npages, NULL, &cmd);
		t = now_ms() - t;
		if (ret) {
			printf("     failed: %s\n", strerror(-ret));
			return 1;
		}
		printf("     %llu pages moved in %.1f ms (%.2f GB/s)\n",
		       (unsigned long long)cmd.cpages, t, gbps(cmd.cpages * psize, t));
		show_where(fd, buf, npages, snap);
	}
	stats(fd);
	munmap(buf, size);
	free(view);
	free(snap);
	close(fd);
	if (bad)
		printf("  FAILED: %lu words differ (checksum %llx)\n", bad,
		       (unsigned long long)sum);
	return bad ? 1 : 0;
}

/* ---- the journey: one small buffer, page by page ---- */

#define J_PAGES		32
#define J_HALF		(J_PAGES / 2)
#define J_STRIP_COL	44

struct jdev {
	char name[16];		/* hmm_dmirror0, hmm_p2p1, ... */
	int fd;
	int index;		/* device index (HMM_P2P_IOC_INFO), or -1 */
	int group;		/* P2P group (owner_group), or -1 */
	struct hmm_p2p_stats last;
};

static uint64_t j_word(unsigned long i)
{
	return (i + 1) * 0x9e3779b97f4a7c15ULL;
}

/* A CPU read of one word, which the compiler must do. */
static uint64_t j_touch(const void *p)
{
	return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

static void j_fill(void *buf)
{
	uint64_t *w = buf;
	unsigned long i;

	for (i = 0; i < J_PAGES * 4096 / 8; i++)
		w[i] = j_word(i);
}

/* Words of @buf (the journey's pattern) that differ, over @npages pages. */
static unsigned long j_bad(const void *buf, unsigned long first, unsigned long npages)
{
	const uint64_t *w = buf;
	unsigned long i, bad = 0;

	for (i = first * 512; i < (first + npages) * 512; i++)
		bad += w[i - first * 512] != j_word(i);
	return bad;
}

static int j_open(struct jdev *d, const char *name)
{
	struct hmm_p2p_info info;
	char path[64];

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->index = -1;
	d->group = -1;
	snprintf(path, sizeof(path), "/dev/%s", name);
	d->fd = open(path, O_RDWR);
	if (d->fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (!ioctl(d->fd, HMM_P2P_IOC_INFO, &info)) {
		d->index = info.index;
		d->group = info.owner_group;
	}
	memset(&d->last, 0, sizeof(d->last));
	d->last.size = sizeof(d->last);
	d->last.reset = 1;
	ioctl(d->fd, HMM_P2P_IOC_STATS, &d->last);
	memset(&d->last, 0, sizeof(d->last));
	return 0;
}

/* Counters since the last call: @delta; returns 0 or -errno. */
static int j_delta(struct jdev *d, struct hmm_p2p_stats *delta)
{
	struct hmm_p2p_stats now;
	__u64 *a, *b, *o;
	size_t i, n = offsetof(struct hmm_p2p_stats, reserved) / sizeof(__u64);

	memset(&now, 0, sizeof(now));
	now.size = sizeof(now);
	if (ioctl(d->fd, HMM_P2P_IOC_STATS, &now))
		return -errno;
	*delta = now;
	a = (__u64 *)&now;
	b = (__u64 *)&d->last;
	o = (__u64 *)delta;
	/* the first word holds size and reset */
	for (i = 1; i < n; i++)
		o[i] = a[i] - b[i];
	/* gauges, not counters */
	delta->pages_in_use = now.pages_in_use;
	delta->pages_total = now.pages_total;
	delta->chunks = now.chunks;
	d->last = now;
	return 0;
}

static char j_class_char(unsigned int class)
{
	switch (class) {
	case HMM_P2P_CLASS_NONE:
		return '.';
	case HMM_P2P_CLASS_SYSTEM:
		return 's';
	case HMM_P2P_CLASS_ZERO:
		return 'z';
	case HMM_P2P_CLASS_PRIVATE_LOCAL:
		return 'p';
	case HMM_P2P_CLASS_PRIVATE_GROUP:
		return 'P';
	case HMM_P2P_CLASS_COHERENT:
		return 'c';
	case HMM_P2P_CLASS_P2PDMA:
		return '2';
	}
	return '!';
}

static char j_prot_char(unsigned char p)
{
	if (p == HMM_DMIRROR_PROT_ERROR)
		return '!';
	if (p == HMM_DMIRROR_PROT_NONE)
		return '.';
	switch (p & 0xf0) {
	case HMM_DMIRROR_PROT_ZERO:
		return 'z';
	case HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL:
		return 'p';
	case HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE:
		return 'P';
	case HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL:
	case HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE:
		return 'c';
	}
	return 's';
}

/*
 * The strip: what @d's mirror sees of each page, without faulting anything
 * in (CLASSIFY with NOFAULT; upstream's test_hmm: SNAPSHOT). @info gets the
 * pages' details when CLASSIFY worked (else its classes are left 0xff).
 */
static int j_strip(struct jdev *d, void *buf, char *out, struct hmm_p2p_page_info *info)
{
	struct hmm_p2p_classify_cmd c = {
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)info, .npages = J_PAGES,
		.flags = HMM_P2P_CLASSIFY_NOFAULT,
	};
	unsigned char snap[J_PAGES];
	struct hmm_dmirror_cmd cmd;
	int i, ret;

	memset(info, 0xff, J_PAGES * sizeof(*info));
	if (!ioctl(d->fd, HMM_P2P_IOC_CLASSIFY, &c)) {
		for (i = 0; i < J_PAGES; i++)
			out[i] = j_class_char(info[i].class);
		out[J_PAGES] = 0;
		return 0;
	}
	ret = dmirror(d->fd, HMM_DMIRROR_SNAPSHOT, buf, J_PAGES, snap, &cmd);
	if (ret)
		return ret;
	for (i = 0; i < J_PAGES; i++)
		out[i] = j_prot_char(snap[i]);
	out[J_PAGES] = 0;
	return 0;
}

/* One step's line: its name, then the strip as @d sees it. */
static int j_show(const char *step, struct jdev *d, void *buf)
{
	static struct hmm_p2p_page_info info[J_PAGES];
	char strip[J_PAGES + 1];
	int ret = j_strip(d, buf, strip, info);

	if (ret) {
		printf("  %-*s (no view: %s)\n", J_STRIP_COL - 2, step, strerror(-ret));
		return ret;
	}
	printf("  %-*s %s\n", J_STRIP_COL - 2, step, strip);
	return 0;
}

static void j_note(const char *fmt, ...)
{
	va_list ap;

	printf("       ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Migrate @npages from page @first to @d; the device's copy is checked. */
static int j_to_dev(struct jdev *d, void *buf, unsigned long first, unsigned long npages,
		    void *view, const char *step, struct jdev *viewer)
{
	struct hmm_dmirror_cmd cmd;
	unsigned long bad;
	int ret;

	ret = dmirror(d->fd, HMM_DMIRROR_MIGRATE_TO_DEV, (char *)buf + first * 4096, npages,
		      view, &cmd);
	j_show(step, viewer, buf);
	if (ret) {
		j_note("MIGRATE_TO_DEV on %s failed: %s", d->name, strerror(-ret));
		return 1;
	}
	bad = j_bad(view, first, npages);
	j_note("%llu pages moved; %s read them back: %s", (unsigned long long)cmd.cpages,
	       d->name, bad ? "DATA CORRUPTED" : "data intact");
	return bad || cmd.cpages != npages;
}

static int j_to_sys(struct jdev *d, void *buf)
{
	struct hmm_dmirror_cmd cmd;
	int ret = dmirror(d->fd, HMM_DMIRROR_MIGRATE_TO_SYS, buf, J_PAGES, NULL, &cmd);

	if (ret) {
		j_note("MIGRATE_TO_SYS on %s failed: %s", d->name, strerror(-ret));
		return 1;
	}
	return (int)cmd.cpages;
}

/* BAR2 of /dev/hmm_p2pN's PCI device, from sysfs. */
static int j_bar2(const char *name, unsigned long long *start, unsigned long long *end)
{
	char path[96], line[128];
	unsigned long long flags;
	int i, ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/device/resource", name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	for (i = 0; fgets(line, sizeof(line), f); i++)
		if (i == 2 && sscanf(line, "%llx %llx %llx", start, end, &flags) == 3) {
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

/*
 * Device @imp reads the buffer, whose pages are in @exp's private memory;
 * the counters say which path the read took.
 */
static int j_peer_read(struct jdev *imp, struct jdev *exp, void *buf, void *view,
		       const char *step, struct jdev *viewer)
{
	struct hmm_p2p_stats si, se;
	struct hmm_dmirror_cmd cmd;
	unsigned long bad;
	int ret;

	j_delta(imp, &si);
	j_delta(exp, &se);
	memset(view, 0, J_PAGES * 4096);
	ret = dmirror(imp->fd, HMM_DMIRROR_READ, buf, J_PAGES, view, &cmd);
	j_show(step, viewer, buf);
	if (ret) {
		j_note("READ on %s failed: %s", imp->name, strerror(-ret));
		return 1;
	}
	bad = j_bad(view, 0, J_PAGES);
	j_note("%s read %llu pages: %s", imp->name, (unsigned long long)cmd.cpages,
	       bad ? "DATA CORRUPTED" : "data intact");
	if (j_delta(imp, &si) || j_delta(exp, &se)) {
		j_note("counters: none (no HMM_P2P_IOC_STATS)");
		return !!bad;
	}
	j_note("%-9s p2p_mappings %3llu  p2p_bytes %6llu  p2p_fallback_no_path %3llu",
	       imp->name, (unsigned long long)si.p2p_mappings,
	       (unsigned long long)si.p2p_bytes, (unsigned long long)si.p2p_fallback_no_path);
	j_note("%-9s cpu_faults_for_mirrors %3llu  migrated_to_sys %3llu  pages_in_use %3llu",
	       exp->name, (unsigned long long)se.cpu_faults_for_mirrors,
	       (unsigned long long)se.migrated_to_sys, (unsigned long long)se.pages_in_use);
	if (si.p2p_mappings >= J_PAGES && !se.migrated_to_sys)
		j_note("path: peer to peer; the pages stayed in %s's memory", exp->name);
	else if (si.p2p_fallback_no_path == J_PAGES && se.migrated_to_sys == J_PAGES)
		j_note("path: none; %s moved the pages to system RAM first", exp->name);
	else
		j_note("path: mixed (see the counters)");
	return !!bad;
}

static int run_journey(void)
{
	struct jdev d0, d2, p[3];
	unsigned long i, bad, size = J_PAGES * 4096UL;
	int ret = 0, n, np = 0;
	struct hmm_p2p_dma_cmd dc;
	unsigned long long bs, be;
	char *map, *buf;
	void *view;

	if (j_open(&d0, "hmm_dmirror0") || j_open(&d2, "hmm_dmirror2")) {
		fprintf(stderr, "hmm-demo: /dev/hmm_dmirror0 and 2: %s\n", strerror(errno));
		return 1;
	}
	/* 64 KiB aligned: a CPU fault brings back an aligned 64 KiB at most */
	map = mmap(NULL, size + 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	view = malloc(size);
	if (map == MAP_FAILED || !view) {
		fprintf(stderr, "hmm-demo: out of memory\n");
		return 1;
	}
	buf = (char *)(((uintptr_t)map + 65535) & ~65535UL);

	printf("A %d-page buffer (%lu KiB) moves between memories; after each step, one\n"
	       "character a page of what a device's mirror sees (CLASSIFY, without faulting):\n"
	       "  .  nothing mapped      s  system RAM        z  the zero page\n"
	       "  p  the viewer's own device-private memory    P  a peer's private memory\n"
	       "  c  device-coherent memory (any device)       2  a PCI P2PDMA page\n",
	       J_PAGES, size >> 10);
	printf("\n  %-*s %s\n", J_STRIP_COL - 2, "step (viewer: hmm_dmirror0)", "pages 0..31");
	j_show("0. mmap: nothing there yet", &d0, buf);
	for (i = 0; i < J_HALF; i++)
		j_touch(buf + i * 4096);
	j_show("1. CPU reads pages 0-15", &d0, buf);
	j_fill(buf);
	j_show("2. CPU writes all 32", &d0, buf);
	ret |= j_to_dev(&d0, buf, 0, J_PAGES, view, "3. migrate to hmm_dmirror0 (private)", &d0);
	for (i = 0; i < J_HALF; i++)
		j_touch(buf + i * 4096 + 8);
	j_show("4. CPU reads pages 0-15: faults back", &d0, buf);
	bad = j_bad(buf, 0, J_HALF);
	j_note("the CPU read them: %s", bad ? "DATA CORRUPTED" : "data intact");
	ret |= !!bad;
	ret |= j_to_dev(&d2, buf, 0, J_HALF, view, "5. pages 0-15 to hmm_dmirror2 (coherent)",
			&d0);
	n = j_to_sys(&d2, buf);
	ret |= n < 0;
	i = n;
	n = j_to_sys(&d0, buf);
	ret |= n < 0;
	j_show("6. all back to system RAM (MIGRATE_TO_SYS)", &d0, buf);
	j_note("%lu pages from hmm_dmirror2, %d from hmm_dmirror0", i, n);

	for (i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "hmm_p2p%lu", i);
		if (j_open(&p[i], name))
			break;
		np++;
	}
	if (np < 3) {
		printf("\n  (peer to peer: no /dev/hmm_p2p0..2 here: no PCI test devices)\n");
		goto out;
	}
	printf("\nPeer to peer: the PCI test devices (an ivshmem BAR each as device memory),\n"
	       "where they sit, and their P2P group (HMM_P2P_IOC_INFO owner_group): devices\n"
	       "of one group have a P2P path between them:\n");
	for (i = 0; i < 3; i++) {
		char path[PATH_MAX], real[PATH_MAX], grp[24];
		const char *at = "?";
		unsigned long j;

		snprintf(path, sizeof(path), "/sys/class/misc/%s/device", p[i].name);
		if (realpath(path, real))
			at = strncmp(real, "/sys/devices/", 13) ? real : real + 13;
		/* a group is named after a member's device index */
		snprintf(grp, sizeof(grp), "%d", p[i].group);
		for (j = 0; j < 3; j++)
			if (p[j].index == p[i].group)
				snprintf(grp, sizeof(grp), "%.15s's", p[j].name);
		printf("  %s  group %-11s %s\n", p[i].name, grp, at);
	}
	bs = 1;
	be = 0;
	if (!j_bar2(p[0].name, &bs, &be))
		printf("%s's BAR2: 0x%llx-0x%llx. Its pages are read by %s, then by %s.\n",
		       p[0].name, bs, be, p[1].name, p[2].name);
	printf("\n  %-*s %s\n", J_STRIP_COL - 2, "step (viewer: hmm_p2p1)", "pages 0..31");
	ret |= j_to_dev(&p[0], buf, 0, J_PAGES, view, "7. migrate to hmm_p2p0", &p[1]);
	for (i = 1; i < 3; i++) {
		char step[64];

		snprintf(step, sizeof(step), "%lu. %s reads them (%s group)", 7 + i, p[i].name,
			 p[i].group == p[0].group ? "same" : "other");
		ret |= j_peer_read(&p[i], &p[0], buf, view, step, &p[1]);
		if (i != 1)
			continue;
		/* where hmm_p2p1's DMA goes for page 0 */
		memset(&dc, 0, sizeof(dc));
		dc.op = HMM_P2P_DMA_LOOKUP;
		dc.addr = (uintptr_t)buf;
		if (!ioctl(p[1].fd, HMM_P2P_IOC_DMA, &dc))
			j_note("page 0: %s's DMA address 0x%llx%s", p[1].name,
			       (unsigned long long)dc.dma,
			       dc.dma >= bs && dc.dma <= be ? ", in hmm_p2p0's BAR2" : "");
		j_show("   ... as hmm_p2p2 sees them", &p[2], buf);
	}
	bad = j_bad(buf, 0, J_PAGES);
	j_show("10. CPU reads all 32", &p[1], buf);
	j_note("the CPU read them: %s", bad ? "DATA CORRUPTED" : "data intact");
	ret |= !!bad;
	for (i = 0; i < 3; i++)
		close(p[i].fd);
out:
	close(d0.fd);
	close(d2.fd);
	munmap(map, size + 65536);
	free(view);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long mib = 64;
	int opt, probe = 0, ret = 0;

	while ((opt = getopt(argc, argv, "jps:")) != -1) {
		switch (opt) {
		case 'j':
			return run_journey();
		case 'p':
			probe = 1;
			break;
		case 's':
			mib = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-p] [-s MiB] DEVICE... | -j\n", argv[0]);
			return 2;
		}
	}
	if (optind >= argc || !mib) {
		fprintf(stderr, "usage: %s [-p] [-s MiB] DEVICE... | -j\n", argv[0]);
		return 2;
	}
	for (; optind < argc; optind++)
		ret |= run_demo(atoi(argv[optind]), mib, probe);
	return ret;
}
