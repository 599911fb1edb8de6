#!/bin/sh
# run-postfix-test.sh - end to end: a private Postfix on 127.0.0.1 (no
# chroot, virtual Maildir delivery, nothing under /etc/postfix touched)
# with smtpd_milters pointing at spf-milter, mail sent with swaks.  The
# delivered message must carry the expected header fields, a forged
# Authentication-Results must be gone and another server's kept; a refused
# sender must see the configured reply and nothing may arrive.  Then,
# with exempt_recipients (a reload), a failing sender's message to
# postmaster is delivered while another recipient of the same transaction
# is refused at RCPT TO.
#
# Needs root (Postfix's master and the milter's switch to user postfix),
# and the packages postfix and swaks.  Every process it starts is stopped
# by its PID.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${SPF_MILTER:-$top/spf-milter}
python=${PYTHON:-/usr/bin/python3}
src=$top/test/postfix

if [ "$(id -u)" -ne 0 ]; then
	echo "run-postfix-test: needs root (Postfix master); skipped" >&2
	exit 77
fi
for cmd in postfix swaks; do
	if ! command -v $cmd >/dev/null 2>&1 && [ ! -x /usr/sbin/$cmd ]; then
		echo "run-postfix-test: $cmd is not installed" >&2
		exit 1
	fi
done
PATH=$PATH:/usr/sbin

PF=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-postfix.XXXXXX") || exit 1
chmod 755 "$PF"
dnspid=
mpid=
postfix_up=

# shellcheck source=test/lib.sh
. "$top/test/lib.sh"

