// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_p2p_pressure: device memory under memory pressure, for the pressure
 * plan (selftests/plans/pressure.sh; the policy: docs/memory-pressure.md).
 *
 * usage: hmm_p2p_pressure test DIR CGDIR
 *        hmm_p2p_pressure fault-inject
 *
 * test: run inside the memory cgroup CGDIR (memory.max set), oom_score_adj
 * -1000 (it checks; a hog it forks is the OOM killer's choice, 1000):
 *  (a) 16 MiB on /dev/hmm_dmirror0, a hog fills the cgroup to its limit;
 *      MIGRATE_TO_SYS of half of it: 0 or ENOMEM, and every page correct
 *      where it is (CPU for those that came back, a device READ for those
 *      that stayed); with the system page allocation failing (injection) the
 *      other half: ENOMEM, nothing lost, still readable through the device;
 *  (b) CPU faults on the device pages at the limit: the data comes back;
 *      then the hog grows past the limit: the memcg OOM killer kills it
 *      (SIGKILL) and nothing else;
 *  (c) 8 MiB on the device again, a new hog at the limit, the file closed
 *      with the eviction at close failing (injection: the pages stay), then
 *      DIR/ready; the plan removes the modules (the removal evicts with the
 *      cgroup at its limit) and touches DIR/unloaded; every page must be in
 *      system memory with its data. memory.current/max/events are printed
 *      at each step ("what died and why").
 *  Exit 0 when every check passed.
 *
 * fault-inject: 64 KiB on /dev/hmm_dmirror0, the system page allocation
 * made to fail (64 times), then a CPU read of a device page. The policy: the
 * fault cannot place the page and kills the process with SIGBUS (exit by
 * signal 7); it must never return VM_FAULT_OOM, which only makes the #PF
 * handler print "VM_FAULT_OOM leaked out" and retry until the failures run
 * out (then this exits 0: the old behaviour).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

#define MIB		(1024UL * 1024)
#define NP		(16 * MIB / PAGE_SZ)
/* one real load: the fault must happen here, not be optimised away */
#define READ_ONCE(x)	(*(const __typeof__(x) *)&(x))

static const char *dir, *cg;
static int failures;
static char *out;	/* the device's copies, touched before any hog runs */
static int dev_fd = -1;	/* a hog must not keep it (nor the module) */
static long hog_kills;	/* memory.events oom_kill when the hog started */

#define FAIL(...) do { printf("FAIL: " __VA_ARGS__); printf("\n"); failures++; } while (0)

static long cg_read(const char *file)
{
	char path[512], buf[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 0);
	fclose(f);
	return v;
}

static long cg_event(const char *key)
{
	char path[512], k[64];
	long v, r = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.events", cg);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", k, &v) == 2)
		if (!strcmp(k, key))
			r = v;
	fclose(f);
	return r;
}

static void show(const char *what)
{
	printf("%s: memory.current=%ld KiB max=%ld KiB events: max=%ld oom=%ld oom_kill=%ld\n",
	       what, cg_read("memory.current") / 1024, cg_read("memory.max") / 1024,
	       cg_event("max"), cg_event("oom"), cg_event("oom_kill"));
}

static void set_oom_adj(int v)
{
	FILE *f = fopen("/proc/self/oom_score_adj", "w");

	if (f) {
		fprintf(f, "%d\n", v);
		fclose(f);
	}
}

/*
 * A hog in our cgroup: fills it to @margin bytes below memory.max, says so
 * on @ready, then on a byte from @go grows until the OOM killer takes it.
 */
static pid_t hog(long margin, int *go_fd)
{
	int rp[2], gp[2];
	pid_t pid;
	char c;

	if (pipe(rp) || pipe(gp))
		return -1;
	pid = fork();
	if (pid)
		goto parent;
	hog_kills = -1;
	set_oom_adj(1000);
	if (dev_fd >= 0)
		close(dev_fd);
	close(rp[0]);
	close(gp[1]);
	for (;;) {
		long max = cg_read("memory.max"), cur = cg_read("memory.current");
		char *p;

		if (cur >= max - margin)
			break;
		p = map_anon(MIB);
		if (!p)
			_exit(3);
		memset(p, 0x77, MIB);
	}
	if (write(rp[1], "r", 1) != 1 || read(gp[0], &c, 1) != 1)
		_exit(4);
	for (;;) {
		char *p = map_anon(MIB);

		if (!p)
			_exit(3);
		memset(p, 0x78, MIB);
	}
parent:
	hog_kills = cg_event("oom_kill");
	close(rp[1]);
	close(gp[0]);
	if (pid < 0 || read(rp[0], &c, 1) != 1) {
		FAIL("%s: the allocating child never reached the limit", __func__);
		close(rp[0]);
		return -1;
	}
	close(rp[0]);
	*go_fd = gp[1];
	return pid;
}

static void why_died(const char *who, int st)
{
	if (WIFSIGNALED(st))
		printf("%s: killed by signal %d (%s)\n", who, WTERMSIG(st),
		       strsignal(WTERMSIG(st)));
	else
		printf("%s: exited with status %d\n", who, WEXITSTATUS(st));
}

