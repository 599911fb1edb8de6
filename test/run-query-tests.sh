#!/bin/sh
# run-query-tests.sh - `spf-milter -q` through udns against bench/dnsd, a
# C DNS server on 127.0.0.1: the common mechanisms, both address
# families, an explanation, the null sender, lookups that fail; what the
# milter would do (the action lines: HELO first, trusted networks,
# forwarders, exempt recipients); and -V.
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
helo.pass.test TXT "v=spf1 ip4:192.0.2.0/24 -all"
helo.fail.test TXT "v=spf1 -all"
77.100.51.198.in-addr.arpa PTR mx2.fwd.test
mx2.fwd.test A 198.51.100.77
66.100.51.198.in-addr.arpa PTR mx2.fwd.test
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

# --- the action: what the milter would do ---------------------------------
# has DESCRIPTION LINE: the output of the last query has LINE, whole
has() {
	if grep -qxF -- "$2" "$tmp/out"; then
		ok "$1"
	else
		not_ok "$1: no line \"$2\""
		sed 's/^/    | /' "$tmp/out"
	fi
}
# matches DESCRIPTION PATTERN: a line of the last query matches PATTERN
matches() {
	if grep -q -- "$2" "$tmp/out"; then
		ok "$1"
	else
		not_ok "$1: no line matches \"$2\""
		sed 's/^/    | /' "$tmp/out"
	fi
}
# lacks DESCRIPTION PATTERN: no line of the last query matches PATTERN
lacks() {
	if grep -q -- "$2" "$tmp/out"; then
		not_ok "$1: a line matches \"$2\""
		sed 's/^/    | /' "$tmp/out"
	else
		ok "$1"
	fi
}
query 198.51.100.1 user@fail.test helo.none.test
has "fail: the action is the configured reply" \
    "action: reject 550 5.7.23 SPF validation failed: 198.51.100.1 may not send mail for fail.test"
has "fail: the HELO result comes first" "helo: none"
query 192.0.2.1 user@pass.test helo.none.test
matches "pass: accept, with the field it would add (unfolded)" \
    '^action: accept, header Received-SPF: pass (mx.check.test: domain of user@pass.test designates 192.0.2.1 as permitted sender) receiver=mx.check.test; .*; identity=mailfrom$'
# a definitive HELO pass decides; the first line is still MAIL FROM's
query 192.0.2.1 user@fail.test helo.pass.test
if [ "$r" = fail ]; then ok "first line: the MAIL FROM result, whatever HELO gives"; else not_ok "first line \"$r\" is not MAIL FROM's fail"; fi
has "definitive HELO pass" "helo: pass"
matches "definitive HELO pass: accepted with the HELO field" \
    '^action: accept (HELO result definitive), header Received-SPF: pass .*identity=helo$'
query 192.0.2.1 user@pass.test helo.fail.test
has "HELO fail: refused for the HELO" \
    "action: reject 550 5.7.23 SPF validation failed: 192.0.2.1 is not a permitted sender for helo.fail.test"
query 127.0.0.1 user@fail.test helo.fail.test
has "trusted network" "action: accept, not verified (trusted_networks), no header field"

cat "$tmp/conf" - >"$tmp/fwd.conf" <<CONF
trusted_forwarders = mx2.fwd.test
exempt_recipients = postmaster
header = Authentication-Results
CONF
qfwd() {
	"$SPF_MILTER" -c "$tmp/fwd.conf" -q "$@" >"$tmp/out" 2>&1
	r=$(head -n 1 "$tmp/out")
}
qfwd 198.51.100.77 user@fail.test helo.none.test
has "forwarder: skipped, the true result recorded" \
    "action: skip (trusted forwarder mx2.fwd.test, PTR confirmed), header Authentication-Results: mx.check.test; spf=fail (not enforced: trusted forwarder mx2.fwd.test, PTR confirmed) smtp.mailfrom=fail.test"
matches "forwarder: the check and its cost" \
    '^exemption: trusted forwarder mx2.fwd.test, PTR confirmed (DNS questions: 2, [0-9]* ms)$'
has "forwarder: its trace" "  PTR name mx2.fwd.test: validated"
qfwd 198.51.100.66 user@fail.test mx2.fwd.test '<postmaster@check.test>' '<user@check.test>'
matches "forged PTR: not exempt" \
    '^exemption: none: no PTR name in trusted_forwarders confirmed (PTR lookup: answered) (DNS questions: 2, [0-9]* ms)$'
has "forged PTR: the trace says why" \
    "  PTR name mx2.fwd.test: not validated (its addresses do not include the client)"
has "exempt recipient accepted" "action: RCPT <postmaster@check.test>: accept (exempt_recipients)"
has "other recipient refused" \
    "action: RCPT <user@check.test>: reject 550 5.7.23 SPF validation failed: 198.51.100.66 may not send mail for fail.test"
has "delivered to the exempt one, the true result recorded" \
    "action: accept for the exempt recipients, header Authentication-Results: mx.check.test; spf=fail (not enforced: exempt recipients only) smtp.mailfrom=fail.test"
qfwd 198.51.100.66 user@fail.test helo.none.test
has "exempt_recipients without RCPT: refused at RCPT TO" \
    "action: reject 550 5.7.23 SPF validation failed: 198.51.100.66 may not send mail for fail.test at RCPT TO, but for exempt_recipients"
qfwd 192.0.2.1 user@pass.test helo.none.test
lacks "a pass asks no exemption" "^exemption:"
has "a pass: accept" "action: accept, header Authentication-Results: mx.check.test; spf=pass smtp.mailfrom=pass.test"

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
