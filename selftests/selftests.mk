# SPDX-License-Identifier: GPL-2.0
# Our own selftests (included by the top-level Makefile).
#
#   make selftests    static binaries in $(OUT)/selftests/, one per
#                     selftests/*.c, for any guest kernel (6.12, 7.3), and
#                     the dynamic ones (SELFTESTS_DYN below) in
#                     $(OUT)/selftests-dynamic/: tools/mkinitramfs.sh
#                     carries them with their libraries
#
# The kselftest harness header comes from the 7.3 source tree: the cached
# tree if it is there, else whatever tools/fetch-kernel.sh 7.3 prints (it
# fetches once, then answers from its cache). Set KSFT_DIR to use another
# tools/testing/selftests directory.

SELFTESTS_KSERIES ?= 7.3
KSFT_DIR ?= $(shell d=$(HMM_P2P_CACHE)/src/linux-source-$(SELFTESTS_KSERIES)/tools/testing/selftests; \
	if [ -f $$d/kselftest_harness.h ]; then echo $$d; \
	else echo $$($(TOP)/tools/fetch-kernel.sh $(SELFTESTS_KSERIES))/tools/testing/selftests; fi)

# uapi/hmm_p2p_drm.h includes drm.h: libdrm-dev's (Debian ships no other)
SELFTESTS_DRM_CFLAGS ?= $(shell pkg-config --cflags libdrm 2>/dev/null || echo -I/usr/include/libdrm)
SELFTESTS_CC ?= gcc
SELFTESTS_CFLAGS ?= -static -O2 -Wall
# Dynamic tests and their libraries: rxe_odp needs libibverbs, which
# dlopens its providers (no static build of it).
SELFTESTS_DYN := rxe_odp
SELFTESTS_DYN_LIBS_rxe_odp := -libverbs
SELFTESTS_DYN_CFLAGS ?= -O2 -Wall
SELFTESTS_SRCS := $(filter-out $(patsubst %,$(TOP)/selftests/%.c,$(SELFTESTS_DYN)), \
	$(wildcard $(TOP)/selftests/*.c))
SELFTESTS_BINS := $(patsubst $(TOP)/selftests/%.c,$(OUT)/selftests/%,$(SELFTESTS_SRCS))
SELFTESTS_DYN_BINS := $(patsubst %,$(OUT)/selftests-dynamic/%,$(SELFTESTS_DYN))

selftests: $(SELFTESTS_BINS) $(SELFTESTS_DYN_BINS)

$(OUT)/selftests/%: $(TOP)/selftests/%.c $(TOP)/uapi/hmm_p2p_test.h $(TOP)/uapi/hmm_p2p_drm.h \
		$(wildcard $(TOP)/selftests/*.h) \
		$(TOP)/selftests/selftests.mk
	@mkdir -p $(@D)
	@ksft="$(KSFT_DIR)"; [ -f "$$ksft/kselftest_harness.h" ] || \
		{ echo "selftests: no kselftest_harness.h in '$$ksft'" >&2; exit 1; }; \
	echo "  CC      $@"; \
	$(SELFTESTS_CC) $(SELFTESTS_CFLAGS) -I$(TOP)/uapi -I"$$ksft" $(SELFTESTS_DRM_CFLAGS) -o $@ $< \
		-lpthread

$(OUT)/selftests-dynamic/%: $(TOP)/selftests/%.c $(TOP)/uapi/hmm_p2p_test.h \
		$(wildcard $(TOP)/selftests/*.h) $(TOP)/selftests/selftests.mk
	@mkdir -p $(@D)
	@ksft="$(KSFT_DIR)"; [ -f "$$ksft/kselftest_harness.h" ] || \
		{ echo "selftests: no kselftest_harness.h in '$$ksft'" >&2; exit 1; }; \
	echo "  CC      $@ (dynamic)"; \
	$(SELFTESTS_CC) $(SELFTESTS_DYN_CFLAGS) -I$(TOP)/uapi -I"$$ksft" -o $@ $< \
		$(SELFTESTS_DYN_LIBS_$*) -lpthread || \
		{ echo "selftests: cannot build $@ (make deps installs libibverbs-dev)" >&2; exit 1; }
