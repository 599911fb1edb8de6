#!/bin/sh
# run-conf-tests.sh - the configuration corpus in test/conf/.
#
#   good-*.conf  must load; every line of good-*.expected must appear,
#                as a whole line, in the printed configuration.
#   bad-*.conf   must fail with exit status 1, and the messages must be
#                exactly bad-*.expected.
#
# Each file goes through test/conftool (conf.c alone) and, when the
# binary is built and knows -t, through `spf-milter -t -c FILE`, so the
# check that users run is the one tested.  Files are named relative to
# test/conf/, which keeps the FILE:LINE: prefixes stable.  SPF_MILTER
# names another binary to check.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top/test/conf" || exit 1
bin=${SPF_MILTER:-$top/spf-milter}
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
failed=0 checked=0

fail() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}

# run LABEL FILE: leaves stdout in $out, the messages in $err, sets rc
run() {
	case $1 in
	conftool) "$top/test/conftool" -s "$2" >"$out" 2>"$err"
		rc=$?
		# conftool writes its messages to stdout: split them off
		grep -v '^[a-z_0-9]* =' "$out" >"$err"
		grep '^[a-z_0-9]* =' "$out" >"$out.cfg"
		mv "$out.cfg" "$out" ;;
	spf-milter) "$bin" -t -c "$2" >"$out" 2>"$err"
		rc=$? ;;
	esac
}

check_good() {
	run "$1" "$2"
	exp=${2%.conf}.expected
	if [ "$rc" -ne 0 ]; then
		fail "$1 $2: exit $rc, expected 0"; cat "$err"; return
	fi
	if [ -s "$err" ]; then
		fail "$1 $2: unexpected messages"; cat "$err"; return
	fi
	while IFS= read -r line; do
		grep -qxF -- "$line" "$out" ||
			fail "$1 $2: missing line: $line"
	done <"$exp"
}

check_bad() {
	run "$1" "$2"
	exp=${2%.conf}.expected
	if [ "$rc" -ne 1 ]; then
		fail "$1 $2: exit $rc, expected 1"; return
	fi
	if ! diff -u "$exp" "$err" >/dev/null; then
		fail "$1 $2: messages differ"; diff -u "$exp" "$err"
	fi
}

tools=conftool
if [ -x "$bin" ] && "$bin" -h 2>&1 | grep -q -- '-t'; then
	tools="$tools spf-milter"
else
	echo "note: ./spf-milter without -t; checking conf.c through conftool only"
fi

for tool in $tools; do
	for f in good-*.conf; do
		check_good "$tool" "$f"; checked=$((checked + 1))
	done
	for f in bad-*.conf; do
		check_bad "$tool" "$f"; checked=$((checked + 1))
	done
	# the sample configuration shipped with the sources is valid
	run "$tool" ../../spf-milter.conf
	[ "$rc" -eq 0 ] && [ ! -s "$err" ] ||
		{ fail "$tool spf-milter.conf: exit $rc"; cat "$err"; }
	checked=$((checked + 1))
done

# options override the file, and their mistakes are reported as such
if [ "${tools#*spf-milter}" != "$tools" ]; then
	"$bin" -t -c good-standard.conf -p unix:/tmp/spf-milter-test.sock -n \
	    -l stderr -L debug >"$out" 2>"$err"
	rc=$?
	for line in "socket = unix:/tmp/spf-milter-test.sock" "dry_run = yes" \
	    "log_destination = stderr" "log_level = debug" \
	    "hostname = mx.example.org"; do
		[ "$rc" -eq 0 ] && grep -qxF "$line" "$out" ||
			fail "spf-milter -t with options: no \"$line\" (exit $rc)"
	done
	"$bin" -t -c good-standard.conf -L loud >"$out" 2>"$err"
	rc=$?
	[ "$rc" -eq 1 ] && grep -qxF 'command line: invalid log_level "loud" (expected: error, warn, info, debug)' "$err" ||
		fail "spf-milter -t -L loud: exit $rc, $(cat "$err")"
	"$bin" -t -c does-not-exist.conf >"$out" 2>"$err"
	rc=$?
	[ "$rc" -eq 1 ] && grep -qxF 'does-not-exist.conf: cannot open: No such file or directory' "$err" ||
		fail "spf-milter -t -c does-not-exist.conf: exit $rc, $(cat "$err")"
	# a FIFO at the path is refused at once, never waited on
	fifo=$(mktemp -u /tmp/spf-milter-fifo.XXXXXX)
	mkfifo "$fifo"
	timeout 10 "$bin" -t -c "$fifo" >"$out" 2>"$err"
	rc=$?
	rm -f "$fifo"
	[ "$rc" -eq 1 ] && grep -qxF "$fifo: cannot read: a FIFO (named pipe), not a regular file" "$err" ||
		fail "spf-milter -t -c FIFO: exit $rc, $(cat "$err")"
	checked=$((checked + 4))
fi

if [ "$failed" -gt 0 ]; then
	echo "run-conf-tests: $failed of $checked checks failed"
	exit 1
fi
echo "run-conf-tests: $checked files checked ($tools)"
