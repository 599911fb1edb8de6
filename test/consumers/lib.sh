# test/consumers/lib.sh - what run-consumers-test.sh (Postfix) and
# run-sendmail-test.sh share: a network, mount and UTS namespace of their
# own with the clients, the MX, DNS and syslog in it; OpenDKIM and
# OpenDMARC configured from spf-milter(8); the use cases of
# spf-milter.conf(5); sending one case and collecting what every program
# made of it.  Sourced, not run; the script sets NAME, top, src, bin,
# python and defines mta_accepted FILE (did the MTA take the message,
# by the swaks dialogue FILE?) and mta_message R (the delivered message
# of the case into R.msg).
# shellcheck shell=sh disable=SC2034,SC2153,SC2154

# shellcheck source=test/lib.sh
. "$top/test/lib.sh"

# Run the calling script again inside new namespaces, once.
ns_enter() {	# SCRIPT ARGS...
	if [ "${CONSUMERS_INSIDE:-}" = 1 ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "$NAME: needs root (namespaces, the MTA); skipped" >&2
		exit 77
	fi
	for cmd in unshare ip ss swaks opendkim opendmarc openssl perl logger; do
		if ! command -v $cmd >/dev/null 2>&1; then
			echo "$NAME: $cmd is not installed" >&2
			exit 1
		fi
	done
	CONSUMERS_INSIDE=1 exec unshare --net --mount --uts sh "$@"
}

pids=
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
	echo "$NAME: $*" >&2
	for f in "$T"/*.log $extra_logs; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	exit 1
}
extra_logs=

# Stop what we started, by PID, and undo our mounts; the MTA is the
# script's to stop before.
ns_teardown() {
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
		echo "$NAME: kept $T"
	else
		rm -rf --one-file-system "$T"
	fi
}

# The lines of the .EX block after the line MARKER in the man page FILE,
# with roff's "\-", "\(ga" and "\(aq" as "-", "`" and "'": the documented
# configuration, word for word.
doc_block() {	# FILE MARKER
	MARKER=$2 awk '
		!found && $0 == ENVIRON["MARKER"] { found = 1; next }
		found && /^\.EX/ { inside = 1; next }
		inside && /^\.EE/ { exit }
		inside {
			gsub(/\\-/, "-")
			gsub(/\\\(ga/, "`")
			gsub(/\\\(aq/, "\047")
			print
		}
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

# The namespace: addresses (the clients 192.0.2.1 and .66, the forwarders
# .77 and .78, a forger of .77's name .79, the MX .25),
# the resolver (our DNS server on 127.0.0.1:53), a /dev of our own with a
# /dev/log (OpenDMARC and OpenDKIM log only to syslog; the device nodes
# are the host's, bound in), the host name mx.example.org.
ns_setup() {
	hostname mx.example.org
	ip link set lo up
	for a in 192.0.2.1 192.0.2.66 192.0.2.77 192.0.2.78 192.0.2.79 \
	    192.0.2.25; do
		ip addr add "$a/32" dev lo
	done
	# a name our zone leaves unanswered costs a second, not half a minute
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
	    > "$T/resolv.conf"
	mount --bind "$T/resolv.conf" /etc/resolv.conf ||
	    die "cannot mount resolv.conf"
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
	wait_for 10 -S /dev/log || die "no syslog socket"
}

# DNS: test/consumers/zone with a fresh DKIM key on 127.0.0.1:53, and
# zone-sa for SpamAssassin's own questions elsewhere (port in $saport).
start_dns() {
	mkdir -p "$T/dkim"
	openssl genrsa -out "$T/dkim/sel.key" 2048 2>/dev/null ||
	    die "openssl genrsa"
	key=$(openssl rsa -in "$T/dkim/sel.key" -pubout -outform DER \
	    2>/dev/null | base64 -w 0)
	sed -e "s|@DKIMKEY@|$key|" "$src/zone" > "$T/zone"
	"$python" "$top/test/dnsserver.py" --zone "$T/zone" --port 53 \
	    --portfile "$T/dns.port" --log "$T/dns.log" &
	pids="$pids $!"
	"$python" "$top/test/dnsserver.py" --zone "$src/zone-sa" \
	    --portfile "$T/dns-sa.port" &
	pids="$pids $!"
	wait_for 20 -s "$T/dns.port" || die "the DNS server did not start"
	wait_for 20 -s "$T/dns-sa.port" ||
	    die "the second DNS server did not start"
	read -r saport _ < "$T/dns-sa.port"
}

# OpenDKIM and OpenDMARC as spf-milter(8) configures them; OpenDMARC
# twice: for spf-milter's fields (8893) and, as documented for
# "header =", verifying SPF itself (8895).  History in
# $T/dmarc-fields.hist and $T/dmarc-self.hist.
start_dkim_dmarc() {
	{
		doc_block "$top/spf-milter.8" '.\" consumers-test: opendkim.conf'
		# its libunbound would recurse from the root: point it at ours
		echo "Nameservers 127.0.0.1"
		echo "Syslog yes"
		echo "PidFile $T/opendkim.pid"
	} > "$T/opendkim.conf"
	grep -q '^Mode' "$T/opendkim.conf" ||
	    die "no opendkim.conf in spf-milter.8"
	opendkim -f -x "$T/opendkim.conf" > "$T/opendkim.log" 2>&1 &
	pids="$pids $!"
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
		: > "$T/dmarc-$which.hist"
		opendmarc -f -c "$T/opendmarc-$which.conf" \
		    > "$T/opendmarc-$which.log" 2>&1 &
		pids="$pids $!"
	done
	for port in 8891 8893 8895; do
		wait_port $port 20 || die "nothing listens on 127.0.0.1:$port"
	done
}

# Until something listens on 127.0.0.1:PORT, at most SECONDS.
wait_port() {	# PORT SECONDS
	_n=0
	while [ -z "$(ss -Hltn "sport = :$1")" ] && [ $_n -lt $(($2 * 10)) ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	[ -n "$(ss -Hltn "sport = :$1")" ]
}

# spf-milter with CONFIG (one at a time).
mpid=
start_milter() {	# CONFIG
	[ -n "$mpid" ] && stop_pid "$mpid" 10
	: > "$T/milter.log"
	"$bin" -c "$1" > "$T/milter.log" 2>&1 &
	mpid=$!
	pids="$pids $mpid"
	wait_port 8894 20 || die "spf-milter did not start with $1"
}

# The use case NAME of spf-milter.conf(5) (the .SS title) into FILE, with
# our log settings; "none" is the standard one with "header =".
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

# The MTA answers on 192.0.2.25:25.
wait_mta() {
	_n=0
	while ! swaks --server 192.0.2.25 --port 25 --quit-after CONNECT \
	    >/dev/null 2>&1 && [ $_n -lt 100 ]; do
		sleep 0.2
		_n=$((_n + 1))
	done
	[ $_n -lt 100 ]
}

# --- the mail --------------------------------------------------------------

# A DKIM-signed message from signed.example (OpenDKIM verifies it).
signed_template() {
	printf 'From: news@signed.example\r\nTo: @RCPT@\r\n'
	printf 'Subject: consumers @CASE@\r\n'
	printf 'Date: Mon, 30 Nov 2026 12:00:00 +0000\r\n'
	printf 'Message-ID: <@CASE@@signed.example>\r\n\r\nsigned body\r\n'
}

# What a forger writes: a pass for what it sends as.
forged_rspf() {	# DOMAIN
	echo "Received-SPF: pass (mx.example.org: domain of joe@$1 designates 192.0.2.66 as permitted sender) receiver=mx.example.org; client-ip=192.0.2.66; envelope-from=\"joe@$1\"; helo=client.attacker.example; identity=mailfrom"
}
forged_ar() {	# DOMAIN
	echo "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=$1"
}

# Send case NAME under use case UC to RCPT: client IP, HELO, MAIL FROM,
# From: domain, then swaks options.  $hist is OpenDMARC's history file
# in use.  Leaves in $T/res/UC.NAME.*: swaks (the dialogue), outcome
# (delivered, spf-milter, dmarc or other), msg (the delivered message),
# hist (OpenDMARC's history record), log (OpenDMARC's and OpenDKIM's
# syslog lines), milter (spf-milter's log lines).
send() {	# UC NAME IP HELO MAILFROM FROMDOMAIN [swaks options]
	uc=$1 name=$2 ip=$3 helo=$4 from=$5 fromdom=$6
	shift 6
	mkdir -p "$T/res"
	r=$T/res/$uc.$name
	hsz=$(wc -c < "$hist")
	ssz=$(wc -c < "$T/syslog")
	msz=$(wc -c < "$T/milter.log")
	if [ "$name" = dkim ]; then
		signed_template | sed -e "s/@CASE@/$uc.$name/g" \
		    -e "s/@RCPT@/$rcpt/" |
		    perl "$src/dkim-sign.pl" "$T/dkim/sel.key" signed.example \
		    sel > "$r.eml"
		set -- --data "$r.eml" "$@"
	else
		set -- --header "From: news@$fromdom" \
		    --header "Subject: consumers $uc.$name" "$@"
	fi
	timeout 60 swaks --server 192.0.2.25 --port 25 --local-interface "$ip" \
	    --helo "$helo" --from "$from" --to "$rcpt" "$@" > "$r.swaks" 2>&1
	if mta_accepted "$r.swaks"; then
		echo delivered > "$r.outcome"
		mta_message "$r"
	elif grep -q '^<\*\* *550 5\.7\.1 rejected by DMARC policy' "$r.swaks"; then
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
	tail -c +$((hsz + 1)) "$hist" > "$r.hist"
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

# Line numbers, in the delivered header, of the first field matching A
# and of the first matching B: A comes first.
above() {	# UC NAME A B
	header_of "$1" "$2" > "$T/header.tmp" || return 1
	a=$(grep -n -m 1 -- "$3" "$T/header.tmp" | cut -d: -f1)
	b=$(grep -n -m 1 -- "$4" "$T/header.tmp" | cut -d: -f1)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}
