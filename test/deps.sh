#!/bin/sh
# Install the Debian packages a step needs, naming each one it installs.
#   sh test/deps.sh build   compile the milter
#   sh test/deps.sh test    build and run every test
#   sh test/deps.sh bench   the benchmarks too (pyspf-milter as a peer)
#   sh test/deps.sh deb     make deb and test-deb: the package's
#                           Build-Depends, debhelper, lintian
set -eu

build="gcc make libc6-dev libmilter-dev libudns-dev libinih-dev"
test="$build libcmocka-dev clang valgrind python3 python3-yaml python3-dnslib
python3-spf libmail-spf-perl miltertest mandoc groff-base postfix swaks busybox shellcheck
qemu-user gcc-s390x-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-s390x-cross
libc6-dev-armhf-cross dpkg-dev procps iproute2 musl-tools linux-libc-dev git
util-linux openssl opendkim opendmarc spamassassin libmail-dkim-perl
libmail-spf-perl m4"
bench="$test pyspf-milter"
deb="$build dpkg-dev debhelper lintian adduser libcmocka-dev python3-yaml
python3-dnslib python3-spf miltertest util-linux"

case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
deb) want=$deb ;;
*) echo "usage: $0 build|test|bench|deb" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
	sudo=
elif command -v sudo >/dev/null 2>&1; then
	sudo=sudo
else
	echo "deps: not root and no sudo; install these packages first:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
