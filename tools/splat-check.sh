#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Find kernel splats in a console log and quote them.
#
# usage: tools/splat-check.sh [--allow FILE] LOG
#
# A splat is a console line with any of: "BUG:", "kernel BUG at", "WARNING:"
# (6.12: "WARNING: CPU: n PID: n at file:line ...", 7.3: "WARNING: file:line
# at ..."; lockdep's reports are WARNINGs too), "Oops", "KASAN:", "UBSAN:",
# "Kernel panic", "general protection fault", kernel "INFO:" reports (hung
# tasks, RCU stalls, lockdep), kmemleak's "unreferenced object" and
# "suspected memory leaks", or a "Call Trace:" that no such line announced.
#
# --allow FILE: extended regexps, one a line ('#' comments), for splats that
# are known and tolerated (only the upstream reference plan has one). A splat
# whose headline matches is reported as allowed, with a count and an example,
# and so is the rest of its report up to "---[ end trace"; any other splat
# inside it still counts.
#
# Exit status: 0 no splat (allowed ones excepted), 1 splats found, 2 usage.
set -euo pipefail

allow=
while [ $# -gt 0 ]; do
	case $1 in
	--allow) allow=${2:?--allow needs a file}; shift 2 ;;
	-h|--help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "splat-check: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# = 1 ] || { echo "usage: $0 [--allow FILE] LOG" >&2; exit 2; }
log=$1
[ -r "$log" ] || { echo "splat-check: cannot read $log" >&2; exit 2; }
if [ -n "$allow" ] && [ ! -r "$allow" ]; then
	echo "splat-check: cannot read allowlist $allow" >&2; exit 2
fi

# Show at most this many offending lines (all are counted).
max_quote=${SPLAT_MAX_QUOTE:-20}

awk -v allowfile="$allow" -v logname="$log" -v maxq="$max_quote" '
BEGIN {
	nallow = 0
	if (allowfile != "") {
		while ((getline l < allowfile) > 0) {
			sub(/\r$/, "", l)
			if (l ~ /^[ \t]*(#|$)/) continue
			allowre[++nallow] = l; allowed[nallow] = 0
		}
		close(allowfile)
	}
	# Headlines: the first line of a kernel report.
	head = "(BUG: |kernel BUG at |WARNING: |KASAN: |UBSAN: |Kernel panic|general protection fault|unreferenced object 0x|suspected memory leak)"
	head = head "|(^|[^A-Za-z])Oops([^A-Za-z]|$)"
	head = head "|(^|[] :])INFO: (possible|trying|task |rcu|lockdep|inconsistent|suspicious)"
	head = head "|rcu: INFO:|detected stalls on CPUs"
	nsplat = 0; lastsplat = -1000; inallowed = 0; nallowed = 0
}
{
	sub(/\r$/, "")
	line = $0
	if (line ~ head) {
		hit = 0
		for (i = 1; i <= nallow; i++)
			if (line ~ allowre[i]) { hit = i; break }
		if (hit) {
			allowed[hit]++; nallowed++
			if (allowed[hit] == 1) example[hit] = "line " NR ": " line
			inallowed = 1
			next
		}
		inallowed = 0
		nsplat++; lastsplat = NR
		if (nsplat <= maxq) quote[nsplat] = "  line " NR ": " line
		next
	}
	if (line ~ /---\[ end trace/) { inallowed = 0; next }
	if (line ~ /Call Trace:/) {
		# Part of a report just announced (or of an allowed one)?
		if (inallowed || NR - lastsplat <= 40) next
		nsplat++; lastsplat = NR
		if (nsplat <= maxq) quote[nsplat] = "  line " NR ": " line " (stack dump with no headline)"
	}
}
END {
	if (nsplat == 0)
		printf "splat-check: %s: no splat\n", logname
	else {
		printf "splat-check: %s: %d splat%s\n", logname, nsplat, nsplat == 1 ? "" : "s"
		for (i = 1; i <= nsplat && i <= maxq; i++) print quote[i]
		if (nsplat > maxq) printf "  ... and %d more (see the log)\n", nsplat - maxq
	}
	if (nallow) {
		printf "splat-check: allowlist %s: %d splat%s allowed\n", allowfile, nallowed, nallowed == 1 ? "" : "s"
		for (i = 1; i <= nallow; i++) {
			printf "  %d x /%s/\n", allowed[i], allowre[i]
			if (allowed[i]) printf "      first at %s\n", example[i]
		}
	}
	exit nsplat ? 1 : 0
}' "$log"
