#!/bin/sh
# Lint the packaging files: every shell script through sh -n (and busybox
# sh -n when busybox is there) and shellcheck, the systemd unit through
# systemd-analyze verify when systemd-analyze exists.
#
#   sh contrib/check-scripts.sh
#
# The OpenRC and procd scripts run under special shells (openrc-run,
# /etc/rc.common); they carry "# shellcheck shell=sh disable=..." lines
# that say which warnings come from that and why.
set -u
cd "$(dirname "$0")/.." || exit 1

scripts="contrib/busybox/spf-milter
contrib/openrc/spf-milter.initd
contrib/openrc/spf-milter.confd
contrib/openwrt/spf-milter.init
contrib/alpine/APKBUILD
contrib/alpine/spf-milter.pre-install
contrib/debian/spf-milter.postinst
contrib/debian/spf-milter.postrm
contrib/musl/fetch-sources.sh
contrib/check-scripts.sh
test/run-busybox-test.sh
test/busybox/run-stub-tests.sh
test/run-flags-test.sh
test/run-check.sh
test/check-need.sh
test/run-query-tests.sh
test/run-dist-test.sh
test/run-ipv6-test.sh
test/run-openwrt-test.sh
test/run-apkbuild-test.sh
test/run-deb-test.sh
test/run-openrc-test.sh
test/cross.sh"

fail=0
pass=0
result() {
	if [ "$1" -eq 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $2"
	fi
}

for f in $scripts; do
	sh -n "$f"
	result $? "sh -n $f"
	if command -v busybox >/dev/null 2>&1; then
		busybox sh -n "$f"
		result $? "busybox sh -n $f"
	fi
done

if command -v shellcheck >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	shellcheck -x -s sh $scripts
	result $? "shellcheck"
else
	echo "FAIL: shellcheck is not installed (apt-get install shellcheck)"
	fail=$((fail + 1))
fi

# verify needs the binaries to exist and flags unknown keys only with a
# message: run it on a copy that names /bin/true, and want silence.
if command -v systemd-analyze >/dev/null 2>&1; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-unit.XXXXXX") || exit 1
	sed -e 's|/usr/sbin/spf-milter|/bin/true|g' \
		-e 's|^Documentation=.*|Documentation=https://localhost/|' \
		contrib/systemd/spf-milter.service >"$tmp/spf-milter.service"
	out=$(systemd-analyze verify "$tmp/spf-milter.service" 2>&1)
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out"
	[ $rc -eq 0 ] && [ -z "$out" ]
	result $? "systemd-analyze verify contrib/systemd/spf-milter.service"
	rm -rf "$tmp"
else
	echo "# systemd-analyze not installed: unit not verified"
fi

echo "contrib scripts: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
