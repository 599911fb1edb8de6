#!/bin/sh
# run-sendmail-test.sh - spf-milter behind Sendmail, with OpenDKIM and
# OpenDMARC in the chain spf-milter(8) documents for Sendmail: the SMTP
# replies as the client sees them (a configured text, an explanation with
# '%', a temporary error), our header fields where their readers look (on
# top, the final Received-SPF first), forged fields deleted, and the DMARC
# chain of the "SPF for DMARC" use case (aligned pass, SPF fail, spoofs,
# a DKIM-signed message).
#
# Debian's sendmail conflicts with postfix as a package: its .debs are
# fetched once with apt-get download into build/sendmail (like
# build/musl) and unpacked there, never installed.  Sendmail runs from
# there with a sendmail.cf built by m4, queueing what it accepts (the test
# reads the queue files); it runs as root in the namespaces of
# test/consumers/lib.sh, where its host name is qualified (else it waits
# a minute at start).  Every process it starts is stopped by its PID.
#
# Needs root, network access to Debian's mirrors for the first fetch,
# m4, and what run-consumers-test.sh needs but postfix and spamassassin.
# Exit 77: not root (skipped).  KEEP=1 keeps the scratch directory.
set -u

NAME=run-sendmail-test
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/test/consumers
bin=${SPF_MILTER:-$top/spf-milter}
python=${PYTHON:-/usr/bin/python3}
PATH=$PATH:/usr/sbin:/sbin
sm=$top/build/sendmail
smbin=$sm/root/usr/libexec/sendmail/sendmail

# shellcheck source=test/consumers/lib.sh
. "$src/lib.sh"

# --- Sendmail, unpacked once (outside the namespace: it needs the net) --
if [ "${CONSUMERS_INSIDE:-}" != 1 ] && [ "$(id -u)" -eq 0 ] &&
    [ ! -x "$smbin" ]; then
	command -v m4 >/dev/null 2>&1 || { echo "$NAME: m4 is not installed" >&2; exit 1; }
	rm -rf "$sm" && mkdir -p "$sm/debs" || exit 1
	# a mirror in the middle of a sync can fail one request
	for _ in 1 2 3; do
		(cd "$sm/debs" && apt-get download -q sendmail-bin \
		    sendmail-base sendmail-cf libwrap0 >/dev/null 2>&1) && break
		sleep 5
	done
	for d in "$sm"/debs/*.deb; do
		dpkg-deb -x "$d" "$sm/root" || exit 1
	done
	if [ ! -x "$smbin" ]; then
		echo "$NAME: could not fetch Debian's sendmail into $sm" >&2
		exit 1
	fi
	# setgid smmsp: the loader would ignore LD_LIBRARY_PATH (libwrap)
	chmod g-s "$smbin"
fi
ns_enter "$0" "$@"

T=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-sendmail.XXXXXX") || exit 1
chmod 755 "$T"
smpid=
extra_logs=$T/sendmail.log

cleanup() {
	[ -n "$smpid" ] && stop_pid "$smpid" 10
	ns_teardown
}
trap cleanup EXIT
trap 'exit 1' INT TERM

missing=$(LD_LIBRARY_PATH=$sm/root/usr/lib/x86_64-linux-gnu ldd "$smbin" |
    grep 'not found')
[ -z "$missing" ] || die "sendmail lacks libraries: $missing"

ns_setup
start_dns
start_dkim_dmarc

# --- sendmail.cf: the filters as spf-milter(8) lists them ---------------
mkdir -p "$T/queue"
chmod 700 "$T/queue"
doc_block "$top/spf-milter.8" '.\" consumers-test: sendmail.mc' > "$T/filters.mc"
grep -q "^INPUT_MAIL_FILTER(\`spf-milter'" "$T/filters.mc" ||
    die "no sendmail.mc in spf-milter.8"
cat > "$T/sendmail.mc" <<EOF
divert(-1)
Sendmail of run-sendmail-test.sh: accepts mail for test.example on
192.0.2.25:25 and queues it, never delivers.
divert(0)dnl
include(\`$sm/root/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(\`spf-milter test')dnl
OSTYPE(\`linux')dnl
define(\`QUEUE_DIR', \`$T/queue')dnl
define(\`confPID_FILE', \`$T/sendmail.pid')dnl
define(\`STATUS_FILE', \`$T/statistics')dnl
define(\`ALIAS_FILE', \`')dnl
define(\`confHELP_FILE', \`')dnl
define(\`confDELIVERY_MODE', \`queueonly')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confLOG_LEVEL', \`9')dnl
DAEMON_OPTIONS(\`Port=25, Addr=192.0.2.25, Name=MTA')dnl
FEATURE(\`accept_unresolvable_domains')dnl
LOCAL_DOMAIN(\`test.example')dnl
include(\`$T/filters.mc')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
EOF
m4 "$T/sendmail.mc" > "$T/sendmail.cf" 2> "$T/m4.log" || die "m4"
grep -q '^O InputMailFilters=spf-milter, opendkim, opendmarc$' "$T/sendmail.cf" ||
    die "sendmail.cf does not list the three filters in order"
LD_LIBRARY_PATH=$sm/root/usr/lib/x86_64-linux-gnu "$smbin" -bD \
    -C "$T/sendmail.cf" > "$T/sendmail.log" 2>&1 &
smpid=$!
pids="$pids $smpid"

rcpt=root@test.example
mta_accepted() {	# SWAKS-DIALOGUE
	grep -q '^<- *250 2\.0\.0 .* Message accepted for delivery' "$1"
}
# The queued message: its H lines (with their "H?flags?" taken off) and
# continuation lines, a blank line, the body.
mta_message() {	# R
	_id=$(sed -n 's/^<- *250 2\.0\.0 \([^ ]*\) Message accepted.*/\1/p' "$1.swaks")
	awk '/^H/ { h = 1; sub(/^H\?[^?]*\?/, ""); print; next }
	    /^\t/ && h { print; next } { h = 0 }' "$T/queue/qf$_id" > "$1.msg"
	echo >> "$1.msg"
	cat "$T/queue/df$_id" >> "$1.msg"
}

