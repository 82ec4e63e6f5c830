// SPDX-License-Identifier: GPL-2.0
/*
 * A third-party ODP consumer on our device memory: rdma_rxe (soft-RoCE) with
 * on-demand paging, through rdma-core's libibverbs.
 *
 *   rxe_odp [harness options]     (RXE_DEV=NAME: the rxe device, default rxe0)
 *
 * Two RC QPs of the rxe device, connected to each other through the
 * device's own GID (rxe loops its own address back), move data with RDMA
 * WRITE and READ between a pinned local buffer and an ODP memory region
 * (IBV_ACCESS_ON_DEMAND) over an anonymous buffer whose pages the test moves
 * into device memory and back: device-private memory (/dev/hmm_dmirror0),
 * device-coherent memory (/dev/hmm_dmirror2) and private memory of a PCI
 * device (/dev/hmm_p2p0). What 7.3's rxe does, and the tests assert:
 *   - registration only snapshots the range (hmm_range_fault without
 *     HMM_PFN_REQ_FAULT): pages stay in device memory until the first RDMA
 *     access;
 *   - rxe mirrors with no dev_private_owner, so device-private pages come
 *     back through our migrate_to_ram at that access (they are in system
 *     memory after it);
 *   - device-coherent pages are used in place (they stay on the device,
 *     with no migration).
 * Data is checked at every step. rxe keeps no counters of its
 * invalidations: an observer (HMM_P2P_IOC_OBSERVE, an interval notifier of
 * our own over the same range, one per device file) counts them, and each
 * step prints the observers' counts next to the devices' STATS; the
 * deterministic parts are asserted.
 *
 * Dynamic (libibverbs dlopens its rxe provider): tools/mkinitramfs.sh
 * carries the loader, the libraries and the provider into the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <infiniband/verbs.h>

#include "kselftest_harness.h"
#include "hmm_p2p_util.h"

#define NP		16UL			/* pages in the buffer */
#define BUFSZ		(NP * PAGE_SZ)
#define CQ_TIMEOUT_S	60			/* TCG, the debug kernel */
#define GID_WAIT_S	20

enum { D_PRIV, D_COH, D_PCI, ND };
static const char *const dev_path[ND] = {
	"/dev/hmm_dmirror0", "/dev/hmm_dmirror2", "/dev/hmm_p2p0",
};

static const char *const dev_name[ND] = { "dmirror0", "dmirror2", "hmm_p2p0" };

/* What the observers and the devices' STATS say at one moment. */
struct counts {
	struct hmm_p2p_observe_cmd obs[ND];
	struct hmm_p2p_stats st[ND];
};

FIXTURE(rxe) {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp[2];
	struct ibv_mr *lmr;		/* the local, pinned buffer */
	struct ibv_mr *odp;		/* the ODP region over buf */
	union ibv_gid gid;
	int gid_index;
	char *buf;			/* ODP memory, moved around */
	char *lbuf;
	char *scratch;			/* what MIGRATE_TO_DEV reads back */
	int fd[ND];
	__u32 obs[ND];
	struct counts c0;		/* at the start of a step */
};

static int obs_op(int fd, __u32 op, __u32 *id, const void *addr, unsigned long npages,
		  struct hmm_p2p_observe_cmd *out)
{
	struct hmm_p2p_observe_cmd cmd = {
		.op = op, .id = *id, .addr = U64(addr), .npages = npages,
	};

	if (ioctl(fd, HMM_P2P_IOC_OBSERVE, &cmd))
		return -errno;
	*id = cmd.id;
	if (out)
		*out = cmd;
	return 0;
}

