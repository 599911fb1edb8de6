#!/bin/sh
# bench/run.sh - the milter benchmark (`make bench`).
#
# Starts a DNS server on loopback with bench/zone.txt (bench/dnsd, or
# test/dnsserver.py with BENCH_DNS=python), then in turn
# spf-milter, bench/noop-milter (the ceiling of libmilter and the load
# generator) and Debian's pyspf-milter (the peer users run today), each
# restarted for every run so every run starts cold.  bench/mload drives
# each at concurrency 1 and 32 over a unix socket and over TCP, and checks
# every answer against bench/cases.txt.  Per run: tx/s, p50/p99 latency,
# CPU seconds per 1000 transactions (utime+stime from /proc/PID/stat),
# RSS idle and peak (VmRSS before, VmHWM after, /proc/PID/status).  Then
# spf-milter with every DNS answer delayed 20 ms and its cache off, and
# bench/spfbench (the evaluator alone).  Prints one table and the ratios
# of issue 5's targets.  Everything listens on 127.0.0.1 only; every
# process started is stopped by its PID; every wait is bounded.
#
# Environment: BENCH_SECS (cap per run, default 4), BENCH_COUNT (cap of
# transactions per run, default 50000), BENCH_OUT (keep raw results in
# this directory), BENCH_REPEAT (runs of each spf-milter and noop-milter
# configuration, default 3; the table shows the median), BENCH_DNS (dnsd
# or python), SPF_MILTER (the binary).
set -u

cd "$(dirname "$0")/.." || exit 2
PY=/usr/bin/python3
MLOAD=bench/mload
NOOP=bench/noop-milter
SPF=${SPF_MILTER:-./spf-milter}
SPFBENCH=bench/spfbench
CASES=bench/cases.txt
ZONE=bench/zone.txt
SECS=${BENCH_SECS:-4}
REPS=${BENCH_REPEAT:-3}
COUNT=${BENCH_COUNT:-50000}
TICK=$(getconf CLK_TCK)
PORT_BASE=$((20000 + $$ % 20000))
# The DNS server: bench/dnsd (C, one thread; the default) or python
# (test/dnsserver.py, which saturates first under this load: README).
DNS=${BENCH_DNS:-dnsd}
[ "$DNS" = dnsd ] && [ ! -x bench/dnsd ] && DNS=python

for f in $MLOAD $NOOP $SPF $SPFBENCH; do
	[ -x "$f" ] || { echo "run.sh: $f missing: run make bench" >&2; exit 2; }
done

T=$(mktemp -d /tmp/spf-bench.XXXXXX) || exit 2
RESULTS=$T/results
: >"$RESULTS"
PIDS=

# gone PID: true once PID has exited (a zombie counts: kill -0 does not).
gone() {
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -z "$st" ] || [ "$st" = Z ]
}

# libmilter takes 5 s to stop on TERM; the figures are read by then, so
# after half a second it gets KILL.
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

# ------------------------------------------------------------ helpers

# start_dns NAME DELAY_MS: a DNS server; sets DNSPORT and DNSPID.
start_dns() {
	rm -f "$T/$1.port"
	if [ "$DNS" = dnsd ]; then
		bench/dnsd -z $ZONE -P "$T/$1.port" -d "$2" -L "$T/$1.log" \
		    -T 1800 2>"$T/$1.err" &
	else
		$PY test/dnsserver.py --zone $ZONE --portfile "$T/$1.port" \
		    --delay "$2" --log "$T/$1.log" 2>"$T/$1.err" &
	fi
	DNSPID=$!
	PIDS="$PIDS $DNSPID"
	i=0
	while [ $i -lt 100 ] && [ ! -s "$T/$1.port" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$T/$1.port" ] || { cat "$T/$1.err" >&2; echo "run.sh: no DNS server" >&2; exit 1; }
	DNSPORT=$(cut -d' ' -f1 "$T/$1.port")
	DNSLOG=$T/$1.log
	touch "$DNSLOG"
}

# listening SOCKSPEC: true once the milter's socket accepts.
listening() {
	case $1 in
	unix:*) [ -S "${1#unix:}" ] ;;
	inet:*)
		port=${1#inet:}
		port=${port%@*}
		hex=$(printf '%04X' "$port")
		awk -v h=":$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' /proc/net/tcp
		;;
	esac
}

