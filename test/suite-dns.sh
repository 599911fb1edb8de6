#!/bin/sh
# suite-dns.sh - the RFC 7208 suite through ./spf-milter -q and udns,
# against test/dnsserver.py on loopback.
#
#   test/suite-dns.sh udp      plain UDP
#   test/suite-dns.sh tcp512   UDP answers over 512 bytes truncated (TC)
#   test/suite-dns.sh tcpall   every UDP answer truncated: TCP carries all
#
# Prints each failing test and closes with "N passed, M failed"; exits
# non-zero on any failure.  test/suite_dns.py starts one DNS server per
# scenario and stops each by its PID.  BINARY (default ./spf-milter) may
# be a wrapper script, e.g. one running a cross-built binary under qemu.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
BINARY=${BINARY:-./spf-milter}
# the deadline of one evaluation: what a TIMEOUT test waits (seconds);
# raise it for slow runs (valgrind, qemu)
TIMEOUT=${DNS_SUITE_TIMEOUT:-2}
run() {
	exec "$PYTHON" test/suite_dns.py --binary "$BINARY" --timeout "$TIMEOUT" "$@"
}
case "${1:-udp}" in
udp)	run ;;
tcp512)	run --truncate 512 ;;
tcpall)	run --truncate 12 --expect-tcp ;;
*)	echo "usage: $0 udp|tcp512|tcpall" >&2; exit 2 ;;
esac