static int take_counts(struct _test_data_rxe *self, struct counts *c)
{
	int i, ret;

	for (i = 0; i < ND; i++) {
		ret = obs_op(self->fd[i], HMM_P2P_OBS_READ, &self->obs[i], NULL, 0, &c->obs[i]);
		if (ret)
			return ret;
		ret = get_stats(self->fd[i], &c->st[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* A counter's change between two readings: @off is its offset in the struct. */
static __u64 d_obs(const struct counts *c1, const struct counts *c0, int i, size_t off)
{
	return *(const __u64 *)((const char *)&c1->obs[i] + off) -
	       *(const __u64 *)((const char *)&c0->obs[i] + off);
}

static __u64 d_st(const struct counts *c1, const struct counts *c0, int i, size_t off)
{
	return *(const __u64 *)((const char *)&c1->st[i] + off) -
	       *(const __u64 *)((const char *)&c0->st[i] + off);
}

#define D_OBS(c1, c0, i, f)	d_obs(c1, c0, i, offsetof(struct hmm_p2p_observe_cmd, f))
#define D_EV(c1, c0, i, e)	d_obs(c1, c0, i, offsetof(struct hmm_p2p_observe_cmd, events[e]))
#define D_ST(c1, c0, i, f)	d_st(c1, c0, i, offsetof(struct hmm_p2p_stats, f))

/* One line per device: observer deltas, then the mirror's STATS deltas. */
static void print_step(const char *step, const struct counts *c0, const struct counts *c1)
{
	int i;

	for (i = 0; i < ND; i++) {
		printf("# %-26s %-8s observer: calls %llu pages %llu migrate own %llu other %llu ",
		       step, dev_name[i],
		       (unsigned long long)D_OBS(c1, c0, i, calls),
		       (unsigned long long)D_OBS(c1, c0, i, pages),
		       (unsigned long long)D_EV(c1, c0, i, HMM_P2P_OBS_MIGRATE_OWN),
		       (unsigned long long)D_EV(c1, c0, i, HMM_P2P_OBS_MIGRATE_OTHER));
		printf("clear %llu unmap %llu prot %llu excl %llu | ",
		       (unsigned long long)D_EV(c1, c0, i, HMM_P2P_OBS_CLEAR),
		       (unsigned long long)D_EV(c1, c0, i, HMM_P2P_OBS_UNMAP),
		       (unsigned long long)(D_EV(c1, c0, i, HMM_P2P_OBS_PROTECTION_VMA) +
					    D_EV(c1, c0, i, HMM_P2P_OBS_PROTECTION_PAGE)),
		       (unsigned long long)D_EV(c1, c0, i, HMM_P2P_OBS_EXCLUSIVE));
		printf("mirror: inval %llu to_dev %llu to_sys %llu cpu_faults %llu remote %llu\n",
		       (unsigned long long)D_ST(c1, c0, i, invalidations),
		       (unsigned long long)D_ST(c1, c0, i, migrated_to_dev),
		       (unsigned long long)D_ST(c1, c0, i, migrated_to_sys),
		       (unsigned long long)D_ST(c1, c0, i, cpu_faults),
		       (unsigned long long)D_ST(c1, c0, i, cpu_faults_for_mirrors));
	}
}

/* Pages of buf of @class as device @d's mirror sees them (no fault). */
static long where(struct _test_data_rxe *self, int d, int class)
{
	struct hmm_p2p_page_info info[NP];
	int ret;

	ret = classify(self->fd[d], self->buf, NP, HMM_P2P_CLASSIFY_NOFAULT, info);
	if (ret)
		return ret;
	return count_class(info, NP, class);
}

/* Pages of buf that SNAPSHOT on @d reports with device memory type @prot. */
static long snap_type(struct _test_data_rxe *self, int d, unsigned char prot)
{
	unsigned char p[NP];
	unsigned long i;
	long n = 0;
	int ret;

	ret = dm(self->fd[d], HMM_DMIRROR_SNAPSHOT, self->buf, p, NP, NULL);
	if (ret)
		return ret;
	for (i = 0; i < NP; i++)
		n += (p[i] & 0xf0) == prot;
	return n;
}

/*
 * One RDMA WRITE (buf + @off <- lbuf + @off) or READ (lbuf + @off <- buf +
 * @off) of @len bytes; 0 or -errno.
 */
static int rdma_at(struct _test_data_rxe *self, enum ibv_wr_opcode op, size_t off, size_t len)
{
	struct ibv_sge sge = {
		.addr = U64(self->lbuf + off), .length = len, .lkey = self->lmr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = op, .sg_list = &sge, .num_sge = 1, .opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { .remote_addr = U64(self->buf + off), .rkey = self->odp->rkey },
	}, *bad;
	time_t end = time(NULL) + CQ_TIMEOUT_S;
	struct ibv_wc wc;
	int n;

	if (ibv_post_send(self->qp[0], &wr, &bad))
		return -EIO;
	do {
		n = ibv_poll_cq(self->cq, 1, &wc);
		if (n < 0)
			return -EIO;
		if (!n)
			usleep(1000);
	} while (!n && time(NULL) < end);
	if (!n) {
		fprintf(stderr, "# no completion after %d s\n", CQ_TIMEOUT_S);
		return -ETIMEDOUT;
	}
	if (wc.status != IBV_WC_SUCCESS) {
		fprintf(stderr, "# work completion: %s (%d), vendor error %#x\n",
			ibv_wc_status_str(wc.status), wc.status, wc.vendor_err);
		return -EIO;
	}
	return 0;
}

/* All of it. */
static int rdma(struct _test_data_rxe *self, enum ibv_wr_opcode op)
{
	return rdma_at(self, op, 0, BUFSZ);
}

static int find_gid(struct _test_data_rxe *self)
{
	struct ibv_port_attr pa;
	time_t end = time(NULL) + GID_WAIT_S;
	int i;

	/* the GID table fills in from netdev events: wait for the IPv4 one */
	do {
		if (ibv_query_port(self->ctx, 1, &pa))
			return -EIO;
		for (i = 0; i < pa.gid_tbl_len && i < 16; i++) {
			static const unsigned char v4[12] = { [10] = 0xff, [11] = 0xff };

			if (ibv_query_gid(self->ctx, 1, i, &self->gid))
				continue;
			if (!memcmp(self->gid.raw, v4, sizeof(v4))) {
				self->gid_index = i;
				if (pa.active_mtu != IBV_MTU_4096) {
					fprintf(stderr, "# active MTU %d, want %d\n",
						pa.active_mtu, IBV_MTU_4096);
					return -EMSGSIZE;
				}
				return pa.state == IBV_PORT_ACTIVE ? 0 : -ENETDOWN;
			}
		}
		usleep(100000);
	} while (time(NULL) < end);
	return -ENOENT;
}

static int qp_connect(struct _test_data_rxe *self, struct ibv_qp *qp, __u32 dest)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .pkey_index = 0, .port_num = 1,
		.qp_access_flags = IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_LOCAL_WRITE,
	};

	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			  IBV_QP_ACCESS_FLAGS))
		return -errno;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_4096;
	a.dest_qp_num = dest;
	a.rq_psn = 0;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = self->gid;
	a.ah_attr.grh.sgid_index = self->gid_index;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
			  IBV_QP_MIN_RNR_TIMER))
		return -errno;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = 0;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			  IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))
		return -errno;
	return 0;
}

