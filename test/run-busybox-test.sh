#!/bin/sh
# Drives contrib/busybox/spf-milter with Debian's busybox against the real
# milter: start (the socket answers a miltertest session), reload (the log
# shows the new config taken), a broken config refused at reload and at
# restart while the running milter keeps serving, stop (process gone, pid
# file removed), status exit codes, a stale pid file, a broken config at
# start.
#
#   sh test/run-busybox-test.sh
#
# Environment: SPF_MILTER (the binary, default ./spf-milter; e.g.
# ./spf-milter.musl), BUSYBOX (/bin/busybox), MILTERTEST (miltertest).
# Everything lives in a temporary directory: a unix socket, the pid file,
# the config, the log.  The init script runs with a PATH that holds only
# busybox applets.  Every wait is bounded; on exit the milter is stopped
# by its pid.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
SPF_MILTER=${SPF_MILTER:-$top/spf-milter}
BUSYBOX=${BUSYBOX:-/bin/busybox}
MILTERTEST=${MILTERTEST:-miltertest}
SCRIPT=$top/contrib/busybox/spf-milter
LUA=$top/test/busybox/session.lua

case "$SPF_MILTER" in
/*) ;;
*) SPF_MILTER=$(pwd)/$SPF_MILTER ;;
esac
for need in "$SPF_MILTER" "$BUSYBOX"; do
	[ -x "$need" ] || { echo "busybox-test: $need missing (make; apt-get install busybox)" >&2; exit 1; }
done
command -v "$MILTERTEST" >/dev/null 2>&1 ||
	{ echo "busybox-test: $MILTERTEST missing (apt-get install miltertest)" >&2; exit 1; }
command -v timeout >/dev/null 2>&1 || { echo "busybox-test: timeout (coreutils) missing" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-bb.XXXXXX") || exit 1
PIDFILE=$tmp/spf-milter.pid
CONFFILE=$tmp/spf-milter.conf
LOGFILE=$tmp/milter.log
SOCK=$tmp/milter.sock
out=$tmp/out

# The milter's comm name: what the script and this test check a pid by.
comm=$(printf '%.15s' "${SPF_MILTER##*/}")

