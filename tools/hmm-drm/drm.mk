# SPDX-License-Identifier: GPL-2.0
# hmm-drm (issue 13), included by the top-level Makefile.
#
#   make hmm-drm   build $(OUT)/tools/hmm-drm: the libdrm client of
#                  hmm_p2p_drm.ko's render nodes, a kselftest-harness
#                  program, linked statically against Debian's libdrm
#                  (libdrm-dev's libdrm.a; make deps installs it). The
#                  initramfs builder copies $(OUT)/tools/* into the guest's
#                  /bin; selftests/plans/drm.sh runs it.

HMM_DRM := $(OUT)/tools/hmm-drm
LIBDRM_A ?= $(firstword $(wildcard /usr/lib/$(shell gcc -print-multiarch)/libdrm.a /usr/lib/libdrm.a))
LIBDRM_CFLAGS ?= $(shell pkg-config --cflags libdrm 2>/dev/null || echo -I/usr/include/libdrm)

.PHONY: hmm-drm

hmm-drm: $(HMM_DRM)

$(HMM_DRM): $(TOP)/tools/hmm-drm/hmm-drm.c $(TOP)/uapi/hmm_p2p_drm.h $(TOP)/uapi/hmm_p2p_test.h \
		$(TOP)/tools/hmm-drm/drm.mk
	@mkdir -p $(@D)
	@ksft="$(KSFT_DIR)"; [ -f "$$ksft/kselftest_harness.h" ] || \
		{ echo "hmm-drm: no kselftest_harness.h in '$$ksft'" >&2; exit 1; }; \
	[ -n "$(LIBDRM_A)" ] || { echo "hmm-drm: no libdrm.a (make deps installs libdrm-dev)" >&2; exit 1; }; \
	echo "  CC      $@ (static, $(LIBDRM_A))"; \
	gcc -static -O2 -Wall -I$(TOP)/uapi -I"$$ksft" $(LIBDRM_CFLAGS) -o $@ $< $(LIBDRM_A) -lpthread