FIXTURE_SETUP(rxe)
{
	const char *want = getenv("RXE_DEV") ?: "rxe0";
	struct ibv_device **list;
	struct ibv_device_attr_ex ax;
	struct ibv_qp_init_attr qa = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 8, .max_recv_wr = 1, .max_send_sge = 1,
			 .max_recv_sge = 1 },
	};
	int i, n, ret;

	for (i = 0; i < ND; i++) {
		self->fd[i] = open(dev_path[i], O_RDWR);
		ASSERT_GE(self->fd[i], 0) TH_LOG("open %s: %s", dev_path[i], strerror(errno));
	}

	list = ibv_get_device_list(&n);
	ASSERT_NE(list, NULL) TH_LOG("ibv_get_device_list: %s", strerror(errno));
	for (i = 0; i < n; i++)
		if (!strcmp(ibv_get_device_name(list[i]), want))
			break;
	ASSERT_LT(i, n) TH_LOG("no RDMA device %s (%d devices)", want, n);
	self->ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	ASSERT_NE(self->ctx, NULL) TH_LOG("ibv_open_device %s: %s", want, strerror(errno));

	/* ODP for RC READ and WRITE, as 7.3's rxe reports with ODP built in */
	memset(&ax, 0, sizeof(ax));
	ASSERT_EQ(ibv_query_device_ex(self->ctx, NULL, &ax), 0);
	ASSERT_TRUE(ax.odp_caps.general_caps & IBV_ODP_SUPPORT)
		TH_LOG("%s: no ODP (general_caps %#llx)", want,
		       (unsigned long long)ax.odp_caps.general_caps);
	ASSERT_EQ(ax.odp_caps.per_transport_caps.rc_odp_caps &
		  (IBV_ODP_SUPPORT_READ | IBV_ODP_SUPPORT_WRITE),
		  IBV_ODP_SUPPORT_READ | IBV_ODP_SUPPORT_WRITE);

	ret = find_gid(self);
	ASSERT_EQ(ret, 0) TH_LOG("%s port 1: no active port with an IPv4 GID (%d)", want, ret);

	self->pd = ibv_alloc_pd(self->ctx);
	ASSERT_NE(self->pd, NULL);
	self->cq = ibv_create_cq(self->ctx, 16, NULL, NULL, 0);
	ASSERT_NE(self->cq, NULL);
	qa.send_cq = self->cq;
	qa.recv_cq = self->cq;
	for (i = 0; i < 2; i++) {
		self->qp[i] = ibv_create_qp(self->pd, &qa);
		ASSERT_NE(self->qp[i], NULL) TH_LOG("ibv_create_qp: %s", strerror(errno));
	}
	ASSERT_EQ(qp_connect(self, self->qp[0], self->qp[1]->qp_num), 0);
	ASSERT_EQ(qp_connect(self, self->qp[1], self->qp[0]->qp_num), 0);

	self->buf = mmap(NULL, BUFSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->buf, MAP_FAILED);
	self->lbuf = mmap(NULL, BUFSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->lbuf, MAP_FAILED);
	self->scratch = mmap(NULL, BUFSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	ASSERT_NE(self->scratch, MAP_FAILED);
	fill(self->buf, BUFSZ, 1);
	fill(self->lbuf, BUFSZ, 2);
	self->lmr = ibv_reg_mr(self->pd, self->lbuf, BUFSZ, IBV_ACCESS_LOCAL_WRITE);
	ASSERT_NE(self->lmr, NULL) TH_LOG("ibv_reg_mr (local): %s", strerror(errno));

	for (i = 0; i < ND; i++) {
		self->obs[i] = 0;
		ASSERT_EQ(obs_op(self->fd[i], HMM_P2P_OBS_START, &self->obs[i], self->buf, NP,
				 NULL), 0);
	}
}

