# SPDX-License-Identifier: GPL-2.0
# DKMS (included by the top-level Makefile; dkms.conf says what is built).
#
#   make dkms-install    copy the module sources to
#                        $(DKMS_SOURCETREE)/hmm_p2p-VERSION, then dkms add,
#                        build and install them (as root) for the running
#                        kernel, or for DKMS_KVER; later kernels get them
#                        through dkms autoinstall
#   make dkms-uninstall  dkms remove (every kernel) and the source copy
#
# DKMS_FLAGS is passed to every dkms call, e.g. private trees:
#   make dkms-install DKMS_KVER=7.3.4 DKMS_SOURCETREE=/tmp/s \
#     DKMS_FLAGS="--dkmstree /tmp/d --sourcetree /tmp/s --installtree /tmp/i \
#                 --kernelsourcedir /path/to/build --no-depmod"
# A kernel without the options of dkms.conf's BUILD_EXCLUSIVE_CONFIG
# (no CONFIG_DEVICE_PRIVATE, as Debian's) is skipped with dkms's message.

DKMS ?= dkms
DKMS_NAME := hmm_p2p
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' $(TOP)/dkms.conf)
DKMS_SOURCETREE ?= /usr/src
DKMS_KVER ?= $(shell uname -r)
DKMS_FLAGS ?=
DKMS_MV = -m $(DKMS_NAME) -v $(DKMS_VERSION)

.PHONY: dkms-install dkms-uninstall dkms-src
dkms-src:
	@set -e; dst=$(DKMS_SOURCETREE)/$(DKMS_NAME)-$(DKMS_VERSION); \
	mkdir -p "$$dst"; \
	rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
		--exclude '*.mod*' --exclude modules.order --exclude Module.symvers \
		--relative $(MOD_SRCS) dkms.conf "$$dst/"; \
	echo "dkms: sources in $$dst"

dkms-install: dkms-src
	@set -e; \
	$(DKMS) status $(DKMS_MV) $(DKMS_FLAGS) 2>/dev/null | grep -q . || \
		$(DKMS) add $(DKMS_MV) $(DKMS_FLAGS); \
	rc=0; $(DKMS) build $(DKMS_MV) -k $(DKMS_KVER) $(DKMS_FLAGS) || rc=$$?; \
	if [ $$rc = 77 ]; then \
		echo "dkms: kernel $(DKMS_KVER) lacks an option of BUILD_EXCLUSIVE_CONFIG" \
			"(dkms.conf): skipped; the modules stay added for other kernels"; \
		exit 0; \
	fi; \
	[ $$rc = 0 ] || exit $$rc; \
	$(DKMS) install $(DKMS_MV) -k $(DKMS_KVER) $(DKMS_FLAGS)

dkms-uninstall:
	-$(DKMS) remove $(DKMS_MV) --all $(DKMS_FLAGS)
	rm -rf $(DKMS_SOURCETREE)/$(DKMS_NAME)-$(DKMS_VERSION)
