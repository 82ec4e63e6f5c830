// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p_pin: keep a device-coherent page pinned across a module unload,
 * for the defects plan (defect 8: device removal with a pinned page).
 *
 * usage: hmm_p2p_pin DIR [DEV]
 *
 * Puts 16 pages of a pattern in coherent device memory (/dev/hmm_dmirrorDEV,
 * default 2), splices the first into a pipe (the pipe holds a reference:
 * the page cannot migrate), closes the device file (its eviction moves the
 * other 15 home and must give up on the pinned one), writes DIR/ready and
 * waits for DIR/go. Then it checks every byte, closes the pipe (the last
 * reference goes), checks again, writes DIR/done and exits 0, or 1 on any
 * mismatch. Lines on stdout say what it saw.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "hmm_p2p_test.h"

#define NPAGES	16
#define PAGE_SZ	4096UL

static int touch(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int exists(const char *dir, const char *name)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return !stat(path, &sb);
}

static long bad_word(const __u64 *w, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		if (w[i] != 0x5eed000000000000ULL + i)
			return i;
	return -1;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/pin";
	int dev = argc > 2 ? atoi(argv[2]) : 2;
	struct hmm_dmirror_cmd cmd = { 0 };
	struct iovec iov;
	unsigned long i;
	char path[64];
	__u64 *buf;
	char *mirror;
	int fd, p[2];
	long bad;

	buf = mmap(NULL, NPAGES * PAGE_SZ, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mirror = malloc(NPAGES * PAGE_SZ);
	if (buf == MAP_FAILED || !mirror)
		return 1;
	madvise(buf, NPAGES * PAGE_SZ, MADV_NOHUGEPAGE);
	for (i = 0; i < NPAGES * PAGE_SZ / 8; i++)
		buf[i] = 0x5eed000000000000ULL + i;
	snprintf(path, sizeof(path), "/dev/hmm_dmirror%d", dev);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		printf("pin: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	cmd.addr = (uintptr_t)buf;
	cmd.ptr = (uintptr_t)mirror;
	cmd.npages = NPAGES;
	if (ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd) || cmd.cpages != NPAGES) {
		printf("pin: migrate: %s, %llu pages\n", strerror(errno),
		       (unsigned long long)cmd.cpages);
		return 1;
	}
	if (pipe(p))
		return 1;
	iov.iov_base = buf;
	iov.iov_len = PAGE_SZ;
	if (vmsplice(p[1], &iov, 1, 0) != (ssize_t)PAGE_SZ) {
		printf("pin: vmsplice: %s\n", strerror(errno));
		return 1;
	}
	close(fd);	/* the eviction at close cannot move the pinned page */
	printf("pin: %d pages in coherent memory of %s, the first spliced into a pipe\n",
	       NPAGES, path);
	fflush(stdout);
	touch(dir, "ready");
	while (!exists(dir, "go"))
		usleep(100000);
	bad = bad_word(buf, NPAGES * PAGE_SZ / 8);
	printf("pin: after the unload: data %s\n", bad < 0 ? "intact" : "WRONG");
	close(p[0]);
	close(p[1]);
	if (bad < 0)
		bad = bad_word(buf, NPAGES * PAGE_SZ / 8);
	printf("pin: pipe closed: data %s\n", bad < 0 ? "intact" : "WRONG");
	munmap(buf, NPAGES * PAGE_SZ);
	touch(dir, "done");
	return bad < 0 ? 0 : 1;
}
