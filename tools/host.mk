# SPDX-License-Identifier: GPL-2.0
# Host-side checks, no VM (tools/check-host.sh; included by the Makefile):
#   make check-dkms       dkms build/install against the 7.3 and 6.12 trees
#                         (private dkms trees), and the skip without DEVICE_PRIVATE
#   make check-intree     tools/intree.sh + in-tree build in an overlay of 7.3
#   make check-kselftest  selftests/ as a kselftest target of the 7.3 tree
#   make check-docs       docs/abi.md against uapi/hmm_p2p_test.h, docs/drm-abi.md
#                         against uapi/hmm_p2p_drm.h
#   make check-host       all four
.PHONY: check-host check-dkms check-intree check-kselftest check-docs abi-doc
check-host:
	@$(TOP)/tools/check-host.sh
check-dkms check-intree check-kselftest check-docs:
	@$(TOP)/tools/check-host.sh $(patsubst check-%,%,$@)
# Regenerate the generated parts of docs/abi.md and docs/drm-abi.md from the uapi headers.
abi-doc:
	@$(TOP)/tools/gen-abi-doc.py
