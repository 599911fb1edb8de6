#!/bin/sh
# run-ipv6-test.sh - a client with an IPv6 address through two builds of
# the milter: NOINET6, linked with a libmilter built without NETINET6
# (as OpenWrt's libmilter-sendmail is), must fail the session, which
# shows the test sees the fault; INET6 (libmilter with NETINET6) must
# serve it and record pass for that client.
#
#   sh test/run-ipv6-test.sh NOINET6_BINARY INET6_BINARY
#
# test/run-openwrt-test.sh builds both the way the OpenWrt package does.
# Needs miltertest and bench/dnsd (a DNS server on loopback serving the
# sender's SPF record).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=test/lib.sh
. "$top/test/lib.sh"
noinet6=$1
inet6=$2
DNSD=${DNSD:-$top/bench/dnsd}
MILTERTEST=${MILTERTEST:-miltertest}
command -v "$MILTERTEST" >/dev/null 2>&1 ||
	{ echo "ipv6-test: $MILTERTEST missing (apt-get install miltertest)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-ipv6.XXXXXX") || exit 1
dnsd_pid='' milter_pid=''
cleanup() {
	stop_pid "$milter_pid" 10
	stop_pid "$dnsd_pid" 5
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }

printf '%s\n' 'v6.test TXT "v=spf1 ip6:2001:db8::/32 -all"' >"$tmp/zone"
"$DNSD" -z "$tmp/zone" -P "$tmp/port" -T 120 2>"$tmp/dnsd.err" &
dnsd_pid=$!
wait_for 10 -s "$tmp/port" || { cat "$tmp/dnsd.err"; exit 1; }
port=$(cut -d' ' -f1 "$tmp/port")

# session NAME BINARY: one IPv6 session with BINARY; the miltertest
# output in $tmp/NAME.mt, the milter's log in $tmp/NAME.log.
session() {
	sock=$tmp/$1.sock
	cat >"$tmp/$1.conf" <<CONF
socket = unix:$sock
dns_servers = 127.0.0.1:$port
dns_timeout = 3
hostname = mx.v6.test
log_destination = stderr
log_level = debug
CONF
	"$2" -c "$tmp/$1.conf" 2>"$tmp/$1.log" &
	milter_pid=$!
	wait_for 10 -S "$sock" || { cat "$tmp/$1.log"; return 1; }
	timeout 30 "$MILTERTEST" -D "sock=unix:$sock" -D ip=2001:db8::25 \
		-s "$top/test/ipv6/session.lua" >"$tmp/$1.mt" 2>&1
	rc=$?
	stop_pid "$milter_pid" 10
	milter_pid=''
	sed 's/^/    | /' "$tmp/$1.mt" "$tmp/$1.log"
	[ "$rc" -eq 0 ] && grep -q '^session: ok' "$tmp/$1.mt"
}

echo "# libmilter without NETINET6 (OpenWrt's libmilter-sendmail)"
if session noinet6 "$noinet6"; then
	not_ok "without NETINET6 the IPv6 session fails"
else
	ok "without NETINET6 the IPv6 session fails"
fi
if grep -q 'client=2001:db8::25' "$tmp/noinet6.log"; then
	not_ok "without NETINET6 the milter never sees the client"
else
	ok "without NETINET6 the milter never sees the client"
fi

echo "# libmilter with NETINET6"
if session inet6 "$inet6"; then
	ok "with NETINET6 the IPv6 client is served: pass, header inserted"
else
	not_ok "with NETINET6 the IPv6 client is served: pass, header inserted"
fi
if grep -q 'client=2001:db8::25 identity=mailfrom .* result=pass' "$tmp/inet6.log"; then
	ok "with NETINET6 the milter logs pass for 2001:db8::25"
else
	not_ok "with NETINET6 the milter logs pass for 2001:db8::25"
fi

echo "ipv6-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
