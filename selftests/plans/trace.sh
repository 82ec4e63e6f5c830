# SPDX-License-Identifier: GPL-2.0
# trace: hmm_p2p's tracepoints (hmm_p2p/trace.h) and its debugfs directories
# (hmm_p2p/debugfs.c). With every hmm_p2p event on (tracefs), a workload
# (selftests/hmm_p2p_trace.c) on the PCI switch pair moves a THP and 64
# pages to one device, reads them through the other peer to peer, faults one
# back by CPU, moves the 64 to the other device (device to device where they
# are on the first) and everything home, then marks the trace and prints
# both devices' STATS. The events between the marks must add up to the counters:
# batch pages to pages migrated (each way) and 2 MiB folios, P2P mappings,
# invalidations, mirror fault rounds and their retries, fallbacks, the copy
# jobs' P2P mappings to pages moved from the peer; a CPU fault and a P2P
# mapping (bus address: the switch) must be there. Then the
# debugfs files: there, the same counters, the chunks adding up, the pair's
# shared owner, and an armed injection point shown as armed.

TRACE=$BINDIR/hmm_p2p_trace
W=/tmp/trace
T=/sys/kernel/tracing
DBG=/sys/kernel/debug/hmm_p2p
EVENTS="hmm_p2p_migrate_batch hmm_p2p_cpu_fault hmm_p2p_mirror_fault hmm_p2p_mirror_retry
	hmm_p2p_invalidate hmm_p2p_p2p_map hmm_p2p_p2p_fallback"
mkdir -p "$W"

mounted_tracefs=0
tracefs_up() {
	[ -e "$T/trace" ] && return 0
	mount -t tracefs nodev "$T" && mounted_tracefs=1 && [ -e "$T/trace" ]
}
events_there() {
	for _e in $EVENTS; do
		[ -d "$T/events/hmm_p2p/$_e" ] || { say "no event $_e"; return 1; }
	done
}
trace_start() {
	echo 0 > "$T/tracing_on" && echo > "$T/trace" && echo 1 > "$T/events/hmm_p2p/enable" && echo 1 > "$T/tracing_on"
}
trace_stop() {
	echo 0 > "$T/tracing_on"
	echo 0 > "$T/events/hmm_p2p/enable"
	cat "$T/trace" > "$W/trace.all"
	# what came between the workload's marks
	awk 'index($0, "hmm_p2p_trace: stats") { found = 1; exit }
	     on { print }
	     index($0, "hmm_p2p_trace: start") { on = 1 }
	     END { exit !found }' "$W/trace.all" > "$W/trace"
}
workload() {
	"$TRACE" > "$W/out" 2>&1
	_rc=$?
	sed 's/^/    /' "$W/out"
	return $_rc
}

# st_of NODE NAME: a counter the workload printed (STATS at the mark).
st_of() { awk -v n="$1" -v k="$2" '$1 == "stat" && $2 == n && $3 == k { print $4 }' "$W/out"; }
# ev_sum EVENT DEV FIELD [WORDS]: the sum of FIELD= over DEV's EVENT lines
# (with each of WORDS among their words, if given) between the marks.
ev_sum() {
	awk -v ev="$1:" -v dev="$2" -v f="$3" -v w="${4:-}" '
	{
		for (i = 1; i < NF; i++)
			if ($i == ev)
				break
		if (i >= NF || $(i + 1) != dev)
			next
		nw = split(w, ws, " ")
		delete seen
		v = 0
		for (j = i + 2; j <= NF; j++) {
			seen[$j] = 1
			if (index($j, f "=") == 1)
				v = substr($j, length(f) + 2)
		}
		for (k = 1; k <= nw; k++)
			if (!(ws[k] in seen))
				next
		s += v
		n++
	}
	END { print (f == "" ? n : s) + 0 }' "$W/trace"
}
# ev_count EVENT DEV [WORDS]: DEV's EVENT lines (with each of WORDS).
ev_count() { ev_sum "$1" "$2" "" "${3:-}"; }
# same WHAT GOT WANT: say both, succeed when equal.
same() {
	say "$1: $2, expected $3"
	[ -n "$2" ] && [ "$2" = "$3" ]
}
# at_least WHAT GOT MIN
at_least() {
	say "$1: $2 (at least $3)"
	[ -n "$2" ] && [ "$2" -ge "$3" ]
}