is_milter() {
	[ -n "$1" ] && [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$comm" ]
}

cleanup() {
	[ -n "${decoy:-}" ] && kill "$decoy" 2>/dev/null
	for p in ${started_pids:-}; do
		if is_milter "$p"; then
			kill -TERM "$p" 2>/dev/null
			n=0
			while is_milter "$p" && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
			is_milter "$p" && kill -KILL "$p" 2>/dev/null
		fi
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# busybox applets only, for the init script.
mkdir -p "$tmp/bin"
for a in $("$BUSYBOX" --list); do
	ln -s "$BUSYBOX" "$tmp/bin/$a"
done

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# Runs the init script under busybox sh; $? is the script's; output in $out.
initscript() {
	env -i PATH="$tmp/bin" DEFAULTFILE=/nonexistent \
		DAEMON="$SPF_MILTER" CONFFILE="$CONFFILE" PIDFILE="$PIDFILE" \
		LOGFILE="$LOGFILE" LOG_SHELL="$tmp/bin/sh" STOP_TIMEOUT=15 \
		"$tmp/bin/sh" "$SCRIPT" "$@" >"$out" 2>&1
	rc=$?
	sed 's/^/    | /' "$out"
	return $rc
}

expect_rc() {
	want=$1
	shift
	initscript "$@"
	got=$?
	if [ "$got" -eq "$want" ]; then
		ok "$* exits $want"
	else
		not_ok "$* exits $got, expected $want"
	fi
}

session() {
	MILTER_SOCKET="unix:$SOCK" timeout 30 "$MILTERTEST" -s "$LUA" >"$tmp/mt.out" 2>&1
	rc=$?
	sed 's/^/    | /' "$tmp/mt.out"
	[ $rc -eq 0 ] && grep -q '^session: ok' "$tmp/mt.out"
}

pidfile_pid() {
	cat "$PIDFILE" 2>/dev/null
}

# Waits up to $2 seconds for the log to hold $1 lines matching $3.
wait_log_count() {
	n=0
	while [ $n -lt $(($2 * 5)) ]; do
		c=$(grep -c -- "$3" "$LOGFILE" 2>/dev/null)
		[ "${c:-0}" -ge "$1" ] && return 0
		sleep 0.2
		n=$((n + 1))
	done
	return 1
}

write_conf() {
	cat >"$CONFFILE" <<EOF
# written by test/run-busybox-test.sh
socket = unix:$SOCK
log_level = $1
trusted_networks = 127.0.0.0/8
EOF
}

echo "# busybox init script test: $SPF_MILTER, $("$BUSYBOX" | head -n 1)"

# ---- stopped
write_conf info
expect_rc 3 status
expect_rc 0 stop

# ---- start
expect_rc 0 start
pid=$(pidfile_pid)
started_pids="$pid"
check "pid file names the milter" is_milter "$pid"
check "the log shows it listening" wait_log_count 1 5 "listening on unix:$SOCK"
check "the socket answers a miltertest session" session
expect_rc 0 status
expect_rc 0 start
check "a second start keeps the same milter" test "$(pidfile_pid)" = "$pid"

# ---- reload
write_conf debug
expect_rc 0 reload
check "the log shows the new config taken" \
	wait_log_count 1 5 "configuration reloaded from $CONFFILE"
check "same pid after reload" test "$(pidfile_pid)" = "$pid"
check "still serving after reload" session

# ---- broken config: refused by the script, milter keeps serving
cp "$CONFFILE" "$tmp/good.conf"
printf 'no_such_parameter = 1\nlog_level = loud\n' >>"$CONFFILE"
expect_rc 1 reload
check "reload shows the config errors" grep -q "spf-milter.conf:5:" "$out"
check "no second reload reached the milter" test "$(grep -c 'configuration reloaded' "$LOGFILE")" -eq 1
check "same milter after the refused reload" is_milter "$pid"
check "still serving after the refused reload" session
initscript restart
rc=$?
check "restart with a broken config is refused (exit $rc)" test "$rc" -ne 0
check "the milter survived the refused restart" test "$(pidfile_pid)" = "$pid"
check "still serving after the refused restart" session

# ---- the milter's own guard: SIGUSR1 with a broken file keeps the old one
kill -USR1 "$pid"
check "the milter logs its failed reload" wait_log_count 1 5 "reload of $CONFFILE failed"
check "still serving after the milter refused the file" session
cp "$tmp/good.conf" "$CONFFILE"

# ---- restart
expect_rc 0 restart
newpid=$(pidfile_pid)
started_pids="$started_pids $newpid"
check "restart made a new milter" test -n "$newpid" -a "$newpid" != "$pid"
check "the old milter is gone" sh -c "! test -d /proc/$pid"
check "serving after restart" session

# ---- stop
expect_rc 0 stop
check "stopped by TERM, no KILL needed" sh -c "! grep -q KILL '$out'"
check "process gone after stop" sh -c "! test -d /proc/$newpid"
check "pid file removed" test ! -e "$PIDFILE"
expect_rc 3 status
expect_rc 0 stop
expect_rc 7 reload

# ---- a stale pid file: a live process that is not the milter
sleep 60 &
decoy=$!
echo "$decoy" >"$PIDFILE"
expect_rc 1 status
expect_rc 0 start
pid=$(pidfile_pid)
started_pids="$started_pids $pid"
check "start replaced the stale pid file" is_milter "$pid"
check "the decoy was left alone" test -d "/proc/$decoy"
kill "$decoy" 2>/dev/null
wait "$decoy" 2>/dev/null
expect_rc 0 stop
check "process gone after the second stop" sh -c "! test -d /proc/$pid"

# ---- as root: the milter switches to "nobody" once its socket is open;
# the script still tracks, reloads and stops it.
if [ "$(id -u)" -eq 0 ] && grep -q '^nobody:' /etc/passwd; then
	nobody_uid=$(awk -F: '$1 == "nobody" { print $3 }' /etc/passwd)
	chmod 755 "$tmp"
	write_conf info
	echo "user = nobody" >>"$CONFFILE"
	chmod 644 "$CONFFILE"
	expect_rc 0 start
	pid=$(pidfile_pid)
	started_pids="$started_pids $pid"
	check "the milter runs as nobody" \
		sh -c "awk '/^Uid:/ { exit \$2 != $nobody_uid }' /proc/$pid/status"
	check "the socket belongs to nobody" \
		test "$(stat -c %u "$SOCK" 2>/dev/null)" = "$nobody_uid"
	check "serving as nobody" session
	expect_rc 0 reload
	check "reloaded as nobody" \
		wait_log_count 2 5 "configuration reloaded from $CONFFILE"
	expect_rc 0 stop
	check "process gone after stop as nobody" sh -c "! test -d /proc/$pid"
else
	echo "# not root: privilege switch not tested"
fi

# ---- broken config at start
printf 'socket = unix:%s\nlog_level = loud\n' "$SOCK" >"$CONFFILE"
expect_rc 6 start
check "nothing started with a broken config" test ! -e "$PIDFILE"

echo "busybox-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
