#!/bin/sh
# run-consumers-test.sh - the programs that read spf-milter's header
# fields, run for real behind a private Postfix: Debian's OpenDKIM and
# OpenDMARC in the milter chain spf-milter(8) documents, SpamAssassin on
# what is delivered.  For each use case of spf-milter.conf(5), and with no
# header field at all, it sends aligned mail, failing mail, a HELO pass
# with a failing MAIL FROM, and spoofs with forged Received-SPF and
# Authentication-Results fields, and checks what OpenDMARC decides (its
# history file, its log, the client's reply) and which SPF rules
# SpamAssassin hits, and from which field.  With the forwarders use case,
# exempted mail (a forwarder, postmaster): both read the true fail.
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

NAME=run-consumers-test
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/test/consumers
bin=${SPF_MILTER:-$top/spf-milter}
python=${PYTHON:-/usr/bin/python3}
PATH=$PATH:/usr/sbin:/sbin

# shellcheck source=test/consumers/lib.sh
. "$src/lib.sh"
command -v postfix >/dev/null 2>&1 || { echo "$NAME: postfix is not installed" >&2; exit 1; }
command -v spamassassin >/dev/null 2>&1 || { echo "$NAME: spamassassin is not installed" >&2; exit 1; }
ns_enter "$0" "$@"

T=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-consumers.XXXXXX") || exit 1
chmod 755 "$T"
postfix_up=
extra_logs=$T/pf/maillog

