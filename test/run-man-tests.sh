#!/bin/sh
# run-man-tests.sh - the documentation matches the code.
#
#   - spf-milter.conf.5 and spf-milter.8 are clean under mandoc -Tlint and
#     groff -man -ww -z;
#   - every parameter conf.c knows (conftool -k) has an entry in
#     spf-milter.conf.5, a line in the sample spf-milter.conf, and the
#     same default in both as the code uses (conftool's printout of an
#     empty file), and neither documents a parameter the code lacks;
#   - spf-milter.8 documents every command-line option.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
tool=test/conftool
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}

# --- lint ------------------------------------------------------------
for page in spf-milter.conf.5 spf-milter.8; do
	# a cross reference to a page not installed here is no fault of ours
	mandoc -Tlint "$page" 2>&1 | grep -v 'referenced manual not found' \
	    >"$tmp/lint"
	[ -s "$tmp/lint" ] && { fail "mandoc -Tlint $page"; cat "$tmp/lint"; }
	groff -man -ww -z "$page" >"$tmp/groff" 2>&1
	[ -s "$tmp/groff" ] && { fail "groff -man -ww -z $page"; cat "$tmp/groff"; }
done

# --- the defaults the code uses ------------------------------------------
# hostname and authserv_id default to the host's name: documented as empty
: >"$tmp/empty.conf"	# only regular files are read
"$tool" "$tmp/empty.conf" | sed -e 's/^hostname = .*/hostname =/' \
    -e 's/^authserv_id = .*/authserv_id =/' >"$tmp/defaults"
"$tool" -k >"$tmp/keys"
# the binary, when it has -t, must print the same defaults
bin=${SPF_MILTER:-$top/spf-milter}
if [ -x "$bin" ] && "$bin" -h 2>&1 | grep -q -- '-t'; then
	"$bin" -t -c "$tmp/empty.conf" -p inet:8894@127.0.0.1 |
	    sed -e 's/^socket = .*/socket =/' -e 's/^hostname = .*/hostname =/' \
	    -e 's/^authserv_id = .*/authserv_id =/' >"$tmp/bin-defaults"
	diff -u "$tmp/defaults" "$tmp/bin-defaults" ||
		fail "spf-milter -t prints other defaults than conftool"
fi
[ -s "$tmp/keys" ] || fail "conftool -k printed no parameters"

# --- spf-milter.conf.5 ---------------------------------------------------
page=spf-milter.conf.5
sed -n '/^\.\\" defaults-begin/,/^\.\\" defaults-end/p' "$page" |
    sed '1d;$d' >"$tmp/man-defaults"
if ! diff -u "$tmp/defaults" "$tmp/man-defaults" >"$tmp/diff"; then
	fail "$page: the DEFAULTS block differs from the code (- code, + page)"
	cat "$tmp/diff"
fi
# the tags of the parameter entries: the line after each .TP
awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }' "$page" |
    sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' >"$tmp/tags"
while IFS= read -r key; do
	grep -Eq "(^|[^a-z_])$key([^a-z_]|\$)" "$tmp/tags" ||
		fail "$page: no entry for parameter $key"
done <"$tmp/keys"
# every tag that looks like "key = ..." names a real parameter
sed -n 's/^\.BI* "\([a-z_]*\) = .*/\1/p' "$page" | while IFS= read -r key; do
	grep -qx "$key" "$tmp/keys" || echo "$key"
done >"$tmp/extra"
[ -s "$tmp/extra" ] && { fail "$page documents unknown parameters:"; cat "$tmp/extra"; }

# --- the sample spf-milter.conf ------------------------------------------
sample=spf-milter.conf
while IFS= read -r key; do
	n=$(grep -Ec "^#?$key =" "$sample")
	if [ "$n" -ne 1 ]; then
		fail "$sample: $n lines for $key, expected 1"
		continue
	fi
	[ "$key" = socket ] && continue	# the one value the sample sets
	line=$(grep -E "^#?$key =" "$sample" | sed 's/^#//')
	grep -qxF -- "$line" "$tmp/defaults" ||
		fail "$sample: \"$line\" is not the default \"$(grep "^$key =" "$tmp/defaults")\""
done <"$tmp/keys"
sed -n 's/^#\{0,1\}\([a-z_]*\) =.*/\1/p' "$sample" | while IFS= read -r key; do
	grep -qx "$key" "$tmp/keys" || echo "$key"
done >"$tmp/extra"
[ -s "$tmp/extra" ] && { fail "$sample shows unknown parameters:"; cat "$tmp/extra"; }

# --- spf-milter.8 ----------------------------------------------------------
for opt in c p n l L t q V h; do
	grep -Eq "^\.(B|BI|OP) \\\\-$opt( |\$)" spf-milter.8 ||
		fail "spf-milter.8: option -$opt is not documented"
done

if [ "$failed" -gt 0 ]; then
	echo "run-man-tests: $failed checks failed"
	exit 1
fi
echo "run-man-tests: man pages clean, $(wc -l <"$tmp/keys") parameters documented with their defaults"
