#!/bin/sh
# run-deb-test.sh - the Debian package of `make deb`, installed on this
# machine and taken away again:
#   - lintian: no error, no warning (overrides say why in a comment);
#   - apt-get install ./spf-milter_*.deb: the binary, the man pages, the
#     conffile, the unit, the system user, Postfix in its group;
#   - the installed binary with the installed config (as systemd would
#     start it, without systemd): the socket in /run/spf-milter belongs
#     to spf-milter, mode 0660; a miltertest session as user postfix is
#     served; SIGUSR1 reloads (the config read again as spf-milter);
#   - apt-get remove keeps the conffile, apt-get purge removes it, the
#     user, the group and every trace in dpkg's and systemd's state.
# Whatever happens, the package is purged and the milter stopped at exit.
#
#   sh test/run-deb-test.sh DEB CHANGES
#
# Root only; exits 77 otherwise.  Needs apt, lintian, miltertest, setpriv.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=test/lib.sh
. "$top/test/lib.sh"
deb=$1
changes=$2
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIPPED: deb-test: needs root (it installs the package)"
	exit 77
fi
case $deb in
/*) ;;
*) deb=$(pwd)/$deb ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-deb.XXXXXX") || exit 1
chmod 755 "$tmp"
milter_pid=''
export DEBIAN_FRONTEND=noninteractive
APT="apt-get -q -y -o DPkg::Lock::Timeout=120"
installed() { dpkg-query -W -f='${Status}' spf-milter 2>/dev/null | grep -q 'installed'; }
cleanup() {
	stop_pid "$milter_pid" 10
	if dpkg-query -W spf-milter >/dev/null 2>&1; then
		echo "deb-test: purging spf-milter"
		$APT purge spf-milter >/dev/null 2>&1
	fi
	rm -rf /run/spf-milter "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

if dpkg-query -W spf-milter >/dev/null 2>&1 || getent passwd spf-milter >/dev/null ||
    [ -e /etc/spf-milter.conf ]; then
	echo "deb-test: spf-milter is installed here already, or its user or config is left; not touching it"
	exit 1
fi

# ---- lintian
lintian --fail-on error,warning --pedantic -I "$changes" >"$tmp/lintian" 2>&1
rc=$?
sed 's/^/    | /' "$tmp/lintian"
check "lintian: no error, no warning" test "$rc" -eq 0

# ---- install
if $APT install "$deb" >"$tmp/install.log" 2>&1; then
	ok "apt-get install $(basename "$deb")"
else
	sed 's/^/    | /' "$tmp/install.log"
	not_ok "apt-get install $(basename "$deb")"
	echo "deb-test: $pass passed, $fail failed"
	exit 1
fi
check "installed" installed
for f in /usr/sbin/spf-milter /usr/share/man/man8/spf-milter.8.gz \
    /usr/share/man/man5/spf-milter.conf.5.gz /lib/systemd/system/spf-milter.service \
    /usr/share/doc/spf-milter/README.Debian; do
	check "$f" test -f "$f"
done
check "/etc/spf-milter.conf is a conffile" \
	sh -c "dpkg-query -W -f='\${Conffiles}' spf-milter | grep -q ' /etc/spf-milter.conf '"
check "the conffile: socket under /run/spf-milter" \
	grep -qx 'socket = unix:/run/spf-milter/spf-milter.sock' /etc/spf-milter.conf
check "the conffile: user spf-milter" grep -qx 'user = spf-milter' /etc/spf-milter.conf
system_user() {
	u=$(id -u spf-milter) && [ "$u" -lt 1000 ] && getent group spf-milter >/dev/null
}
check "system user spf-milter" system_user
if getent passwd postfix >/dev/null; then
	check "postfix is in group spf-milter" \
		sh -c "id -Gn postfix | tr ' ' '\\n' | grep -qx spf-milter"
fi
check "spf-milter -t accepts the installed config" \
	sh -c "/usr/sbin/spf-milter -t -c /etc/spf-milter.conf >/dev/null"
check "the unit starts the milter with the config" \
	grep -q '^ExecStart=/usr/sbin/spf-milter -c ' /lib/systemd/system/spf-milter.service
check "the unit's RuntimeDirectory is spf-milter" \
	grep -qx 'RuntimeDirectory=spf-milter' /lib/systemd/system/spf-milter.service

# ---- the installed milter, started as the unit would start it
mkdir -m 0755 /run/spf-milter
/usr/sbin/spf-milter -c /etc/spf-milter.conf -l stderr -L info 2>"$tmp/milter.log" &
milter_pid=$!
sock=/run/spf-milter/spf-milter.sock
wait_for 10 -S "$sock"
check "the socket appears" test -S "$sock"
check "the socket is spf-milter:spf-milter 0660" \
	test "$(stat -c '%U:%G %a' "$sock" 2>/dev/null)" = "spf-milter:spf-milter 660"
check "the milter runs as spf-milter" \
	test "$(ps -o user= -p "$milter_pid" 2>/dev/null)" = spf-milter
session() {
	timeout 30 setpriv --reuid="$1" --regid="$1" --init-groups \
		env MILTER_SOCKET="unix:$sock" miltertest -s "$top/test/busybox/session.lua" \
		>"$tmp/mt.out" 2>&1
	rc=$?
	sed 's/^/    | /' "$tmp/mt.out"
	[ "$rc" -eq 0 ] && grep -q '^session: ok' "$tmp/mt.out"
}
if getent passwd postfix >/dev/null; then
	check "a miltertest session as user postfix is served" session postfix
	check "user nobody cannot reach the socket" sh -c "! $(command -v setpriv) --reuid=nobody --regid=nogroup --clear-groups test -w '$sock'"
else
	check "a miltertest session is served" session root
fi
kill -USR1 "$milter_pid"
wait_for 5 -n "$(grep 'configuration reloaded' "$tmp/milter.log" 2>/dev/null)"
check "SIGUSR1: the config is read again as spf-milter" \
	grep -q 'configuration reloaded from /etc/spf-milter.conf' "$tmp/milter.log"
check "libmilter compiled in, a thread per connection (no worker pool warning)" \
	sh -c "! grep -q 'worker pool' '$tmp/milter.log'"
check "the package does not depend on Debian's libmilter" \
	sh -c "! dpkg-query -W -f='\${Depends}' spf-milter | grep -q libmilter"
stop_pid "$milter_pid" 10
milter_pid=''
sed 's/^/    | /' "$tmp/milter.log"
rm -rf /run/spf-milter

# ---- remove, purge
$APT remove spf-milter >"$tmp/remove.log" 2>&1
check "apt-get remove" test $? -eq 0
check "remove: the binary is gone" test ! -e /usr/sbin/spf-milter
check "remove: the conffile stays" test -f /etc/spf-milter.conf
$APT purge spf-milter >"$tmp/purge.log" 2>&1
check "apt-get purge" test $? -eq 0
sed 's/^/    | /' "$tmp/purge.log" | grep -iE 'warn|error' 
check "purge: no dpkg entry left" sh -c '! dpkg-query -W spf-milter >/dev/null 2>&1'
check "purge: the conffile is gone" test ! -e /etc/spf-milter.conf
check "purge: the user is gone" sh -c '! getent passwd spf-milter >/dev/null'
check "purge: the group is gone" sh -c '! getent group spf-milter >/dev/null'
check "purge: no unit symlink or systemd state left" sh -c \
	'! ls /etc/systemd/system/*/spf-milter.service /var/lib/systemd/deb-systemd-helper-enabled/*spf-milter* \
	/var/lib/systemd/deb-systemd-helper-enabled/*/spf-milter.service >/dev/null 2>&1'
check "purge: /usr/share/doc/spf-milter is gone" test ! -e /usr/share/doc/spf-milter

echo "deb-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
