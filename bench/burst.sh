#!/bin/sh
# bench/burst.sh - libmilter's threading models under a burst, and what
# each costs (`make bench-burst`; bench/README).
#
# For each variant NAME:SPF-MILTER:NOOP-MILTER (the two linked with the
# same libmilter), in turn:
#   - the burst: a nameserver that never answers (bench/dnsd -n),
#     dns_timeout 10, HELO and MAIL FROM both waited for; BURST (500)
#     sessions connect at once, then send MAIL FROM at once (bench/mload
#     -B): max and p99 of the negotiation and of the MAIL FROM reply, the
#     replies later than 2 x dns_timeout + 1 s and those missing after
#     BURST_WAIT (60) s; then the same with IDLE (1000) idle sessions
#     held open; the milter's peak RSS
#   - throughput: concurrency 32 over a unix socket, answers cached,
#     spf-milter and the no-op milter alternating REPS (3) times, each
#     started afresh; the median tx/s of each and their ratio; RSS idle
#     (before the run) and peak (after it)
#   - RSS with 50 and with IDLE sessions open after HELO
# The model (thread per connection or worker pool) is read from the
# milter's start: it warns about the pool.  Everything on 127.0.0.1 or a
# unix socket, every process stopped by its PID, every wait bounded.
#
#   sh bench/burst.sh [NAME:SPF:NOOP ...]
#   default: glibc:./spf-milter:bench/noop-milter
#            glibc-pool:bench/spf-milter-pool:bench/noop-milter-pool
#            and, where built, musl:./spf-milter.musl-thread:...
#            musl-pool:./spf-milter.musl-pool:bench/noop-milter.musl-pool
#
# Environment: BURST (sessions, 500; 0: throughput and memory only), IDLE (1000), BURST_TIMEOUT (the
# milter's dns_timeout, 10), BURST_WAIT (seconds mload waits for a reply,
# 60), BENCH_SECS (4), BENCH_REPEAT (3), BENCH_OUT (keep the raw lines).
set -u

cd "$(dirname "$0")/.." || exit 2
MLOAD=bench/mload
DNSD=bench/dnsd
CASES=bench/cases.txt
ZONE=bench/zone.txt
BURST=${BURST:-500}
IDLE=${IDLE:-1000}
TIMEOUT=${BURST_TIMEOUT:-10}
WAIT=${BURST_WAIT:-60}
SECS=${BENCH_SECS:-4}
REPS=${BENCH_REPEAT:-3}

if [ $# -eq 0 ]; then
	set -- glibc:./spf-milter:bench/noop-milter \
	    glibc-pool:bench/spf-milter-pool:bench/noop-milter-pool
	if [ -x ./spf-milter.musl-thread ] && [ -x bench/noop-milter.musl-thread ]; then
		set -- "$@" musl:./spf-milter.musl-thread:bench/noop-milter.musl-thread \
		    musl-pool:./spf-milter.musl-pool:bench/noop-milter.musl-pool
	fi
fi
for f in $MLOAD $DNSD; do
	[ -x "$f" ] || { echo "burst.sh: $f missing: run make bench-burst" >&2; exit 2; }
done

T=$(mktemp -d /tmp/spf-burst.XXXXXX) || exit 2
RESULTS=$T/results
: >"$RESULTS"
PIDS=

gone() {
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -z "$st" ] || [ "$st" = Z ]
}

