#!/bin/sh
# run-burst-test.sh - the reply deadline under a burst of sessions, with a
# nameserver that never answers (bench/dnsd -n): every MAIL FROM reply
# within 2 x dns_timeout + 1 s and every negotiation within 1 s, for 200
# sessions that connect at once and then send MAIL FROM at once; then
# the same with 1000 idle sessions held open; then with the exemption
# checks of issue 12 (a temperror refused, forwarders to look for), with
# and without HELO verified.  libmilter's worker pool
# (Debian's build) fails it: sessions queue behind blocked callbacks.
# The short version of bench/burst.sh (bench/README).
#
#   sh test/run-burst-test.sh       SPF_MILTER=... for another binary
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${SPF_MILTER:-$top/spf-milter}
mload=$top/bench/mload
dnsd=$top/bench/dnsd
# dns_timeout in seconds, sessions in the burst, idle sessions
timeout=2
burst=${BURST_SESSIONS:-200}
idle=${BURST_IDLE:-1000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-burst.XXXXXX") || exit 1
mpid='' dpid=''

# shellcheck source=test/lib.sh
. "$top/test/lib.sh"

cleanup() {
	stop_pid "$mpid" 10
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
	[ -x "$f" ] || { echo "run-burst-test: $f missing" >&2; exit 1; }
done

# A nameserver that reads every question and answers none.
"$dnsd" -z "$top/bench/zone.txt" -n -P "$tmp/dns.port" -L "$tmp/dns.log" \
    -T 300 2>"$tmp/dns.err" &
dpid=$!
wait_for 10 -s "$tmp/dns.port" || { cat "$tmp/dns.err"; exit 1; }
port=$(cut -d' ' -f1 "$tmp/dns.port")

# HELO and MAIL FROM both verified, neither final nor refused on
# temperror: each session waits out dns_timeout twice.
cat >"$tmp/milter.conf" <<EOF
socket = unix:$tmp/milter.sock
dns_servers = 127.0.0.1:$port
dns_timeout = $timeout
verify_helo = yes
definitive_helo_results = pass, fail
reject_helo_results = fail
reject_results = fail
log_destination = stderr
log_level = info
EOF
"$bin" -c "$tmp/milter.conf" 2>"$tmp/milter.log" &
mpid=$!
wait_for 10 -S "$tmp/milter.sock" || { cat "$tmp/milter.log"; exit 1; }

check "the milter runs a thread per connection (no worker pool warning)" \
    sh -c "! grep -q 'worker pool' '$tmp/milter.log'"

# value KEY: from the last result line of mload
value() {
	tr ' ' '\n' <"$tmp/out" | sed -n "s/^$1=//p" | tail -n 1
}
# le A B: A <= B, decimals allowed
le() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'
}

mail_bound=$((2 * timeout * 1000 + 1000))
run_burst() {	# LABEL MLOAD-ARGS...
	label=$1
	shift
	"$mload" -q -s "unix:$tmp/milter.sock" -f "$top/bench/cases.txt" \
	    -E any -t 60000 -l "$label" "$@" >"$tmp/out" 2>"$tmp/mload.err"
	echo "  $label: negotiation max $(value neg_max_ms) ms" \
	    "p99 $(value neg_p99_ms) ms; MAIL FROM max $(value mail_max_ms) ms" \
	    "p99 $(value mail_p99_ms) ms p50 $(value mail_p50_ms) ms;" \
	    "$(value mail_replies) replies, $(value errors) errors"
	check "$label: every session got its MAIL FROM reply" \
	    test "$(value mail_replies)" = "$(value burst)"
	check "$label: no errors" test "$(value errors)" = 0
	check "$label: every negotiation within 1000 ms" \
	    le "$(value neg_max_ms)" 1000
	check "$label: every MAIL FROM reply within $mail_bound ms" \
	    le "$(value mail_max_ms)" "$mail_bound"
	# the DNS was dead and both identities waited for it
	check "$label: MAIL FROM replies took 2 x dns_timeout (median)" \
	    le $((2 * timeout * 1000 - 300)) "$(value mail_p50_ms)"
}

run_burst "burst of $burst" -B "$burst"

# the hard descriptor limit (the milter and mload raise theirs to it)
hard=$(awk '/^Max open files/ { print $5 }' /proc/self/limits)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((2 * idle + 2 * burst + 100)) ]; then
	echo "SKIPPED: $idle idle sessions: descriptor hard limit $hard"
else
	run_burst "burst of $burst with $idle idle" -B "$burst" -i "$idle"
fi

# The exemption checks share the deadline (spf-milter.conf(5)): after
# HELO and MAIL FROM took dns_timeout each, none is left for them; with
# MAIL FROM alone they get dns_timeout.  Either way 2 x dns_timeout.
reload_with() {	# LINES: appended to the configuration, then SIGUSR1
	n=$(grep -c 'configuration reloaded' "$tmp/milter.log")
	printf '%s\n' "$@" >>"$tmp/milter.conf"
	kill -USR1 "$mpid"
	k=0
	while [ "$(grep -c 'configuration reloaded' "$tmp/milter.log")" -le "$n" ] &&
	    [ $k -lt 100 ]; do
		sleep 0.1
		k=$((k + 1))
	done
	check "reloaded with $*" \
	    test "$(grep -c 'configuration reloaded' "$tmp/milter.log")" -gt "$n"
}
sed -i -e '/^reject_results =/d' "$tmp/milter.conf"
reload_with "reject_results = fail, temperror" \
    "trusted_forwarders = mx2.example.org, .example.net" \
    "trusted_forwarder_domains = forwarder.example"
run_burst "burst of $burst, HELO + MAIL FROM + exemption checks" -B "$burst"
check "exemption checks: no time left after HELO and MAIL FROM" \
    grep -q 'not exempt: no time left within 2 x dns_timeout' "$tmp/milter.log"
sed -i -e '/^verify_helo =/d' "$tmp/milter.conf"
reload_with "verify_helo = no"
run_burst "burst of $burst, MAIL FROM + exemption checks" -B "$burst"
check "exemption checks: the PTR question asked, timed out" \
    grep -q 'not exempt: no PTR name in trusted_forwarders confirmed (PTR lookup: timeout)' "$tmp/milter.log"

check "the nameserver was asked (and never answered)" test -s "$tmp/dns.log"
stop_pid "$mpid" 10
wait "$mpid" 2>/dev/null
mpid=
if [ "$failed" -gt 0 ]; then
	tail -n 20 "$tmp/milter.log"
	cat "$tmp/mload.err"
fi
echo "burst-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
