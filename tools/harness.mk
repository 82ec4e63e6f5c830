# SPDX-License-Identifier: GPL-2.0
# The test harness: VM runs of test plans (included by the top-level Makefile).
#
#   make demo [V=1]          the main job, shown in a VM (KERNEL, FLAVOR; V=1: the console)
#   make check               our plans on 7.3, 7.3-debug and 6.12; ends "N passed, N failed"
#   make check PLANS=smoke CONFIGS=7.3-normal    a subset
#   make check-upstream      upstream hmm-tests on upstream test_hmm (KERNEL, FLAVOR)
#   make check-compat        upstream hmm-tests on our test device (KERNEL, FLAVOR)
#   make vm PLAN=NAME [VMARGS="--cpu EPYC --iommu"]   one plan, whole console
#   make check-harness       self-test of the splat matcher (no VM)
#
# Logs: out/logs/<kernel>-<flavor>-<plan>[-variant].log

PLANS ?=
CONFIGS ?=
PLAN ?= smoke
VMARGS ?=

HARNESS_ENV = KERNEL=$(KERNEL) FLAVOR=$(FLAVOR) OUT=$(OUT) $(if $(KDIR),KDIR=$(KDIR))

.PHONY: demo check check-upstream check-fuzz-upstream check-compat vm check-harness

# make demo shows the demo's own output (the whole console is in its log,
# out/logs/<kernel>-<flavor>-demo.log); make demo V=1 shows the console.
demo:
	@$(TOP)/tools/deps.sh
	@$(HARNESS_ENV) $(TOP)/tools/vm-run.sh --kernel $(KERNEL) --flavor $(FLAVOR) --plan demo \
		$(if $(filter 1,$(V)),,--plan-output) $(VMARGS)

check:
	@$(TOP)/tools/deps.sh
	@$(TOP)/tools/test-splat-check.sh >/dev/null || { echo "check: the splat matcher's self-test fails (make check-harness)"; exit 1; }
	@$(HARNESS_ENV) $(if $(PLANS),PLANS="$(PLANS)") $(if $(CONFIGS),CONFIGS="$(CONFIGS)") \
		$(TOP)/tools/check.sh

check-upstream:
	@$(TOP)/tools/deps.sh
	@$(HARNESS_ENV) $(TOP)/tools/vm-run.sh --quiet --kernel $(KERNEL) --flavor $(FLAVOR) --plan upstream $(VMARGS)

# The fuzzer's deterministic probe against upstream's test_hmm.ko (a
# reference for docs/reliability.md; may hang or oops: that is the finding).
check-fuzz-upstream:
	@$(TOP)/tools/deps.sh
	@$(HARNESS_ENV) $(TOP)/tools/vm-run.sh --quiet --kernel $(KERNEL) --flavor $(FLAVOR) --plan fuzz-upstream --timeout 300 $(VMARGS)

check-compat:
	@$(TOP)/tools/deps.sh
	@$(HARNESS_ENV) CONFIGS="$(KERNEL)-$(FLAVOR)" PLANS=compat $(TOP)/tools/check.sh

vm:
	@$(HARNESS_ENV) $(TOP)/tools/vm-run.sh --kernel $(KERNEL) --flavor $(FLAVOR) --plan $(PLAN) $(VMARGS)

check-harness:
	@$(TOP)/tools/test-splat-check.sh