# wait_ready PID SOCKSPEC: up to 10 s for the socket, while PID lives.
wait_ready() {
	i=0
	while [ $i -lt 100 ]; do
		kill -0 "$1" 2>/dev/null || return 1
		listening "$2" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

status_kb() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

write_spf_conf() {
	cat >"$T/spf.conf" <<EOF
# written by bench/run.sh
socket = $1
socket_mode = 0600
dns_servers = 127.0.0.1:$DNSPORT
dns_timeout = 10
dns_cache_size = $2
verify_helo = yes
reject_results = fail
log_destination = stderr
log_level = warn
EOF
}

write_pyspf_conf() {
	cat >"$T/pyspf.conf" <<EOF
# written by bench/run.sh
debugLevel = 0
TestOnly = 1
HELO_reject = Fail
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1
Socket = $1
PidFile = $T/pyspf.pid
UserID = root
EOF
	rm -f "$T/pyspf.pid"
}

# start_milter KIND SOCKSPEC CACHE: sets MPID.
start_milter() {
	case $1 in
	spf-milter*)
		write_spf_conf "$2" "$3"
		$SPF -c "$T/spf.conf" 2>>"$T/spf-milter.log" &
		;;
	noop)
		$NOOP -s "$2" -P "$NOOP_PROTO" 2>>"$T/noop.log" &
		;;
	pyspf)
		write_pyspf_conf "$2"
		$PY bench/pyspf-run.py 127.0.0.1 "$DNSPORT" "$T/pyspf.conf" \
		    2>>"$T/pyspf.log" &
		;;
	esac
	MPID=$!
	PIDS="$PIDS $MPID"
}

sockspec() {
	case $1 in
	unix) echo "unix:$T/$2.sock" ;;
	tcp) PORT_BASE=$((PORT_BASE + 1)); echo "inet:$PORT_BASE@127.0.0.1" ;;
	esac
}

