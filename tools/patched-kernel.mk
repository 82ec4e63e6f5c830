# SPDX-License-Identifier: GPL-2.0
# The mm/hmm.c fix (patches/*.patch) on a 7.3 kernel of its own (included
# by the top-level Makefile).
#
#   make check-hmm-fix   build 7.3 with patches/*.patch (tools/patched-kernel.sh:
#                        cached by patch hash and config), boot it once and run
#                        the thp-subrange plan with hmm_p2p's PMD and zap
#                        workarounds off (HMMFIX_APPEND): expects PASS
#   make check-hmm-bug   the same plan on the plain 7.3, workaround off, ours
#                        expected to show the bug: PASS = bug reproduced
#   make hmm-fix-kernel  only build (or find) the patched kernel
#
# check-hmm-fix has an output tree of its own, $(OUT)/hmm-fix (modules built
# for the patched kernel, initramfs, logs/7.3-normal-thp-subrange-hmm-fix.log),
# so nothing of it mixes with the plain 7.3's in $(OUT)/7.3-normal. MAKEFLAGS
# is cleared for vm-run so that an OUT= given to this make does not reach the
# module build inside it.

HMMFIX_PATCHES ?= $(sort $(wildcard $(TOP)/patches/*.patch))
HMMFIX_OUT ?= $(OUT)/hmm-fix
HMMFIX_APPEND ?= hmmp2p.pmd_workaround=0 hmmp2p.zap_workaround=0

.PHONY: check-hmm-fix check-hmm-bug hmm-fix-kernel

hmm-fix-kernel:
	@$(TOP)/tools/patched-kernel.sh --series 7.3 --flavor normal $(HMMFIX_PATCHES)

check-hmm-fix:
	@$(TOP)/tools/deps.sh
	@set -e; kdir=$$($(TOP)/tools/patched-kernel.sh --series 7.3 --flavor normal \
		$(HMMFIX_PATCHES)); \
	MAKEFLAGS= MFLAGS= OUT=$(HMMFIX_OUT) KDIR="$$kdir" KERNEL=7.3 FLAVOR=normal \
		$(TOP)/tools/vm-run.sh --kernel 7.3 --flavor normal --plan thp-subrange \
		--variant hmm-fix --append "$(HMMFIX_APPEND)" $(VMARGS)

check-hmm-bug:
	@$(TOP)/tools/deps.sh
	@$(HARNESS_ENV) $(TOP)/tools/vm-run.sh --kernel 7.3 --flavor normal --plan thp-subrange \
		--variant hmm-bug --append "hmmp2p.pmd_workaround=0 hmmp2p.thp_expect=bug" $(VMARGS)
