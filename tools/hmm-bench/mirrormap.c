// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-bench --mirror-map DEV: the cost of a mirror's DMA mappings, per-page
 * (hmm_p2p.mirror_map=perpage: one dma_map call per page, one unmap and
 * IOTLB flush per page) against the two-step DMA API (twostep: one IOVA
 * window per 2 MiB, links synced once per run, unlinked once per run), in
 * one boot: the module parameter is flipped between runs and each run opens
 * DEV afresh (a mirror keeps the mode it was created with). DEV is a PCI
 * test device (/dev/hmm_p2pN), whose DMA device sits behind the IOMMU when
 * the machine has one (plan bench-mirror boots with intel-iommu).
 *
 * One run: a fresh 64 MiB range of 4 KiB system pages, written by the CPU
 * first (so no phase allocates memory), then
 *   fault:  HMM_DMIRROR_SNAPSHOT over the range: hmm_range_fault() over
 *           present pages, what the mirror fault does before it maps;
 *   map:    HMM_P2P_IOC_PREFETCH over the range (hmm_range_fault() and the
 *           mappings) minus the fault figure;
 *   unmap:  mprotect(PROT_READ) of the range, which invalidates it (the
 *           mirror drops every entry: unmap or unlink, IOTLB flushes),
 *           minus the same mprotect over the range with no entries.
 * The modes alternate which runs first in each round; figures are medians.
 * The last line: "two-step vs per-page: R.RRx", the ratio of pages per
 * second over fault + map + unmap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define MM_PARAM	"/sys/module/hmm_p2p/parameters/mirror_map"
#define MM_MODES	2

static const char *mm_dev;
static unsigned long mm_mib = 64;
static int mm_runs = 7;
static const char *const mm_mode[MM_MODES] = { "perpage", "twostep" };

struct mm_figs {
	struct series fault, map, unmap, total;
};

int mirrormap_parse(const char *arg)
{
	mm_dev = arg;
	return 0;
}

int mirrormap_enabled(void)
{
	return !!mm_dev;
}

