#!/bin/sh
# run-dns-tests.sh - run test/test_dns (dns.c's unit tests) against four
# instances of test/dnsserver.py on loopback: a plain one, one that
# truncates UDP answers over 512 bytes, one that delays every answer by
# 100 ms, and a plain one on ::1.  Every server is stopped by its PID
# when this script exits.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
TEST=${TEST:-./test/test_dns}
# RUN: a wrapper for the test binary, e.g. "qemu-s390x -L /usr/s390x-linux-gnu"
RUN=${RUN:-}

tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The zone: names for every status, every record type, binary TXT data,
# and an RRset far larger than 512 bytes (5 records of 4 x 200 bytes).
zone=$tmp/test.zone
{
	printf '%s\n' 'txt.test.example TXT "v=spf1 " "-all"'
	printf '%s\n' 'bin.test.example TXT "a\x00b\xff" "\"q\\"'
	printf '%s\n' 'multi.test.example TXT "one"'
	printf '%s\n' 'multi.test.example TXT "two"'
	printf '%s\n' 'a.test.example A 192.0.2.1'
	printf '%s\n' 'a.test.example A 192.0.2.2'
	printf '%s\n' 'a.test.example AAAA 2001:db8::1'
	printf '%s\n' 'mx.test.example MX 10 mail.test.example'
	printf '%s\n' 'mx.test.example MX 20 mail2.test.example'
	printf '%s\n' '1.2.0.192.in-addr.arpa PTR host.test.example'
	printf '%s\n' 'alias.test.example CNAME a.test.example'
	printf '%s\n' 'loop.test.example CNAME loop.test.example'
	printf '%s\n' 'fail.test.example SERVFAIL'
	printf '%s\n' 'refused.test.example REFUSED'
	printf '%s\n' 'garbled.test.example GARBLE'
	printf '%s\n' 'mute.test.example TIMEOUT'
	s=$(printf '%0200d' 0)
	for i in 1 2 3 4 5; do
		printf '%s\n' "big.test.example TXT \"$i$s\" \"$s\" \"$s\" \"$s\""
	done
	printf '%s\n' '$TTL 1'
	printf '%s\n' 'short.test.example TXT "gone soon"'
	printf '%s\n' '$TTL 3600'
	for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
		printf '%s\n' "p$i.test.example A 192.0.2.$i"
	done
	# CNAME chains of 9, 15 and 200 hops (the server puts 10 hops at
	# most in one answer)
	for n in 9 15 200; do
		i=0
		while [ "$i" -lt "$n" ]; do
			printf 'c%s-%s.test.example CNAME c%s-%s.test.example\n' \
			    "$n" "$i" "$n" "$((i + 1))"
			i=$((i + 1))
		done
		printf '%s\n' "c$n-$n.test.example A 192.0.2.$((n % 256))"
	done
	# an include chain 10 deep: 11 round trips one after the other
	i=0
	while [ "$i" -lt 10 ]; do
		printf 'inc%s.test.example TXT "v=spf1 include:%s -all"\n' \
		    "$i" "inc$((i + 1)).test.example"
		i=$((i + 1))
	done
	printf '%s\n' 'inc10.test.example TXT "v=spf1 ip4:192.0.2.1 -all"'
	# big answers for the cache: 3.75 KB of TXT, 180 A records, and 300
	# empty TXT records (more than the cache keeps of one answer)
	t=$(printf '%0250d' 0)
	t="\"$t\" \"$t\" \"$t\" \"$t\" \"$t\""
	i=0
	while [ "$i" -lt 20 ]; do
		printf '%s\n' "fat$i.test.example TXT $t $t $t"
		i=$((i + 1))
	done
	i=0
	while [ "$i" -lt 1800 ]; do
		printf 'many%s.test.example A 10.0.%s.%s\n' \
		    "$((i / 180))" "$((i / 180))" "$((i % 180))"
		i=$((i + 1))
	done
	i=0
	while [ "$i" -lt 300 ]; do
		printf '%s\n' 'tiny.test.example TXT ""'
		i=$((i + 1))
	done
	# more names than questions fit in flight at once
	i=0
	while [ "$i" -lt 200 ]; do
		printf '%s\n' "w$i.test.example A 198.51.100.$i"
		i=$((i + 1))
	done
} > "$zone"

start() {
	name=$1
	shift
	"$PYTHON" test/dnsserver.py --zone "$zone" \
	    --portfile "$tmp/$name.port" --log "$tmp/$name.log" "$@" &
	pids="$pids $!"
}
start plain
start trunc --truncate 512
start slow --delay 100
start v6 --address ::1

# wait (at most 10 s) until every server has written its port
i=0
while [ ! -e "$tmp/plain.port" ] || [ ! -e "$tmp/trunc.port" ] ||
    [ ! -e "$tmp/slow.port" ] || [ ! -e "$tmp/v6.port" ]; do
	i=$((i + 1))
	if [ "$i" -gt 100 ]; then
		printf '%s\n' "run-dns-tests.sh: the DNS servers did not start" >&2
		exit 1
	fi
	sleep 0.1
done

DNS_TEST_PLAIN=$(cut -d' ' -f1 "$tmp/plain.port")
DNS_TEST_TRUNC=$(cut -d' ' -f1 "$tmp/trunc.port")
DNS_TEST_SLOW=$(cut -d' ' -f1 "$tmp/slow.port")
DNS_TEST_V6=$(cut -d' ' -f1 "$tmp/v6.port")
DNS_TEST_TRUNC_LOG=$tmp/trunc.log
DNS_TEST_PLAIN_LOG=$tmp/plain.log
DNS_TEST_SLOW_LOG=$tmp/slow.log
export DNS_TEST_PLAIN DNS_TEST_TRUNC DNS_TEST_SLOW DNS_TEST_V6 \
    DNS_TEST_TRUNC_LOG DNS_TEST_PLAIN_LOG DNS_TEST_SLOW_LOG
# test_cache_bytes counts the heap with mallinfo2(): chunks glibc keeps
# in its per-thread cache would count as in use, so it keeps none
GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.tcache_count=0
export GLIBC_TUNABLES
# shellcheck disable=SC2086
$RUN "$TEST"