cleanup() {
	if [ -n "$postfix_up" ]; then
		postfix -c "$T/pf/etc" stop >/dev/null 2>&1
		master=$(tr -d ' ' < "$T/pf/queue/pid/master.pid" 2>/dev/null)
		[ -n "$master" ] && stop_pid "$master" 10
	fi
	ns_teardown
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ns_setup
start_dns
start_dkim_dmarc

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

wait_mta || die "Postfix does not answer on 192.0.2.25:25"

rcpt=user@test.example
mta_accepted() {	# SWAKS-DIALOGUE
	grep -q '^<- *250 .*queued as' "$1"
}
mta_message() {	# R: the delivered message of this case into R.msg
	# virtual(8) writes in tmp/, then moves the file to new/
	_n=0
	while ! grep -rlq "^Subject: consumers $uc.$name\$" \
	    "$T/mail/inbox/new" 2>/dev/null && [ $_n -lt 100 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	_f=$(grep -rl "^Subject: consumers $uc.$name\$" \
	    "$T/mail/inbox/new" 2>/dev/null | head -n 1)
	[ -n "$_f" ] && cp "$_f" "$1.msg"
}

# --- every use case ----------------------------------------------------
for uc in "Standard SPF" "Strict softfail" "Both header fields" \
    "SPF for DMARC" "DMARC with early HELO reject" \
    "Forwarders and backup MX" none; do
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

	# where the readers look: our fields on top, the final one first
	case $tag in
	standard-spf|strict-softfail|forwarders-and-backup-mx)
		check "$uc: Received-SPF above Postfix's Received" \
		    above "$tag" pass '^Received-SPF: pass .* identity=mailfrom$' '^Received: from ' ;;
	both-header-fields)
		check "$uc: the final Received-SPF on top, the HELO one below" \
		    above "$tag" pass '^Received-SPF: pass .* identity=mailfrom$' '^Received-SPF: none .* identity=helo$'
		check "$uc: then Authentication-Results, HELO result first" \
		    above "$tag" pass '^Received-SPF: none' '^Authentication-Results: mx.example.org; spf=none smtp.helo=client.pass.example; spf=pass smtp.mailfrom=pass.example$' ;;
	spf-for-dmarc|dmarc-with-early-helo-reject)
		check "$uc: Authentication-Results above Postfix's Received" \
		    above "$tag" pass '^Authentication-Results: mx.example.org; spf=\(none smtp.helo=client.pass.example; spf=\)\{0,1\}pass smtp.mailfrom=pass.example$' '^Received: from ' ;;
	esac

	# a HELO pass is final in the examples without DMARC: OpenDMARC does
	# not count it, as spf-milter(8) says; the DMARC examples verify MAIL
	# FROM as well
	case $tag in
	standard-spf|strict-softfail|both-header-fields|forwarders-and-backup-mx)
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

	[ "$tag" = forwarders-and-backup-mx ] || continue
	# issue 12: exempted mail carries its true result, and the readers
	# take that: OpenDMARC still applies the sender's policy
	send "$tag" fwd-dmarc 192.0.2.77 mx2.example.org joe@victim.example victim.example
	send "$tag" fwd-ptr 192.0.2.77 mx2.example.org joe@nodmarc.example nodmarc.example
	send "$tag" fwd-domain 192.0.2.78 relay.forwarder.example joe@nodmarc.example nodmarc.example
	send "$tag" fwd-forged 192.0.2.79 mx2.example.org joe@nodmarc.example nodmarc.example
	rcpt=postmaster@test.example
	send "$tag" postmaster 192.0.2.66 client.attacker.example joe@nodmarc.example nodmarc.example
	rcpt=user@test.example
	check "$uc: forwarder: p=reject still applied by OpenDMARC" \
	    outcome_is "$tag" fwd-dmarc dmarc
	check "$uc: forwarder: OpenDMARC took the true fail" hist_spf "$tag" fwd-dmarc 7
	check "$uc: forwarder (PTR): delivered" outcome_is "$tag" fwd-ptr delivered
	check "$uc: forwarder (PTR): Received-SPF fail, the exemption named" \
	    has_header "$tag" fwd-ptr '^Received-SPF: fail (mx.example.org: domain of joe@nodmarc.example does not designate 192.0.2.77 as permitted sender, not enforced: trusted forwarder mx2.example.org, PTR confirmed) receiver=mx.example.org; .*identity=mailfrom$'
	check "$uc: forwarder (PTR): OpenDMARC took the true fail" hist_spf "$tag" fwd-ptr 7
	check "$uc: forwarder (domain): delivered" outcome_is "$tag" fwd-domain delivered
	check "$uc: forwarder (domain): Received-SPF fail, forwarder.example named" \
	    has_header "$tag" fwd-domain '^Received-SPF: fail (.*, not enforced: trusted forwarder domain forwarder.example, SPF pass) '
	check "$uc: forged PTR: refused by spf-milter" outcome_is "$tag" fwd-forged spf-milter
	check "$uc: postmaster: delivered" outcome_is "$tag" postmaster delivered
	check "$uc: postmaster: Received-SPF fail, not enforced" \
	    has_header "$tag" postmaster '^Received-SPF: fail (.*, not enforced: exempt recipients only) '
	check "$uc: postmaster: OpenDMARC took the true fail" hist_spf "$tag" postmaster 7
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
    "SPF for DMARC" "DMARC with early HELO reject" \
    "Forwarders and backup MX" none; do
	tag=$(echo "$uc" | tr '[:upper:] ' '[:lower:]-')
	case $tag in
	standard-spf|strict-softfail|both-header-fields|forwarders-and-backup-mx)
		ours=Received-SPF ;;
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
	standard-spf|strict-softfail|forwarders-and-backup-mx)
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
	if [ "$tag" = forwarders-and-backup-mx ]; then
		check "$uc: SpamAssassin: forwarded mail is SPF_FAIL, from Received-SPF" \
		    sa_hit "$tag" fwd-ptr SPF_FAIL Received-SPF
		check "$uc: SpamAssassin: mail to postmaster is SPF_FAIL, from Received-SPF" \
		    sa_hit "$tag" postmaster SPF_FAIL Received-SPF
	fi
done

if [ $failures -gt 0 ]; then
	echo "run-consumers-test: $failures of $checks checks failed (logs in $T with KEEP=1)"
	exit 1
fi
echo "run-consumers-test: all $checks checks passed"
