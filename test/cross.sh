#!/bin/sh
# Cross-build for a big-endian (s390x) or 32-bit (armhf) target and run
# the evaluator's unit tests and the in-process RFC 7208 suite under
# qemu-user; also link the static milter binary for that target.
# The target's libraries come from Debian with private apt state, so the
# system's package configuration is never touched.
#   sh test/cross.sh s390x|armhf SUITE.txt
# SRCS: the milter's sources (the Makefile passes its SRCS).
set -eu

arch=$1
suite=$2
case "$arch" in
s390x) triplet=s390x-linux-gnu qemu=qemu-s390x ;;
armhf) triplet=arm-linux-gnueabihf qemu=qemu-arm ;;
*) echo "cross.sh: unknown target $arch" >&2; exit 2 ;;
esac
cc=$triplet-gcc
top=$(pwd)
dir=$top/test/out/cross-$arch
root=$dir/root
mkdir -p "$dir/lists/partial" "$dir/debs" "$root"

if [ ! -e "$root/usr/lib/$triplet/libmilter.a" ] ||
   [ ! -e "$root/usr/lib/$triplet/libcmocka.so.0" ]; then
	o="-oAPT::Architecture=$arch -oAPT::Architectures=$arch \
-oDir::State::Lists=$dir/lists -oDir::Cache::pkgcache= -oDir::Cache::srcpkgcache="
	# A mirror half-way through a sync can fail one index (seen with
	# the security suite); what we need comes from the main archive, and
	# the download below fails loudly if it is missing.
	# shellcheck disable=SC2086
	apt-get $o -qq update || echo "cross $arch: apt-get update reported errors; trying the download anyway"
	# shellcheck disable=SC2086
	(cd "$dir/debs" && apt-get $o -qq download libmilter-dev libudns-dev \
		libinih-dev libcmocka0 libcmocka-dev)
	for deb in "$dir"/debs/*.deb; do
		dpkg -x "$deb" "$root"
	done
fi

lib=$root/usr/lib/$triplet
cflags="-O2 -g -Wall -Wextra -D_GNU_SOURCE -I$top -I$top/test"
# The quotes are meant literally: they make the defines C strings.
# shellcheck disable=SC2089,SC2090
defs="-DSPF_MILTER_VERSION=\"cross\" -DSPF_MILTER_CONF=\"/etc/spf-milter.conf\""

echo "cross $arch: static spf-milter"
# shellcheck disable=SC2086,SC2090
$cc $cflags $defs -static -o "$dir/spf-milter" ${SRCS:-spf.c dns.c conf.c header.c spf-milter.c} \
	-L"$lib" -lmilter -ludns -linih -lpthread
file "$dir/spf-milter" 2>/dev/null | sed 's/^/  /' || true
$qemu "$dir/spf-milter" -V

echo "cross $arch: unit tests and the suite in process"
# shellcheck disable=SC2086
$cc $cflags -o "$dir/test_spf" test/test_spf.c test/memres.c \
	-L"$lib" -l:libcmocka.so.0 -Wl,-rpath-link,"$lib"
# shellcheck disable=SC2086
$cc $cflags -static -o "$dir/suite_mem" test/suite_mem.c test/memres.c spf.c
$qemu -L "/usr/$triplet" -E LD_LIBRARY_PATH="$lib" "$dir/test_spf"
$qemu "$dir/suite_mem" "$suite"