# The reply the client saw; Sendmail puts "<address>... " before the
# text of a permanent one.
reply_is() {	# UC NAME CODE STATUS TEXT
	grep -q "^<\*\* *$3 $4 \(<[^>]*>\.\.\. \)\{0,1\}$5\$" "$T/res/$1.$2.swaks"
}

wait_mta || die "Sendmail does not answer on 192.0.2.25:25"
uc="Standard SPF"
tag=standard
use_case "$uc" "$T/$tag.conf"
echo "dns_timeout = 2" >> "$T/$tag.conf"
start_milter "$T/$tag.conf"
hist=$T/dmarc-fields.hist
echo "--- Sendmail, use case: $uc"
send $tag fail 192.0.2.66 client.attacker.example joe@victim.example victim.example
send $tag exp 192.0.2.66 client.attacker.example 'e%vil@exp.example' exp.example
send $tag temp 192.0.2.66 client.attacker.example joe@temp.example temp.example
check "Sendmail: fail: the configured reply" reply_is $tag fail 550 5.7.23 \
    'SPF validation failed: 192.0.2.66 is not a permitted sender for victim.example'
check "Sendmail: exp= with '%': one '%' arrives" reply_is $tag exp 550 5.7.23 \
    'SPF validation failed: e%vil at exp.example is 100% not welcome'
check "Sendmail: temperror: 451 4.7.24" reply_is $tag temp 451 4.7.24 \
    'Temporary error in SPF validation for temp.example, try again later'

uc="Both header fields"
tag=both
use_case "$uc" "$T/$tag.conf"
start_milter "$T/$tag.conf"
echo "--- Sendmail, use case: $uc"
send $tag pass 192.0.2.1 client.pass.example ann@pass.example neutral.example \
    --add-header "$(forged_rspf pass.example)" \
    --add-header "$(forged_ar pass.example)"
