// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-drm: a libdrm client of hmm_p2p_drm.ko's render nodes
 * (uapi/hmm_p2p_drm.h), as a kselftest-harness program (TAP).
 *
 * It finds the nodes as any DRM client does: libdrm's device enumeration
 * (drmGetDevices2()), the render node's path, drmGetVersion() for the
 * driver's name; and drives them with drmCommandWriteRead() and drmIoctl().
 * The cases are those of the test ABI's tests, through DRM: bind, migrate to
 * the device and back, page classes, a copy job on the device's engine,
 * prefetch, counters; peer to peer between two PCI test devices of one
 * P2P group; bad input with the errnos the header documents.
 *
 * Linked statically against Debian's libdrm (libdrm-dev's libdrm.a):
 * tools/hmm-drm/drm.mk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <limits.h>
#include <xf86drm.h>

#include "kselftest_harness.h"
#define HMM_P2P_WANT_ERRNO_TABLE
#include "hmm_p2p_drm.h"

#define PAGE_SZ		4096UL
#define NPAGES		64UL
#define MAXNODES	16
#define NR_DMIRROR	4	/* PCI device N has index 4 + N */
#define U64(p)		((__u64)(uintptr_t)(p))

struct node {
	int fd;
	struct drm_hmm_p2p_info info;
	char path[64];
	int bus;
	char busname[DRM_PLATFORM_DEVICE_NAME_LEN];
};

/* Every hmm_p2p_drm node libdrm finds, by test device index. */
static int find_nodes(struct node *nodes, int max, int *found_other)
{
	drmDevicePtr devs[MAXNODES];
	int n, i, count = 0;

	*found_other = 0;
	n = drmGetDevices2(0, devs, MAXNODES);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		drmVersionPtr ver;
		struct node nd = { .fd = -1 };
		int fd;

		if (!(devs[i]->available_nodes & (1 << DRM_NODE_RENDER)))
			continue;
		fd = open(devs[i]->nodes[DRM_NODE_RENDER], O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			printf("# %s: %s\n", devs[i]->nodes[DRM_NODE_RENDER], strerror(errno));
			(*found_other)++;
			continue;
		}
		ver = drmGetVersion(fd);
		if (!ver || strcmp(ver->name, DRM_HMM_P2P_DRIVER_NAME)) {
			drmFreeVersion(ver);
			close(fd);
			(*found_other)++;
			continue;
		}
		drmFreeVersion(ver);
		if (drmCommandRead(fd, DRM_HMM_P2P_INFO, &nd.info, sizeof(nd.info)) ||
		    nd.info.index >= (unsigned int)max || nodes[nd.info.index].fd >= 0) {
			close(fd);
			continue;
		}
		nd.fd = fd;
		nd.bus = devs[i]->bustype;
		snprintf(nd.path, sizeof(nd.path), "%s", devs[i]->nodes[DRM_NODE_RENDER]);
		if (nd.bus == DRM_BUS_PLATFORM)
			snprintf(nd.busname, sizeof(nd.busname), "%s",
				 devs[i]->businfo.platform->fullname);
		nodes[nd.info.index] = nd;
		count++;
	}
	drmFreeDevices(devs, n);
	return count;
}