setup "trace: load hmm_p2p.ko and hmm_p2p_test.ko" load_ours
setup "trace: tracefs at $T" tracefs_up
check "trace: every hmm_p2p event is in tracefs" events_there
setup "trace: events on" trace_start
check "trace: workload (migrate, P2P read, CPU fault, migrate back)" workload
wl=$?
setup "trace: events off, trace between the marks taken" trace_stop
say "trace: $(wc -l < "$W/trace") lines between the marks; the first two of each event:"
for _e in $EVENTS; do grep -m 2 " $_e: " "$W/trace"; done | sed 's/^ */    /'

A=$(sed -n 's/^# exporter \(hmm_p2p[0-9]\), importer \(hmm_p2p[0-9]\).*/\1/p' "$W/out")
B=$(sed -n 's/^# exporter \(hmm_p2p[0-9]\), importer \(hmm_p2p[0-9]\).*/\2/p' "$W/out")
if [ "$wl" != 0 ] || [ -z "$A" ] || [ -z "$B" ]; then
	skip "trace: the events against the counters" "the workload failed"
else
	for d in "$A" "$B"; do
		for w in to_dev to_sys; do
			check "trace: $d's $w batches add up to migrated_$w" \
				same "pages $w of $d" "$(ev_sum hmm_p2p_migrate_batch "$d" moved $w)" \
				"$(st_of "$d" migrated_$w)"
		done
	done
	check "trace: $A batches' 2 MiB folios add up to thp_migrated" \
		same "2 MiB folios of $A" "$(ev_sum hmm_p2p_migrate_batch "$A" thp)" \
		"$(st_of "$A" thp_migrated)"
	check "trace: $A batches collected at least what they moved" \
		at_least "pages collected by $A's batches" \
		"$(ev_sum hmm_p2p_migrate_batch "$A" collected)" "$(st_of "$A" migrated_to_dev)"
	check "trace: a CPU fault on $A moved pages" \
		at_least "pages moved by CPU faults on $A" "$(ev_sum hmm_p2p_cpu_fault "$A" moved)" 1
	check "trace: $B's mirror P2P mappings, each an event" \
		same "mirror P2P mappings of $B" \
		"$(( $(ev_count hmm_p2p_p2p_map "$B") - $(ev_count hmm_p2p_p2p_map "$B" copy) ))" \
		"$(st_of "$B" p2p_mappings)"
	check "trace: $B's copy jobs mapped each page it took from $A, by bus address" \
		same "copy P2P mappings of $B" "$(ev_count hmm_p2p_p2p_map "$B" "bus copy")" \
		"$(st_of "$B" migrated_from_peer)"
	check "trace: ... at least the 64 pages read, by bus address (the switch)" \
		at_least "bus-address mappings of $B" "$(ev_count hmm_p2p_p2p_map "$B" bus)" 64
	check "trace: $B's fallbacks add up to its fallback counters" \
		same "fallback pages of $B" "$(ev_sum hmm_p2p_p2p_fallback "$B" pages)" \
		"$(( $(st_of "$B" p2p_fallback_no_path) + $(st_of "$B" p2p_fallback_write) + \
			$(st_of "$B" p2p_fallback_gone) ))"
	for d in "$A" "$B"; do
		check "trace: $d's invalidations, each an event" \
			same "invalidations of $d" "$(ev_count hmm_p2p_invalidate "$d")" \
			"$(st_of "$d" invalidations)"
		check "trace: $d's mirror fault rounds and retries add up to mirror_faults" \
			same "hmm_range_fault() calls of $d" \
			"$(( $(ev_count hmm_p2p_mirror_fault "$d") + \
				$(ev_count hmm_p2p_mirror_retry "$d") ))" "$(st_of "$d" mirror_faults)"
	done
	check "trace: the CPU fault invalidated $B's P2P mapping" \
		at_least "invalidations of $B" "$(ev_count hmm_p2p_invalidate "$B")" 1
	check "trace: $B's mirror faulted" \
		at_least "mirror fault rounds of $B" "$(ev_count hmm_p2p_mirror_fault "$B")" 1
