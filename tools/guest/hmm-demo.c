// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-demo: move a buffer to device memory and back, and say what happened.
 *
 * usage: hmm-demo [-p] [-s MiB] DEVICE...
 *   DEVICE  index N of /dev/hmm_dmirrorN (0, 1: device-private; 2, 3:
 *           device-coherent, in the upstream test_hmm numbering)
 *   -s MiB  buffer size (default 64)
 *   -p      probe only: exit 0 if one page migrates to DEVICE and back
 *
 * Speaks the test_hmm ioctl interface (uapi/hmm_p2p_test.h, commands
 * 0x00-0x3f), so it runs on upstream's lib/test_hmm.ko and on hmm-p2p's test
 * device alike; the hmm-p2p counters (HMM_P2P_IOC_STATS) are shown when the
 * driver has them.
 */
#include <errno.h>
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

int main(int argc, char **argv)
{
	unsigned long mib = 64;
	int opt, probe = 0, ret = 0;

	while ((opt = getopt(argc, argv, "ps:")) != -1) {
		switch (opt) {
		case 'p':
			probe = 1;
			break;
		case 's':
			mib = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-p] [-s MiB] DEVICE...\n", argv[0]);
			return 2;
		}
	}
	if (optind >= argc || !mib) {
		fprintf(stderr, "usage: %s [-p] [-s MiB] DEVICE...\n", argv[0]);
		return 2;
	}
	for (; optind < argc; optind++)
		ret |= run_demo(atoi(argv[optind]), mib, probe);
	return ret;
}
