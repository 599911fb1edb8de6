#!/bin/sh
# run-socket-tests.sh - one instance per unix socket: a second spf-milter
# on a live socket is refused and the first keeps it; a stale socket (no
# listener) is replaced; a file, a directory or a FIFO at the path is
# named in the error and left alone.
#
#   sh test/run-socket-tests.sh
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bin=${SPF_MILTER:-$top/spf-milter}
python=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-sock.XXXXXX") || exit 1
pid1=
sock=$tmp/milter.sock

# shellcheck source=test/lib.sh
. "$top/test/lib.sh"

# 0 when something accepts a connection on $1
connects() {
	"$python" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.close()' "$1" 2>/dev/null
}

# libmilter notices TERM only when its accept loop wakes (up to 5 s): a
# connection right after the signal wakes it at once.
stop_milter() {
	[ -n "$pid1" ] || return 0
	kill -TERM "$pid1" 2>/dev/null && connects "$sock"
	stop_pid "$pid1" 10
	pid1=
}

cleanup() {
	stop_milter
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failed=0 passed=0
check() {	# DESCRIPTION COMMAND...
	what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
	else
		echo "FAIL: $what"
		failed=$((failed + 1))
	fi
}

printf 'socket = unix:%s\nlog_destination = stderr\nlog_level = info\n' \
    "$sock" >"$tmp/milter.conf"


# --- a stale socket (bound, then its process gone) is replaced --------
"$python" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.close()' "$sock"
check "stale socket exists before the start" test -S "$sock"
"$bin" -c "$tmp/milter.conf" 2>"$tmp/first.log" &
pid1=$!
n=0
until connects "$sock" || [ "$n" -ge 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
check "first instance starts over a stale socket" \
    grep -q 'listening on unix:' "$tmp/first.log"
check "the stale socket was reported as removed" \
    grep -q 'removed a stale socket' "$tmp/first.log"
check "first instance accepts connections" connects "$sock"
ino1=$(stat -c %i "$sock")

# --- a second instance on the live socket is refused -------------------
timeout 20 "$bin" -c "$tmp/milter.conf" 2>"$tmp/second.log"
rc=$?
check "second instance exits 3 (got $rc)" [ "$rc" -eq 3 ]
check "second instance says another process listens" \
    grep -q 'another process is listening on it' "$tmp/second.log"
check "the socket is still the first instance's" \
    [ "$(stat -c %i "$sock")" = "$ino1" ]
check "first instance still alive" kill -0 "$pid1"
check "first instance still reachable" connects "$sock"
stop_milter

# --- something else at the path: named, left alone ---------------------
not_socket() {	# KIND-WORDS SETUP...
	words=$1
	shift
	rm -rf "$sock"
	"$@"
	timeout 20 "$bin" -c "$tmp/milter.conf" 2>"$tmp/other.log"
	rc=$?
	check "$words: exit 3 (got $rc)" [ "$rc" -eq 3 ]
	check "$words: the message names it" \
	    grep -q "the path is $words, not a socket" "$tmp/other.log"
	check "$words: left in place" test -e "$sock"
}
not_socket "a regular file" touch "$sock"
not_socket "a directory" mkdir "$sock"
not_socket "a FIFO (named pipe)" mkfifo "$sock"

if [ "$failed" -gt 0 ]; then
	echo "run-socket-tests: $failed of $((passed + failed)) checks failed"
	exit 1
fi
echo "run-socket-tests: $passed passed, 0 failed"
