#!/bin/sh
# run-apkbuild-test.sh - contrib/alpine/APKBUILD's build(), check() and
# package() run the way abuild runs them (in the unpacked release
# tarball, with $srcdir, $builddir, $pkgdir, $CFLAGS, $LDFLAGS set),
# with Debian's build dependencies standing in for Alpine's; then the
# package's files and modes, and the pre-install script under busybox sh.
# check() runs one check of `make check` here (MAKEFLAGS=TEST=test_spf):
# test-dist runs all of them from the same tarball.
#
#   sh test/run-apkbuild-test.sh TARBALL
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
tarball=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-apk.XXXXXX") || exit 1
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

mkdir -p "$tmp/src" "$tmp/pkg"
tar -xzf "$tarball" -C "$tmp/src"
# abuild's variables; the functions run with builddir as the directory.
# shellcheck disable=SC2016
run='set -e
. "$APKBUILD"
builddir=$srcdir/$pkgname-$pkgver
cd "$builddir"
echo "pkgver=$pkgver"
'
phase() {
	env srcdir="$tmp/src" pkgdir="$tmp/pkg" APKBUILD="$top/contrib/alpine/APKBUILD" \
		CFLAGS="-Os -fstack-clash-protection" LDFLAGS="-Wl,--as-needed" \
		MAKEFLAGS="${2:-}" sh -c "$run
$1" >"$tmp/$1.log" 2>&1
}
for f in build check package; do
	case $f in
	check) phase $f TEST=test_spf ;;
	*) phase $f ;;
	esac
	rc=$?
	check "$f()" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || sed 's/^/    | /' "$tmp/$f.log"
done
check "check() ran make check" grep -q '^make check: 1 passed' "$tmp/check.log"

p=$tmp/pkg
mode() { stat -c %a "$p/$1" 2>/dev/null; }
check "/usr/sbin/spf-milter" test -x "$p/usr/sbin/spf-milter"
check "linked against the shared libmilter (STATIC=)" \
	sh -c "ldd '$p/usr/sbin/spf-milter' | grep -q libmilter"
check "/etc/spf-milter.conf 0644 (readable by the service user)" \
	test "$(mode etc/spf-milter.conf)" = 644
check "/etc/spf-milter.conf switches to user spf-milter" \
	grep -qx 'user = spf-milter' "$p/etc/spf-milter.conf"
check "/etc/init.d/spf-milter 0755" test "$(mode etc/init.d/spf-milter)" = 755
check "/etc/conf.d/spf-milter 0644" test "$(mode etc/conf.d/spf-milter)" = 644
check "man pages under /usr/share/man" test -f "$p/usr/share/man/man8/spf-milter.8" \
	-a -f "$p/usr/share/man/man5/spf-milter.conf.5"

# the pre-install script under busybox sh, with stand-ins for the
# applets that would change this machine
if command -v busybox >/dev/null 2>&1; then
	mkdir -p "$tmp/bin"
	for a in addgroup adduser; do
		printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$a" "$tmp/calls" >"$tmp/bin/$a"
		chmod +x "$tmp/bin/$a"
	done
	PATH="$tmp/bin:$PATH" busybox sh "$top/contrib/alpine/spf-milter.pre-install"
	check "pre-install exits 0" test $? -eq 0
	check "pre-install adds the system group and user" sh -c \
		"grep -q '^addgroup -S spf-milter' '$tmp/calls' && grep -q '^adduser -S .*-G spf-milter.* spf-milter' '$tmp/calls'"
fi

echo "apkbuild-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