FIXTURE_TEARDOWN(rxe)
{
	int i;

	if (self->odp)
		ibv_dereg_mr(self->odp);
	if (self->lmr)
		ibv_dereg_mr(self->lmr);
	for (i = 0; i < 2; i++)
		if (self->qp[i])
			ibv_destroy_qp(self->qp[i]);
	if (self->cq)
		ibv_destroy_cq(self->cq);
	if (self->pd)
		ibv_dealloc_pd(self->pd);
	if (self->ctx)
		ibv_close_device(self->ctx);
	for (i = 0; i < ND; i++)
		if (self->fd[i] >= 0)
			close(self->fd[i]);
}

static int reg_odp(struct _test_data_rxe *self)
{
	self->odp = ibv_reg_mr(self->pd, self->buf, BUFSZ,
			       IBV_ACCESS_ON_DEMAND | IBV_ACCESS_LOCAL_WRITE |
			       IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE);
	return self->odp ? 0 : -errno;
}

/* Start a step: the counters now. */
#define STEP_BEGIN() ASSERT_EQ(take_counts(self, &self->c0), 0)
/* End a step: print it, c1 holds the counters now. */
#define STEP_END(name, c1) do {						\
		struct counts *_c1 = &(c1);				\
		ASSERT_EQ(take_counts(self, _c1), 0);			\
		print_step(name, &self->c0, _c1);			\
	} while (0)

