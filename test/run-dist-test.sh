#!/bin/sh
# run-dist-test.sh - the release tarball of `make dist`:
#   - every copy of the version (NEWS, man pages, packaging recipes)
#     says the Makefile's VERSION;
#   - reproducible: a fresh clone of the same commit, with another umask,
#     time zone and file times, makes the same bytes;
#   - only what it should hold (no .ci/, no contrib/debian/), owner 0;
#   - complete: unpacked, `make check` passes from it; as root, as user
#     nobody inside a network namespace of its own (only lo, brought
#     up), under LIMIT seconds (default 60).
#
#   sh test/run-dist-test.sh VERSION
#
# Needs git (the tarball is made from HEAD, so the commit checked out is
# what is tested, not uncommitted changes), and as root unshare, ip and
# setpriv (util-linux, iproute2).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
version=$1
name=spf-milter-$version
LIMIT=${LIMIT:-60}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-dist.XXXXXX") || exit 1
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

# ---- the version, one place and its copies
check "NEWS has an entry for $version" grep -q "^$version (" NEWS
for page in spf-milter.8 spf-milter.conf.5; do
	check "$page says $version" grep -q "^\\.TH .*\"spf-milter $version\"" "$page"
done
check "APKBUILD: pkgver=$version" grep -qx "pkgver=$version" contrib/alpine/APKBUILD
check "OpenWrt Makefile: PKG_VERSION:=$version" \
	grep -qx "PKG_VERSION:=$version" contrib/openwrt/Makefile
if [ -f contrib/debian/changelog ]; then
	check "debian/changelog: $version" \
		sh -c "head -n 1 contrib/debian/changelog | grep -q '^spf-milter ($version-'"
fi

# ---- reproducible: here, and in a fresh clone of the same commit made
# under another umask and time zone, with other file times
head=$(git rev-parse HEAD)
make -s dist >"$tmp/dist.out" 2>&1 || { cat "$tmp/dist.out"; exit 1; }
cat "$tmp/dist.out"
cp "$name.tar.gz" "$tmp/a.tar.gz"
if ! git clone -q --no-local --no-checkout "$top" "$tmp/clone" ||
    ! git -C "$tmp/clone" checkout -q "$head"; then
	echo "dist-test: cannot clone $top at $head"
	exit 1
fi
sleep 1
find "$tmp/clone" -path "$tmp/clone/.git" -prune -o -exec touch {} +
(cd "$tmp/clone" && umask 077 && TZ=Pacific/Kiritimati LC_ALL=C \
	make -s dist >/dev/null 2>&1)
a=$(sha256sum <"$tmp/a.tar.gz" | cut -d' ' -f1)
b=$(sha256sum <"$tmp/clone/$name.tar.gz" 2>/dev/null | cut -d' ' -f1)
check "the same commit gives the same bytes (sha256 $a)" test "$a" = "$b"

# ---- a make dist that fails (a file git does not have) leaves nothing
(cd "$tmp/clone" && make -s dist DIST_FILES=no-such-file >/dev/null 2>&1)
check "a failed make dist leaves no temporary file" \
	sh -c "! ls '$tmp/clone' | grep -q '^$name\.tar\.[0-9]'"

# ---- contents
tar -tvzf "$tmp/a.tar.gz" >"$tmp/list"
files=$(grep -c -v '^d' "$tmp/list")
check "every entry under $name/" sh -c "! awk '{ print \$6 }' '$tmp/list' | grep -v '^$name/'"
check "every entry owned by root/root" sh -c "! awk '{ print \$2 }' '$tmp/list' | grep -vx root/root"
check "one mtime for all entries" test "$(awk '{ print $4, $5 }' "$tmp/list" | sort -u | wc -l)" -eq 1
check "no .ci/, contrib/debian/, .gitignore" \
	sh -c "! grep -E ' $name/(\\.ci/|contrib/debian/|\\.gitignore)' '$tmp/list'"
for f in NEWS README LICENSE Makefile spf-milter.conf; do
	check "has $f" grep -q " $name/$f\$" "$tmp/list"
done

# ---- complete: make check from the unpacked tarball
mkdir "$tmp/u"
tar -xzf "$tmp/a.tar.gz" -C "$tmp/u"
src=$tmp/u/$name
env_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
start=$(date +%s)
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null &&
    command -v setpriv >/dev/null && command -v ip >/dev/null &&
    id nobody >/dev/null 2>&1; then
	how="as nobody in a network namespace of its own (lo only)"
	chmod 755 "$tmp"
	chown -R nobody "$tmp/u"
	# The inner script's $1 and $2 are its own.
	# shellcheck disable=SC2016
	unshare -n sh -c '
		ip link set lo up || exit 1
		exec setpriv --reuid=nobody --regid="$(id -g nobody)" \
			--clear-groups env -i PATH="$1" HOME=/nonexistent \
			TMPDIR=/tmp LC_ALL=C make -C "$2" -j2 check' \
		sh "$env_path" "$src" >"$tmp/check.out" 2>&1
	rc=$?
else
	how="as $(id -un) (root runs it as nobody without network)"
	env PATH="$env_path:$PATH" make -C "$src" -j2 check >"$tmp/check.out" 2>&1
	rc=$?
fi
secs=$(($(date +%s) - start))
grep -E '^(SKIPPED|make check:|not ok|FAIL)' "$tmp/check.out" | sed 's/^/    | /'
if [ "$rc" -ne 0 ]; then
	tail -n 40 "$tmp/check.out" | sed 's/^/    | /'
fi
check "make check from the tarball passes, $how" test "$rc" -eq 0
check "make check from the tarball took $secs s (limit $LIMIT s)" test "$secs" -le "$LIMIT"

echo "dist-test: $name.tar.gz: $files files, $(wc -c <"$tmp/a.tar.gz") bytes; $pass passed, $fail failed"
[ "$fail" -eq 0 ]
