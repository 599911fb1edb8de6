#!/bin/sh
# run-fd-test.sh - the milter out of file descriptors, under a low limit
# (prlimit --nofile=32:64): the soft limit raised to the hard one and
# logged; a burst of more sessions than the descriptors can serve: the
# ones admitted all get their verification (descriptors kept for their
# DNS sockets), the others are refused at once; more idle sessions than
# fit: no busy loop (CPU over 3 s), a new connection refused at once; the
# milter serves again when the sessions are gone; one log line per
# episode, not per connection.  Then out of threads (root only: a uid of
# its own with prlimit --nproc=12): the sessions beyond refused at once,
# the milter alive and serving after.  Against bench/dnsd on loopback.
#
#   sh test/run-fd-test.sh          SPF_MILTER=... for another binary
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${SPF_MILTER:-$top/spf-milter}
mload=$top/bench/mload
dnsd=$top/bench/dnsd
cases=$top/bench/cases.txt
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-fd.XXXXXX") || exit 1
mpid='' dpid='' lpid='' npid=''
tick=$(getconf CLK_TCK)

# shellcheck source=test/lib.sh
. "$top/test/lib.sh"

cleanup() {
	stop_pid "$lpid" 5
	stop_pid "$mpid" 10
	stop_pid "$npid" 10
	stop_pid "$dpid" 5
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failed=0 passed=0
check() {	# DESCRIPTION COMMAND...
	what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
	else
		echo "FAIL: $what"
		failed=$((failed + 1))
	fi
}

for f in "$bin" "$mload" "$dnsd"; do
	[ -x "$f" ] || { echo "run-fd-test: $f missing" >&2; exit 1; }
done
command -v prlimit >/dev/null || { echo "SKIPPED: fd-test: no prlimit (util-linux)"; exit 0; }

"$dnsd" -z "$top/bench/zone.txt" -P "$tmp/dns.port" -T 300 2>"$tmp/dns.err" &
dpid=$!
wait_for 10 -s "$tmp/dns.port" || { cat "$tmp/dns.err"; exit 1; }
port=$(cut -d' ' -f1 "$tmp/dns.port")

cat >"$tmp/milter.conf" <<EOF
socket = unix:$tmp/milter.sock
dns_servers = 127.0.0.1:$port
verify_helo = yes
reject_results = fail
log_destination = stderr
log_level = info
EOF
# prlimit runs the milter in its own process: the PID is the milter's.
prlimit --nofile=32:64 "$bin" -c "$tmp/milter.conf" 2>"$tmp/milter.log" &
mpid=$!
wait_for 10 -S "$tmp/milter.sock" || { cat "$tmp/milter.log"; exit 1; }

check "the soft limit raised to the hard one, and logged" \
    grep -q 'descriptor limit 64 (raised from 32)' "$tmp/milter.log"

value() {	# KEY: from mload's result line in $tmp/out
	tr ' ' '\n' <"$tmp/out" | sed -n "s/^$1=//p" | tail -n 1
}
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
episodes() {	# lines logged when refusing starts / ends
	grep -c "$1" "$tmp/milter.log"
}

# 1. 40 sessions at once, all sending MAIL FROM together: more than 64
# descriptors can serve with their DNS sockets.
"$mload" -q -s "unix:$tmp/milter.sock" -f "$cases" -B 40 -t 20000 \
    -l burst >"$tmp/out" 2>"$tmp/mload.err"
refused=$(($(value fail_connect) + $(value fail_neg)))
echo "  40 at once: $(value mail_replies) verified, $refused refused," \
    "$(value mismatches) wrong answers"
check "burst: some sessions refused" test "$refused" -gt 0
check "burst: at least 8 sessions admitted" test "$(value mail_replies)" -ge 8
check "burst: every admitted session verified, every answer right" \
    test "$(value mismatches)" = 0 -a "$(value fail_helo)" = 0 -a \
    "$(value fail_mail)" = 0
check "burst: no session short of a DNS socket" \
    sh -c "! grep -q 'resolver' '$tmp/milter.log'"
check "burst: refusing logged once" \
    test "$(episodes 'out of descriptors')" = 1

# 2. 80 idle sessions: the table full.  libmilter alone spun in accept().
"$mload" -q -s "unix:$tmp/milter.sock" -f "$cases" -i 80 -T 10 -l idle \
    >"$tmp/idle.out" 2>"$tmp/idle.err" &
lpid=$!
n=0
while [ "$(episodes 'out of descriptors')" -lt 2 ] && [ $n -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done
sleep 1
c0=$(cpu_ticks "$mpid")
sleep 3
c1=$(cpu_ticks "$mpid")
echo "  80 idle: $((c1 - c0)) ticks of CPU in 3 s ($tick per second)"
check "idle at the limit: no busy loop (CPU under 10 % over 3 s)" \
    test $((c1 - c0)) -le $((3 * tick / 10))
t0=$(date +%s)
"$mload" -q -s "unix:$tmp/milter.sock" -f "$cases" -n 1 -t 5000 -l late \
    >"$tmp/out" 2>/dev/null
late_rc=$?
t1=$(date +%s)
check "idle at the limit: a new connection refused at once" \
    test "$late_rc" -ne 0 -a $((t1 - t0)) -le 2
wait "$lpid"
lpid=
check "idle at the limit: some sessions were held open" \
    sh -c "sed -n 's/.*idle_conns=\([0-9]*\).*/\1/p' '$tmp/idle.out' | grep -qv '^0$'"

# 3. the sessions gone: served again, every answer right
"$mload" -q -s "unix:$tmp/milter.sock" -f "$cases" -n 24 -c 4 -l after \
    >"$tmp/out" 2>"$tmp/mload.err"
check "after: 24 transactions served, every answer right" \
    test "$(value tx)" = 24 -a "$(value errors)" = 0
check "two episodes: refusing logged twice, the end of it twice" \
    test "$(episodes 'out of descriptors')" = 2 -a \
    "$(episodes 'room again')" = 2

stop_pid "$mpid" 10
mpid=

# 4. out of threads: libmilter alone closed the connection it had no
# thread for, slept 1 s, 2 s, 3 s... before the next accept, and stopped
# the milter after 16 in a row.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	uid=$((60000 + $$ % 5000))
	chmod 755 "$tmp"
	mkdir -m 777 "$tmp/np"
	sed "s|^socket = .*|socket = unix:$tmp/np/milter.sock|" \
	    "$tmp/milter.conf" >"$tmp/np/milter.conf"
	chmod 644 "$tmp/np/milter.conf"
	setpriv --reuid="$uid" --regid="$uid" --clear-groups \
	    prlimit --nproc=12:12 "$bin" -c "$tmp/np/milter.conf" \
	    2>"$tmp/np.log" &
	npid=$!
	wait_for 10 -S "$tmp/np/milter.sock" || cat "$tmp/np.log"
	"$mload" -q -s "unix:$tmp/np/milter.sock" -f "$cases" -i 30 -T 8 \
	    -l idle >"$tmp/idle.out" 2>"$tmp/idle.err" &
	lpid=$!
	n=0
	while ! grep -q 'out of threads' "$tmp/np.log" && [ $n -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	sleep 1
	t0=$(date +%s)
	"$mload" -q -s "unix:$tmp/np/milter.sock" -f "$cases" -n 1 -t 5000 \
	    -l late >"$tmp/out" 2>/dev/null
	late_rc=$?
	t1=$(date +%s)
	check "threads: refusing logged" grep -q 'out of threads: RLIMIT_NPROC' "$tmp/np.log"
	check "threads: a new connection refused at once" \
	    test "$late_rc" -ne 0 -a $((t1 - t0)) -le 2
	wait "$lpid"
	lpid=
	echo "  30 idle under RLIMIT_NPROC 12:" \
	    "$(sed -n 's/.*idle_conns=\([0-9]*\).*/\1/p' "$tmp/idle.out") held open"
	check "threads: the milter is alive" kill -0 "$npid"
	"$mload" -q -s "unix:$tmp/np/milter.sock" -f "$cases" -n 24 -c 4 \
	    -l after >"$tmp/out" 2>"$tmp/mload.err"
	check "threads: then 24 transactions served, every answer right" \
	    test "$(value tx)" = 24 -a "$(value errors)" = 0
	stop_pid "$npid" 10
	npid=
	[ "$failed" -gt 0 ] && cat "$tmp/np.log"
else
	echo "SKIPPED: fd-test: out of threads (needs root for setpriv)"
fi

if [ "$failed" -gt 0 ]; then
	tail -n 20 "$tmp/milter.log"
	cat "$tmp/mload.err"
fi
echo "fd-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