static void *map_anon(unsigned long npages)
{
	void *p = mmap(NULL, npages * PAGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void fill(void *buf, unsigned long npages, unsigned long seed)
{
	unsigned long *p = buf, i;

	for (i = 0; i < npages * PAGE_SZ / sizeof(*p); i++)
		p[i] = seed * 0x9e3779b97f4a7c15UL + i;
}

/* -1 when @buf holds pattern @seed, else the first bad word's index */
static long check(const void *buf, unsigned long npages, unsigned long seed)
{
	const unsigned long *p = buf;
	unsigned long i;

	for (i = 0; i < npages * PAGE_SZ / sizeof(*p); i++)
		if (p[i] != seed * 0x9e3779b97f4a7c15UL + i)
			return i;
	return -1;
}

/* a driver command: 0 or -errno (libdrm's wrappers retry EINTR, EAGAIN) */
static int cmd(int fd, unsigned long nr, void *arg, unsigned long size)
{
	return drmCommandWriteRead(fd, nr, arg, size);
}

static int bind(int fd, void *addr, __u64 npages, __u32 flags, __u32 *handle)
{
	struct drm_hmm_p2p_bind b = { .addr = U64(addr), .npages = npages, .flags = flags };
	int ret = cmd(fd, DRM_HMM_P2P_BIND, &b, sizeof(b));

	if (!ret && handle)
		*handle = b.handle;
	return ret;
}

static int migrate(int fd, __u32 handle, __u32 dir, __u64 off, __u64 npages, __u64 *moved)
{
	struct drm_hmm_p2p_migrate m = {
		.handle = handle, .dir = dir, .offset = off, .npages = npages,
	};
	int ret = cmd(fd, DRM_HMM_P2P_MIGRATE, &m, sizeof(m));

	if (moved)
		*moved = ret ? 0 : m.moved;
	return ret;
}

static int exec_job(int fd, __u32 handle, __u32 op, __u64 off, __u64 npages, void *buf,
		    __u64 *done)
{
	struct drm_hmm_p2p_exec e = {
		.handle = handle, .op = op, .offset = off, .npages = npages, .ptr = U64(buf),
	};
	int ret = cmd(fd, DRM_HMM_P2P_EXEC, &e, sizeof(e));

	if (done)
		*done = ret ? 0 : e.done;
	return ret;
}

static int query(int fd, __u32 handle, __u64 npages, __u32 flags,
		 struct hmm_p2p_page_info *info)
{
	struct drm_hmm_p2p_query q = {
		.handle = handle, .flags = flags, .npages = npages, .ptr = U64(info),
	};
	int ret;

	memset(info, 0xee, npages * sizeof(*info));
	ret = cmd(fd, DRM_HMM_P2P_QUERY, &q, sizeof(q));
	if (!ret && q.cpages != npages)
		return -ERANGE;
	return ret;
}

static int stats(int fd, struct hmm_p2p_stats *st, bool reset)
{
	struct drm_hmm_p2p_stats s = {
		.ptr = U64(st), .size = sizeof(*st), .flags = reset ? DRM_HMM_P2P_STATS_RESET : 0,
	};

	memset(st, 0, sizeof(*st));
	return cmd(fd, DRM_HMM_P2P_STATS, &s, sizeof(s));
}

/* pages of @info of @class with all of flags @set, none of @clear, owner @owner (-2: any) */
static unsigned long count(const struct hmm_p2p_page_info *info, unsigned long n, int class,
			   unsigned int set, unsigned int clear, int owner)
{
	unsigned long i, c = 0;

	for (i = 0; i < n; i++)
		if (info[i].class == class && (info[i].flags & set) == set &&
		    !(info[i].flags & clear) && (owner == -2 || info[i].owner == owner))
			c++;
	return c;
}

/* Is @err, a negative errno, in the header's list for @nr? */
static bool documented(unsigned long nr, int err)
{
	unsigned int i, j;

	if (err == -EINTR || err == -ESRCH || err == -ENODEV)
		return true;
	for (i = 0; i < ARRAY_SIZE(hmm_p2p_drm_errno_table); i++) {
		if (hmm_p2p_drm_errno_table[i].cmd != nr)
			continue;
		for (j = 0; hmm_p2p_drm_errno_table[i].errnos[j]; j++)
			if (hmm_p2p_drm_errno_table[i].errnos[j] == -err)
				return true;
	}
	return false;
}

FIXTURE(drm) {
	struct node nodes[NR_DMIRROR + 8];
	int nnodes;
	int others;
	void *buf;
	void *out;
};

FIXTURE_SETUP(drm)
{
	int i;

	for (i = 0; i < NR_DMIRROR + 8; i++)
		self->nodes[i].fd = -1;
	self->nnodes = find_nodes(self->nodes, NR_DMIRROR + 8, &self->others);
	ASSERT_LE(0, self->nnodes);
	/* the plan runs it with hmm_p2p_drm.ko loaded: no node is a failure */
	ASSERT_LT(0, self->nnodes) TH_LOG("no hmm_p2p_drm render node (%d others)",
					  self->others);
	self->buf = map_anon(NPAGES);
	self->out = map_anon(NPAGES);
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, self->out);
}

FIXTURE_TEARDOWN(drm)
{
	int i;

	for (i = 0; i < NR_DMIRROR + 8; i++)
		if (self->nodes[i].fd >= 0)
			close(self->nodes[i].fd);
}

/* libdrm finds a node per test device, on the platform bus, named as it. */
TEST_F(drm, enumerate)
{
	char name[32];
	int i;

	for (i = 0; i < NR_DMIRROR + 8; i++) {
		struct node *n = &self->nodes[i];

		if (n->fd < 0)
			continue;
		printf("# %s: test device %u, backend %u, group %u, bus %d (%s)\n", n->path,
		       n->info.index, n->info.backend, n->info.owner_group, n->bus, n->busname);
		EXPECT_EQ(DRM_BUS_PLATFORM, n->bus);
		EXPECT_EQ(DRM_HMM_P2P_MAX_BINDINGS, n->info.max_bindings);
		EXPECT_NE(0, n->info.capacity);
		/* libdrm's bus info names the node's parent: hmm_p2p_drmI */
		snprintf(name, sizeof(name), "%s%d", DRM_HMM_P2P_DRIVER_NAME, i);
		EXPECT_STREQ(name, n->busname);
		EXPECT_EQ(i >= NR_DMIRROR, n->info.backend == HMM_P2P_BACKEND_PCI);
	}
	/* as many as the test device has, told apart (not folded into one) */
	EXPECT_EQ(0, self->others);
	/* the two private dmirror devices are always there */
	ASSERT_LE(0, self->nodes[0].fd);
	ASSERT_LE(0, self->nodes[1].fd);
	EXPECT_EQ(HMM_DMIRROR_MEMORY_DEVICE_PRIVATE, self->nodes[0].info.memory_type);
}

/*
 * Bind, write on the CPU, migrate to the device: the classes say device,
 * a device job reads the data; the job writes, the range migrates back:
 * the data is the job's; the counters saw it all.
 */
static void roundtrip(struct __test_metadata *_metadata, struct _test_data_drm *self, int dev)
{
	struct hmm_p2p_page_info info[NPAGES];
	struct node *n = &self->nodes[dev];
	bool coherent = n->info.memory_type == HMM_DMIRROR_MEMORY_DEVICE_COHERENT;
	struct hmm_p2p_stats st;
	__u64 moved, done;
	__u32 h;

	if (n->fd < 0)
		SKIP(return, "no node for test device %d", dev);
	ASSERT_EQ(0, stats(n->fd, &st, true));
	fill(self->buf, NPAGES, 11);
	ASSERT_EQ(0, bind(n->fd, self->buf, NPAGES, 0, &h));
	ASSERT_NE(0, h);

	ASSERT_EQ(0, migrate(n->fd, h, DRM_HMM_P2P_TO_DEVICE, 0, NPAGES, &moved));
	EXPECT_EQ(NPAGES, moved);
	ASSERT_EQ(0, query(n->fd, h, NPAGES, HMM_P2P_CLASSIFY_NOFAULT, info));
	EXPECT_EQ(NPAGES, count(info, NPAGES, coherent ? HMM_P2P_CLASS_COHERENT :
				HMM_P2P_CLASS_PRIVATE_LOCAL, 0, 0, n->info.index));

	/* the device's engine reads them through the mirror, in place */
	memset(self->out, 0, NPAGES * PAGE_SZ);
	ASSERT_EQ(0, exec_job(n->fd, h, HMM_P2P_JOB_READ, 0, NPAGES, self->out, &done));
	EXPECT_EQ(NPAGES, done);
	EXPECT_EQ(-1, check(self->out, NPAGES, 11));
	ASSERT_EQ(0, query(n->fd, h, NPAGES, HMM_P2P_CLASSIFY_NOFAULT, info));
	EXPECT_EQ(NPAGES, count(info, NPAGES, coherent ? HMM_P2P_CLASS_COHERENT :
				HMM_P2P_CLASS_PRIVATE_LOCAL, 0, 0, n->info.index));

	/* and writes the second half */
	fill(self->out, NPAGES / 2, 12);
	ASSERT_EQ(0, exec_job(n->fd, h, HMM_P2P_JOB_WRITE, NPAGES / 2, NPAGES / 2, self->out,
			      &done));
	EXPECT_EQ(NPAGES / 2, done);

	ASSERT_EQ(0, migrate(n->fd, h, DRM_HMM_P2P_TO_SYSTEM, 0, NPAGES, &moved));
	EXPECT_EQ(NPAGES, moved);
	ASSERT_EQ(0, query(n->fd, h, NPAGES, HMM_P2P_CLASSIFY_NOFAULT, info));
	EXPECT_EQ(NPAGES, count(info, NPAGES, HMM_P2P_CLASS_SYSTEM, 0, 0, -1));
	EXPECT_EQ(-1, check(self->buf, NPAGES / 2, 11));
	EXPECT_EQ(-1, check((char *)self->buf + NPAGES / 2 * PAGE_SZ, NPAGES / 2, 12));

	ASSERT_EQ(0, stats(n->fd, &st, false));
	printf("# stats: to_dev=%llu to_sys=%llu bytes_copied=%llu in_use=%llu\n",
	       st.migrated_to_dev, st.migrated_to_sys, st.bytes_copied, st.pages_in_use);
	EXPECT_EQ(NPAGES, st.migrated_to_dev);
	EXPECT_EQ(NPAGES, st.migrated_to_sys);
	EXPECT_EQ(0, st.cpu_faults);
	/* both migrations, the job's read and write */
	EXPECT_LE((2 * NPAGES + NPAGES + NPAGES / 2) * PAGE_SZ, st.bytes_copied);
	EXPECT_EQ(0, st.pages_in_use);
	EXPECT_EQ(0, cmd(n->fd, DRM_HMM_P2P_UNBIND, &(struct drm_hmm_p2p_unbind){ .handle = h },
			 sizeof(struct drm_hmm_p2p_unbind)));
}

TEST_F(drm, roundtrip_private)
{
	roundtrip(_metadata, self, 0);
}

TEST_F(drm, roundtrip_coherent)
{
	roundtrip(_metadata, self, 2);
}

TEST_F(drm, roundtrip_pci)
{
	int i;

	for (i = NR_DMIRROR; i < NR_DMIRROR + 8 && self->nodes[i].fd < 0; i++)
		;
	if (i == NR_DMIRROR + 8)
		SKIP(return, "no PCI test device");
	roundtrip(_metadata, self, i);
}

/* A CPU access after a migration takes the pages home, the data intact. */
TEST_F(drm, cpu_fault)
{
	struct hmm_p2p_page_info info[NPAGES];
	struct node *n = &self->nodes[1];
	struct hmm_p2p_stats st;
	__u64 moved;
	__u32 h;

	ASSERT_EQ(0, stats(n->fd, &st, true));
	fill(self->buf, NPAGES, 21);
	ASSERT_EQ(0, bind(n->fd, self->buf, NPAGES, 0, &h));
	ASSERT_EQ(0, migrate(n->fd, h, DRM_HMM_P2P_TO_DEVICE, 0, NPAGES, &moved));
	ASSERT_EQ(NPAGES, moved);
	EXPECT_EQ(-1, check(self->buf, NPAGES, 21));
	ASSERT_EQ(0, query(n->fd, h, NPAGES, HMM_P2P_CLASSIFY_NOFAULT, info));
	EXPECT_EQ(NPAGES, count(info, NPAGES, HMM_P2P_CLASS_SYSTEM, 0, 0, -1));
	ASSERT_EQ(0, stats(n->fd, &st, false));
	EXPECT_LE(1, st.cpu_faults);
	EXPECT_EQ(NPAGES, st.migrated_to_sys);
}

/* BIND_POPULATE and PREFETCH fault the range in; a job then takes no fault. */
TEST_F(drm, prefetch)
{
	struct hmm_p2p_page_info info[NPAGES];
	struct drm_hmm_p2p_prefetch pf = { .npages = NPAGES };
	struct drm_hmm_p2p_exec e = { .op = HMM_P2P_JOB_READ, .npages = NPAGES };
	struct node *n = &self->nodes[0];
	struct drm_hmm_p2p_bind b = {
		.addr = U64(self->buf), .npages = NPAGES,
		.flags = DRM_HMM_P2P_BIND_POPULATE | DRM_HMM_P2P_BIND_WRITE,
	};
	struct hmm_p2p_stats st;

	fill(self->buf, NPAGES, 31);
	ASSERT_EQ(0, stats(n->fd, &st, true));
	ASSERT_EQ(0, cmd(n->fd, DRM_HMM_P2P_BIND, &b, sizeof(b)));
	EXPECT_EQ(NPAGES, b.cpages);
	ASSERT_EQ(0, query(n->fd, b.handle, NPAGES, HMM_P2P_CLASSIFY_NOFAULT, info));
	EXPECT_EQ(NPAGES, count(info, NPAGES, HMM_P2P_CLASS_SYSTEM, HMM_P2P_PAGE_DMA_MAPPED, 0,
				-1));
	pf.handle = b.handle;
	ASSERT_EQ(0, cmd(n->fd, DRM_HMM_P2P_PREFETCH, &pf, sizeof(pf)));
	EXPECT_EQ(NPAGES, pf.cpages);
	e.handle = b.handle;
	e.ptr = U64(self->out);
	ASSERT_EQ(0, cmd(n->fd, DRM_HMM_P2P_EXEC, &e, sizeof(e)));
	EXPECT_EQ(NPAGES, e.done);
	EXPECT_EQ(1, e.faults);	/* one round: nothing to retry */
	EXPECT_EQ(-1, check(self->out, NPAGES, 31));
	ASSERT_EQ(0, stats(n->fd, &st, false));
	EXPECT_EQ(2 * NPAGES, st.prefetch_pages);
}

/*
 * Peer to peer: a PCI device's job reads a peer's device pages in place,
 * through the peer's BAR (both of one P2P group: the switch pair, or a
 * host-bridge path). The importer's classes say "the peer's, mapped P2P".
 */
TEST_F(drm, p2p_peer_read)
{
	struct hmm_p2p_page_info info[NPAGES];
	struct node *exp = NULL, *imp = NULL;
	struct hmm_p2p_stats si, se;
	__u32 he, hi;
	__u64 moved, done;
	int i, j;

	for (i = NR_DMIRROR; i < NR_DMIRROR + 8 && !imp; i++) {
		for (j = i + 1; j < NR_DMIRROR + 8 && !imp; j++) {
			if (self->nodes[i].fd < 0 || self->nodes[j].fd < 0 ||
			    self->nodes[i].info.owner_group != self->nodes[j].info.owner_group)
				continue;
			exp = &self->nodes[i];
			imp = &self->nodes[j];
		}
	}
	if (!imp)
		SKIP(return, "no two PCI test devices of one P2P group");
	printf("# exporter: test device %u, importer: test device %u\n", exp->info.index,
	       imp->info.index);
	fill(self->buf, NPAGES, 41);
	ASSERT_EQ(0, bind(exp->fd, self->buf, NPAGES, 0, &he));
	ASSERT_EQ(0, bind(imp->fd, self->buf, NPAGES, 0, &hi));
	ASSERT_EQ(0, migrate(exp->fd, he, DRM_HMM_P2P_TO_DEVICE, 0, NPAGES, &moved));
	ASSERT_EQ(NPAGES, moved);
	ASSERT_EQ(0, stats(imp->fd, &si, true));
	ASSERT_EQ(0, stats(exp->fd, &se, true));

	ASSERT_EQ(0, query(imp->fd, hi, NPAGES, 0, info));
	EXPECT_EQ(NPAGES, count(info, NPAGES, HMM_P2P_CLASS_PRIVATE_GROUP,
				HMM_P2P_PAGE_DMA_MAPPED | HMM_P2P_PAGE_P2P, 0, exp->info.index));
	memset(self->out, 0, NPAGES * PAGE_SZ);
	ASSERT_EQ(0, exec_job(imp->fd, hi, HMM_P2P_JOB_READ, 0, NPAGES, self->out, &done));
	EXPECT_EQ(NPAGES, done);
	EXPECT_EQ(-1, check(self->out, NPAGES, 41));

	ASSERT_EQ(0, stats(imp->fd, &si, false));
	ASSERT_EQ(0, stats(exp->fd, &se, false));
	printf("# importer: p2p_mappings=%llu p2p_bytes=%llu; exporter: to_sys=%llu in_use=%llu\n",
	       si.p2p_mappings, si.p2p_bytes, se.migrated_to_sys, se.pages_in_use);
	EXPECT_EQ(NPAGES * PAGE_SZ, si.p2p_bytes);
	EXPECT_EQ(0, si.p2p_fallback_no_path);
	EXPECT_EQ(0, se.migrated_to_sys);
	EXPECT_LE(NPAGES, se.pages_in_use);
	/* the exporter still holds them */
	ASSERT_EQ(0, query(exp->fd, he, NPAGES, HMM_P2P_CLASSIFY_NOFAULT, info));
	EXPECT_EQ(NPAGES, count(info, NPAGES, HMM_P2P_CLASS_PRIVATE_LOCAL, 0, 0,
				exp->info.index));
	ASSERT_EQ(0, migrate(exp->fd, he, DRM_HMM_P2P_TO_SYSTEM, 0, NPAGES, &moved));
	EXPECT_EQ(NPAGES, moved);
	EXPECT_EQ(-1, check(self->buf, NPAGES, 41));
}

/* Closing the file moves the device's pages home (the test nodes' rule). */
TEST_F(drm, close_evicts)
{
	struct hmm_p2p_page_info info[NPAGES];
	struct node *n = &self->nodes[0];
	__u64 moved;
	__u32 h, h2;
	int fd2;

	fd2 = open(n->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	fill(self->buf, NPAGES, 51);
	ASSERT_EQ(0, bind(fd2, self->buf, NPAGES, 0, &h2));
	ASSERT_EQ(0, migrate(fd2, h2, DRM_HMM_P2P_TO_DEVICE, 0, NPAGES, &moved));
	ASSERT_EQ(NPAGES, moved);
	ASSERT_EQ(0, close(fd2));
	ASSERT_EQ(0, bind(n->fd, self->buf, NPAGES, 0, &h));
	ASSERT_EQ(0, query(n->fd, h, NPAGES, HMM_P2P_CLASSIFY_NOFAULT, info));
	EXPECT_EQ(NPAGES, count(info, NPAGES, HMM_P2P_CLASS_SYSTEM, 0, 0, -1));
	EXPECT_EQ(-1, check(self->buf, NPAGES, 51));
}

#define EXPECT_ERR(err, nr, call) do {						\
	int __r = (call);							\
	EXPECT_EQ(-(err), __r);							\
	EXPECT_TRUE(documented(DRM_IOCTL_HMM_P2P_##nr, __r));			\
} while (0)

/* Bad input: each gets the errno uapi/hmm_p2p_drm.h documents. */
TEST_F(drm, bad_input)
{
	struct node *n = &self->nodes[0];
	struct drm_hmm_p2p_migrate m = { .npages = 1 };
	struct drm_hmm_p2p_exec e = { .op = HMM_P2P_JOB_READ, .npages = 1, .ptr = U64(self->out) };
	struct drm_hmm_p2p_stats s = { .ptr = U64(self->out), .size = 4 };
	struct drm_hmm_p2p_unbind u = { 0 };
	struct drm_hmm_p2p_query q = { .npages = 1, .ptr = U64(self->out) };
	struct drm_hmm_p2p_prefetch pf = { .npages = 1 };
	__u32 h, hs[DRM_HMM_P2P_MAX_BINDINGS];
	unsigned int i;
	int ret;

	/* bad handles: 0, never made, past the table, unbound */
	EXPECT_ERR(ENOENT, MIGRATE, cmd(n->fd, DRM_HMM_P2P_MIGRATE, &m, sizeof(m)));
	m.handle = DRM_HMM_P2P_MAX_BINDINGS + 1;
	EXPECT_ERR(ENOENT, MIGRATE, cmd(n->fd, DRM_HMM_P2P_MIGRATE, &m, sizeof(m)));
	m.handle = 0xffffffff;
	EXPECT_ERR(ENOENT, MIGRATE, cmd(n->fd, DRM_HMM_P2P_MIGRATE, &m, sizeof(m)));
	ASSERT_EQ(0, bind(n->fd, self->buf, NPAGES, 0, &h));
	u.handle = h;
	ASSERT_EQ(0, cmd(n->fd, DRM_HMM_P2P_UNBIND, &u, sizeof(u)));
	EXPECT_ERR(ENOENT, UNBIND, cmd(n->fd, DRM_HMM_P2P_UNBIND, &u, sizeof(u)));
	m.handle = h;
	EXPECT_ERR(ENOENT, MIGRATE, cmd(n->fd, DRM_HMM_P2P_MIGRATE, &m, sizeof(m)));
	e.handle = h;
	EXPECT_ERR(ENOENT, EXEC, cmd(n->fd, DRM_HMM_P2P_EXEC, &e, sizeof(e)));
	q.handle = h;
	EXPECT_ERR(ENOENT, QUERY, cmd(n->fd, DRM_HMM_P2P_QUERY, &q, sizeof(q)));
	pf.handle = h;
	EXPECT_ERR(ENOENT, PREFETCH, cmd(n->fd, DRM_HMM_P2P_PREFETCH, &pf, sizeof(pf)));
	u.handle = 0;
	EXPECT_ERR(ENOENT, UNBIND, cmd(n->fd, DRM_HMM_P2P_UNBIND, &u, sizeof(u)));

	/* bind: unaligned, empty, too large, past user space, wrapping, flags */
	EXPECT_ERR(EINVAL, BIND, bind(n->fd, (char *)self->buf + 1, 1, 0, NULL));
	EXPECT_ERR(EINVAL, BIND, bind(n->fd, self->buf, 0, 0, NULL));
	EXPECT_ERR(EINVAL, BIND, bind(n->fd, self->buf, HMM_P2P_MAX_NPAGES + 1, 0, NULL));
	EXPECT_ERR(EINVAL, BIND, bind(n->fd, (void *)(uintptr_t)(1ULL << 47), 1, 0, NULL));
	EXPECT_ERR(EINVAL, BIND, bind(n->fd, (void *)(uintptr_t)0xfffffffffffff000ULL, 2, 0,
				      NULL));
	EXPECT_ERR(EINVAL, BIND, bind(n->fd, self->buf, 1, 1U << 31, NULL));
	/* POPULATE of an unmapped range: the fault's EFAULT, no binding made */
	EXPECT_ERR(EFAULT, BIND, bind(n->fd, (void *)(uintptr_t)0x1000, 1,
				      DRM_HMM_P2P_BIND_POPULATE, NULL));

	/* ranges inside a binding: empty, past its end, overflowing */
	ASSERT_EQ(0, bind(n->fd, self->buf, NPAGES, 0, &h));
	m.handle = h;
	m.npages = 0;
	EXPECT_ERR(EINVAL, MIGRATE, cmd(n->fd, DRM_HMM_P2P_MIGRATE, &m, sizeof(m)));
	m.npages = NPAGES + 1;
	EXPECT_ERR(EINVAL, MIGRATE, cmd(n->fd, DRM_HMM_P2P_MIGRATE, &m, sizeof(m)));
	m.offset = NPAGES;
	m.npages = 1;
	EXPECT_ERR(EINVAL, MIGRATE, cmd(n->fd, DRM_HMM_P2P_MIGRATE, &m, sizeof(m)));
	m.offset = ~0ULL;
	m.npages = 2;
	EXPECT_ERR(EINVAL, MIGRATE, cmd(n->fd, DRM_HMM_P2P_MIGRATE, &m, sizeof(m)));
	m.offset = 0;
	m.npages = 1;
	m.dir = 2;
	EXPECT_ERR(EINVAL, MIGRATE, cmd(n->fd, DRM_HMM_P2P_MIGRATE, &m, sizeof(m)));
	q.handle = h;
	q.offset = 1ULL << 63;
	q.npages = 1ULL << 63;
	EXPECT_ERR(EINVAL, QUERY, cmd(n->fd, DRM_HMM_P2P_QUERY, &q, sizeof(q)));
	q.offset = 0;
	q.npages = 1;
	q.flags = 2;
	EXPECT_ERR(EINVAL, QUERY, cmd(n->fd, DRM_HMM_P2P_QUERY, &q, sizeof(q)));
	q.flags = 0;
	q.ptr = 8;	/* an unmapped buffer */
	EXPECT_ERR(EFAULT, QUERY, cmd(n->fd, DRM_HMM_P2P_QUERY, &q, sizeof(q)));
	pf.handle = h;
	pf.flags = 1U << 7;
	EXPECT_ERR(EINVAL, PREFETCH, cmd(n->fd, DRM_HMM_P2P_PREFETCH, &pf, sizeof(pf)));

	/* exec: op, job size, delay, pad, buffer */
	e.handle = h;
	e.op = 7;
	EXPECT_ERR(EINVAL, EXEC, cmd(n->fd, DRM_HMM_P2P_EXEC, &e, sizeof(e)));
	e.op = HMM_P2P_JOB_READ;
	e.delay_us = HMM_P2P_JOB_MAX_DELAY_US + 1;
	EXPECT_ERR(EINVAL, EXEC, cmd(n->fd, DRM_HMM_P2P_EXEC, &e, sizeof(e)));
	e.delay_us = 0;
	e.pad = 1;
	EXPECT_ERR(EINVAL, EXEC, cmd(n->fd, DRM_HMM_P2P_EXEC, &e, sizeof(e)));
	e.pad = 0;
	e.ptr = 8;
	EXPECT_ERR(EFAULT, EXEC, cmd(n->fd, DRM_HMM_P2P_EXEC, &e, sizeof(e)));
	u.handle = h;
	u.pad = 1;
	EXPECT_ERR(EINVAL, UNBIND, cmd(n->fd, DRM_HMM_P2P_UNBIND, &u, sizeof(u)));

	/* stats: size, flags, buffer */
	EXPECT_ERR(EINVAL, STATS, cmd(n->fd, DRM_HMM_P2P_STATS, &s, sizeof(s)));
	s.size = sizeof(struct hmm_p2p_stats);
	s.flags = 2;
	EXPECT_ERR(EINVAL, STATS, cmd(n->fd, DRM_HMM_P2P_STATS, &s, sizeof(s)));
	s.flags = 0;
	s.ptr = 8;
	EXPECT_ERR(EFAULT, STATS, cmd(n->fd, DRM_HMM_P2P_STATS, &s, sizeof(s)));
	/* an old caller's smaller buffer gets what it has room for */
	s.ptr = U64(self->out);
	s.size = 16;
	memset(self->out, 0xee, 32);
	ASSERT_EQ(0, cmd(n->fd, DRM_HMM_P2P_STATS, &s, sizeof(s)));
	EXPECT_EQ(sizeof(struct hmm_p2p_stats), s.size);
	EXPECT_EQ(0xeeeeeeeeeeeeeeeeULL, ((__u64 *)self->out)[2]);

	/* the table fills up: ENOSPC, a free slot is reused */
	ASSERT_EQ(0, cmd(n->fd, DRM_HMM_P2P_UNBIND, &(struct drm_hmm_p2p_unbind){ .handle = h },
			 sizeof(struct drm_hmm_p2p_unbind)));
	for (i = 0; i < DRM_HMM_P2P_MAX_BINDINGS; i++) {
		ret = bind(n->fd, self->buf, 1, 0, &hs[i]);
		if (ret)
			break;
	}
	/* the fixture's file has no other bindings: all of them fit */
	EXPECT_EQ(DRM_HMM_P2P_MAX_BINDINGS, i);
	EXPECT_ERR(ENOSPC, BIND, bind(n->fd, self->buf, 1, 0, NULL));
	u.handle = hs[5];
	u.pad = 0;
	ASSERT_EQ(0, cmd(n->fd, DRM_HMM_P2P_UNBIND, &u, sizeof(u)));
	ASSERT_EQ(0, bind(n->fd, self->buf, 1, 0, &h));
	EXPECT_EQ(hs[5], h);

	/* the DRM core: a driver command past the last, a size the table does not know */
	errno = 0;
	EXPECT_EQ(-1, drmIoctl(n->fd, DRM_IOWR(DRM_COMMAND_BASE + DRM_HMM_P2P_NR,
					       struct drm_hmm_p2p_migrate), &m));
	EXPECT_EQ(EINVAL, errno);
}

static int write_sysfs(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/*
 * A PCI test device unbound under an open DRM file holding its pages: the
 * pages come home, the file's commands fail with ENODEV, it closes cleanly;
 * bound again, the node (which stayed) opens on the new device and works.
 */
TEST_F(drm, pci_unbind)
{
	struct hmm_p2p_page_info info[NPAGES];
	struct drm_hmm_p2p_info di;
	struct node *n = NULL;
	char path[64], real[PATH_MAX], *bdf;
	__u64 moved;
	int i, fd;
	__u32 h;

	for (i = NR_DMIRROR; i < NR_DMIRROR + 8 && !n; i++)
		if (self->nodes[i].fd >= 0)
			n = &self->nodes[i];
	if (!n)
		SKIP(return, "no PCI test device");
	snprintf(path, sizeof(path), "/sys/class/misc/hmm_p2p%u/device",
		 n->info.index - NR_DMIRROR);
	ASSERT_NE(NULL, realpath(path, real));
	bdf = strrchr(real, '/') + 1;
	printf("# test device %u: %s\n", n->info.index, bdf);

	fill(self->buf, NPAGES, 61);
	ASSERT_EQ(0, bind(n->fd, self->buf, NPAGES, 0, &h));
	ASSERT_EQ(0, migrate(n->fd, h, DRM_HMM_P2P_TO_DEVICE, 0, NPAGES, &moved));
	ASSERT_EQ(NPAGES, moved);
	ASSERT_EQ(0, write_sysfs("/sys/bus/pci/drivers/hmm_p2p_pci/unbind", bdf));
	EXPECT_EQ(-ENODEV, migrate(n->fd, h, DRM_HMM_P2P_TO_SYSTEM, 0, NPAGES, &moved));
	EXPECT_EQ(-ENODEV, drmCommandRead(n->fd, DRM_HMM_P2P_INFO, &di, sizeof(di)));
	EXPECT_EQ(-1, check(self->buf, NPAGES, 61));
	/* a new file of the node: no device behind it */
	fd = open(n->path, O_RDWR | O_CLOEXEC);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(ENODEV, errno);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(0, close(n->fd));
	n->fd = -1;

	ASSERT_EQ(0, write_sysfs("/sys/bus/pci/drivers/hmm_p2p_pci/bind", bdf));
	for (i = 0, fd = -1; i < 50 && fd < 0; i++) {
		fd = open(n->path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			usleep(100000);
	}
	ASSERT_LE(0, fd);
	n->fd = fd;
	ASSERT_EQ(0, drmCommandRead(fd, DRM_HMM_P2P_INFO, &di, sizeof(di)));
	EXPECT_EQ(n->info.index, di.index);
	ASSERT_EQ(0, bind(fd, self->buf, NPAGES, 0, &h));
	ASSERT_EQ(0, migrate(fd, h, DRM_HMM_P2P_TO_DEVICE, 0, NPAGES, &moved));
	EXPECT_EQ(NPAGES, moved);
	ASSERT_EQ(0, query(fd, h, NPAGES, HMM_P2P_CLASSIFY_NOFAULT, info));
	EXPECT_EQ(NPAGES, count(info, NPAGES, HMM_P2P_CLASS_PRIVATE_LOCAL, 0, 0, di.index));
	EXPECT_EQ(-1, check(self->buf, NPAGES, 61));
}

/* Last: with every other test's files closed, no device page is in use. */
TEST_F(drm, zz_nothing_left)
{
	struct hmm_p2p_stats st;
	int i;

	for (i = 0; i < NR_DMIRROR + 8; i++) {
		if (self->nodes[i].fd < 0)
			continue;
		ASSERT_EQ(0, stats(self->nodes[i].fd, &st, false));
		EXPECT_EQ(0, st.pages_in_use);
	}
}

TEST_HARNESS_MAIN
