#!/bin/sh
# measure.sh - spf-milter builds side by side: stripped size, RSS idle,
# RSS holding 50 idle sessions, and under bench/mload (tx/s, p99, peak
# RSS, threads) at concurrency 1, 32 and 128 with immediate DNS answers
# and cache on, and at 32 and 128 with every DNS answer delayed 50 ms and
# the cache off (callbacks that block: where libmilter's worker pool and
# its thread-per-connection model differ).
#
#   make musl-variants bench/mload
#   sh contrib/musl/measure.sh ./spf-milter ./spf-milter.musl-pool ./spf-milter.musl-thread
#
# Uses bench/mload, bench/cases.txt, bench/zone.txt and test/dnsserver.py;
# everything on 127.0.0.1 and unix sockets; every process it starts is
# stopped by its pid; every wait is bounded.  MEASURE_SECS caps each run
# (default 5 s), MEASURE_COUNT its transactions (default 30000).
set -u
cd "$(dirname "$0")/../.." || exit 2

PY=/usr/bin/python3
MLOAD=bench/mload
SECS=${MEASURE_SECS:-5}
COUNT=${MEASURE_COUNT:-30000}
[ $# -ge 1 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
for f in "$@" "$MLOAD"; do
	[ -x "$f" ] || { echo "measure: $f missing" >&2; exit 2; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/spf-measure.XXXXXX") || exit 2
PIDS=
stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	i=0
	while [ $i -lt 100 ] && kill -0 "$1" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	for p in $PIDS; do stop_pid "$p"; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# dns NAME DELAY_MS: sets DNSPORT.
dns() {
	$PY test/dnsserver.py --zone bench/zone.txt --portfile "$T/$1.port" \
		--delay "$2" --log /dev/null 2>"$T/$1.err" &
	PIDS="$PIDS $!"
	i=0
	while [ $i -lt 100 ] && [ ! -s "$T/$1.port" ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$T/$1.port" ] || { cat "$T/$1.err" >&2; exit 1; }
	DNSPORT=$(cut -d' ' -f1 "$T/$1.port")
}

kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# start BINARY DNSPORT CACHE: sets MPID, SOCK.
start() {
	SOCK=$T/m.sock
	rm -f "$SOCK"
	cat >"$T/m.conf" <<EOF
socket = unix:$SOCK
socket_mode = 0600
dns_servers = 127.0.0.1:$2
dns_timeout = 10
dns_cache_size = $3
reject_results = fail
log_destination = stderr
log_level = error
EOF
	"$1" -c "$T/m.conf" 2>>"$T/milter.log" &
	MPID=$!
	PIDS="$PIDS $MPID"
	i=0
	while [ $i -lt 100 ] && [ ! -S "$SOCK" ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$SOCK" ] || { tail -3 "$T/milter.log" >&2; return 1; }
	sleep 0.3
}

stop() {
	stop_pid "$MPID"
	rest=
	for q in $PIDS; do [ "$q" = "$MPID" ] || rest="$rest $q"; done
	PIDS=$rest
}

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

dns fast 0
FAST=$DNSPORT
dns slow 50
SLOW=$DNSPORT
printf '%-26s %9s %8s %8s\n' binary stripped rss_idle idle50 >"$T/t1"
printf '%-26s %-10s %5s %8s %8s %8s %7s %6s\n' binary dns conc tx/s p99_ms peak_kb threads errors >"$T/t2"
for b in "$@"; do
	name=${b##*/}
	strip -o "$T/stripped" "$b"
	size=$(wc -c <"$T/stripped")
	start "$b" "$FAST" 1000 || continue
	idle=$(kb "$MPID" VmRSS)
	$MLOAD -q -s "unix:$SOCK" -f bench/cases.txt -i 50 -T 3 >/dev/null 2>&1 &
	lpid=$!
	sleep 2
	idle50=$(kb "$MPID" VmRSS)
	wait "$lpid"
	stop
	printf '%-26s %9s %8s %8s\n' "$name" "$size" "$idle" "$idle50" >>"$T/t1"

	for run in "fast 1 1000" "fast 32 1000" "fast 128 1000" "slow 32 0" "slow 128 0"; do
		# shellcheck disable=SC2086
		set -- $run
		port=$FAST
		[ "$1" = slow ] && port=$SLOW
		start "$b" "$port" "$3" || continue
		$MLOAD -q -s "unix:$SOCK" -f bench/cases.txt -c "$2" -n "$COUNT" \
			-T "$SECS" -l "$name" >"$T/line" 2>>"$T/mload.err" &
		lpid=$!
		sleep 1
		thr=$(kb "$MPID" Threads)
		wait "$lpid"
		line=$(cat "$T/line")
		peak=$(kb "$MPID" VmHWM)
		stop
		printf '%-26s %-10s %5s %8s %8s %8s %7s %6s\n' "$name" \
			"$1" "$2" "$(field "$line" txps)" \
			"$(field "$line" p99_ms)" "$peak" "$thr" "$(field "$line" errors)" >>"$T/t2"
	done
done
echo "sizes in bytes, RSS in kB (VmRSS; idle50: holding 50 sessions after HELO)"
cat "$T/t1"
echo
echo "under mload, $SECS s or $COUNT transactions per run; fast: DNS at once, cache 1000;"
echo "slow: every DNS answer 50 ms late, cache off; threads: 1 s into the run"
cat "$T/t2"
