#!/bin/sh
# run-openrc-test.sh - contrib/openrc/spf-milter.initd under Debian's
# real openrc-run and supervise-daemon: start (a miltertest session is
# served), status, reload (the new config taken, same process), a broken
# config refused at reload and at restart (errors with file and line,
# the milter keeps serving), respawn after kill -9, stop.
#
#   sh test/run-openrc-test.sh
#
# Root only (chroot, mount and pid namespaces); says SKIPPED otherwise.
# openrc, librc1, libeinfo1 and insserv are fetched once with
# `apt-get download` into build/openrc/ and unpacked with dpkg-deb -x
# into a private root: openrc is NEVER installed on this machine (it
# would replace the init system).  That root gets the libraries the
# binaries need, busybox as /bin/sh and its tools, the milter
# (SPF_MILTER, default ./spf-milter) and the init script; the test runs
# it with chroot inside pid and mount namespaces of its own, so every
# process it starts ends with it.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=test/lib.sh
. "$top/test/lib.sh"

if [ "${1:-}" != --inner ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIPPED: openrc-test: needs root (chroot, namespaces)"
		exit 0
	fi
	SPF_MILTER=${SPF_MILTER:-$top/spf-milter}
	BUSYBOX=${BUSYBOX:-/bin/busybox}
	for need in "$SPF_MILTER" "$BUSYBOX"; do
		[ -x "$need" ] || { echo "openrc-test: $need missing"; exit 1; }
	done
	cache=$top/build/openrc
	pkgs="openrc librc1 libeinfo1 insserv"
	mkdir -p "$cache"
	for p in $pkgs; do
		ls "$cache/${p}_"*.deb >/dev/null 2>&1 && continue
		(cd "$cache" && apt-get -q download -oAPT::Sandbox::User=root "$p") ||
			{ echo "openrc-test: apt-get download $p failed"; exit 1; }
	done

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-openrc.XXXXXX") || exit 1
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 1' HUP INT TERM
	root=$tmp/root
	for p in $pkgs; do
		for deb in "$cache/${p}_"*.deb; do :; done
		dpkg-deb -x "$deb" "$root"
	done
	for deb in "$cache"/openrc_*.deb; do :; done
	echo "# Debian's ${deb##*/}, unpacked into $root"
	mkdir -p "$root/bin" "$root/usr/sbin" "$root/proc" "$root/dev" "$root/tmp" \
		"$root/var/log" "$root/etc/conf.d" "$root/run/openrc"
	cp "$BUSYBOX" "$root/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ -e "$root/bin/$a" ] || [ -e "$root/sbin/$a" ] ||
			ln -s busybox "$root/bin/$a"
	done
	cp "$SPF_MILTER" "$root/usr/sbin/spf-milter"
	# The libraries of every binary that runs in there (the milter's too
	# when it is not static), at the paths the loader looks for them.
	for b in "$root/sbin/openrc-run" "$root/sbin/supervise-daemon" \
	    "$root/sbin/openrc" "$root/bin/busybox" "$root/usr/sbin/spf-milter"; do
		LD_LIBRARY_PATH=$root/lib/x86_64-linux-gnu:$root/lib ldd "$b" 2>/dev/null
	done | awk '/=> \// { print $3 } /^\t\// { print $1 }' | sort -u |
	while read -r lib; do
		case $lib in
		"$root"/*) ;;
		*) mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib" ;;
		esac
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	cp "$top/contrib/openrc/spf-milter.initd" "$root/etc/init.d/spf-milter"
	cp "$top/contrib/openrc/spf-milter.confd" "$root/etc/conf.d/spf-milter"
	# stderr to a file (supervise-daemon writes it), quicker respawn
	cat >>"$root/etc/conf.d/spf-milter" <<'EOF'
log_dest="stderr"
error_log="/var/log/spf-milter.log"
respawn_delay=1
EOF
	# "need net": a service that provides it and does nothing
	printf '#!/sbin/openrc-run\ndepend() { provide net; }\nstart() { return 0; }\n' \
		>"$root/etc/init.d/net"
	chmod 755 "$root/etc/init.d/spf-milter" "$root/etc/init.d/net"
	# the state directory `openrc sysinit` would make
	for d in daemons exclusive failed hotplugged inactive options \
	    scheduled started starting stopping tmp wasinactive; do
		mkdir -p "$root/run/openrc/$d"
	done
	touch "$root/run/openrc/softlevel"

	unshare --pid --fork --mount --mount-proc sh "$0" --inner "$root" "$tmp"
	exit $?
fi

# ---- inside the namespaces: every process started here dies with it.
root=$2
tmp=$3
mount -t proc proc "$root/proc" || exit 1
mount --bind /dev "$root/dev" || exit 1
sock=$root/run/spf-milter/spf-milter.sock
log=$root/var/log/spf-milter.log
out=$tmp/out
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# rc CMD: /etc/init.d/spf-milter CMD in the private root; output in $out
rc() {
	env -i PATH=/sbin:/bin:/usr/sbin:/usr/bin TERM=dumb \
		chroot "$root" /etc/init.d/spf-milter "$@" >"$out" 2>&1
	r=$?
	sed 's/^/    | /' "$out"
	return $r
}
expect_rc() {
	want=$1
	shift
	rc "$@"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$* exits $want"; else not_ok "$* exits $got, expected $want"; fi
}
# the pids of the milter processes in this pid namespace
milter_pids() {
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = spf-milter ] && echo "${d#/proc/}"
	done
}
one_milter() {
	p=$(milter_pids)
	[ -n "$p" ] && [ "$(echo "$p" | wc -l)" -eq 1 ]
}
session() {
	MILTER_SOCKET="unix:$sock" timeout 30 miltertest -s "$top/test/busybox/session.lua" \
		>"$tmp/mt.out" 2>&1
	r=$?
	sed 's/^/    | /' "$tmp/mt.out"
	[ "$r" -eq 0 ] && grep -q '^session: ok' "$tmp/mt.out"
}
count() { grep -c -- "$1" "$log" 2>/dev/null; }
# until SECONDS COMMAND...: run COMMAND every tenth of a second until it
# succeeds, at most SECONDS; its status is the last run's.
until_ok() {
	_n=$(($1 * 10))
	shift
	while ! "$@" && [ "$_n" -gt 0 ]; do
		sleep 0.1
		_n=$((_n - 1))
	done
	"$@"
}
reloads_are() { [ "$(count 'configuration reloaded')" -eq "$1" ]; }
no_milter() { [ -z "$(milter_pids)" ]; }
write_conf() {
	printf 'socket = unix:/run/spf-milter/spf-milter.sock\nlog_level = %s\n' "$1" \
		>"$root/etc/spf-milter.conf"
}

write_conf info
expect_rc 3 status
expect_rc 0 start
wait_for 10 -S "$sock"
check "one milter process" one_milter
pid=$(milter_pids)
# comm holds 15 characters: "supervise-daemo"
sd=$(printf '%.15s' supervise-daemon)
check "supervise-daemon is its parent" \
	test "$(cat "/proc/$(awk '{ print $4 }' "/proc/$pid/stat")/comm" 2>/dev/null)" = "$sd"
check "the socket answers a miltertest session" session
expect_rc 0 status
check "status says started" grep -q 'started' "$out"

# reload: the new config taken by the same process
write_conf debug
expect_rc 0 reload
check "the log shows the new config taken" until_ok 5 reloads_are 1
check "same process after reload" test "$(milter_pids)" = "$pid"
check "still serving after reload" session

# a broken config: reload refused, errors shown, nothing sent
printf 'log_level = loud\n' >>"$root/etc/spf-milter.conf"
rc reload
r=$?
check "reload of a broken config is refused (exit $r)" test "$r" -ne 0
check "the errors name file and line" grep -q '/etc/spf-milter.conf:3: ' "$out"
sleep 1
check "no reload reached the milter" test "$(count 'configuration reloaded')" -eq 1
check "same process after the refused reload" test "$(milter_pids)" = "$pid"
check "still serving after the refused reload" session
rc restart
r=$?
check "restart with a broken config is refused (exit $r)" test "$r" -ne 0
check "same process after the refused restart" test "$(milter_pids)" = "$pid"
check "still serving after the refused restart" session
write_conf info

# respawn: supervise-daemon starts a new milter after kill -9
kill -KILL "$pid"
n=0
while [ "$n" -lt 100 ]; do
	new=$(milter_pids)
	[ -n "$new" ] && [ "$new" != "$pid" ] && break
	sleep 0.1
	n=$((n + 1))
done
check "a new milter after kill -9 (pid $pid, now ${new:-none})" \
	test -n "$new" -a "$new" != "$pid"
wait_for 10 -S "$sock"
check "the new milter serves" session
expect_rc 0 status

# stop
expect_rc 0 stop
check "no milter process after stop" until_ok 10 no_milter
check "no supervise-daemon after stop" sh -c \
	"! grep -qx '$sd' /proc/[0-9]*/comm 2>/dev/null"
expect_rc 3 status
sed 's/^/    | log: /' "$log"

echo "openrc-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