/* Tell the hog to grow and wait for the OOM killer to take it (SIGKILL). */
static void hog_to_death(pid_t pid, int go)
{
	int st, i;

	if (waitpid(pid, &st, WNOHANG) == pid) {
		/* a charge of ours at the limit (page tables) had the memcg OOM kill it */
		printf("hog: was already dead\n");
		goto dead;
	}
	if (write(go, "g", 1) != 1)
		FAIL("hog: cannot tell it to grow");
	for (i = 0; i < 600 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(100000);
	if (i == 600) {
		FAIL("hog: still alive after 60 s past the limit");
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
dead:
	close(go);
	why_died("hog", st);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		FAIL("the hog was not killed by the OOM killer");
	if (cg_event("oom_kill") <= hog_kills)
		FAIL("memory.events oom_kill did not count it");
}

/* Every page of @p correct where it is; device pages read through @fd. */
static void check_where(int fd, void *p, unsigned long npages, unsigned int seed,
			const char *what)
{
	static bool map[NP];
	unsigned long i, ndev = 0, bad = 0, enomem_reads = 0;
	__u64 cpages;
	int ret;

	if (pagemap_on_device(p, npages, map, 0, 0) < 0) {
		FAIL("%s: no pagemap", what);
		return;
	}
	/*
	 * The device reads every page, wherever it is (its own pages in
	 * place), 64 KiB at a time: its bounce buffer is charged to our
	 * cgroup, and at the limit a READ may fail with ENOMEM (an ioctl may):
	 * tried again after a pause, that failure must not last.
	 */
	for (i = 0, ret = 0; i < npages && !ret; i += 16) {
		int tries = 0;

		do {
			ret = dm(fd, HMM_DMIRROR_READ, (char *)p + i * PAGE_SZ,
				 out + i * PAGE_SZ, 16, &cpages);
			if (ret == -ENOMEM) {
				enomem_reads++;
				usleep(10000);
			}
		} while (ret == -ENOMEM && ++tries < 100);
	}
	if (ret) {
		/*
		 * Seen at the limit on 7.3: EFAULT (the READ's own charges).
		 * Not a loss: (b) reads every page by CPU against the pattern.
		 */
		printf("%s: device READ at the limit failed: %s (the data is checked in (b))\n",
		       what, strerror(-ret));
		return;
	}
	if (enomem_reads)
		printf("%s: %lu device READs of 64 KiB: ENOMEM at the limit (tried again)\n",
		       what, enomem_reads);
	for (i = 0; i < npages; i++)
		ndev += map[i];
	/* the device's copy of each page, against the pattern */
	for (i = 0; !ret && i < npages; i++) {
		const __u64 *w = (const __u64 *)(out + i * PAGE_SZ);
		unsigned long k;

		for (k = 0; k < PAGE_SZ / 8; k++)
			if (w[k] != pat(seed, i * PAGE_SZ / 8 + k)) {
				bad++;
				break;
			}
	}
	printf("%s: %lu of %lu pages on the device, %lu wrong\n", what, ndev, npages, bad);
	if (bad)
		FAIL("%s: %lu pages with wrong data", what, bad);
}

static int test(void)
{
	char *buf = map_anon(NP * PAGE_SZ), path[512];
	unsigned long half = NP / 2;
	int fd, go, ret, st, i;
	__u64 cpages;
	long n, w;
	pid_t h;

	set_oom_adj(-1000);
	signal(SIGPIPE, SIG_IGN);
	fd = open("/dev/hmm_dmirror0", O_RDWR);
	dev_fd = fd;
	out = map_anon(NP * PAGE_SZ);
	if (!buf || !out || fd < 0) {
		perror("setup");
		return 2;
	}
	show("start");
	fill(buf, NP * PAGE_SZ, 1);
	memset(out, 0, NP * PAGE_SZ);
	ret = dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, buf, out, NP, &cpages);
	if (ret || cpages != NP)
		FAIL("MIGRATE_TO_DEV: %d, %llu pages", ret, (unsigned long long)cpages);
	show("16 MiB on the device (its charge stays with the cgroup)");

	/* (a) */
	h = hog(2 * MIB, &go);
	if (h < 0)
		return 1;
	show("(a) hog at the limit");
	ret = dm(fd, HMM_DMIRROR_MIGRATE_TO_SYS, buf, NULL, half, &cpages);
	printf("(a) MIGRATE_TO_SYS of 8 MiB at the limit: %s, %llu pages moved\n",
	       ret ? strerror(-ret) : "ok", (unsigned long long)cpages);
	if (ret && ret != -ENOMEM)
		FAIL("(a) MIGRATE_TO_SYS: %s (0 or ENOMEM expected)", strerror(-ret));
	show("(a) after MIGRATE_TO_SYS");
	check_where(fd, buf, NP, 1, "(a) after the move");
	ret = inject(fd, INJECT_SYS_PAGE, INJECT_FOREVER, 0);
	if (ret)
		FAIL("inject: %s", strerror(-ret));
	ret = dm(fd, HMM_DMIRROR_MIGRATE_TO_SYS, buf + half * PAGE_SZ, NULL, half, &cpages);
	printf("(a) MIGRATE_TO_SYS of 8 MiB, no system page to be had: %s\n",
	       ret ? strerror(-ret) : "ok");
	if (ret != -ENOMEM)
		FAIL("(a) MIGRATE_TO_SYS without memory: %s, ENOMEM expected", strerror(-ret));
	n = pagemap_on_device(buf + half * PAGE_SZ, half, NULL, 0, 0);
	if (n != (long)half)
		FAIL("(a) %ld of %lu pages stayed on the device", n, half);
	check_where(fd, buf, NP, 1, "(a) after the failed move");
	inject(fd, INJECT_SYS_PAGE, 0, 0);

	/* (b) */
	n = pagemap_on_device(buf, NP, NULL, 0, 0);
	w = bad_word(buf, NP * PAGE_SZ, 1);
	printf("(b) CPU read of %ld device pages at the limit: %s\n", n,
	       w < 0 ? "data intact" : "WRONG DATA");
	if (w >= 0)
		FAIL("(b) wrong data at word %ld after CPU faults", w);
	if (pagemap_on_device(buf, NP, NULL, 0, 0))
		FAIL("(b) pages still on the device after the CPU touched them all");
	show("(b) after the CPU faults");
	hog_to_death(h, go);
	show("(b) after the OOM kill");

	/* (c) */
	fill(buf, half * PAGE_SZ, 2);
	ret = dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, buf, out, half, &cpages);
	if (ret || cpages != half)
		FAIL("(c) MIGRATE_TO_DEV: %d, %llu pages", ret, (unsigned long long)cpages);
	h = hog(MIB, &go);
	if (h < 0)
		return 1;
	show("(c) 8 MiB on the device, hog at the limit");
	if (inject(fd, INJECT_SYS_PAGE, INJECT_FOREVER, 0))
		FAIL("(c) inject");
	close(fd);
	dev_fd = -1;
	n = pagemap_on_device(buf, half, NULL, 0, 0);
	printf("(c) after close (its eviction made to fail): %ld pages on the device\n", n);
	if (n != (long)half)
		FAIL("(c) %ld of %lu pages on the device before the unload", n, half);
	snprintf(path, sizeof(path), "%s/ready", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof(path), "%s/unloaded", dir);
	for (i = 0; i < 3000 && access(path, F_OK); i++)
		usleep(100000);
	if (i == 3000)
		FAIL("(c) no %s", path);
	show("(c) after the unload");
	n = pagemap_on_device(buf, half, NULL, 0, 0);
	w = n ? -2 : bad_word(buf, half * PAGE_SZ, 2);	/* never touch what stayed: SIGBUS */
	printf("(c) after the unload: %ld pages on the device, data %s\n", n,
	       w < 0 ? "intact" : "WRONG");
	if (n || w != -1)
		FAIL("(c) eviction at removal: %ld pages left, bad word %ld", n, w);
	if (n)
		return 1;
	if (waitpid(h, &st, WNOHANG) == h) {
		why_died("(c) hog, during the unload", st);
	} else {
		printf("(c) hog still alive after the unload\n");
		hog_to_death(h, go);
	}
	show("end");
	printf("pressure: %d failures\n", failures);
	return failures ? 1 : 0;
}

