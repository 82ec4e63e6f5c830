# SPDX-License-Identifier: GPL-2.0
# hmm-bench (issue 5), included by the top-level Makefile.
#
#   make hmm-bench   build $(OUT)/tools/hmm-bench (static; the initramfs
#                    builder copies $(OUT)/tools/* into the guest's /bin)
#   make bench       one boot of the 7.3 non-debug kernel running the plan
#                    "bench" (upstream test_hmm and ours, on
#                    /dev/hmm_dmirror0); the JSON of both runs lands in
#                    $(OUT)/bench/, then the comparison table and the summary
#                    line are printed (the last line)
#
#   BENCH_ARGS="--quick"  other hmm-bench arguments for every run
#   BENCH_ROUNDS=N        rounds, alternating which driver goes first (default 2)
#   BENCH_TIMEOUT=S       VM time limit (default: vm-run.sh's, 900 s)
#   BENCH_NO_BUILD=1      boot what is built (vm-run.sh --no-build)
#   BENCH_LOG=FILE        no boot: extract and compare from a console log
#
# On success the last line is the summary; on failure make adds its error.

HMM_BENCH := $(OUT)/tools/hmm-bench

.PHONY: hmm-bench bench

hmm-bench: $(HMM_BENCH)

HMM_BENCH_SRC := $(addprefix $(TOP)/tools/hmm-bench/,hmm-bench.c peer.c d2d.c importer.c mirrormap.c)

$(HMM_BENCH): $(HMM_BENCH_SRC) $(TOP)/tools/hmm-bench/bench.h $(TOP)/uapi/hmm_p2p_test.h
	@mkdir -p $(dir $@)
	gcc -static -O2 -Wall -Wextra -Wno-sign-compare -I$(TOP)/uapi -o $@ $(HMM_BENCH_SRC) -lm -lpthread

bench: $(HMM_BENCH)
	@OUT=$(OUT) $(TOP)/tools/hmm-bench/bench-run.sh \
		$(if $(BENCH_TIMEOUT),--timeout $(BENCH_TIMEOUT)) \
		$(if $(BENCH_ARGS),--args "$(BENCH_ARGS)") \
		$(if $(BENCH_ROUNDS),--rounds $(BENCH_ROUNDS)) \
		$(if $(BENCH_NO_BUILD),--no-build) \
		$(if $(BENCH_LOG),--log $(BENCH_LOG))
