#!/bin/sh
# run-consumers-test.sh - the programs that read spf-milter's header
# fields, run for real behind a private Postfix: Debian's OpenDKIM and
# OpenDMARC in the milter chain spf-milter(8) documents, SpamAssassin on
# what is delivered.  For each use case of spf-milter.conf(5), and with no
# header field at all, it sends aligned mail, failing mail, a HELO pass
# with a failing MAIL FROM, and spoofs with forged Received-SPF and
# Authentication-Results fields, and checks what OpenDMARC decides (its
# history file, its log, the client's reply) and which SPF rules
# SpamAssassin hits, and from which field.
#
# The configurations are taken from the man pages as they stand: the use
# cases from spf-milter.conf(5)'s EXAMPLES, the milter chain, opendkim.conf
# and opendmarc.conf from spf-milter(8); the test adds only what a test
# needs (log destinations, a history file).
#
# It runs in network, mount and UTS namespaces of its own (unshare): the
# clients 192.0.2.1 (permitted) and 192.0.2.66 (the attacker) and the MX
# 192.0.2.25 live on its own loopback, its DNS server answers on
# 127.0.0.1:53 there and /etc/resolv.conf points at it (OpenDMARC and
# libspf2 read nothing else), syslog goes to a /dev/log of its own, and
# the host name is mx.example.org.  Nothing outside is touched.  Every
# process it starts is stopped by its PID.
#
# Needs root, unshare and ip (util-linux, iproute2), postfix, swaks,
# opendkim, opendmarc, spamassassin, libmail-dkim-perl, openssl.
# Exit 77: not root (skipped).  KEEP=1 keeps the scratch directory.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/test/consumers
bin=${SPF_MILTER:-$top/spf-milter}
python=${PYTHON:-/usr/bin/python3}
PATH=$PATH:/usr/sbin:/sbin

if [ "${CONSUMERS_INSIDE:-}" != 1 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "run-consumers-test: needs root (namespaces, Postfix); skipped" >&2
		exit 77
	fi
	for cmd in unshare ip postfix swaks opendkim opendmarc openssl perl \
	    spamassassin; do
		if ! command -v $cmd >/dev/null 2>&1; then
			echo "run-consumers-test: $cmd is not installed" >&2
			exit 1
		fi
	done
	CONSUMERS_INSIDE=1 exec unshare --net --mount --uts sh "$0" "$@"
fi

# shellcheck source=test/lib.sh
. "$top/test/lib.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-consumers.XXXXXX") || exit 1
chmod 755 "$T"
pids=
postfix_up=

