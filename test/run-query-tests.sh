#!/bin/sh
# run-query-tests.sh - `spf-milter -q` through udns against bench/dnsd, a
# C DNS server on 127.0.0.1: the common mechanisms, both address
# families, an explanation, the null sender, lookups that fail; and -V.
# Needs nothing but the two binaries, so `make check` runs it.
#
#   VERSION=x.y.z sh test/run-query-tests.sh
#
# SPF_MILTER and DNSD name other binaries.  Without UDP over loopback (a
# network namespace whose lo is down) it says SKIPPED and passes.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=test/lib.sh
. "$top/test/lib.sh"
SPF_MILTER=${SPF_MILTER:-$top/spf-milter}
DNSD=${DNSD:-$top/bench/dnsd}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-query.XXXXXX") || exit 1
dnsd_pid=
trap 'stop_pid "$dnsd_pid" 5; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

cat >"$tmp/zone" <<'ZONE'
pass.test TXT "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"
fail.test TXT "v=spf1 -all exp=exp.fail.test"
exp.fail.test TXT "%{i} may not send mail for %{d}"
soft.test TXT "v=spf1 ~all"
neutral.test TXT "v=spf1 ?all"
a.test TXT "v=spf1 a mx -all"
a.test A 192.0.2.10
a.test MX 10 mx.a.test
mx.a.test A 192.0.2.20
mx.a.test AAAA 2001:db8::20
inc.test TXT "v=spf1 include:pass.test -all"
redir.test TXT "v=spf1 redirect=a.test"
two.test TXT "v=spf1 -all"
two.test TXT "v=spf1 +all"
bad.test TXT "v=spf1 ip4:192.0.2.300 -all"
exists.test TXT "v=spf1 exists:%{ir}.list.test -all"
1.2.0.192.list.test A 127.0.0.2
split.test TXT "v=spf1 " "ip4:198.51.100.0/24 " "-all"
ZONE

"$DNSD" -z "$tmp/zone" -P "$tmp/port" -L "$tmp/queries" -T 120 \
	2>"$tmp/dnsd.err" &
dnsd_pid=$!
if ! wait_for 10 -s "$tmp/port"; then
	cat "$tmp/dnsd.err"
	echo "query-tests: bench/dnsd did not start"
	exit 1
fi
port=$(cut -d' ' -f1 "$tmp/port")
cat >"$tmp/conf" <<CONF
socket = inet:8894@127.0.0.1
dns_servers = 127.0.0.1:$port
dns_timeout = 3
hostname = mx.check.test
CONF

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }

# query IP SENDER HELO: the output of -q in $tmp/out, its first line in $r
query() {
	"$SPF_MILTER" -c "$tmp/conf" -q "$@" >"$tmp/out" 2>&1
	r=$(head -n 1 "$tmp/out")
}

# The first question tells whether loopback works at all.
query 192.0.2.1 user@pass.test mx.pass.test
if [ "$r" = temperror ] && [ ! -s "$tmp/queries" ]; then
	echo "SKIPPED: query: no UDP over 127.0.0.1 (a network namespace with lo down?)"
	exit 0
fi

# expect RESULT IP SENDER HELO
expect() {
	want=$1
	shift
	query "$@"
	if [ "$r" = "$want" ]; then
		ok "$want: $*"
	else
		not_ok "$*: \"$r\", expected $want"
		sed 's/^/    | /' "$tmp/out"
	fi
}

expect pass 192.0.2.1 user@pass.test mx.pass.test
expect pass 2001:db8::5 user@pass.test mx.pass.test
expect fail 198.51.100.1 user@pass.test mx.pass.test
expect softfail 198.51.100.1 user@soft.test mx.soft.test
expect neutral 198.51.100.1 user@neutral.test mx.neutral.test
expect pass 192.0.2.10 user@a.test mx.a.test
expect pass 192.0.2.20 user@a.test mx.a.test
expect pass 2001:db8::20 user@a.test mx.a.test
expect fail 2001:db8::21 user@a.test mx.a.test
expect pass 192.0.2.7 user@inc.test mx.inc.test
expect pass 192.0.2.10 user@redir.test mx.redir.test
expect pass 192.0.2.1 user@exists.test mx.exists.test
expect fail 192.0.2.2 user@exists.test mx.exists.test
expect pass 198.51.100.9 user@split.test mx.split.test
expect permerror 192.0.2.1 user@two.test mx.two.test
expect permerror 192.0.2.1 user@bad.test mx.bad.test
expect none 192.0.2.1 user@nothing.test mx.nothing.test
# the null sender: postmaster@HELO is checked
expect pass 192.0.2.10 "" a.test

query 198.51.100.1 user@fail.test mx.fail.test
if [ "$r" = fail ] &&
    grep -qxF 'explanation: 198.51.100.1 may not send mail for fail.test' "$tmp/out"; then
	ok "fail with the domain's explanation"
else
	not_ok "fail with the domain's explanation"
	sed 's/^/    | /' "$tmp/out"
fi
if grep -q '^Received-SPF: fail (mx.check.test: ' "$tmp/out"; then
	ok "the Received-SPF field names the configured hostname"
else
	not_ok "the Received-SPF field names the configured hostname"
fi

if "$SPF_MILTER" -c "$tmp/conf" -q 192.0.2.1 >"$tmp/out" 2>&1; then
	not_ok "-q with two arguments is refused"
else
	ok "-q with two arguments is refused"
fi

v=$("$SPF_MILTER" -V 2>&1)
if [ -z "${VERSION:-}" ] || [ "$v" = "spf-milter $VERSION" ]; then
	ok "-V prints \"$v\""
else
	not_ok "-V prints \"$v\", expected \"spf-milter $VERSION\""
fi

echo "query-tests: $pass passed, $fail failed ($(wc -l <"$tmp/queries") DNS questions)"
[ "$fail" -eq 0 ]
