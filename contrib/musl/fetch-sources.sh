#!/bin/sh
# Fetch Debian's source packages of sendmail (for libmilter) and udns and
# unpack them under DIR, for the static musl build (musl.mk).
#
#   sh contrib/musl/fetch-sources.sh DIR [PACKAGE ...]
#
# PACKAGE: Debian source packages, default "sendmail udns" (musl.mk also
# asks for cmocka, to run the unit tests built with musl).
#
# apt runs with private options only: its own sources (deb-src copies of
# the system's entries), lists and no package caches, all under DIR, so the
# system's apt configuration and state are never touched.  Root is not
# needed.  The result: DIR/PACKAGE for each, with Debian's patches
# applied when dpkg-source (dpkg-dev) is installed.
set -eu

[ $# -ge 1 ] || { echo "usage: $0 DIR [PACKAGE ...]" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
shift
pkgs=${*:-sendmail udns}
parts=$dir/apt/sources.list.d
lists=$dir/apt/lists
dl=$dir/dl
mkdir -p "$parts" "$lists/partial" "$dl"

# deb-src twins of the system's entries, in both formats apt reads.
rm -f "$parts"/*.sources "$parts"/*.list
n=0
for f in /etc/apt/sources.list.d/*.sources; do
	[ -r "$f" ] || continue
	n=$((n + 1))
	sed 's/^Types:.*/Types: deb-src/' "$f" >"$parts/src$n.sources"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -r "$f" ] || continue
	n=$((n + 1))
	sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >"$parts/src$n.list"
done
[ "$n" -gt 0 ] || { echo "$0: no apt sources found in /etc/apt" >&2; exit 1; }

# The last of its arguments that exists: glob order is version order
# for the few files apt leaves here.
newest() {
	last=
	for f in "$@"; do
		[ -e "$f" ] && last=$f
	done
	echo "$last"
}

set -- -q \
	-oDir::Etc::SourceList=/dev/null \
	-oDir::Etc::SourceParts="$parts" \
	-oDir::State::Lists="$lists" \
	-oDir::Cache::pkgcache= \
	-oDir::Cache::srcpkgcache= \
	-oAPT::Sandbox::User="$(id -un)"

missing=
for p in $pkgs; do
	[ -n "$(newest "$dl/$p"_*.dsc)" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "fetch-sources: apt-get update (private lists in $lists)"
	apt-get "$@" update >/dev/null
	echo "fetch-sources: apt-get source --download-only$missing"
	# shellcheck disable=SC2086
	(cd "$dl" && apt-get "$@" source --download-only $missing >/dev/null)
fi

# $1 package name; unpacks the newest downloaded version into $dir/$1.
unpack() {
	dsc=$(newest "$dl/$1"_*.dsc)
	rm -rf "${dir:?}/$1"
	if command -v dpkg-source >/dev/null 2>&1; then
		# Unpacked beside the downloads, where it links the .orig
		# tarball it already finds there.
		rm -rf "${dl:?}/$1"
		(cd "$dl" && dpkg-source --no-check -x "$dsc" "$1" >/dev/null)
		mv "$dl/$1" "$dir/$1"
	else
		echo "fetch-sources: no dpkg-source (dpkg-dev): $1 without Debian's patches" >&2
		orig=$(newest "$dl/$1"_*.orig.tar.*)
		mkdir -p "$dir/$1"
		tar -xf "$orig" -C "$dir/$1" --strip-components=1
	fi
}
for p in $pkgs; do
	[ -d "$dir/$p" ] || unpack "$p"
	echo "fetch-sources: $p in $dir/$p"
done
