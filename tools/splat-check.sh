#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Find kernel splats in a console log and quote them.
#
# usage: tools/splat-check.sh [--allow FILE] LOG
#
# A splat is a kernel report; its headline is a console line with any of:
# "WARNING:" (6.12: "WARNING: CPU: n PID: n at file:line ...", 7.3: "WARNING:
# file:line at ..."; lockdep's reports too), "BUG:" (Bad page state, soft
# lockup, sleeping in atomic, NULL pointer...), "kernel BUG at", "Oops",
# "general protection fault", "KASAN:", "UBSAN:", "Kernel panic",
# "page dumped because:", "refcount_t:", "list_add corruption", "list_del
# corruption", "Watchdog detected hard LOCKUP", "INFO: task ... blocked for
# more than" (hung task), RCU stalls ("INFO: NAME detected stalls",
# "self-detected stall", "detected expedited stalls"), other lockdep INFO:s,
# the OOM killer ("invoked oom-killer:", "oom-kill:", "...: Killed process N",
# "Out of memory and no killable processes"), "page allocation failure:",
# kmemleak's "unreferenced
# object" and "suspected memory leaks", hmm_p2p's own "N pages still busy,
# retrying", "N pages stay pinned" and "eviction at close left pages", or a
# "Call Trace:" that no report announced.
# A report counts once: lines of the same report that are headlines too
# (the "refcount_t:" message and its WARNING, "BUG: Bad page state" and its
# "page dumped because:", a "BUG:" and its "Oops:", a hung task and its
# "blocked on a mutex", the OOM killer's lines, a "Kernel panic" after a
# counted splat) add to it. Its "Call Trace:" lines are its own while it is
# open: up to "---[ end trace", the OOM killer's "Killed process" line,
# another report, or 150 lines past its last headline. Stack dumps that a
# "sysrq: Show ..." line announced (vm-run.sh's dump before a timeout) are no
# splat, up to the next line of the test harness.
#
# --allow FILE: extended regexps, one a line ('#' comments), for splats that
# are known and tolerated (tools/splat-allow/PLAN.txt, used by vm-run.sh). A
# report whose first headline matches is reported as allowed, with a count
# and an example, and so is the rest of that report; any other splat inside
# it still counts.
#
# Exit status: 0 no splat (allowed ones excepted), 1 splats found, 2 usage.
set -euo pipefail

allow=
while [ $# -gt 0 ]; do
	case $1 in
	--allow) allow=${2:?--allow needs a file}; shift 2 ;;
	-h|--help) sed -n '3,38p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
