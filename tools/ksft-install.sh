#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Copy hmm-p2p's selftests into a kernel tree as a kselftest target:
# tools/testing/selftests/hmm_p2p (sources, the test ABI header, Makefile,
# config, run_hmm_p2p.sh), and add hmm_p2p to the TARGETS of
# tools/testing/selftests/Makefile, so that
#   make -C tools/testing/selftests TARGETS=hmm_p2p [run_tests]
# and the kernel's kselftest-all/kselftest-install find it.
#
# usage: tools/ksft-install.sh KSRC
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
ksrc=${1:?usage: tools/ksft-install.sh KSRC}
sel=$ksrc/tools/testing/selftests
[ -f "$sel/lib.mk" ] || { echo "ksft-install: no $sel/lib.mk: not a kernel tree" >&2; exit 1; }

dst=$sel/hmm_p2p
mkdir -p "$dst"
rm -f "$dst"/*.c "$dst"/*.h
cp "$top"/selftests/*.c "$top"/selftests/*.h "$top/selftests/Makefile" \
	"$top/selftests/config" "$top/selftests/run_hmm_p2p.sh" "$top"/uapi/hmm_p2p_*.h "$dst/"
rm -f "$dst/rxe_odp.c"
if ! grep -qE '^TARGETS \+= hmm_p2p$' "$sel/Makefile"; then
	# next to the other TARGETS, after the first one
	first=$(grep -n '^TARGETS += ' "$sel/Makefile" | head -n1 | cut -d: -f1)
	sed -i "${first}a TARGETS += hmm_p2p" "$sel/Makefile"
fi
echo "ksft-install: selftests in $dst (TARGETS += hmm_p2p)"