# The figures are read by then: half a second for TERM, then KILL.
stop_pid() {
	p=$1
	kill -TERM "$p" 2>/dev/null || return 0
	i=0
	while [ $i -lt 5 ] && ! gone "$p"; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

forget_pid() {
	rest=
	for q in $PIDS; do
		[ "$q" = "$1" ] || rest="$rest $q"
	done
	PIDS=$rest
}

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	for p in $PIDS; do
		stop_pid "$p"
	done
	if [ -n "${BENCH_OUT:-}" ]; then
		mkdir -p "$BENCH_OUT" && cp -r "$T"/. "$BENCH_OUT"/
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

status_kb() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

# start_dns NAME [-n]: sets DNSPORT, DNSPID
start_dns() {
	name=$1
	shift
	rm -f "$T/$name.port"
	$DNSD -z $ZONE -P "$T/$name.port" -T 3600 "$@" 2>"$T/$name.err" &
	DNSPID=$!
	PIDS="$PIDS $DNSPID"
	i=0
	while [ $i -lt 100 ] && [ ! -s "$T/$name.port" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$T/$name.port" ] || { cat "$T/$name.err" >&2; exit 1; }
	DNSPORT=$(cut -d' ' -f1 "$T/$name.port")
}

# start_milter BINARY KIND(spf|noop) PORT: sets MPID, SOCK
start_milter() {
	SOCK=$T/m.sock
	rm -f "$SOCK"
	if [ "$2" = spf ]; then
		cat >"$T/spf.conf" <<EOF
socket = unix:$SOCK
socket_mode = 0600
dns_servers = 127.0.0.1:$3
dns_timeout = $TIMEOUT
verify_helo = yes
definitive_helo_results = pass, fail
reject_helo_results = fail
reject_results = fail
log_destination = stderr
log_level = warn
EOF
		"$1" -c "$T/spf.conf" 2>"$T/milter.log" &
	else
		"$1" -s "unix:$SOCK" -P "$NOOP_PROTO" 2>"$T/milter.log" &
	fi
	MPID=$!
	PIDS="$PIDS $MPID"
	i=0
	while [ $i -lt 100 ] && [ ! -S "$SOCK" ]; do
		kill -0 "$MPID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	[ -S "$SOCK" ] || { echo "burst.sh: $1 did not start" >&2; cat "$T/milter.log" >&2; exit 1; }
	sleep 0.3
}

stop_milter() {
	stop_pid "$MPID"
	forget_pid "$MPID"
}

nfds() {	# descriptors PID has open
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

kv() {	# KEY LINE
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# hold_idle N: N sessions open after HELO in the milter MPID; prints its
# VmRSS once they are all open (the milter's descriptors say so)
hold_idle() {
	base=$(nfds "$MPID")
	$MLOAD -q -s "unix:$SOCK" -f $CASES -i "$1" -T $(($1 / 100 + 8)) \
	    >"$T/idle.out" 2>&1 &
	lpid=$!
	PIDS="$PIDS $lpid"
	i=0
	while [ $i -lt 200 ] && [ "$(nfds "$MPID")" -lt $((base + $1)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 1
	status_kb "$MPID" VmRSS
	stop_pid "$lpid"
	forget_pid "$lpid"
}

# burst NAME BINARY [IDLE]: one burst against a fresh milter
burst() {
	start_milter "$2" spf "$DEADPORT"
	extra=
	[ -n "${3:-}" ] && extra="-i $3"
	# shellcheck disable=SC2086
	line=$($MLOAD -q -s "unix:$SOCK" -f $CASES -E any -B "$BURST" $extra \
	    -t $((WAIT * 1000)) -W $((2 * TIMEOUT * 1000 + 1000)) -l "$1" \
	    2>>"$T/mload.err")
	hwm=$(status_kb "$MPID" VmHWM)
	stop_milter
	echo "$line variant=$1 model=$model rss_peak_kb=$hwm" >>"$RESULTS"
	echo "  $1: negotiation max $(kv neg_max_ms "$line") ms, MAIL FROM max $(kv mail_max_ms "$line") ms, $(kv mail_replies "$line") of $BURST replies" >&2
}

# The protocol flags spf-milter negotiates, for the no-op milter.
probe_proto() {
	start_milter "$1" spf "$LIVEPORT"
	NOOP_PROTO=$($MLOAD -q -s "unix:$SOCK" -f $CASES -n 1 -T 5 -l probe 2>/dev/null |
	    tr ' ' '\n' | sed -n 's/^proto=0x//p')
	stop_milter
	[ -n "$NOOP_PROTO" ] || { echo "burst.sh: cannot talk to $1" >&2; exit 1; }
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'
}

echo "burst: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; commit $(git rev-parse --short HEAD 2>/dev/null)"
echo "burst: $BURST sessions at once, dns_timeout $TIMEOUT, a nameserver that never answers; replies waited for up to $WAIT s; $IDLE idle sessions; c=32 runs of $SECS s, $REPS of each"
start_dns live
LIVEPORT=$DNSPORT
start_dns dead -n
DEADPORT=$DNSPORT

for v in "$@"; do
	name=${v%%:*}
	rest=${v#*:}
	spf=${rest%%:*}
	noop=${rest#*:}
	for f in "$spf" "$noop"; do
		[ -x "$f" ] || { echo "burst.sh: $f missing" >&2; exit 2; }
	done
	echo "burst: $name: $spf, $noop" >&2
	probe_proto "$spf"
	start_milter "$spf" spf "$LIVEPORT"
	if grep -q 'worker pool' "$T/milter.log"; then model=pool; else model=thread; fi
	stop_milter

	if [ "$BURST" -gt 0 ]; then
		burst "$name" "$spf"
		burst "$name+idle" "$spf" "$IDLE"
	fi

	: >"$T/spf.tx"
	: >"$T/noop.tx"
	: >"$T/rss"
	rep=1
	while [ $rep -le "$REPS" ]; do
		for kind in spf noop; do
			if [ $kind = spf ]; then bin=$spf; else bin=$noop; fi
			start_milter "$bin" $kind "$LIVEPORT"
			idle_kb=$(status_kb "$MPID" VmRSS)
			expect=
			[ $kind = noop ] && expect="-E pass"
			# shellcheck disable=SC2086
			line=$($MLOAD -q -s "unix:$SOCK" -f $CASES -c 32 -n 50000 -T "$SECS" $expect -l "$kind" 2>>"$T/mload.err")
			peak_kb=$(status_kb "$MPID" VmHWM)
			stop_milter
			[ "$(kv errors "$line")" = 0 ] || echo "burst.sh: $name $kind: errors: $line" >&2
			kv txps "$line" >>"$T/$kind.tx"
			[ $kind = spf ] && echo "$idle_kb $peak_kb" >>"$T/rss"
		done
		rep=$((rep + 1))
	done
	start_milter "$spf" spf "$LIVEPORT"
	rss50=$(hold_idle 50)
	stop_milter
	start_milter "$spf" spf "$LIVEPORT"
	rssidle=$(hold_idle "$IDLE")
	stop_milter
	echo "variant=$name model=$model spf_txps=$(median <"$T/spf.tx") noop_txps=$(median <"$T/noop.tx") rss_idle_kb=$(cut -d' ' -f1 "$T/rss" | median) rss_peak_kb=$(cut -d' ' -f2 "$T/rss" | sort -n | tail -n 1) rss_50_kb=$rss50 rss_many_kb=$rssidle" >>"$RESULTS"
done

echo
printf '%-12s %-6s %-12s %9s %9s %9s %9s %6s %7s %9s\n' variant model burst \
    "neg max" "neg p99" "MAIL max" "MAIL p99" late "missing" "RSS peak"
awk -v burst="$BURST" '
function v(key,    i, kv) {
	for (i = 1; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == key)
			return substr($i, length(key) + 2)
	}
	return ""
}
/ burst=/ {
	n = split(v("variant"), parts, "+")
	printf "%-12s %-6s %-12s %7.0fms %7.0fms %7.0fms %7.0fms %6d %7d %7.1fMi\n",
	    parts[1], v("model"), (n > 1 ? burst "+" v("idle_conns") " idle" : burst),
	    v("neg_max_ms"), v("neg_p99_ms"), v("mail_max_ms"), v("mail_p99_ms"),
	    v("late"), burst - v("mail_replies"), v("rss_peak_kb") / 1024
}' "$RESULTS"
echo "  late: MAIL FROM replies after 2 x dns_timeout + 1 s; missing: no reply within $WAIT s"
echo
printf '%-12s %-6s %9s %9s %6s %9s %9s %9s %9s\n' variant model "tx/s c32" "noop" ratio \
    "RSS idle" "RSS peak" "50 idle" "$IDLE idle"
awk '
function v(key,    i, kv) {
	for (i = 1; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == key)
			return substr($i, length(key) + 2)
	}
	return ""
}
/ spf_txps=/ {
	printf "%-12s %-6s %9.0f %9.0f %6.2f %7.2fMi %7.2fMi %7.2fMi %7.2fMi\n",
	    v("variant"), v("model"), v("spf_txps"), v("noop_txps"),
	    (v("noop_txps") > 0 ? v("spf_txps") / v("noop_txps") : 0),
	    v("rss_idle_kb") / 1024, v("rss_peak_kb") / 1024,
	    v("rss_50_kb") / 1024, v("rss_many_kb") / 1024
}' "$RESULTS"
echo "  ratio: spf-milter / the no-op milter with the same libmilter (target >= 0.95)"