/*
 * Fill buf with @seed and move it to device @d; check it is all there
 * (CLASSIFY, and SNAPSHOT on the dmirrors) and that the migration told
 * every observer: "own" on @d's, "other" on the others'.
 */
static void to_device(struct __test_metadata *_metadata, struct _test_data_rxe *self, int d,
		      __u64 seed, const char *step)
{
	int cls = d == D_COH ? HMM_P2P_CLASS_COHERENT : HMM_P2P_CLASS_PRIVATE_LOCAL;
	struct counts c1;
	__u64 cp = 0;
	int i;

	fill(self->buf, BUFSZ, seed);
	STEP_BEGIN();
	ASSERT_EQ(dm(self->fd[d], HMM_DMIRROR_MIGRATE_TO_DEV, self->buf, self->scratch, NP, &cp),
		  0);
	ASSERT_EQ(cp, NP);
	STEP_END(step, c1);
	ASSERT_EQ(check(self->scratch, BUFSZ, seed), -1);
	ASSERT_EQ(D_ST(&c1, &self->c0, d, migrated_to_dev), NP);
	ASSERT_GE(D_EV(&c1, &self->c0, d, HMM_P2P_OBS_MIGRATE_OWN), 1);
	for (i = 0; i < ND; i++)
		if (i != d)
			ASSERT_GE(D_EV(&c1, &self->c0, i, HMM_P2P_OBS_MIGRATE_OTHER), 1);
	ASSERT_EQ(where(self, d, cls), NP);
	if (d != D_PCI)
		ASSERT_EQ(snap_type(self, d, d == D_COH ? HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
					     HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL), NP);
}

/*
 * RDMA READ (lbuf <- buf) of device-private pages of @d: the data is
 * right, and rxe's access brought every page home through our
 * migrate_to_ram (an "own" migration on @d's observer).
 */
static void read_private(struct __test_metadata *_metadata, struct _test_data_rxe *self, int d,
			 __u64 seed, const char *step)
{
	struct counts c1;

	memset(self->lbuf, 0, BUFSZ);
	STEP_BEGIN();
	ASSERT_EQ(rdma(self, IBV_WR_RDMA_READ), 0);
	STEP_END(step, c1);
	ASSERT_EQ(check(self->lbuf, BUFSZ, seed), -1);
	ASSERT_EQ(where(self, d, HMM_P2P_CLASS_SYSTEM), NP);
	ASSERT_EQ(D_ST(&c1, &self->c0, d, migrated_to_sys), NP);
	ASSERT_GE(D_ST(&c1, &self->c0, d, cpu_faults), 1);
	ASSERT_GE(D_EV(&c1, &self->c0, d, HMM_P2P_OBS_MIGRATE_OWN), 1);
}

/* RDMA WRITE (buf <- lbuf) of device-private pages of @d, likewise. */
static void write_private(struct __test_metadata *_metadata, struct _test_data_rxe *self, int d,
			  __u64 seed, const char *step)
{
	struct counts c1;

	fill(self->lbuf, BUFSZ, seed);
	STEP_BEGIN();
	ASSERT_EQ(rdma(self, IBV_WR_RDMA_WRITE), 0);
	STEP_END(step, c1);
	ASSERT_EQ(where(self, d, HMM_P2P_CLASS_SYSTEM), NP);
	ASSERT_EQ(check(self->buf, BUFSZ, seed), -1);
	ASSERT_EQ(D_ST(&c1, &self->c0, d, migrated_to_sys), NP);
	ASSERT_GE(D_ST(&c1, &self->c0, d, cpu_faults), 1);
	ASSERT_GE(D_EV(&c1, &self->c0, d, HMM_P2P_OBS_MIGRATE_OWN), 1);
	memset(self->lbuf, 0, BUFSZ);
	ASSERT_EQ(rdma(self, IBV_WR_RDMA_READ), 0);
	ASSERT_EQ(check(self->lbuf, BUFSZ, seed), -1);
}