# class(line): the kind of headline, "" for none. First match wins.
function class(l) {
	if (l ~ /BUG: Bad page state/) return "badpage"
	if (l ~ /page dumped because: /) return "pagedump"
	if (l ~ /refcount_t: |list_(add|del) corruption/) return "msg"
	if (l ~ /BUG: soft lockup - CPU#/) return "softlockup"
	if (l ~ /Watchdog detected hard LOCKUP/) return "hardlockup"
	if (l ~ /INFO: task .* for more than [0-9]+ seconds/) return "hung"
	if (l ~ /INFO: task [^ ]+:[0-9]+ .*blocked on an? /) return "hungblk"
	if (l ~ /INFO: .*(detected (expedited )?stalls? |self-detected stall)/) return "rcu"
	if (l ~ /INFO: (Expedited s|S)tall ended/) return "rcuend"
	if (l ~ /KASAN: /) return "kasan"
	if (l ~ /UBSAN: /) return "ubsan"
	if (l ~ /kernel BUG at /) return "bug"
	if (l ~ /WARNING: /) return "warn"
	if (l ~ / invoked oom-killer: /) return "oom"
	if (l ~ /(^|[] :])oom-kill:/) return "oomkill"
	if (l ~ /: Killed process [0-9]+ \(/) return "oomkilled"
	if (l ~ /Out of memory and no killable processes/) return "oomnone"
	if (l ~ /: page allocation failure: order:[0-9]+, mode:/) return "allocfail"
	if (l ~ /hmm_p2p: [^ ]+: -?[0-9]+ pages still busy, retrying/) return "busy"
	if (l ~ /hmm_p2p: [^ ]+: -?[0-9]+ pages stay pinned/) return "pinned"
	if (l ~ /: eviction at close left pages/) return "leftpages"
	if (l ~ /Kernel panic/) return "panic"
	if (l ~ /(^|[^A-Za-z])Oops([^A-Za-z]|$)|general protection fault/) return "oops"
	if (l ~ /BUG: /) return "bugline"
	if (l ~ /unreferenced object 0x|suspected memory leak/) return "kmemleak"
	if (l ~ /INFO: lockdep is turned off/) return "aside"
	if (l ~ /(^|[] :])INFO: (possible|trying|lockdep|inconsistent|suspicious)/) return "lockdep"
	return ""
}
# follows(prev, cur, dist): a cur headline dist lines after prev, the
# last headline of the open report, belongs to that report.
function follows(p, c, d) {
	if ((c == "warn" || c == "bug") && (p == "msg" || p == "pagedump")) return d <= 4
	if (c == "pagedump" && p == "badpage") return d <= 40
	if (c == "oops" && (p == "bug" || p == "bugline")) return d <= 8
	if (c == "kasan" && p == "oops") return d <= 2
	if (c == "hungblk" && (p == "hung" || p == "hungblk")) return d <= 100
	if ((c == "rcu" || c == "rcuend") && p == "rcu") return d <= 60
	if ((c == "oomkill" || c == "oomkilled" || c == "oomnone") && (p == "oom" || p == "oomkill")) return d <= 3000
	if (c == "oomkilled" && p == "oomnone") return d <= 3000
	if (c == "aside") return d <= 150
	return 0
}
function newsplat(text) {
	nsplat++; lastcounted = NR; qn[nsplat] = 0
	if (nsplat <= maxq) quote[nsplat] = "  line " NR ": " text
}
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
	nsplat = 0; nallowed = 0; lastcounted = -100000
	# the open report: class and line of its last headline, allowlist
	# entry (0: counted), open or ended
	rclass = ""; rlast = -100000; rallow = 0; ropen = 0
	insysrq = 0; nsysrq = 0
}
{
	sub(/\r$/, "")
	line = $0
	if (insysrq && line ~ /^(hmmp2p: |HMMP2P-|vm-run: |(not )?ok [0-9]+ |# )/) insysrq = 0
	if (line ~ /sysrq: (SysRq : )?Show /) {
		insysrq = 1
		if (++nsysrq <= 3) sysrq[nsysrq] = NR ": " line
	}
	c = class(line)
	if (c != "") {
		if (c == "panic" && !rallow && NR - lastcounted <= 300 && nsplat) {
			# the panic that a counted splat caused (oops=panic)
			if (nsplat <= maxq && qn[nsplat]++ < 2) quote[nsplat] = quote[nsplat] "\n    + line " NR ": " line
			lastcounted = NR
			next
		}
		if (ropen && follows(rclass, c, NR - rlast)) {
			rclass = c; rlast = NR
			if (!rallow) {
				lastcounted = NR
				if (nsplat <= maxq && qn[nsplat]++ < 2) quote[nsplat] = quote[nsplat] "\n    + line " NR ": " line
			}
			if (c == "oomkilled") ropen = 0
			next
		}
		hit = 0
		for (i = 1; i <= nallow; i++)
			if (line ~ allowre[i]) { hit = i; break }
		rclass = c; rlast = NR; rallow = hit; ropen = (c != "oomkilled")
		if (hit) {
			allowed[hit]++; nallowed++
			if (allowed[hit] == 1) example[hit] = "line " NR ": " line
		} else
			newsplat(line)
		next
	}
	if (line ~ /---\[ end trace/) { ropen = 0; next }
	if (line ~ /Call Trace:/) {
		if (insysrq) next
		# part of the open report?
		if (ropen && NR - rlast <= 150) next
		rclass = "stack"; rlast = NR; rallow = 0; ropen = 1
		newsplat(line " (stack dump with no headline)")
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
	for (i = 1; i <= nsysrq && i <= 3; i++)
		printf "splat-check: sysrq dump at line %s (its stack traces are no splat)\n", sysrq[i]
	if (nallow) {
		printf "splat-check: allowlist %s: %d splat%s allowed\n", allowfile, nallowed, nallowed == 1 ? "" : "s"
		for (i = 1; i <= nallow; i++) {
			printf "  %d x /%s/\n", allowed[i], allowre[i]
			if (allowed[i]) printf "      first at %s\n", example[i]
		}
	}
	exit nsplat ? 1 : 0
}' "$log"