cleanup() {
	if [ -n "$postfix_up" ]; then
		postfix -c "$PF/etc" stop >/dev/null 2>&1
		master=$(tr -d ' ' < "$PF/queue/pid/master.pid" 2>/dev/null)
		[ -n "$master" ] && stop_pid "$master" 10
	fi
	stop_pid "$mpid" 10
	stop_pid "$dnspid" 5
	if [ -n "${KEEP:-}" ]; then
		echo "run-postfix-test: kept $PF"
	else
		rm -rf "$PF"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failures=0
check() {	# DESCRIPTION COMMAND...
	what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		failures=$((failures + 1))
	fi
}

free_port() {
	"$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

subst() {	# FILE: the test's placeholders filled in
	sed -e "s|@PF@|$PF|g" -e "s|@DNSPORT@|$dnsport|g" -e "s|@PORT@|$port|g" "$1"
}

# --- DNS, milter, Postfix ------------------------------------------------
"$python" "$top/test/dnsserver.py" --zone "$src/zone" --portfile "$PF/dnsport" &
dnspid=$!
wait_for 20 -e "$PF/dnsport" || { echo "FAIL: DNS server did not start"; exit 1; }
read -r dnsport _ < "$PF/dnsport"
port=$(free_port)

mkdir -p "$PF/etc" "$PF/queue" "$PF/data" "$PF/mail" "$PF/milter"
chown postfix "$PF/data" "$PF/milter"
chown 65534:65534 "$PF/mail"
subst "$src/main.cf" > "$PF/etc/main.cf"
subst "$src/master.cf" > "$PF/etc/master.cf"
subst "$src/spf-milter.conf" > "$PF/spf-milter.conf"

"$bin" -c "$PF/spf-milter.conf" > "$PF/milter.log" 2>&1 &
mpid=$!
if ! wait_for 20 -S "$PF/milter/spf-milter.sock"; then
	echo "FAIL: the milter did not start"
	cat "$PF/milter.log"
	exit 1
fi
check "milter runs as user postfix" \
    test "$(ps -o user= -p "$mpid" | tr -d ' ')" = postfix
check "socket belongs to postfix, mode 0660" \
    test "$(stat -c '%U %a' "$PF/milter/spf-milter.sock")" = "postfix 660"

if ! postfix -c "$PF/etc" check; then
	echo "FAIL: postfix check"
	exit 1
fi
postfix -c "$PF/etc" start || { echo "FAIL: postfix start"; exit 1; }
postfix_up=1
n=0
while ! swaks --server 127.0.0.1 --port "$port" --quit-after CONNECT \
    >/dev/null 2>&1 && [ $n -lt 100 ]; do
	sleep 0.2
	n=$((n + 1))
done

# --- the mail -------------------------------------------------------------
send() {	# FROM OUTFILE [swaks options]
	from=$1
	out=$2
	shift 2
	timeout 60 swaks --server 127.0.0.1 --port "$port" --from "$from" \
	    --to user@test.example --helo client.test.example \
	    --body "test message" "$@" > "$out" 2>&1
}

count_mail() {
	find "$PF/mail/inbox/new" -type f 2>/dev/null | wc -l
}

delivered() {	# COUNT: wait until COUNT messages are in the Maildir
	n=0
	while [ "$(count_mail)" -lt "$1" ] && [ $n -lt 200 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	[ "$(count_mail)" -eq "$1" ]
}

# ours forged twice, around two of other servers: the indices must hold
send a@pass.example "$PF/pass.out" \
    --add-header "Authentication-Results: other.example; dkim=pass header.d=example.com" \
    --add-header "Authentication-Results: mx.test.example; spf=pass smtp.mailfrom=forged@example.com" \
    --add-header "Authentication-Results: third.example; spf=none" \
    --add-header "Authentication-Results: (x) MX.Test.Example; dkim=pass header.d=forged@example.com"
check "pass: accepted" grep -q '^<- *250 .*queued as' "$PF/pass.out"
check "pass: delivered" delivered 1
msg=$(find "$PF/mail/inbox/new" -type f 2>/dev/null | head -n 1)
[ -n "$msg" ] || msg=/dev/null
# the header block only, folded lines joined
hdr=$(sed -e '/^$/q' "$msg" | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[ \t]\+/ /g')
has() { printf '%s\n' "$hdr" | grep -q -- "$1"; }
check "Received-SPF: pass" has '^Received-SPF: pass (mx.test.example: domain of a@pass.example designates 127.0.0.1 as permitted sender)'
check "Received-SPF: keys" has 'receiver=mx.test.example; client-ip=127.0.0.1; envelope-from="a@pass.example"; helo=client.test.example; mechanism="ip4:127.0.0.1"; identity=mailfrom$'
check "Authentication-Results: ours" has '^Authentication-Results: mx.test.example; spf=pass smtp.mailfrom=pass.example$'
check "forged Authentication-Results deleted" sh -c "! printf '%s\n' \"\$1\" | grep -q forged@example.com" _ "$hdr"
check "other server's Authentication-Results kept" has '^Authentication-Results: other.example; dkim=pass'
check "third server's Authentication-Results kept" has '^Authentication-Results: third.example; spf=none'
first=$(printf '%s\n' "$hdr" | grep -n -m1 '^Received-SPF:' | cut -d: -f1)
recv=$(printf '%s\n' "$hdr" | grep -n -m1 '^Received:' | cut -d: -f1)
check "our fields on top, above Postfix's Received" test "${first:-99}" -lt "${recv:-0}"

# Issue 11 item 6: a field over 2048 bytes keeps every pair, whole, and
# every line of it fits RFC 5322's 998 octets.
longhelo=$(printf 'h%.0s.' $(seq 1 700))example
longlocal=$(printf 'l%.0s' $(seq 1 500))
timeout 60 swaks --server 127.0.0.1 --port "$port" --from "$longlocal@pass.example" \
    --to user@test.example --helo "$longhelo" --header "Subject: long" \
    --body "test message" > "$PF/long.out" 2>&1
check "long HELO and sender: accepted" grep -q '^<- *250 .*queued as' "$PF/long.out"
check "long HELO and sender: delivered" delivered 2
long=$(grep -l '^Subject: long$' "$PF"/mail/inbox/new/* 2>/dev/null | head -n 1)
[ -n "$long" ] || long=/dev/null
lhdr=$(sed -e '/^$/q' "$long" | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[ \t]\{1,\}/ /g')
lrspf=$(printf '%s\n' "$lhdr" | grep '^Received-SPF: ')
check "long: Received-SPF over 2048 bytes" test "${#lrspf}" -gt 2048
# folded inside its quotes: the fold is the one change (RFC 5322 3.2.4)
lhelo=$(printf '%s\n' "$lrspf" | sed -n 's/.* helo="\([^"]*\)";.*/\1/p' | tr -d ' ')
check "long: helo= whole, folded in its quotes" test "$lhelo" = "$longhelo"
check "long: envelope-from= whole" sh -c 'printf "%s\n" "$1" | grep -q "envelope-from=\"$2@pass.example\";"' _ "$lrspf" "$longlocal"
check "long: identity= last" sh -c 'printf "%s\n" "$1" | grep -q "; identity=mailfrom\$"' _ "$lrspf"
# (Postfix's own Received line carries the HELO name unfolded)
check "long: every line of our fields within 998 octets" \
    sh -c '! sed -e "/^\$/q" "$1" | awk "/^[^ \t]/ { ours = /^(Received-SPF|Authentication-Results):/ } ours" |
    grep -q ".\{999\}"' _ "$long"

send x@fail.example "$PF/fail.out"
check "fail: client sees the configured reply" \
    grep -q '^<\*\* *550 5.7.23 SPF validation failed: 127.0.0.1 is not a permitted sender for fail.example' "$PF/fail.out"

send 'evil@exp.example' "$PF/exp.out"
check "exp=: '%' arrives as one '%'" \
    grep -q '^<\*\* *550 5.7.23 SPF validation failed: evil at exp.example is 100% not welcome$' "$PF/exp.out"

send x@temp.example "$PF/temp.out"
check "temperror: 451 4.7.24" grep -q '^<\*\* *451 4.7.24 ' "$PF/temp.out"

check "nothing refused was delivered" delivered 2
check "Postfix logged the milter reject" grep -q 'milter-reject: MAIL from' "$PF/maillog"

# --- issue 12: exempt_recipients, refusals at RCPT TO ---------------------
echo "exempt_recipients = postmaster" >> "$PF/spf-milter.conf"
kill -USR1 "$mpid"
n=0
while ! grep -q 'configuration reloaded' "$PF/milter.log" && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
check "milter reloaded with exempt_recipients" grep -q 'configuration reloaded' "$PF/milter.log"
timeout 60 swaks --server 127.0.0.1 --port "$port" --from x@fail.example \
    --to postmaster@test.example,user@test.example \
    --helo client.test.example --header "Subject: to postmaster" \
    --body "test message" > "$PF/rcpt.out" 2>&1
check "RCPT postmaster accepted" sh -c 'grep -A1 "^ -> RCPT TO:<postmaster@test.example>" "$1" | grep -q "^<- *250 "' _ "$PF/rcpt.out"
check "RCPT user refused with the configured reply" \
    sh -c 'grep -A1 "^ -> RCPT TO:<user@test.example>" "$1" | grep -q "^<\*\* *550 5.7.23 SPF validation failed: 127.0.0.1 is not a permitted sender for fail.example"' _ "$PF/rcpt.out"
check "the message queued for postmaster" grep -q '^<- *250 .*queued as' "$PF/rcpt.out"
check "delivered once, to postmaster" delivered 3
pm=$(grep -l '^Subject: to postmaster$' "$PF"/mail/inbox/new/* 2>/dev/null | head -n 1)
[ -n "$pm" ] || pm=/dev/null
phdr=$(sed -e '/^$/q' "$pm" | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[ \t]\{1,\}/ /g')
check "postmaster: the true result, not enforced" sh -c 'printf "%s\n" "$1" | grep -q "^Received-SPF: fail (mx.test.example: domain of x@fail.example does not designate 127.0.0.1 as permitted sender, not enforced: exempt recipients only) receiver=mx.test.example; .*identity=mailfrom\$"' _ "$phdr"
check "postmaster: Authentication-Results spf=fail" sh -c 'printf "%s\n" "$1" | grep -q "^Authentication-Results: mx.test.example; spf=fail (not enforced: exempt recipients only) smtp.mailfrom=fail.example\$"' _ "$phdr"
check "postmaster: delivered to postmaster only" sh -c 'printf "%s\n" "$1" | grep -q "^Delivered-To: postmaster@test.example\$" && ! printf "%s\n" "$1" | grep -q "^Delivered-To: user@"' _ "$phdr"
check "Postfix logged the RCPT reject" grep -q 'milter-reject: RCPT from.*<user@test.example>' "$PF/maillog"

if [ $failures -gt 0 ]; then
	for f in pass fail exp temp rcpt; do
		echo "--- swaks $f:"
		cat "$PF/$f.out"
	done
	echo "--- delivered:"
	cat "$msg"
	echo "--- milter log:"
	tail -n 30 "$PF/milter.log"
	echo "--- maillog:"
	tail -n 30 "$PF/maillog"
	echo "run-postfix-test: $failures failure(s)"
	exit 1
fi
echo "run-postfix-test: all passed"