check "Sendmail: accepted" outcome_is $tag pass delivered
check "Sendmail: our fields on top, above Sendmail's Received" \
    above $tag pass '^Authentication-Results: mx.example.org; spf=none smtp.helo=client.pass.example; spf=pass smtp.mailfrom=pass.example$' '^Received: from '
check "Sendmail: the final Received-SPF on top, the HELO one below" \
    above $tag pass '^Received-SPF: pass (mx.example.org: domain of ann@pass.example designates 192.0.2.1 as permitted sender) receiver=mx.example.org; client-ip=192.0.2.1; envelope-from="ann@pass.example"; helo=client.pass.example; mechanism="ip4:192.0.2.1"; identity=mailfrom$' \
    '^Received-SPF: none (mx.example.org: domain of client.pass.example does not designate permitted sender hosts) receiver=mx.example.org; client-ip=192.0.2.1; envelope-from="ann@pass.example"; helo=client.pass.example; identity=helo$'
check "Sendmail: Received-SPF fields on top, then Authentication-Results" \
    above $tag pass '^Received-SPF: none' '^Authentication-Results: mx.example.org; spf='
check "Sendmail: forged fields deleted" lacks_header $tag pass \
    'designates 192.0.2.66\|^Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=pass.example$'

uc="SPF for DMARC"
tag=dmarc
use_case "$uc" "$T/$tag.conf"
start_milter "$T/$tag.conf"
echo "--- Sendmail, use case: $uc"
send $tag pass 192.0.2.1 client.pass.example ann@pass.example pass.example
send $tag fail 192.0.2.66 client.attacker.example joe@victim.example victim.example
send $tag helo-rescue 192.0.2.66 attacker.example joe@victim.example victim.example
send $tag forged-both 192.0.2.66 client.attacker.example joe@soft.example \
    soft.example --add-header "$(forged_rspf soft.example)" \
    --add-header "$(forged_ar soft.example)"
send $tag forged-dkim 192.0.2.66 client.attacker.example x@nospf.example \
    victim.example --add-header "Authentication-Results: mx.example.org; dkim=pass header.d=victim.example header.s=sel"
send $tag dkim 192.0.2.66 client.attacker.example x@nospf.example signed.example
check "Sendmail, $uc: aligned pass accepted" outcome_is $tag pass delivered
check "Sendmail, $uc: aligned pass: OpenDMARC took our pass" hist_spf $tag pass 0
check "Sendmail, $uc: aligned pass: dmarc=pass" \
    has_header $tag pass '^Authentication-Results: mx.example.org; dmarc=pass (p=reject dis=none) header.from=pass.example'
check "Sendmail, $uc: fail refused by OpenDMARC" outcome_is $tag fail dmarc
check "Sendmail, $uc: fail: OpenDMARC took our fail" hist_spf $tag fail 7
check "Sendmail, $uc: a HELO pass rescues nothing" outcome_is $tag helo-rescue dmarc
check "Sendmail, $uc: forged pass refused" outcome_is $tag forged-both dmarc
check "Sendmail, $uc: forged pass: OpenDMARC took no SPF pass" \
    no_spf_pass $tag forged-both
check "Sendmail, $uc: forged DKIM result refused" outcome_is $tag forged-dkim dmarc
check "Sendmail, $uc: DKIM-signed accepted" outcome_is $tag dkim delivered
check "Sendmail, $uc: OpenDKIM's result kept" \
    has_header $tag dkim '^Authentication-Results: mx.example.org; dkim=pass'
check "Sendmail, $uc: DKIM-signed: dmarc=pass" \
    has_header $tag dkim 'dmarc=pass (p=reject dis=none) header.from=signed.example'

if [ $failures -gt 0 ]; then
	echo "$NAME: $failures of $checks checks failed (logs in $T with KEEP=1)"
	exit 1
fi
echo "$NAME: all $checks checks passed"