/*
 * RDMA READ then WRITE of device-coherent pages: used in place, no
 * migration either way, the data right both ways.
 */
static void rw_coherent(struct __test_metadata *_metadata, struct _test_data_rxe *self,
			__u64 seed, const char *step)
{
	struct counts c1;
	int i;

	memset(self->lbuf, 0, BUFSZ);
	STEP_BEGIN();
	ASSERT_EQ(rdma(self, IBV_WR_RDMA_READ), 0);
	ASSERT_EQ(check(self->lbuf, BUFSZ, seed), -1);
	fill(self->lbuf, BUFSZ, seed + 1);
	ASSERT_EQ(rdma(self, IBV_WR_RDMA_WRITE), 0);
	STEP_END(step, c1);
	ASSERT_EQ(where(self, D_COH, HMM_P2P_CLASS_COHERENT), NP);
	ASSERT_EQ(check(self->buf, BUFSZ, seed + 1), -1);
	for (i = 0; i < ND; i++) {
		ASSERT_EQ(D_EV(&c1, &self->c0, i, HMM_P2P_OBS_MIGRATE_OWN), 0);
		ASSERT_EQ(D_EV(&c1, &self->c0, i, HMM_P2P_OBS_MIGRATE_OTHER), 0);
	}
	ASSERT_EQ(D_ST(&c1, &self->c0, D_COH, migrated_to_sys), 0);
	ASSERT_EQ(D_ST(&c1, &self->c0, D_COH, cpu_faults), 0);
}

/* RDMA READ and WRITE of system pages, the data right both ways. */
static void rw_system(struct __test_metadata *_metadata, struct _test_data_rxe *self,
		      __u64 seed, const char *step)
{
	struct counts c1;

	memset(self->lbuf, 0, BUFSZ);
	STEP_BEGIN();
	ASSERT_EQ(rdma(self, IBV_WR_RDMA_READ), 0);
	ASSERT_EQ(check(self->lbuf, BUFSZ, seed), -1);
	fill(self->lbuf, BUFSZ, seed + 1);
	ASSERT_EQ(rdma(self, IBV_WR_RDMA_WRITE), 0);
	STEP_END(step, c1);
	ASSERT_EQ(check(self->buf, BUFSZ, seed + 1), -1);
	ASSERT_EQ(where(self, D_PRIV, HMM_P2P_CLASS_SYSTEM), NP);
}

/* Registration leaves device-private pages where they are. */
TEST_F(rxe, registration_snapshot)
{
	struct counts c1;

	to_device(_metadata, self, D_PRIV, 10, "migrate to dmirror0");
	STEP_BEGIN();
	ASSERT_EQ(reg_odp(self), 0) TH_LOG("ibv_reg_mr(ON_DEMAND): %s", strerror(errno));
	STEP_END("ibv_reg_mr (ODP)", c1);
	/* only a snapshot: nothing faulted back, nothing migrated */
	ASSERT_EQ(where(self, D_PRIV, HMM_P2P_CLASS_PRIVATE_LOCAL), NP);
	ASSERT_EQ(D_ST(&c1, &self->c0, D_PRIV, migrated_to_sys), 0);
	ASSERT_EQ(D_ST(&c1, &self->c0, D_PRIV, cpu_faults), 0);
	ASSERT_EQ(D_OBS(&c1, &self->c0, D_PRIV, calls), 0);
	read_private(_metadata, self, D_PRIV, 10, "rdma read (first access)");
}

TEST_F(rxe, private_read)
{
	ASSERT_EQ(reg_odp(self), 0);
	rw_system(_metadata, self, 1, "system");
	to_device(_metadata, self, D_PRIV, 20, "migrate to dmirror0");
	read_private(_metadata, self, D_PRIV, 20, "rdma read of dmirror0");
}

