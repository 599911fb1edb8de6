#!/bin/sh
# run-flags-test.sh - a packager's CPPFLAGS, CFLAGS and LDFLAGS add to the
# project's flags and never drop them.
#
#   sh test/run-flags-test.sh VERSION FILE...
#
# FILE... are what `make spf-milter` needs (the Makefile passes them).
# First `make -n` shows each way of passing flags (command line,
# environment, both) keeps the project's defines, the warnings and the
# packager's own flag; then a real build in a scratch copy with
# `make CPPFLAGS=-DX CONFFILE=...` must print the version with -V and
# name that CONFFILE as its default.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
version=$1
shift
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-flags.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }

# has LINE WORD...: every WORD appears in LINE.
has() {
	line=$1
	shift
	for w in "$@"; do
		case " $line " in
		*" $w "*) ;;
		*) echo "    missing $w in: $line"; return 1 ;;
		esac
	done
}

conf=/nonexistent/flags-test.conf
# Literal quotes, as make prints them.
# shellcheck disable=SC2089,SC2090
defs="-D_GNU_SOURCE -DSPF_MILTER_VERSION='\"$version\"' -DSPF_MILTER_CONF='\"$conf\"'"
# The compile line of spf.o, as make would run it.
compile() {
	(cd "$top" && "$@" -s -n -B spf.o CONFFILE=$conf) 2>/dev/null | grep ' -c -o spf.o '
}

l=$(compile make CPPFLAGS=-DPKG_CMDLINE CFLAGS=-O1 LDFLAGS=-Wl,-z,now)
# Word splitting of $defs is wanted: its quotes stay part of the words,
# as in make's output.
# shellcheck disable=SC2086,SC2090
if has "$l" $defs -DPKG_CMDLINE -Wall -Wextra -O1; then
	ok "make CPPFLAGS=... keeps the project's defines and warnings"
else
	not_ok "make CPPFLAGS=... keeps the project's defines and warnings"
fi
l=$(compile env CPPFLAGS=-DPKG_ENV CFLAGS=-O1 make)
# shellcheck disable=SC2086,SC2090
if has "$l" $defs -DPKG_ENV -Wall -O1; then
	ok "CPPFLAGS in the environment is added to the project's"
else
	not_ok "CPPFLAGS in the environment is added to the project's"
fi
# A define that comes back through the environment is not doubled.
l=$(compile env "CPPFLAGS=-DSPF_MILTER_CONF='\"/old\"' -DPKG_ENV" make)
n=$(printf '%s\n' "$l" | tr ' ' '\n' | grep -c '^-DSPF_MILTER_CONF=')
# shellcheck disable=SC2086,SC2090
if [ "$n" -eq 1 ] && has "$l" $defs -DPKG_ENV; then
	ok "the project's defines appear once"
else
	not_ok "the project's defines appear once ($n times)"
fi
# MILTER_SRC=: the system's libmilter, as in a package build (a tree with
# sendmail's source fetched compiles libmilter in: libmilter.mk).
l=$(cd "$top" && make -s -n -B spf-milter LDFLAGS=-Wl,-z,now STATIC= MILTER_SRC= 2>/dev/null |
	grep ' -o spf-milter ')
if has "$l" -Wl,-z,now -lmilter && ! has "$l" -static >/dev/null; then
	ok "LDFLAGS reaches the link; STATIC= links dynamically"
else
	not_ok "LDFLAGS reaches the link; STATIC= links dynamically"
fi

# A real build with a packager's CPPFLAGS, in a scratch copy (the objects
# of the tree were built with other flags).
for f in "$@"; do
	mkdir -p "$tmp/src/$(dirname "$f")"
	cp "$top/$f" "$tmp/src/$f"
done
if make -s -C "$tmp/src" CPPFLAGS=-DPKG_CMDLINE CONFFILE=$conf STATIC= \
    spf-milter >"$tmp/build.log" 2>&1; then
	v=$("$tmp/src/spf-milter" -V 2>&1)
	if [ "$v" = "spf-milter $version" ]; then
		ok "built with CPPFLAGS=-DPKG_CMDLINE: -V prints \"$v\""
	else
		not_ok "built with CPPFLAGS=-DPKG_CMDLINE: -V prints \"$v\""
	fi
	if "$tmp/src/spf-milter" -h 2>&1 | grep -qF "(default $conf)"; then
		ok "CONFFILE= is the binary's default configuration"
	else
		not_ok "CONFFILE= is the binary's default configuration"
	fi
else
	sed 's/^/    | /' "$tmp/build.log"
	not_ok "build with CPPFLAGS=-DPKG_CMDLINE"
fi

echo "flags-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
