#!/bin/sh
# run-openwrt-test.sh - contrib/openwrt/Makefile run for real, with the
# build host's compiler standing in for OpenWrt's toolchain and
# test/openwrt/{rules,package}.mk for OpenWrt's make files:
#   - download: the release tarball (make dist) and sendmail's source
#     (Debian's orig tarball of sendmail, the same bytes as sendmail's
#     release) match PKG_HASH and the sendmail HASH;
#   - prepare, compile: libmilter compiled in with NETINET6 and the
#     thread cache, no libmilter.so needed; the project's flags survive
#     the package's;
#   - install: the binary, the init script, the UCI file, and
#     /etc/spf-milter.conf readable by the service user (0644) with
#     "user = spf-milter";
#   - an IPv6 client through that binary is served, and through the same
#     build without NETINET6 (what OpenWrt's libmilter-sendmail is) the
#     session fails (test/run-ipv6-test.sh).
#
#   sh test/run-openwrt-test.sh TARBALL SENDMAIL_ORIG_TARBALL
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
tarball=$1
sendmail=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-openwrt.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

pkgmk=$top/contrib/openwrt/Makefile
version=$(sed -n 's/^PKG_VERSION:=//p' "$pkgmk")
smver=$(sed -n 's/^SENDMAIL_VERSION:=//p' "$pkgmk")
mkdir -p "$tmp/dl" "$tmp/build"
cp "$tarball" "$tmp/dl/spf-milter-$version.tar.gz"
cp "$sendmail" "$tmp/dl/sendmail.$smver.tar.gz"
# PKG_HASH is "skip" until a release is made: check the tarball's own.
sed "s/^PKG_HASH:=.*/PKG_HASH:=$(sha256sum <"$tarball" | cut -d' ' -f1)/" \
	"$pkgmk" >"$tmp/Makefile"
idir=$tmp/ipkg
owrt() {
	make -f "$tmp/Makefile" TOPDIR="$top/test/openwrt" \
		INCLUDE_DIR="$top/test/openwrt" DL_DIR="$tmp/dl" \
		BUILD_DIR="$tmp/build" IDIR="$idir" \
		TARGET_CPPFLAGS=-DOPENWRT_TARGET "$@"
}

if owrt install >"$tmp/build.log" 2>&1; then
	ok "download, prepare, compile, install"
	grep '^download:' "$tmp/build.log" | sed 's/^/    | /'
else
	sed 's/^/    | /' "$tmp/build.log"
	not_ok "download, prepare, compile, install"
	echo "openwrt-test: $pass passed, $fail failed"
	exit 1
fi
bin=$idir/usr/sbin/spf-milter
build=$tmp/build/spf-milter-$version

check "libmilter compiled in with NETINET6" \
	grep -q -- -DNETINET6 "$build/build/libmilter/defs"
check "libmilter's sessions run on the thread cache (milter-threads.c)" \
	sh -c "grep -q -- -Dpthread_create=thread_cache_create '$build/build/libmilter/defs' &&
	    test -f '$build/build/libmilter/milter-threads.o'"
check "no libmilter.so needed" sh -c "! ldd '$bin' | grep -q libmilter"
check "-V says $version" test "$("$bin" -V)" = "spf-milter $version"
check "the target's CPPFLAGS and the project's defines both reached the compiler" \
	grep -q -- "-DSPF_MILTER_VERSION=.*-DOPENWRT_TARGET" "$tmp/build.log"
check "the default config is /etc/spf-milter.conf" \
	sh -c "'$bin' -h 2>&1 | grep -qF '(default /etc/spf-milter.conf)'"
mode() { stat -c %a "$idir/$1"; }
check "/etc/spf-milter.conf is 0644 (readable by the service user)" \
	test "$(mode etc/spf-milter.conf)" = 644
check "/etc/spf-milter.conf switches to user spf-milter" \
	grep -qx 'user = spf-milter' "$idir/etc/spf-milter.conf"
check "the installed config is otherwise the sample" sh -c \
	"sed 's/^user = spf-milter\$/#user =/' '$idir/etc/spf-milter.conf' | cmp -s - '$build/spf-milter.conf'"
check "/etc/init.d/spf-milter is 0755" test "$(mode etc/init.d/spf-milter)" = 755
check "/etc/config/spf-milter installed" test -f "$idir/etc/config/spf-milter"
owrt info >"$tmp/info" 2>&1
check "USERID spf-milter:spf-milter" grep -qx 'USERID=spf-milter:spf-milter' "$tmp/info"
check "DEPENDS without libmilter-sendmail" \
	sh -c "grep -q '^DEPENDS=' '$tmp/info' && ! grep -q libmilter '$tmp/info'"

# The same build without NETINET6, linked to another name.
if make -s -C "$build" CC=gcc STATIC= MILTER_SRC="$build/sendmail-$smver" \
    MILTER_IPV6=0 MILTER_OBJ=build/libmilter-noinet6 spf-milter \
    >"$tmp/noinet6.log" 2>&1 && mv "$build/spf-milter" "$tmp/spf-milter-noinet6"; then
	ok "the same build without NETINET6"
else
	sed 's/^/    | /' "$tmp/noinet6.log"
	not_ok "the same build without NETINET6"
fi
if sh "$top/test/run-ipv6-test.sh" "$tmp/spf-milter-noinet6" "$bin" >"$tmp/ipv6.out" 2>&1; then
	ok "IPv6 client: served by the package's build, lost without NETINET6"
else
	not_ok "IPv6 client: served by the package's build, lost without NETINET6"
fi
sed 's/^/    | /' "$tmp/ipv6.out"

echo "openwrt-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