static int fault_inject(void)
{
	unsigned long np = 16;
	char *buf = map_anon(np * PAGE_SZ);
	int fd = open("/dev/hmm_dmirror0", O_RDWR);
	__u64 *w;
	__u64 cpages;
	int ret;

	if (!buf || fd < 0) {
		perror("setup");
		return 2;
	}
	fill(buf, np * PAGE_SZ, 3);
	ret = dm(fd, HMM_DMIRROR_MIGRATE_TO_DEV, buf, map_anon(np * PAGE_SZ), np, &cpages);
	if (ret || cpages != np || pagemap_on_device(buf, np, NULL, 0, 0) != (long)np) {
		printf("fault-inject: setup failed (%d)\n", ret);
		return 2;
	}
	ret = inject(fd, INJECT_SYS_PAGE, 64, 0);
	if (ret) {
		printf("fault-inject: inject: %s\n", strerror(-ret));
		return 2;
	}
	printf("fault-inject: reading a device page with no system page to be had\n");
	w = (__u64 *)buf;
	if (READ_ONCE(*w) != pat(3, 0))
		printf("fault-inject: wrong data\n");
	printf("fault-inject: the read returned (retried until the failures ran out)\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "test")) {
		dir = argv[2];
		cg = argv[3];
		return test();
	}
	if (argc == 2 && !strcmp(argv[1], "fault-inject"))
		return fault_inject();
	fprintf(stderr, "usage: %s test DIR CGDIR | fault-inject\n", argv[0]);
	return 2;
}
