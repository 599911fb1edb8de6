#!/bin/sh
# run-milter-tests.sh - the milter protocol tests: for each script
# test/milter/NAME.lua, start spf-milter with test/milter/NAME.conf on a
# unix socket in a scratch directory, run the script with miltertest
# against it, and stop the milter again.  One DNS server
# (test/dnsserver.py serving test/milter/zone on 127.0.0.1) serves them all.
#
#   sh test/run-milter-tests.sh [NAME ...]
#   MILTER_WRAPPER="valgrind ..." sh test/run-milter-tests.sh   (leak runs)
#
# A script passes when it prints "all passed" and no "FAIL:"; the milter
# must also exit 0 when told to stop (so a valgrind error fails the test).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${SPF_MILTER:-$top/spf-milter}
python=${PYTHON:-/usr/bin/python3}
wrap=${MILTER_WRAPPER:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-test.XXXXXX") || exit 1
dnspid=
mpid=

# shellcheck source=test/lib.sh
. "$top/test/lib.sh"

# libmilter notices a stop only when its accept loop wakes up (up to 5 s):
# one connection right after the TERM wakes it at once.
stop_milter() {	# PID SOCKET
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	"$python" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError:
    pass
s.close()' "$2"
	stop_pid "$1" 10
}

cleanup() {
	stop_pid "$mpid" 10
	stop_pid "$dnspid" 5
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Wait up to 10 s for file $1 to exist.
# --- the command line: options override the file, errors are one line ---
failed=0
cli() {	# DESCRIPTION EXPECTED-EXIT GREP-PATTERN ARGS...
	what=$1 want=$2 pat=$3
	shift 3
	out=$("$bin" "$@" 2>&1)
	got=$?
	if [ "$got" -eq "$want" ] && printf '%s\n' "$out" | grep -q -- "$pat"; then
		echo "ok   cli: $what"
	else
		echo "FAIL cli: $what (exit $got, want $want): $out"
		failed=$((failed + 1))
	fi
}
printf 'socket = unix:/tmp/a.sock\nlog_level = info\n' > "$tmp/cli.conf"
cli "-V" 0 '^spf-milter [0-9]' -V
cli "-h" 0 '^usage:' -h
cli "unknown option" 2 '^usage:' -Z
cli "-t prints the file" 0 '^socket = unix:/tmp/a.sock$' -t -c "$tmp/cli.conf"
cli "-p overrides socket" 0 '^socket = unix:/tmp/b.sock$' -t -c "$tmp/cli.conf" -p unix:/tmp/b.sock
cli "-n sets dry_run" 0 '^dry_run = yes$' -t -c "$tmp/cli.conf" -n
cli "-L overrides log_level" 0 '^log_level = debug$' -t -c "$tmp/cli.conf" -L debug
cli "-l overrides log_destination" 0 '^log_destination = stderr$' -t -c "$tmp/cli.conf" -l stderr
cli "bad -L value" 1 'log_level' -t -c "$tmp/cli.conf" -L loud
cli "missing file" 1 'nonexistent' -t -c "$tmp/nonexistent.conf"
cli "-q bad IP" 2 '^spf-milter: -q: not an IPv4 or IPv6 address: 192.0.2.300$' -c "$tmp/cli.conf" -q 192.0.2.300 a@b.example helo.example
cli "-q argument count" 2 '^spf-milter: -q needs three arguments' -q 192.0.2.1 a@b.example
cli "-q control character" 2 'control character' -c "$tmp/cli.conf" -q 192.0.2.1 "$(printf 'a\rb@x.example')" helo.example

"$python" "$top/test/dnsserver.py" --zone "$top/test/milter/zone" \
    --portfile "$tmp/dnsport" --log "$tmp/dns.log" &
dnspid=$!
if ! wait_for 10 -e "$tmp/dnsport"; then
	echo "run-milter-tests: the DNS server did not start" >&2
	exit 1
fi
read -r dnsport _ < "$tmp/dnsport"

if [ $# -eq 0 ]; then
	set --
	for f in "$top"/test/milter/*.lua; do
		n=$(basename "$f" .lua)
		[ "$n" = lib ] || set -- "$@" "$n"
	done
fi

for name in "$@"; do
	d="$tmp/$name"
	mkdir -p "$d"
	sed -e "s|@DIR@|$d|g" -e "s|@DNSPORT@|$dnsport|g" \
	    -e "s|@SRCDIR@|$top/test/milter|g" \
	    "$top/test/milter/$name.conf" > "$d/milter.conf"
	# shellcheck disable=SC2086
	$wrap "$bin" -c "$d/milter.conf" > "$d/milter.log" 2>&1 &
	mpid=$!
	if ! wait_for 10 -e "$d/milter.sock"; then
		echo "FAIL $name: the milter did not start"
		cat "$d/milter.log"
		failed=$((failed + 1))
		stop_pid "$mpid" 10
		mpid=
		continue
	fi
	timeout 300 miltertest -D sock="unix:$d/milter.sock" -D pid="$mpid" \
	    -D dir="$d" -D srcdir="$top/test/milter" \
	    -s "$top/test/milter/$name.lua" > "$d/out" 2>&1
	mrc=$?
	stop_milter "$mpid" "$d/milter.sock"
	wait "$mpid"
	rc=$?
	mpid=
	if [ $mrc -eq 0 ] && grep -q '^all passed$' "$d/out" &&
	    ! grep -q '^FAIL' "$d/out" && [ $rc -eq 0 ]; then
		echo "ok   $name ($(grep -c '^ok:' "$d/out") checks)"
	else
		echo "FAIL $name (miltertest exit $mrc, milter exit $rc)"
		grep -av '^ok:' "$d/out"
		echo "--- milter log (last 40 lines):"
		tail -n 40 "$d/milter.log"
		failed=$((failed + 1))
	fi
	[ -n "${KEEP_LOGS:-}" ] && cp "$d/milter.log" "$KEEP_LOGS.$name.log" && cp "$d/out" "$KEEP_LOGS.$name.out"
done

# --- stress: concurrent transactions while SIGUSR1 reloads (MLOAD set) ---
stress() {
	d="$tmp/stress"
	mkdir -p "$d"
	sed -e "s|@DIR@|$d|g" -e "s|@DNSPORT@|$dnsport|g" \
	    "$top/test/milter/stress.conf" > "$d/milter.conf"
	sed -e 's/^header = .*/header = Authentication-Results/' \
	    "$d/milter.conf" > "$d/other.conf"
	printf 'verify_helo = maybe\n' | cat "$d/milter.conf" - > "$d/bad.conf"
	cp "$d/milter.conf" "$d/good.conf"
	# shellcheck disable=SC2086
	$wrap "$bin" -c "$d/milter.conf" > "$d/milter.log" 2>&1 &
	mpid=$!
	if ! wait_for 10 -e "$d/milter.sock"; then
		echo "FAIL stress: the milter did not start"
		failed=$((failed + 1))
		return
	fi
	timeout 300 "$MLOAD" -s "unix:$d/milter.sock" \
	    -f "$top/test/milter/stress.cases" -c 16 -n "${STRESS_COUNT:-2000}" \
	    > "$d/mload.out" 2> "$d/mload.err" &
	lpid=$!
	reloads=0
	while kill -0 "$lpid" 2>/dev/null && [ $reloads -lt 3000 ]; do
		case $((reloads % 3)) in
		0) cp "$d/other.conf" "$d/milter.conf" ;;
		1) cp "$d/bad.conf" "$d/milter.conf" ;;
		2) cp "$d/good.conf" "$d/milter.conf" ;;
		esac
		kill -USR1 "$mpid"
		sleep 0.05
		reloads=$((reloads + 1))
	done
	wait "$lpid"
	lrc=$?
	alive=no
	kill -0 "$mpid" 2>/dev/null && alive=yes
	stop_milter "$mpid" "$d/milter.sock"
	wait "$mpid"
	rc=$?
	mpid=
	bad=$(grep -c 'reload of .* failed' "$d/milter.log")
	if [ $lrc -eq 0 ] && [ $alive = yes ] && [ $rc -eq 0 ] &&
	    [ "$bad" -ge 1 ]; then
		echo "ok   stress ($reloads reloads, $bad refused; $(cat "$d/mload.out"))"
	else
		echo "FAIL stress (mload exit $lrc, milter alive $alive, exit $rc, $bad reloads refused)"
		cat "$d/mload.err"
		tail -n 40 "$d/milter.log"
		failed=$((failed + 1))
	fi
}
if [ -n "${MLOAD:-}" ]; then
	stress
fi

if [ $failed -gt 0 ]; then
	echo "run-milter-tests: $failed script(s) failed"
	exit 1
fi
echo "run-milter-tests: all passed"