TEST_F(rxe, private_write)
{
	ASSERT_EQ(reg_odp(self), 0);
	to_device(_metadata, self, D_PRIV, 30, "migrate to dmirror0");
	write_private(_metadata, self, D_PRIV, 31, "rdma write to dmirror0");
}

TEST_F(rxe, coherent_in_place)
{
	ASSERT_EQ(reg_odp(self), 0);
	to_device(_metadata, self, D_COH, 40, "migrate to dmirror2");
	rw_coherent(_metadata, self, 40, "rdma read+write dmirror2");
}

TEST_F(rxe, coherent_back_to_system)
{
	struct counts c1;
	__u64 cp = 0;

	ASSERT_EQ(reg_odp(self), 0);
	to_device(_metadata, self, D_COH, 50, "migrate to dmirror2");
	rw_coherent(_metadata, self, 50, "rdma read+write dmirror2");
	STEP_BEGIN();
	ASSERT_EQ(dm(self->fd[D_COH], HMM_DMIRROR_MIGRATE_TO_SYS, self->buf, NULL, NP, &cp), 0);
	STEP_END("migrate dmirror2 to system", c1);
	ASSERT_EQ(D_ST(&c1, &self->c0, D_COH, migrated_to_sys), NP);
	ASSERT_GE(D_EV(&c1, &self->c0, D_COH, HMM_P2P_OBS_MIGRATE_OWN), 1);
	ASSERT_EQ(where(self, D_COH, HMM_P2P_CLASS_SYSTEM), NP);
	rw_system(_metadata, self, 51, "rdma read+write system");
}

TEST_F(rxe, pci_private)
{
	ASSERT_EQ(reg_odp(self), 0);
	to_device(_metadata, self, D_PCI, 60, "migrate to hmm_p2p0");
	read_private(_metadata, self, D_PCI, 60, "rdma read of hmm_p2p0");
	to_device(_metadata, self, D_PCI, 61, "migrate to hmm_p2p0");
	write_private(_metadata, self, D_PCI, 62, "rdma write to hmm_p2p0");
}

/* Every step in turn on one memory region. */
TEST_F(rxe, walk)
{
	__u64 cp = 0;

	ASSERT_EQ(reg_odp(self), 0);
	rw_system(_metadata, self, 1, "walk: system");
	to_device(_metadata, self, D_PRIV, 70, "walk: to dmirror0");
	read_private(_metadata, self, D_PRIV, 70, "walk: read dmirror0");
	to_device(_metadata, self, D_PRIV, 71, "walk: to dmirror0");
	write_private(_metadata, self, D_PRIV, 72, "walk: write dmirror0");
	to_device(_metadata, self, D_COH, 73, "walk: to dmirror2");
	rw_coherent(_metadata, self, 73, "walk: read+write dmirror2");
	ASSERT_EQ(dm(self->fd[D_COH], HMM_DMIRROR_MIGRATE_TO_SYS, self->buf, NULL, NP, &cp), 0);
	rw_system(_metadata, self, 74, "walk: system again");
	to_device(_metadata, self, D_PCI, 76, "walk: to hmm_p2p0");
	read_private(_metadata, self, D_PCI, 76, "walk: read hmm_p2p0");
	to_device(_metadata, self, D_PCI, 77, "walk: to hmm_p2p0");
	write_private(_metadata, self, D_PCI, 78, "walk: write hmm_p2p0");
}

/*
 * An access inside a page, not at its start: 7.3's __rxe_odp_mr_copy()
 * (drivers/infiniband/sw/rxe/rxe_odp.c) copies from or to the start of the
 * kmapped page (user_va), not user_va + offset, and does not advance its
 * buffer (addr) from one page to the next. So an ODP access at a non-zero
 * page offset reads or writes the page's first bytes instead: with the
 * default 1024-byte MTU, three of every four packets of a large RDMA READ
 * or WRITE land wrong. That is why the other tests run at MTU 4096 over
 * page-aligned buffers (every packet one whole page). This test shows the
 * kernel's behaviour: it passes when the offset is honoured, and reports
 * the known bug as a skip when it is not. System memory only: nothing of
 * ours is involved.
 */