static int mm_set_mode(const char *mode)
{
	char back[32] = "";
	int fd = open(MM_PARAM, O_RDWR);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (write(fd, mode, strlen(mode)) < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	n = pread(fd, back, sizeof(back) - 1, 0);
	close(fd);
	if (n <= 0 || strncmp(back, mode, strlen(mode)))
		return -EIO;
	return 0;
}

static int mm_get_mode(char *b, size_t len)
{
	int fd = open(MM_PARAM, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, b, len - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	b[n] = 0;
	b[strcspn(b, "\n")] = 0;
	return 0;
}

static double mm_mprotect(void *buf, size_t size, int prot)
{
	double t0 = now_ns();

	if (mprotect(buf, size, prot))
		return -1;
	return now_ns() - t0;
}

/* One run in @mode; the phases in ns added to @f. */
static int mm_run(int mode, struct mm_figs *f)
{
	size_t size = mm_mib * MIB, npages = size / PAGE_SZ;
	struct hmm_p2p_prefetch_cmd pc = { 0 };
	struct hmm_p2p_dma_cmd dc = { 0 };
	double base, tf, tp, tu, t0;
	unsigned char *snap;
	void *buf;
	int fd, ret;

	ret = mm_set_mode(mm_mode[mode]);
	if (ret) {
		note("mirror-map: cannot set %s=%s: %s", MM_PARAM, mm_mode[mode], strerror(-ret));
		return ret;
	}
	fd = open(mm_dev, O_RDWR);
	if (fd < 0) {
		note("mirror-map: cannot open %s: %s", mm_dev, strerror(errno));
		return -errno;
	}
	buf = buf_alloc(size, 0);
	snap = malloc(npages);
	if (!buf || !snap) {
		note("mirror-map: no memory for %lu MiB", mm_mib);
		ret = -ENOMEM;
		goto out;
	}
	fill(buf, size, 7);
	/* the invalidation's own cost, with no mirror entry to drop */
	base = mm_mprotect(buf, size, PROT_READ);
	if (base < 0 || mm_mprotect(buf, size, PROT_READ | PROT_WRITE) < 0) {
		ret = -errno;
		goto out;
	}
	/* warm: the walk's page table caches, the snapshot's buffer */
	ret = dcmd(fd, HMM_DMIRROR_SNAPSHOT, buf, snap, npages, NULL);
	t0 = now_ns();
	ret = ret ?: dcmd(fd, HMM_DMIRROR_SNAPSHOT, buf, snap, npages, NULL);
	tf = now_ns() - t0;
	if (ret) {
		note("mirror-map: SNAPSHOT: %s", strerror(-ret));
		goto out;
	}
	pc.addr = (uintptr_t)buf;
	pc.npages = npages;
	t0 = now_ns();
	if (!ret && ioctl(fd, HMM_P2P_IOC_PREFETCH, &pc))
		ret = -errno;
	tp = now_ns() - t0;
	if (ret || pc.cpages != npages) {
		note("mirror-map: PREFETCH: %s, %llu of %zu pages", strerror(-ret),
		     (unsigned long long)pc.cpages, npages);
		ret = ret ?: -EIO;
		goto out;
	}
	tu = mm_mprotect(buf, size, PROT_READ);
	if (tu < 0 || mm_mprotect(buf, size, PROT_READ | PROT_WRITE) < 0) {
		ret = -errno;
		goto out;
	}
	/* the mappings were real: a page looked up again has a DMA address */
	dc.op = HMM_P2P_DMA_LOOKUP;
	dc.addr = (uintptr_t)buf + size - PAGE_SZ;
	if (ioctl(fd, HMM_P2P_IOC_DMA, &dc) || !(dc.flags & HMM_P2P_PAGE_DMA_MAPPED)) {
		note("mirror-map: %s has no DMA device: nothing to compare", mm_dev);
		ret = -ENODEV;
		goto out;
	}
	printf("mirror-map: run %-8s fault %.2f map %.2f unmap %.2f total %.2f ms\n", mm_mode[mode],
	       tf / 1e6, (tp - tf) / 1e6, (tu - base) / 1e6, (tp + tu - base) / 1e6);
	series_add(&f->fault, tf);
	series_add(&f->map, tp - tf);
	series_add(&f->unmap, tu - base);
	series_add(&f->total, tp + tu - base);
out:
	free(snap);
	if (buf)
		munmap(buf, size);
	close(fd);
	return ret;
}

static void mm_line(const char *name, const struct mm_figs *f, size_t npages)
{
	double tot = med(&f->total);

	printf("mirror-map: %-8s %10.2f %10.2f %10.2f %10.2f %12.0f\n", name,
	       med(&f->fault) / 1e6, med(&f->map) / 1e6, med(&f->unmap) / 1e6, tot / 1e6,
	       tot > 0 ? npages / (tot / 1e9) : 0);
}

static double mm_ratio(const struct series *per, const struct series *two)
{
	return med(two) > 0 ? med(per) / med(two) : 0;
}

int mirrormap_run(void)
{
	struct mm_figs f[MM_MODES];
	size_t npages = mm_mib * MIB / PAGE_SZ;
	char orig[32] = "";
	int r, k, ret = 0;
	char iommu[64];
	FILE *p;

	memset(f, 0, sizeof(f));
	if (mm_get_mode(orig, sizeof(orig))) {
		note("mirror-map: no %s (hmm_p2p loaded, 7.3?)", MM_PARAM);
		return -ENOENT;
	}
	p = popen("ls /sys/class/iommu 2>/dev/null | tr '\\n' ' '", "r");
	if (!p || !fgets(iommu, sizeof(iommu), p))
		snprintf(iommu, sizeof(iommu), "none");
	if (p)
		pclose(p);
	printf("mirror-map: %s, %lu MiB (%zu pages of 4 KiB, written first), IOMMU: %s,",
	       mm_dev, mm_mib, npages, iommu[0] ? iommu : "none");
	printf(" %d runs per mode, medians; default mode %s\n", mm_runs, orig);
	for (r = 0; r < mm_runs && !ret; r++)
		for (k = 0; k < MM_MODES && !ret; k++)
			ret = mm_run((r + k) % MM_MODES, &f[(r + k) % MM_MODES]);
	mm_set_mode(orig);
	if (ret)
		return ret;
	printf("mirror-map: %-8s %10s %10s %10s %10s %12s\n", "mode", "fault ms", "map ms",
	       "unmap ms", "total ms", "pages/s");
	for (k = 0; k < MM_MODES; k++)
		mm_line(mm_mode[k], &f[k], npages);
	printf("mirror-map: two-step vs per-page by phase (time ratio):");
	printf(" fault %.2fx, map %.2fx, unmap/flush %.2fx\n",
	       mm_ratio(&f[0].fault, &f[1].fault), mm_ratio(&f[0].map, &f[1].map),
	       mm_ratio(&f[0].unmap, &f[1].unmap));
	printf("two-step vs per-page: %.2fx\n", mm_ratio(&f[0].total, &f[1].total));
	return 0;
}