fi

# debugfs
files_there() {
	for _f in chunks pages_in_use owner counters injections; do
		[ -r "$DBG/$1/$_f" ] || { say "no $DBG/$1/$_f"; return 1; }
	done
}
# dbg DEV NAME: a counter from DEV's debugfs counters file
dbg() { awk -v k="$2" '$1 == k { print $2 }' "$DBG/$1/counters"; }
chunks_add_up() {
	sed 's/^/    /' "$DBG/$1/chunks"
	_n=$(wc -l < "$DBG/$1/chunks")
	_u=$(awk '{ s += $NF } END { print s + 0 }' "$DBG/$1/chunks")
	same "chunks of $1" "$_n" "$(st_of "$1" chunks)" &&
		same "pages in use in $1's chunks" "$_u" "$(cat "$DBG/$1/pages_in_use")"
}
owner_of() { sed -n 's/^owner \([^ ]*\).*/\1/p' "$DBG/$1/owner"; }
shared_owner() {
	say "owners: $1 $(owner_of "$1"), $2 $(owner_of "$2"), hmm_dmirror0 $(owner_of hmm_dmirror0)"
	[ -n "$(owner_of "$1")" ] && [ "$(owner_of "$1")" = "$(owner_of "$2")" ] &&
		[ "$(owner_of "$1")" != "$(owner_of hmm_dmirror0)" ]
}
inject_shown() {
	_i=$DBG/$1/fail_sys_page
	echo 3 > "$_i/times" || return 1
	sed 's/^/    /' "$DBG/$1/injections"
	grep -q '^fail_sys_page armed times 3 ' "$DBG/$1/injections" || return 1
	echo 0 > "$_i/times" || return 1
	grep -q '^fail_sys_page disarmed times 0 ' "$DBG/$1/injections"
}
if [ "$wl" != 0 ] || [ -z "$A" ] || [ -z "$B" ]; then
	skip "trace: debugfs" "the workload failed"
else
	for d in "$A" "$B" hmm_dmirror0; do
		check "trace: debugfs $DBG/$d/ has its files" files_there "$d"
	done
	sed 's/^/    /' "$DBG/$A/counters"
	for k in migrated_to_dev migrated_to_sys thp_migrated cpu_faults p2p_mappings \
		mirror_faults p2p_fallback_no_path pages_in_use; do
		check "trace: debugfs $A/counters $k is STATS'" same "$k of $A" "$(dbg "$A" $k)" \
			"$(st_of "$A" $k)"
	done
	check "trace: debugfs $B/counters p2p_mappings is STATS'" \
		same "p2p_mappings of $B" "$(dbg "$B" p2p_mappings)" "$(st_of "$B" p2p_mappings)"
	check "trace: debugfs $A/counters invalidations at least STATS' (the exit's come after)" \
		at_least "invalidations of $A" "$(dbg "$A" invalidations)" "$(st_of "$A" invalidations)"
	check "trace: debugfs $A/chunks add up" chunks_add_up "$A"
	check "trace: debugfs owner: the switch pair shares one, dmirror0 has another" \
		shared_owner "$A" "$B"
	check "trace: debugfs injections shows fail_sys_page armed, then disarmed" \
		inject_shown "$A"
fi

setup "trace: unload hmm_p2p_test.ko" _rmmod hmm_p2p_test
check "trace: the devmems' debugfs directories went with them, hmm_p2p/ stays" \
	sh -c "[ -d $DBG ] && [ ! -e $DBG/${A:-hmm_p2p0} ] && [ ! -e $DBG/hmm_dmirror0 ]"
setup "trace: unload hmm_p2p.ko" unload_ours
echo > "$T/trace"
echo 1 > "$T/tracing_on"
[ "$mounted_tracefs" = 1 ] && umount "$T"
true
