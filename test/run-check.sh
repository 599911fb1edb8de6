#!/bin/sh
# run-check.sh - runs the checks of `make check` one after the other and
# sums them up: each NAME is the make target check-NAME; a check that
# printed "SKIPPED:" and passed counts as skipped.  All run, even after a
# failure; the exit status is non-zero when one failed.
#
#   MAKE=make sh test/run-check.sh NAME...
set -u
MAKE=${MAKE:-make}
out=$(mktemp "${TMPDIR:-/tmp}/spf-milter-check.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
start=$(date +%s)
passed='' skipped='' failed=''
for name in "$@"; do
	echo "==== check $name"
	$MAKE --no-print-directory "check-$name" >"$out" 2>&1
	rc=$?
	cat "$out"
	if [ "$rc" -ne 0 ]; then
		failed="$failed $name"
		echo "==== check $name: FAILED"
	elif grep -q '^SKIPPED:' "$out"; then
		skipped="$skipped $name"
	else
		passed="$passed $name"
	fi
done
# Word splitting of the name lists is wanted.
# shellcheck disable=SC2086
count() { set -- $1; echo $#; }
echo "make check: $(count "$passed") passed, $(count "$skipped") skipped${skipped:+ ($skipped )}, $(count "$failed") failed${failed:+ ($failed )} in $(($(date +%s) - start)) s"
[ -z "$failed" ]