# run_one KIND TRANSPORT CONC [CACHE [CASES]]: one cold run, appended to
# RESULTS, with the number of questions the DNS server got meanwhile.
run_one() {
	kind=$1 transport=$2 conc=$3 cache=${4:-1000} cases=${5:-$CASES}
	sock=$(sockspec "$transport" "$kind")
	rm -f "$T/$kind.sock"
	start_milter "$kind" "$sock" "$cache"
	if ! wait_ready "$MPID" "$sock"; then
		echo "run.sh: $kind did not come up on $sock" >&2
		tail -5 "$T"/*.log >&2
		echo "label=$kind transport=$transport conc=$conc txps=0 errors=1 failed_to_start=1" >>"$RESULTS"
		stop_pid "$MPID"; forget_pid "$MPID"
		return 1
	fi
	sleep 0.3
	idle=$(status_kb "$MPID" VmRSS)
	c0=$(cpu_ticks "$MPID")
	q0=$(wc -l <"$DNSLOG")
	expect=
	[ "$kind" = noop ] && expect="-E pass"	# it never rejects
	# shellcheck disable=SC2086
	line=$($MLOAD -q -s "$sock" -f "$cases" -c "$conc" -n "$COUNT" -T "$SECS" -l "$kind" $expect 2>>"$T/mload.err")
	c1=$(cpu_ticks "$MPID")
	q1=$(wc -l <"$DNSLOG")
	hwm=$(status_kb "$MPID" VmHWM)
	stop_pid "$MPID"; forget_pid "$MPID"
	echo "$line transport=$transport rss_idle_kb=$idle rss_peak_kb=$hwm cpu_ticks=$((c1 - c0)) tick=$TICK dns_queries=$((q1 - q0))" >>"$RESULTS"
	echo "  $kind $transport c=$conc: $(echo "$line" | tr ' ' '\n' | grep -E '^(txps|p99_ms|errors)=' | tr '\n' ' ')" >&2
}

# run_idle KIND: RSS while 50 sessions sit idle after HELO.
run_idle() {
	kind=$1
	sock=$(sockspec unix "$kind")
	rm -f "$T/$kind.sock"
	start_milter "$kind" "$sock" 1000
	if wait_ready "$MPID" "$sock"; then
		$MLOAD -q -s "$sock" -f $CASES -i 50 -T 3 -l "$kind" >>"$T/idle.out" 2>>"$T/mload.err" &
		lpid=$!
		PIDS="$PIDS $lpid"
		sleep 2
		echo "$kind $(status_kb "$MPID" VmRSS)" >>"$T/idle"
		wait "$lpid"
		forget_pid "$lpid"
	fi
	stop_pid "$MPID"; forget_pid "$MPID"
}

# The protocol flags spf-milter negotiates, so the no-op milter asks for
# exactly the same steps and replies.
probe_proto() {
	sock=$(sockspec unix probe)
	start_milter spf-milter "$sock" 1000
	NOOP_PROTO=
	if wait_ready "$MPID" "$sock"; then
		NOOP_PROTO=$($MLOAD -q -s "$sock" -f $CASES -n 1 -T 5 -l probe 2>/dev/null |
		    tr ' ' '\n' | sed -n 's/^proto=0x//p')
	fi
	stop_pid "$MPID"; forget_pid "$MPID"
	[ -n "$NOOP_PROTO" ] || { echo "run.sh: cannot talk to spf-milter" >&2; tail -5 "$T/spf-milter.log" >&2; exit 1; }
}

binary_size() {
	strip -o "$T/stripped" "$1" && wc -c <"$T/stripped"
}

# ------------------------------------------------------------ the runs

echo "bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "bench: DNS server $DNS; runs of at most $SECS s or $COUNT transactions, $REPS of each; spf-milter $($SPF -V 2>/dev/null | cut -d' ' -f2), commit $(git rev-parse --short HEAD 2>/dev/null)"
start_dns dns 0
probe_proto
echo "bench: spf-milter negotiates protocol flags 0x$NOOP_PROTO; noop-milter gets the same"
# spf-milter and noop-milter alternate, REPS times, so that both see the
# same background load; pyspf-milter (slow and steady) runs once.
rep=1
while [ $rep -le "$REPS" ]; do
	for transport in unix tcp; do
		for conc in 1 32; do
			run_one spf-milter "$transport" "$conc"
			run_one noop "$transport" "$conc"
			[ $rep -eq 1 ] && run_one pyspf "$transport" "$conc"
		done
	done
	rep=$((rep + 1))
done
run_one spf-milter-nocache unix 32 0
for kind in spf-milter noop pyspf; do
	run_idle $kind
done
stop_pid "$DNSPID"; forget_pid "$DNSPID"

echo "bench: every DNS answer delayed 20 ms, spf-milter's cache off" >&2
# One case only, the whole include tree (HELO and MAIL FROM: five round
# trips), so that every transaction waits the same and p99 at
# concurrency 32 against the median at 1 shows only waiting on each other.
start_dns slowdns 20
grep 'news@tree.bench.test.*reject' $CASES >"$T/slow-cases"
run_one spf-milter-slowdns unix 1 0 "$T/slow-cases"
run_one spf-milter-slowdns unix 32 0 "$T/slow-cases"
stop_pid "$DNSPID"; forget_pid "$DNSPID"

SIZE_SPF=$(binary_size "$SPF")
SIZE_NOOP=$(binary_size $NOOP)

# ------------------------------------------------------------ the table

awk -v size_spf="$SIZE_SPF" -v size_noop="$SIZE_NOOP" -f bench/table.awk "$RESULTS"
table_rc=$?
echo
awk '{ printf "RSS with 50 idle sessions (after HELO): %-11s %6.2f MiB\n", $1, $2 / 1024 }' "$T/idle"

echo
echo "evaluator alone (bench/spfbench):"
$SPFBENCH -z $ZONE -t 300 | grep -v '^spfbench '
start_dns evaldns 20
$SPFBENCH -z $ZONE -t 10 -s "127.0.0.1:$DNSPORT" -L "$T/evaldns.log" -d 20 -P 32 -T 3 |
    sed -n '/^include tree through/,$p' | grep -v '^spfbench '
stop_pid "$DNSPID"; forget_pid "$DNSPID"

exit $table_rc