TEST_F(rxe, subpage_offset)
{
	ASSERT_EQ(reg_odp(self), 0);
	fill(self->buf, BUFSZ, 80);
	memset(self->lbuf, 0, BUFSZ);
	ASSERT_EQ(rdma_at(self, IBV_WR_RDMA_READ, 1024, 1024), 0);
	if (check_at(self->lbuf + 1024, 1024, 80, 1024) != -1) {
		ASSERT_EQ(check_at(self->lbuf + 1024, 1024, 80, 0), -1)
			TH_LOG("neither the right bytes nor the page's first ones");
		SKIP(return, "%s",
		     "known 7.3 rxe bug: an ODP read at page offset 1024 returned the page's first 1024 bytes (__rxe_odp_mr_copy ignores the offset)");
	}
}

/* The observer's own interface: limits and errnos. */
TEST_F(rxe, observer_abi)
{
	struct hmm_p2p_observe_cmd cmd;
	__u32 id = 0, ids[HMM_P2P_OBS_MAX] = { 0 };
	int fd, i;

	fd = open(dev_path[D_PRIV], O_RDWR);
	ASSERT_GE(fd, 0);
	for (i = 0; i < HMM_P2P_OBS_MAX; i++)
		ASSERT_EQ(obs_op(fd, HMM_P2P_OBS_START, &ids[i], self->buf, NP, NULL), 0);
	ASSERT_EQ(obs_op(fd, HMM_P2P_OBS_START, &id, self->buf, NP, NULL), -EBUSY);
	ASSERT_EQ(obs_op(fd, HMM_P2P_OBS_STOP, &ids[1], NULL, 0, NULL), 0);
	id = ids[1];
	ASSERT_EQ(obs_op(fd, HMM_P2P_OBS_READ, &id, NULL, 0, NULL), -ENOENT);
	ASSERT_EQ(obs_op(fd, HMM_P2P_OBS_START, &id, self->buf, NP, NULL), 0);
	ASSERT_EQ(id, ids[1]);
	id = HMM_P2P_OBS_MAX;
	ASSERT_EQ(obs_op(fd, HMM_P2P_OBS_READ, &id, NULL, 0, NULL), -EINVAL);
	ASSERT_EQ(obs_op(fd, 3, &id, NULL, 0, NULL), -EINVAL);
	id = 0;
	ASSERT_EQ(obs_op(fd, HMM_P2P_OBS_START, &id, self->buf + 1, NP, NULL), -EINVAL);
	ASSERT_EQ(obs_op(fd, HMM_P2P_OBS_START, &id, self->buf, 0, NULL), -EINVAL);
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = HMM_P2P_OBS_READ;
	cmd.flags = 2;
	ASSERT_EQ(ioctl(fd, HMM_P2P_IOC_OBSERVE, &cmd), -1);
	ASSERT_EQ(errno, EINVAL);
	cmd.flags = 0;
	cmd.pad = 1;
	ASSERT_EQ(ioctl(fd, HMM_P2P_IOC_OBSERVE, &cmd), -1);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_EQ(ioctl(fd, HMM_P2P_IOC_OBSERVE, NULL), -1);
	ASSERT_EQ(errno, EFAULT);
	/* it counts: an munmap of part of the range is one UNMAP over 1 page */
	ASSERT_EQ(munmap(self->buf + (NP - 1) * PAGE_SZ, PAGE_SZ), 0);
	id = ids[0];
	cmd.pad = 0;
	ASSERT_EQ(obs_op(fd, HMM_P2P_OBS_READ, &id, NULL, 0, &cmd), 0);
	ASSERT_EQ(cmd.events[HMM_P2P_OBS_UNMAP], 1);
	ASSERT_EQ(cmd.pages, 1);
	/* close with observers left: freed (kmemleak would say otherwise) */
	close(fd);
}

TEST_HARNESS_MAIN
