/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hmm-p2p DRM front end: the driver ioctls of hmm_p2p_drm.ko's render
 * nodes (/dev/dri/renderD*, driver name "hmm_p2p_drm").
 *
 * One DRM device stands for one test device (uapi/hmm_p2p_test.h) of index
 * I: a /dev/hmm_dmirrorN (I = N) or a PCI /dev/hmm_p2pN (I = 4 + N) present
 * when the module was loaded. Its parent is a platform device named
 * hmm_p2p_drmI (libdrm's bus info: platform, fullname "hmm_p2p_drmI"),
 * below the test device's platform device hmm_p2p_test.N for a dmirror. The interface
 * is that of a GPU driver's shared virtual memory (SVM): every open file
 * mirrors its opener's address space on the device, as an open test node
 * does; ranges of it are bound to the device (a binding, named by a
 * handle), migrated to device memory and back, prefetched into the mirror,
 * read or written by a copy job on the device's engine through the mirror,
 * and queried for their page classes. Offsets and lengths inside a binding
 * are in pages (4 KiB).
 *
 * Closing the file moves the device's pages home from every address space
 * a file of the device mirrors, as closing a test node does; so opening a
 * node needs CAP_SYS_ADMIN unless the module parameter allow_users=1 is set
 * (a test machine).
 */
#ifndef _UAPI_HMM_P2P_DRM_H
#define _UAPI_HMM_P2P_DRM_H

#include "drm.h"	/* the kernel's include/uapi/drm, libdrm's include/libdrm */
#include <linux/const.h>
#include "hmm_p2p_test.h"

#define DRM_HMM_P2P_DRIVER_NAME	"hmm_p2p_drm"

/* Bindings per open file. */
#define DRM_HMM_P2P_MAX_BINDINGS	64

/*
 * struct drm_hmm_p2p_info - what the device is (DRM_IOCTL_HMM_P2P_INFO).
 * @index:        the test device's index (0..3: /dev/hmm_dmirrorN; 4 + N:
 *                /dev/hmm_p2pN)
 * @memory_type:  HMM_DMIRROR_MEMORY_DEVICE_*
 * @backend:      HMM_P2P_BACKEND_*
 * @owner_group:  devices with equal owner_group share a pagemap owner (a
 *                device reads a peer's pages in place, P2P, where a path is)
 * @capacity:     bytes of device memory
 * @chunk_size:   bytes per pagemap chunk
 * @flags:        HMM_P2P_INFO_*
 * @max_bindings: DRM_HMM_P2P_MAX_BINDINGS
 * @pad:          0
 * @reserved:     0
 */
struct drm_hmm_p2p_info {
	__u32 index;
	__u32 memory_type;
	__u32 backend;
	__u32 owner_group;
	__u64 capacity;
	__u64 chunk_size;
	__u64 flags;
	__u32 max_bindings;
	__u32 pad;
	__u64 reserved[4];
};

/*
 * struct drm_hmm_p2p_bind - bind a range of the caller's address space to
 * the device (DRM_IOCTL_HMM_P2P_BIND).
 * @addr:   start, page aligned
 * @npages: pages, 1 to HMM_P2P_MAX_NPAGES, inside user space
 * @flags:  DRM_HMM_P2P_BIND_*
 * @handle: out: the binding's handle (never 0)
 * @cpages: out: pages populated (DRM_HMM_P2P_BIND_POPULATE), else 0
 *
 * The range need not be mapped yet: the mirror follows the address space.
 * With DRM_HMM_P2P_BIND_POPULATE the range is faulted into the mirror now
 * (as PREFETCH does; _WRITE: for writing); when that fails, no binding is
 * made.
 */
struct drm_hmm_p2p_bind {
	__u64 addr;
	__u64 npages;
	__u32 flags;
	__u32 handle;
	__u64 cpages;
};

#define DRM_HMM_P2P_BIND_POPULATE	_BITUL(0)
#define DRM_HMM_P2P_BIND_WRITE		_BITUL(1)

/*
 * struct drm_hmm_p2p_unbind - end a binding (DRM_IOCTL_HMM_P2P_UNBIND).
 * @handle: the binding
 * @pad:    0
 *
 * Its pages stay where they are (device memory included) until the CPU
 * touches them or the file is closed.
 */
struct drm_hmm_p2p_unbind {
	__u32 handle;
	__u32 pad;
};

/*
 * struct drm_hmm_p2p_migrate - move pages of a binding
 * (DRM_IOCTL_HMM_P2P_MIGRATE).
 * @handle: the binding
 * @dir:    DRM_HMM_P2P_TO_DEVICE or DRM_HMM_P2P_TO_SYSTEM
 * @offset: first page, from the binding's start
 * @npages: pages, at least 1; offset + npages at most the binding's
 * @moved:  out: pages moved (pages already there, or that could not move,
 *          are not counted: query the classes)
 */
struct drm_hmm_p2p_migrate {
	__u32 handle;
	__u32 dir;
	__u64 offset;
	__u64 npages;
	__u64 moved;
};

#define DRM_HMM_P2P_TO_DEVICE	0
#define DRM_HMM_P2P_TO_SYSTEM	1

/*
 * struct drm_hmm_p2p_prefetch - populate the mirror of pages of a binding
 * (DRM_IOCTL_HMM_P2P_PREFETCH): HMM_P2P_IOC_PREFETCH's rules.
 * @handle: the binding
 * @flags:  HMM_P2P_PREFETCH_WRITE, HMM_P2P_PREFETCH_ASYNC
 * @offset: first page, from the binding's start
 * @npages: pages (as MIGRATE's)
 * @cpages: out: pages populated (asynchronous: 0)
 */
struct drm_hmm_p2p_prefetch {
	__u32 handle;
	__u32 flags;
	__u64 offset;
	__u64 npages;
	__u64 cpages;
};

/*
 * struct drm_hmm_p2p_exec - a copy job on the device's engine through the
 * mirror (DRM_IOCTL_HMM_P2P_EXEC): HMM_P2P_IOC_JOB's rules.
 * @handle:    the binding
 * @op:        HMM_P2P_JOB_READ (the device reads the pages into @ptr) or
 *             HMM_P2P_JOB_WRITE (the device writes @ptr's data into them)
 * @offset:    first page, from the binding's start
 * @npages:    pages, 1 to HMM_P2P_JOB_MAX_PAGES
 * @ptr:       user buffer of @npages pages
 * @delay_us:  the device's time per page, at most HMM_P2P_JOB_MAX_DELAY_US
 * @pad:       0
 * @done:      out: pages done
 * @fenced_at: out: pages done when an invalidation fenced the job, else
 *             @npages
 * @faults:    out: mirror fault rounds the job's set-up took
 *
 * The job reads or writes the pages where they are: device memory (its own
 * or a peer's, P2P), or system memory. The command waits for its end.
 */
struct drm_hmm_p2p_exec {
	__u32 handle;
	__u32 op;
	__u64 offset;
	__u64 npages;
	__u64 ptr;
	__u32 delay_us;
	__u32 pad;
	__u64 done;
	__u64 fenced_at;
	__u64 faults;
};

/*
 * struct drm_hmm_p2p_query - the page classes of pages of a binding, as
 * the device's mirror sees them (DRM_IOCTL_HMM_P2P_QUERY):
 * HMM_P2P_IOC_CLASSIFY's rules.
 * @handle: the binding
 * @flags:  HMM_P2P_CLASSIFY_NOFAULT or 0
 * @offset: first page, from the binding's start
 * @npages: pages (as MIGRATE's)
 * @ptr:    user array of @npages struct hmm_p2p_page_info
 * @cpages: out: pages reported
 */
struct drm_hmm_p2p_query {
	__u32 handle;
	__u32 flags;
	__u64 offset;
	__u64 npages;
	__u64 ptr;
	__u64 cpages;
};

/*
 * struct drm_hmm_p2p_stats - the device's counters (DRM_IOCTL_HMM_P2P_STATS).
 * @ptr:   user buffer for a struct hmm_p2p_stats (uapi/hmm_p2p_test.h)
 * @size:  in: the buffer's size, at least 8 (the kernel writes at most
 *         that); out: the kernel's sizeof(struct hmm_p2p_stats)
 * @flags: DRM_HMM_P2P_STATS_RESET (zero the counters after reading) or 0
 */
struct drm_hmm_p2p_stats {
	__u64 ptr;
	__u32 size;
	__u32 flags;
};

#define DRM_HMM_P2P_STATS_RESET	_BITUL(0)

#define DRM_HMM_P2P_INFO	0x00
#define DRM_HMM_P2P_BIND	0x01
#define DRM_HMM_P2P_UNBIND	0x02
#define DRM_HMM_P2P_MIGRATE	0x03
#define DRM_HMM_P2P_PREFETCH	0x04
#define DRM_HMM_P2P_EXEC	0x05
#define DRM_HMM_P2P_QUERY	0x06
#define DRM_HMM_P2P_STATS	0x07
#define DRM_HMM_P2P_NR		0x08

#define DRM_IOCTL_HMM_P2P_INFO \
	DRM_IOR(DRM_COMMAND_BASE + DRM_HMM_P2P_INFO, struct drm_hmm_p2p_info)
#define DRM_IOCTL_HMM_P2P_BIND \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_HMM_P2P_BIND, struct drm_hmm_p2p_bind)
#define DRM_IOCTL_HMM_P2P_UNBIND \
	DRM_IOW(DRM_COMMAND_BASE + DRM_HMM_P2P_UNBIND, struct drm_hmm_p2p_unbind)
#define DRM_IOCTL_HMM_P2P_MIGRATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_HMM_P2P_MIGRATE, struct drm_hmm_p2p_migrate)
#define DRM_IOCTL_HMM_P2P_PREFETCH \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_HMM_P2P_PREFETCH, struct drm_hmm_p2p_prefetch)
#define DRM_IOCTL_HMM_P2P_EXEC \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_HMM_P2P_EXEC, struct drm_hmm_p2p_exec)
#define DRM_IOCTL_HMM_P2P_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_HMM_P2P_QUERY, struct drm_hmm_p2p_query)
#define DRM_IOCTL_HMM_P2P_STATS \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_HMM_P2P_STATS, struct drm_hmm_p2p_stats)

/*
 * Errors, per command: every errno a command returns (hmm_p2p_drm_errno_table
 * below has them as data; the fuzzer, selftests/hmm_p2p_fuzz.c, holds every
 * call to it). Every command may also return:
 *   ESRCH   the file's opener has exited (its address space is gone)
 *   EINTR   a fatal signal ended the command (within one 2 MiB batch)
 *   ENODEV  the device is gone (a PCI test device unbound)
 *   EFAULT  the command structure is not accessible (the DRM core's copy)
 * and from the DRM core: EINVAL for a driver command number past the last,
 * ENOTTY for a command whose number does not match the table's.
 *
 * Commands on a binding share:
 *   ENOENT  no binding @handle (0, never made, or unbound)
 *   EINVAL  npages 0, offset + npages beyond the binding (or overflowing),
 *           an unknown flag, op or dir, pad not 0
 *   ENOMEM  no kernel memory for the command's bookkeeping
 *   EBUSY   the range kept being invalidated, or a page stayed busy; retry
 *   EFAULT  a page of the range not mapped (or not usable by the mirror:
 *           VM_IO/PFNMAP, no permission), the user buffer not accessible
 * and each adds:
 *   INFO:    nothing (EFAULT only)
 *   BIND:    EINVAL (the range as HMM_P2P_IOC_PREFETCH checks it, flags),
 *            ENOSPC (DRM_HMM_P2P_MAX_BINDINGS bindings), ENOMEM; with
 *            POPULATE, PREFETCH's errors
 *   UNBIND:  ENOENT, EINVAL (pad)
 *   MIGRATE: TO_DEVICE: EPERM, EIO, EOPNOTSUPP, EREMOTEIO (test ABI's
 *            MIGRATE_TO_DEV); TO_SYSTEM: nothing more
 *   PREFETCH: EPERM, EIO, EREMOTEIO, EOPNOTSUPP (the fault's), EBUSY also
 *            for HMM_P2P_PREFETCH_MAX_QUEUED asynchronous requests
 *   EXEC:    EINVAL also for npages above HMM_P2P_JOB_MAX_PAGES, delay_us
 *            above HMM_P2P_JOB_MAX_DELAY_US; EPERM, EIO, EREMOTEIO,
 *            EOPNOTSUPP (the job's fault)
 *   QUERY:   EREMOTEIO, EOPNOTSUPP (its fault)
 *   STATS:   EINVAL (size below 8, an unknown flag), EFAULT (the buffer),
 *            ENOMEM
 * Opening a node: EACCES (no CAP_SYS_ADMIN, allow_users=0), ENOMEM, ENODEV.
 */
#ifdef HMM_P2P_WANT_ERRNO_TABLE
/* The lists above as data: per command, its errnos, 0-terminated. */
static const struct hmm_p2p_errnos hmm_p2p_drm_errno_table[] = {
	{ DRM_IOCTL_HMM_P2P_INFO, { EFAULT, ENODEV } },
	{ DRM_IOCTL_HMM_P2P_BIND,
	  { EINVAL, ENOSPC, ENOMEM, EFAULT, EBUSY, EPERM, EIO, ENODEV, EREMOTEIO,
	    EOPNOTSUPP } },
	{ DRM_IOCTL_HMM_P2P_UNBIND, { ENOENT, EINVAL, EFAULT, ENODEV } },
	{ DRM_IOCTL_HMM_P2P_MIGRATE,
	  { ENOENT, EINVAL, ENOMEM, EBUSY, EFAULT, EPERM, EIO, ENODEV, EOPNOTSUPP,
	    EREMOTEIO } },
	{ DRM_IOCTL_HMM_P2P_PREFETCH,
	  { ENOENT, EINVAL, ENOMEM, EBUSY, EFAULT, EPERM, EIO, ENODEV, EREMOTEIO,
	    EOPNOTSUPP } },
	{ DRM_IOCTL_HMM_P2P_EXEC,
	  { ENOENT, EINVAL, ENOMEM, EBUSY, EFAULT, EPERM, EIO, ENODEV, EREMOTEIO,
	    EOPNOTSUPP } },
	{ DRM_IOCTL_HMM_P2P_QUERY,
	  { ENOENT, EINVAL, ENOMEM, EBUSY, EFAULT, ENODEV, EREMOTEIO, EOPNOTSUPP } },
	{ DRM_IOCTL_HMM_P2P_STATS, { EINVAL, EFAULT, ENOMEM, ENODEV } },
};
#endif /* HMM_P2P_WANT_ERRNO_TABLE */

#endif /* _UAPI_HMM_P2P_DRM_H */
