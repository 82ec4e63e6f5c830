# SPDX-License-Identifier: GPL-2.0
# hmm-p2p: top-level entry points. See README.md.
#
#   make                 build the modules for KERNEL/FLAVOR (default 7.3 normal)
#   make deps            install the Debian packages the project needs
#   make kernel          fetch and build the test kernel (cached)
#   make demo            the main job: boot the VM, show device memory migration
#   make check           all test plans on 7.3, 7.3-debug and 6.12
#   make check-upstream  upstream's hmm-tests on upstream's test_hmm (reference)
#   make check-compat    upstream's hmm-tests on our test device
#   make bench           hmm-bench, upstream test_hmm vs ours, one boot
#
# KERNEL=6.12 selects the LTS kernel, FLAVOR=debug the debug kernel,
# KDIR=/path/to/built/tree builds the modules against a kernel of your own.

KERNEL ?= 7.3
FLAVOR ?= normal
export HMM_P2P_CACHE ?= $(HOME)/.cache/hmm-p2p
TOP := $(CURDIR)
OUT ?= $(TOP)/out
MODOUT = $(OUT)/$(KERNEL)-$(FLAVOR)

# The kernel tree is looked up (and built on first use) only when needed.
ifeq ($(origin KDIR),undefined)
KDIR_CMD = $$($(TOP)/tools/build-kernel.sh $(KERNEL) $(FLAVOR))
else
KDIR_CMD = $(KDIR)
endif

MOD_SRCS := Kbuild Kconfig $(wildcard hmm_p2p/*.[ch] hmm_p2p/include/*.h \
	hmm_p2p/Kbuild test_device/*.[ch] test_device/Kbuild samples/*.c samples/Kbuild \
	test_drm/*.c test_drm/Kbuild \
	uapi/*.h)

.PHONY: all modules kernel deps clean checkpatch sparse selftests
all: modules

# Modules are built in a per-kernel copy of the sources, so several kernels
# can be built side by side without cleaning.
modules:
	@set -e; kdir="$(KDIR_CMD)"; [ -d "$$kdir" ] || { echo "no kernel tree"; exit 1; }; \
	mkdir -p $(MODOUT)/src $(MODOUT)/modules; \
	rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
		--exclude '*.mod*' --exclude modules.order --exclude Module.symvers \
		--relative $(MOD_SRCS) $(MODOUT)/src/ ; \
	$(MAKE) -C "$$kdir" M=$(MODOUT)/src W=1 modules; \
	cp $(MODOUT)/src/hmm_p2p/hmm_p2p.ko $(MODOUT)/src/test_device/hmm_p2p_test.ko \
		$(MODOUT)/src/samples/hmm_p2p_sample.ko $(MODOUT)/modules/; \
	if [ -f $(MODOUT)/src/test_drm/hmm_p2p_drm.ko ]; then \
		cp $(MODOUT)/src/test_drm/hmm_p2p_drm.ko $(MODOUT)/modules/; \
	else rm -f $(MODOUT)/modules/hmm_p2p_drm.ko; fi; \
	cp "$$kdir/lib/test_hmm.ko" $(MODOUT)/modules/; \
	echo "modules for $(KERNEL)-$(FLAVOR): $(MODOUT)/modules"

kernel:
	@$(TOP)/tools/build-kernel.sh $(KERNEL) $(FLAVOR)

deps:
	@$(TOP)/tools/deps.sh

# Kernel style on our own C files, with the selected kernel's checkpatch
# (tools/hmm-drm: without CAMELCASE, libdrm's names are camel case).
checkpatch:
	@kdir="$(KDIR_CMD)"; src=$$(readlink -f "$$kdir/source" 2>/dev/null || \
		sed -n 's/^include \(.*\)\/Makefile$$/\1/p' "$$kdir/Makefile"); \
	st=0; perl $$src/scripts/checkpatch.pl --no-tree --strict --terse \
		--ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES \
		-f $$(git ls-files '*.c' '*.h' | grep -v '^tools/hmm-bench/\|^tools/hmm-drm/') || st=1; \
	perl $$src/scripts/checkpatch.pl --no-tree --strict --terse \
		--ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES,CAMELCASE \
		-f $$(git ls-files 'tools/hmm-drm/*.c') || st=1; \
	exit $$st

sparse:
	@set -e; kdir="$(KDIR_CMD)"; \
	$(MAKE) modules KDIR="$$kdir" >/dev/null; \
	$(MAKE) -C "$$kdir" M=$(MODOUT)/src C=2 W=1 modules

clean:
	rm -rf $(OUT)

-include selftests/selftests.mk
-include tools/harness.mk
-include tools/patched-kernel.mk
-include tools/hmm-bench/bench.mk
-include tools/hmm-drm/drm.mk
-include tools/dkms.mk
-include tools/host.mk
