#!/bin/sh
# check-need.sh - does a check of `make check` have what it needs?
#
#   sh test/check-need.sh NAME NEED...
#
# NEED is file:PATH (a readable file), python:MODULE (importable by
# $PYTHON, default /usr/bin/python3) or loopback (UDP over 127.0.0.1
# works: not so in a network namespace whose lo is down).  Exits 0 when
# all are there; otherwise prints "SKIPPED: NAME: why" and exits 1, and
# the caller passes without running the check.
set -u
name=$1
shift
PYTHON=${PYTHON:-/usr/bin/python3}

skip() {
	echo "SKIPPED: $name: $*"
	exit 1
}

for need in "$@"; do
	case $need in
	file:*)
		[ -r "${need#file:}" ] || skip "${need#file:} not found"
		;;
	python:*)
		[ -x "$PYTHON" ] || skip "no $PYTHON"
		"$PYTHON" -c "import ${need#python:}" 2>/dev/null ||
			skip "$PYTHON has no module ${need#python:}"
		;;
	loopback)
		# A datagram to a socket of our own on 127.0.0.1.
		if [ -x "$PYTHON" ] && ! "$PYTHON" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(2)
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", s.getsockname())
s.recv(1)' 2>/dev/null; then
			skip "no UDP over 127.0.0.1 (a network namespace with lo down?)"
		fi
		;;
	*)
		echo "check-need.sh: unknown need $need" >&2
		exit 2
		;;
	esac
done
exit 0