cleanup() {
	if [ -n "$postfix_up" ]; then
		postfix -c "$T/pf/etc" stop >/dev/null 2>&1
		master=$(tr -d ' ' < "$T/pf/queue/pid/master.pid" 2>/dev/null)
		[ -n "$master" ] && stop_pid "$master" 10
	fi
	for p in $pids; do
		stop_pid "$p" 10
	done
	# our /dev and what is bound into it: unmounted before anything goes
	umount -R -l /dev 2>/dev/null
	awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo |
	    sort -r | while read -r m; do
		umount -l "$m"
	done
	if [ -n "${KEEP:-}" ]; then
		echo "run-consumers-test: kept $T"
	else
		rm -rf --one-file-system "$T"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failures=0
checks=0
check() {	# DESCRIPTION COMMAND...
	what=$1
	shift
	checks=$((checks + 1))
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		failures=$((failures + 1))
	fi
}

die() {
	echo "run-consumers-test: $*" >&2
	for f in "$T"/*.log "$T"/pf/maillog; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	exit 1
}

# The lines of the .EX block after the line MARKER in the man page FILE,
# with roff's "\-" as "-": the documented configuration, word for word.
doc_block() {	# FILE MARKER
	MARKER=$2 awk '
		!found && $0 == ENVIRON["MARKER"] { found = 1; next }
		found && /^\.EX/ { inside = 1; next }
		inside && /^\.EE/ { exit }
		inside { gsub(/\\-/, "-"); print }
	' "$1"
}

# Until FILE has a line with PATTERN, at most SECONDS.
wait_log() {	# FILE PATTERN SECONDS
	_n=0
	while ! grep -q -- "$2" "$1" 2>/dev/null && [ $_n -lt $(($3 * 10)) ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	grep -q -- "$2" "$1" 2>/dev/null
}

# --- the namespace: addresses, resolver, syslog, host name ------------
hostname mx.example.org
ip link set lo up
for a in 192.0.2.1 192.0.2.66 192.0.2.25; do
	ip addr add "$a/32" dev lo
done
echo "nameserver 127.0.0.1" > "$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf || die "cannot mount resolv.conf"
# A /dev of our own with a /dev/log: OpenDMARC and OpenDKIM log only to
# syslog.  The device nodes are the host's, bound in.
mkdir "$T/dev" "$T/dev/pts" "$T/dev/shm"
for n in null zero full random urandom tty; do
	: > "$T/dev/$n"
	mount --bind "/dev/$n" "$T/dev/$n"
done
mount --bind /dev/pts "$T/dev/pts"
mount -t tmpfs -o mode=1777 shm "$T/dev/shm"
ln -s /proc/self/fd "$T/dev/fd"
ln -s pts/ptmx "$T/dev/ptmx"
for i in 0:stdin 1:stdout 2:stderr; do
	ln -s "/proc/self/fd/${i%%:*}" "$T/dev/${i#*:}"
done
mount --rbind "$T/dev" /dev || die "cannot mount /dev"
"$python" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
' "$T/syslog" &
pids="$pids $!"

# --- DNS: our zone on :53, SpamAssassin's own view elsewhere ----------
mkdir -p "$T/dkim"
openssl genrsa -out "$T/dkim/sel.key" 2048 2>/dev/null || die "openssl genrsa"
key=$(openssl rsa -in "$T/dkim/sel.key" -pubout -outform DER 2>/dev/null |
    base64 -w 0)
sed -e "s|@DKIMKEY@|$key|" "$src/zone" > "$T/zone"
"$python" "$top/test/dnsserver.py" --zone "$T/zone" --port 53 \
    --portfile "$T/dns.port" --log "$T/dns.log" &
pids="$pids $!"
"$python" "$top/test/dnsserver.py" --zone "$src/zone-sa" \
    --portfile "$T/dns-sa.port" &
pids="$pids $!"
wait_for 20 -s "$T/dns.port" || die "the DNS server did not start"
wait_for 20 -s "$T/dns-sa.port" || die "the second DNS server did not start"
read -r saport _ < "$T/dns-sa.port"

# --- OpenDKIM and OpenDMARC, as spf-milter(8) configures them ----------
{
	doc_block "$top/spf-milter.8" '.\" consumers-test: opendkim.conf'
	# its libunbound would recurse from the root: point it at ours
	echo "Nameservers 127.0.0.1"
	echo "Syslog yes"
	echo "PidFile $T/opendkim.pid"
} > "$T/opendkim.conf"
grep -q '^Mode' "$T/opendkim.conf" || die "no opendkim.conf in spf-milter.8"
opendkim -f -x "$T/opendkim.conf" > "$T/opendkim.log" 2>&1 &
pids="$pids $!"

# OpenDMARC twice: as documented for spf-milter's fields (8893), and as
# documented for "header =" (8895: it verifies SPF itself).
doc_block "$top/spf-milter.8" '.\" consumers-test: opendmarc.conf' \
    > "$T/opendmarc.doc"
grep -q '^TrustedAuthservIDs' "$T/opendmarc.doc" ||
    die "no opendmarc.conf in spf-milter.8"
for which in fields self; do
	{
		if [ $which = self ]; then
			sed -e 's/^\(Socket *inet:\)8893/\18895/' \
			    -e 's/^\(SPFSelfValidate *\)false/\1true/' \
			    "$T/opendmarc.doc"
		else
			cat "$T/opendmarc.doc"
		fi
		echo "Syslog true"
		echo "HistoryFile $T/dmarc-$which.hist"
		echo "RecordAllMessages true"
		echo "PidFile $T/opendmarc-$which.pid"
	} > "$T/opendmarc-$which.conf"
	opendmarc -f -c "$T/opendmarc-$which.conf" > "$T/opendmarc-$which.log" 2>&1 &
	pids="$pids $!"
done

# --- Postfix ------------------------------------------------------------
mkdir -p "$T/pf/etc" "$T/pf/queue" "$T/pf/data" "$T/mail"
chown postfix "$T/pf/data"
chown 65534:65534 "$T/mail"
sed -e "s|@T@|$T|g" "$src/main.cf" > "$T/pf/etc/main.cf"
doc_block "$top/spf-milter.8" '.\" consumers-test: main.cf' \
    > "$T/milters.cf"
grep -q '^smtpd_milters' "$T/milters.cf" || die "no smtpd_milters in spf-milter.8"
cp "$src/master.cf" "$T/pf/etc/master.cf"

# Point Postfix at OpenDMARC on PORT (8893 or 8895).
set_milters() {
	sed -e "s/:8893\$/:$1/" "$T/milters.cf" > "$T/milters.now"
	grep -v '^smtpd_milters\|^    inet:' "$T/pf/etc/main.cf" |
	    cat - "$T/milters.now" > "$T/pf/etc/main.cf.new"
	mv "$T/pf/etc/main.cf.new" "$T/pf/etc/main.cf"
}
set_milters 8893
postfix -c "$T/pf/etc" check || die "postfix check"
postfix -c "$T/pf/etc" start >/dev/null 2>&1 || die "postfix start"
postfix_up=1

# --- spf-milter: one use case at a time --------------------------------
mpid=
start_milter() {	# CONFIG
	[ -n "$mpid" ] && stop_pid "$mpid" 10
	: > "$T/milter.log"
	"$bin" -c "$1" > "$T/milter.log" 2>&1 &
	mpid=$!
	pids="$pids $mpid"
	wait_log "$T/milter.log" 'listening on' 20 ||
	    die "spf-milter did not start with $1"
}

# The use case NAME of spf-milter.conf(5) (the .SS title), as a file,
# with our log settings; "none" is the standard one with header =.
use_case() {	# NAME FILE
	case $1 in
	none)	doc_block "$top/spf-milter.conf.5" '.SS Standard SPF'
		echo "header =" ;;
	*)	doc_block "$top/spf-milter.conf.5" ".SS $1" ;;
	esac > "$2"
	grep -q '^socket = inet:8894@127.0.0.1$' "$2" ||
	    die "use case \"$1\" not found in spf-milter.conf.5"
	printf 'log_destination = stderr\nlog_level = debug\n' >> "$2"
}

n=0
while ! swaks --server 192.0.2.25 --port 25 --quit-after CONNECT \
    >/dev/null 2>&1 && [ $n -lt 100 ]; do
	sleep 0.2
	n=$((n + 1))
done
[ $n -lt 100 ] || die "Postfix does not answer on 192.0.2.25:25"

# --- the mail ------------------------------------------------------------
mkdir -p "$T/res"
: > "$T/dmarc-fields.hist"
: > "$T/dmarc-self.hist"
# A DKIM-signed message from signed.example (OpenDKIM verifies it).
{
	printf 'From: news@signed.example\r\nTo: user@test.example\r\n'
	printf 'Subject: consumers @CASE@\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n'
	printf 'Message-ID: <@CASE@@signed.example>\r\n\r\nsigned body\r\n'
} > "$T/signed.tmpl"

# What a forger writes: a pass for what it sends as.
forged_rspf() {	# DOMAIN
	echo "Received-SPF: pass (mx.example.org: domain of joe@$1 designates 192.0.2.66 as permitted sender) receiver=mx.example.org; client-ip=192.0.2.66; envelope-from=\"joe@$1\"; helo=client.attacker.example; identity=mailfrom"
}
forged_ar() {	# DOMAIN
	echo "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=$1"
}

# Send case NAME under use case UC: client IP, HELO, MAIL FROM, From:
# domain, then swaks options.  Leaves in $T/res/UC.NAME.*: swaks (the
# dialogue), outcome (delivered, spf-milter, dmarc or other), msg (the
# delivered message), hist (OpenDMARC's history record), log (OpenDMARC's
# and OpenDKIM's syslog lines), milter (spf-milter's log lines).
send() {	# UC NAME IP HELO MAILFROM FROMDOMAIN [swaks options]
	uc=$1 name=$2 ip=$3 helo=$4 from=$5 fromdom=$6
	shift 6
	r=$T/res/$uc.$name
	hsz=$(wc -c < "$hist" 2>/dev/null || echo 0)
	ssz=$(wc -c < "$T/syslog")
	msz=$(wc -c < "$T/milter.log")
	if [ "$name" = dkim ]; then
		sed -e "s/@CASE@/$uc.$name/g" "$T/signed.tmpl" |
		    perl "$src/dkim-sign.pl" "$T/dkim/sel.key" signed.example sel \
		    > "$r.eml"
		set -- --data "$r.eml" "$@"
	else
		set -- --header "From: news@$fromdom" \
		    --header "Subject: consumers $uc.$name" "$@"
	fi
	timeout 60 swaks --server 192.0.2.25 --port 25 --local-interface "$ip" \
	    --helo "$helo" --from "$from" --to user@test.example "$@" \
	    > "$r.swaks" 2>&1
	if grep -q '^<- *250 .*queued as' "$r.swaks"; then
		echo delivered > "$r.outcome"
		# virtual(8) writes in tmp/, then moves the file to new/
		n=0
		while ! grep -rlq "^Subject: consumers $uc.$name\$" \
		    "$T/mail/inbox/new" 2>/dev/null && [ $n -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		f=$(grep -rl "^Subject: consumers $uc.$name\$" \
		    "$T/mail/inbox/new" 2>/dev/null | head -n 1)
		[ -n "$f" ] && cp "$f" "$r.msg"
	elif grep -q '^<\*\* *5[0-9][0-9] 5\.7\.1 rejected by DMARC policy' "$r.swaks"; then
		echo dmarc > "$r.outcome"
	elif grep -q '^<\*\* *550 5\.7\.23 ' "$r.swaks"; then
		echo spf-milter > "$r.outcome"
	else
		echo other > "$r.outcome"
	fi
	# OpenDMARC writes its history record and sends its log line before
	# it answers; our syslog reader takes datagrams in order, so once a
	# marker is in the file, so are those lines.
	logger -u /dev/log "consumers-test: $uc.$name done"
	wait_log "$T/syslog" "consumers-test: $uc.$name done\$" 10
	tail -c +$((hsz + 1)) "$hist" 2>/dev/null > "$r.hist"
	tail -c +$((ssz + 1)) "$T/syslog" | grep 'opendmarc\|opendkim' > "$r.log"
	tail -c +$((msz + 1)) "$T/milter.log" > "$r.milter"
}

outcome_is() {	# UC NAME OUTCOME
	[ "$(cat "$T/res/$1.$2.outcome")" = "$3" ]
}

# OpenDMARC's history: the SPF result it took (ARES_RESULT_*: 0 pass,
# 2 softfail, 3 neutral, 6 none, 7 fail), the last it wrote.
hist_spf() {	# UC NAME CODE
	[ "$(sed -n 's/^spf //p' "$T/res/$1.$2.hist" | tail -n 1)" = "$3" ]
}

# OpenDMARC's history shows no SPF pass taken.
no_spf_pass() {	# UC NAME
	! grep -q '^spf 0$' "$T/res/$1.$2.hist"
}

# The delivered message's header block, folded lines joined; fails when
# nothing was delivered.
header_of() {	# UC NAME
	[ -s "$T/res/$1.$2.msg" ] || return 1
	sed -e '/^$/q' "$T/res/$1.$2.msg" | sed -e ':a' -e 'N' -e '$!ba' \
	    -e 's/\n[ \t]\{1,\}/ /g'
}

has_header() {	# UC NAME PATTERN
	header_of "$1" "$2" | grep -q -- "$3"
}

lacks_header() {	# UC NAME PATTERN
	header_of "$1" "$2" > "$T/header.tmp" && ! grep -q -- "$3" "$T/header.tmp"
}

# --- every use case ----------------------------------------------------
for uc in "Standard SPF" "Strict softfail" "Both header fields" \
    "SPF for DMARC" "DMARC with early HELO reject" none; do
	tag=$(echo "$uc" | tr '[:upper:] ' '[:lower:]-')
	use_case "$uc" "$T/$tag.conf"
	if [ "$uc" = none ]; then
		set_milters 8895
		hist=$T/dmarc-self.hist
	else
		set_milters 8893
		hist=$T/dmarc-fields.hist
	fi
	postfix -c "$T/pf/etc" reload >/dev/null 2>&1 || die "postfix reload"
	start_milter "$T/$tag.conf"
	echo "--- use case: $uc"

	send "$tag" pass 192.0.2.1 client.pass.example ann@pass.example pass.example
	send "$tag" helopass 192.0.2.1 helo.pass.example ann@pass.example pass.example
	send "$tag" fail 192.0.2.66 client.attacker.example joe@victim.example victim.example
	send "$tag" helo-rescue 192.0.2.66 attacker.example joe@victim.example victim.example
	send "$tag" helo-inject 192.0.2.66 attacker.example \
	    '"envelope-from=a@victim.example;identity=mailfrom;("@victim.example' \
	    victim.example
	send "$tag" forged-rspf 192.0.2.66 client.attacker.example joe@soft.example \
	    soft.example --add-header "$(forged_rspf soft.example)"
	send "$tag" forged-ar 192.0.2.66 client.attacker.example joe@soft.example \
	    soft.example --add-header "$(forged_ar soft.example)"
	send "$tag" forged-both 192.0.2.66 client.attacker.example joe@soft.example \
	    soft.example --add-header "$(forged_rspf soft.example)" \
	    --add-header "$(forged_ar soft.example)"
	send "$tag" forged-dkim 192.0.2.66 client.attacker.example x@nospf.example \
	    victim.example --add-header "Authentication-Results: mx.example.org; dkim=pass header.d=victim.example header.s=sel"
	send "$tag" dkim 192.0.2.66 client.attacker.example x@nospf.example signed.example
	send "$tag" sa-spoof 192.0.2.66 client.attacker.example joe@neutral.example \
	    neutral.example --add-header "$(forged_rspf neutral.example)" \
	    --add-header "$(forged_ar neutral.example)"
	send "$tag" sa-helo 192.0.2.1 helo.pass.example joe@neutral.example neutral.example

	# aligned SPF pass: delivered with dmarc=pass, OpenDMARC took a pass
	check "$uc: aligned pass delivered" outcome_is "$tag" pass delivered
	check "$uc: aligned pass: OpenDMARC says dmarc=pass" \
	    has_header "$tag" pass '^Authentication-Results: mx.example.org; dmarc=pass (p=reject dis=none) header.from=pass.example'
	check "$uc: aligned pass: OpenDMARC's history has spf pass" hist_spf "$tag" pass 0
	check "$uc: aligned pass: OpenDMARC logged pass" \
	    grep -q ': pass.example pass$' "$T/res/$tag.pass.log"

	# a HELO pass is final in the examples without DMARC: OpenDMARC does
	# not count it, as spf-milter(8) says; the DMARC examples verify MAIL
	# FROM as well
	case $tag in
	standard-spf|strict-softfail|both-header-fields)
		check "$uc: HELO pass taken as final: no SPF pass for DMARC" \
		    outcome_is "$tag" helopass dmarc ;;
	*)	check "$uc: HELO pass and aligned MAIL FROM pass: delivered" \
		    outcome_is "$tag" helopass delivered
		check "$uc: HELO pass and aligned MAIL FROM pass: dmarc=pass" \
		    has_header "$tag" helopass 'dmarc=pass' ;;
	esac

	# SPF fail: spf-milter or OpenDMARC refuses, with our result
	case $tag in
	spf-for-dmarc|dmarc-with-early-helo-reject)
		check "$uc: fail refused by OpenDMARC" outcome_is "$tag" fail dmarc
		check "$uc: fail: OpenDMARC's history has our fail" hist_spf "$tag" fail 7
		check "$uc: fail: OpenDMARC logged fail" \
		    grep -q ': victim.example fail$' "$T/res/$tag.fail.log" ;;
	*)	check "$uc: fail refused by spf-milter" outcome_is "$tag" fail spf-milter ;;
	esac

	# a HELO pass never rescues a failing MAIL FROM, nor does a sender's
	# ';' and '(' in its address
	for c in helo-rescue helo-inject; do
		check "$uc: $c: refused by OpenDMARC" outcome_is "$tag" $c dmarc
		check "$uc: $c: OpenDMARC took no SPF pass" \
		    no_spf_pass "$tag" $c
	done

	# forged fields claiming pass
	for c in forged-rspf forged-ar forged-both; do
		if [ "$tag" = strict-softfail ]; then
			check "$uc: $c: softfail refused by spf-milter" \
			    outcome_is "$tag" $c spf-milter
			continue
		fi
		check "$uc: $c: refused by OpenDMARC" outcome_is "$tag" $c dmarc
		check "$uc: $c: OpenDMARC took no SPF pass" \
		    no_spf_pass "$tag" $c
	done
	check "$uc: forged DKIM result refused by OpenDMARC" \
	    outcome_is "$tag" forged-dkim dmarc

	# OpenDKIM's field (same authserv-id, added after spf-milter ran) kept
	check "$uc: DKIM-signed delivered" outcome_is "$tag" dkim delivered
	check "$uc: DKIM-signed: OpenDKIM's result kept" \
	    has_header "$tag" dkim '^Authentication-Results: mx.example.org; dkim=pass'
	check "$uc: DKIM-signed: dmarc=pass" \
	    has_header "$tag" dkim 'dmarc=pass (p=reject dis=none) header.from=signed.example'

	# delivered with the forged fields gone, and that logged
	check "$uc: spoof for SpamAssassin delivered" outcome_is "$tag" sa-spoof delivered
	check "$uc: spoof: forged fields gone" lacks_header "$tag" sa-spoof \
	    'spf=pass smtp.mailfrom=neutral\|^Received-SPF: pass'
	check "$uc: spoof: forged Received-SPF deleted, logged with its value" \
	    grep -q 'incoming Received-SPF #1 to be deleted: pass (mx.example.org: domain of joe@neutral.example designates 192.0.2.66' "$T/res/$tag.sa-spoof.milter"
	check "$uc: spoof: forged Authentication-Results deleted, logged" \
	    grep -q 'deleted forged Authentication-Results #1' "$T/res/$tag.sa-spoof.milter"
done

stop_pid "$mpid" 10
mpid=

# --- SpamAssassin on what was delivered ---------------------------------
mkdir -p "$T/sa/state"
# the package's plugin loading (*.pre), our site configuration
cp /etc/spamassassin/*.pre "$T/sa/"
sed -e "s/@SAPORT@/$saport/" "$src/sa.cf" > "$T/sa/local.cf"
: > "$T/sa/user_prefs"
set --
for f in "$T"/res/*.msg; do
	[ -s "$f" ] && set -- "$@" "$f"
done
perl "$src/sa-check.pl" "$T/sa" "$@" > "$T/sa.out" 2> "$T/sa.dbg" ||
    die "SpamAssassin failed: $(tail -n 5 "$T/sa.dbg")"

# The rules SpamAssassin hit for message UC.NAME, one per line.
sa_tests() {	# UC NAME
	awk -v f="$T/res/$1.$2.msg" '$0 == "== " f { on = 1; next }
	    on && /^tests: / { sub(/^tests: /, ""); print; exit }' "$T/sa.out" |
	    tr ',' '\n'
}
# Its SPF debug lines for that message.
sa_dbg() {	# UC NAME
	awk -v f="$T/res/$1.$2.msg" '/^== / { on = ($0 == "== " f); next }
	    on' "$T/sa.dbg"
}
# SpamAssassin hit RULE (and no other SPF rule of the same identity);
# WHERE says where it took the result from: "Received-SPF",
# "Authentication-Results" (one of our fields), or "dns" (its own
# questions, which fail everything).
sa_hit() {	# UC NAME RULE WHERE
	case $3 in
	SPF_HELO_*) kind=helo others=$(sa_tests "$1" "$2" | grep '^SPF_HELO_') ;;
	*) kind=mfrom others=$(sa_tests "$1" "$2" | grep '^SPF_' | grep -v '^SPF_HELO_') ;;
	esac
	[ "$others" = "$3" ] || return 1
	result=$(echo "$3" | sed -e 's/^SPF_HELO_//' -e 's/^SPF_//' |
	    tr '[:upper:]' '[:lower:]')
	case $4 in
	dns) ! sa_dbg "$1" "$2" | grep -q "re-using $kind result" ;;
	*) sa_dbg "$1" "$2" | grep -q "re-using $kind result from $4 header: $result\$" ;;
	esac
}

for uc in "Standard SPF" "Strict softfail" "Both header fields" \
    "SPF for DMARC" "DMARC with early HELO reject" none; do
	tag=$(echo "$uc" | tr '[:upper:] ' '[:lower:]-')
	case $tag in
	standard-spf|strict-softfail|both-header-fields) ours=Received-SPF ;;
	none) ours=dns ;;
	*) ours=Authentication-Results ;;
	esac
	if [ $ours = dns ]; then
		# OpenDMARC verified SPF itself and wrote it down (a neutral
		# as "fail": DMARC counts only a pass)
		check "$uc: SpamAssassin: aligned pass, from OpenDMARC's own check" \
		    sa_hit "$tag" pass SPF_PASS Authentication-Results
		check "$uc: SpamAssassin: spoof never a pass (OpenDMARC's own check)" \
		    sa_hit "$tag" sa-spoof SPF_FAIL Authentication-Results
	else
		check "$uc: SpamAssassin: aligned pass is SPF_PASS, from $ours" \
		    sa_hit "$tag" pass SPF_PASS $ours
		check "$uc: SpamAssassin: spoof is SPF_NEUTRAL, from $ours, never a pass" \
		    sa_hit "$tag" sa-spoof SPF_NEUTRAL $ours
	fi
	case $tag in
	both-header-fields)
		# both identities in Received-SPF fields: both taken
		check "$uc: SpamAssassin: HELO none of the pass, from Received-SPF" \
		    sa_hit "$tag" pass SPF_HELO_NONE Received-SPF
		check "$uc: SpamAssassin: final HELO pass, from Received-SPF" \
		    sa_hit "$tag" sa-helo SPF_HELO_PASS Received-SPF
		check "$uc: SpamAssassin: MAIL FROM not verified, asked itself" \
		    sa_hit "$tag" sa-helo SPF_FAIL dns ;;
	standard-spf|strict-softfail)
		check "$uc: SpamAssassin: final HELO pass, from Received-SPF" \
		    sa_hit "$tag" sa-helo SPF_HELO_PASS Received-SPF
		check "$uc: SpamAssassin: HELO not recorded for the pass, asked itself" \
		    sa_hit "$tag" pass SPF_HELO_FAIL dns ;;
	none)
		check "$uc: SpamAssassin: no field of ours, asked itself" \
		    sa_hit "$tag" sa-helo SPF_HELO_FAIL dns ;;
	*)
		# it reads only the last result of Authentication-Results
		check "$uc: SpamAssassin: MAIL FROM neutral, from Authentication-Results" \
		    sa_hit "$tag" sa-helo SPF_NEUTRAL Authentication-Results
		check "$uc: SpamAssassin: HELO result not the last one, asked itself" \
		    sa_hit "$tag" sa-helo SPF_HELO_FAIL dns ;;
	esac
done

if [ $failures -gt 0 ]; then
	echo "run-consumers-test: $failures of $checks checks failed (logs in $T with KEEP=1)"
	exit 1
fi
echo "run-consumers-test: all $checks checks passed"
