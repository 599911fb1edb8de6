#!/bin/sh
# The OpenRC and OpenWrt procd scripts cannot run here (no openrc-run, no
# procd), so their functions run under busybox sh with stand-ins for what
# the service manager provides, against the real binary's -t: a good
# config starts and reloads (SIGUSR1 asked of the supervisor), a broken
# one is refused with its errors shown and nothing sent to the milter.
#
#   sh test/busybox/run-stub-tests.sh
#
# Environment: SPF_MILTER (default ./spf-milter), BUSYBOX (/bin/busybox).
# Starts no daemon; everything lives in a temporary directory.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
SPF_MILTER=${SPF_MILTER:-$top/spf-milter}
BUSYBOX=${BUSYBOX:-/bin/busybox}
case "$SPF_MILTER" in
/*) ;;
*) SPF_MILTER=$(pwd)/$SPF_MILTER ;;
esac
for need in "$SPF_MILTER" "$BUSYBOX"; do
	[ -x "$need" ] || { echo "stub-tests: $need missing" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/spf-milter-stub.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

good=$tmp/good.conf
bad=$tmp/bad.conf
printf 'socket = unix:%s/m.sock\n' "$tmp" >"$good"
printf 'socket = unix:%s/m.sock\nlog_level = loud\n' "$tmp" >"$bad"

pass=0
fail=0
# run NAME SCRIPT: runs SCRIPT under busybox sh; output in $tmp/NAME.out.
run() {
	printf '%s\n' "$2" >"$tmp/$1.sh"
	env -i PATH="$tmp/bin:/usr/bin:/bin" TOP="$top" BIN="$SPF_MILTER" \
		GOOD="$good" BAD="$bad" TMP="$tmp" \
		"$BUSYBOX" sh "$tmp/$1.sh" >"$tmp/$1.out" 2>&1
	echo "rc=$?" >>"$tmp/$1.out"
}
# expect NAME DESCRIPTION PATTERN: the output of NAME has a line matching.
expect() {
	if grep -q -- "$3" "$tmp/$1.out"; then
		pass=$((pass + 1)); echo "ok - $2"
	else
		fail=$((fail + 1)); echo "not ok - $2"; sed 's/^/    | /' "$tmp/$1.out"
	fi
}
expect_not() {
	if grep -q -- "$3" "$tmp/$1.out"; then
		fail=$((fail + 1)); echo "not ok - $2"; sed 's/^/    | /' "$tmp/$1.out"
	else
		pass=$((pass + 1)); echo "ok - $2"
	fi
}

# supervise-daemon is a program: a stand-in that records its arguments.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/supervise-daemon" <<'EOF'
#!/bin/sh
echo "CALL supervise-daemon $*"
EOF
chmod +x "$tmp/bin/supervise-daemon"

# ---- OpenRC: openrc-run's helpers as functions, then the init.d file.
# The stand-ins are expanded by the inner shell, not here.
# shellcheck disable=SC2016
openrc_pre='RC_SVCNAME=spf-milter
ebegin() { echo "ebegin $*"; }
eend() { echo "eend $*"; return "$1"; }
eerror() { echo "eerror $*"; }
checkpath() { echo "CALL checkpath $*"; }
rundir=$TMP/run'

run openrc_good "$openrc_pre
cfgfile=\$GOOD
. \$TOP/contrib/openrc/spf-milter.initd
command=\$BIN
echo \"ARGS \$command_args\"
echo \"SUPERVISOR \$supervisor EXTRA \$extra_started_commands\"
start_pre; echo \"start_pre=\$?\"
reload; echo \"reload=\$?\""
expect openrc_good "openrc: command_args name the config and syslog" "^ARGS -c $good -l syslog"
expect openrc_good "openrc: supervised, reload among the started commands" "^SUPERVISOR supervise-daemon EXTRA reload"
expect openrc_good "openrc: start_pre passes a good config" "^start_pre=0"
expect openrc_good "openrc: start_pre makes the run directory" "^CALL checkpath --directory --mode 0755 $tmp/run"
expect openrc_good "openrc: reload asks supervise-daemon for SIGUSR1" "^CALL supervise-daemon spf-milter --signal USR1"
expect openrc_good "openrc: reload succeeds" "^reload=0"
expect_not openrc_good "openrc: the config dump of -t stays quiet" "^socket = "

run openrc_bad "$openrc_pre
cfgfile=\$BAD
. \$TOP/contrib/openrc/spf-milter.initd
command=\$BIN
start_pre; echo \"start_pre=\$?\"
reload; echo \"reload=\$?\"
RC_CMD=restart
stop_pre; echo \"stop_pre=\$?\""
expect openrc_bad "openrc: start_pre refuses a broken config" "^start_pre=1"
expect openrc_bad "openrc: reload refuses a broken config" "^reload=1"
expect openrc_bad "openrc: the errors are shown with file and line" "bad.conf:2: invalid log_level"
expect_not openrc_bad "openrc: no signal for a broken config" "CALL supervise-daemon"
expect openrc_bad "openrc: a restart keeps the running milter" "^stop_pre=1"

# ---- OpenWrt procd: rc.common's and procd.sh's functions as stand-ins.
# shellcheck disable=SC2016
procd_pre='config_load() { :; }
config_get_bool() { eval "$1=\${UCI_$3:-$4}"; }
config_get() { eval "$1=\${UCI_$3:-$4}"; }
procd_open_instance() { echo "CALL open $*"; }
procd_set_param() { echo "CALL set $*"; }
procd_append_param() { echo "CALL append $*"; }
procd_close_instance() { echo "CALL close"; }
procd_send_signal() { echo "CALL signal $*"; }
procd_add_config_trigger() { echo "CALL trigger $*"; }
logger() { echo "CALL logger $*"; }
restart() { echo "CALL rc.common restart"; stop "$@"; start "$@"; }
. $TOP/contrib/openwrt/spf-milter.init
PROG=$BIN
RUNDIR=$TMP/var-run'

run procd_good "$procd_pre
CONFFILE=\$GOOD
echo \"USE_PROCD=\$USE_PROCD\"
start_service; echo \"start=\$?\"
reload_service; echo \"reload=\$?\"
service_triggers"
expect procd_good "procd: USE_PROCD=1" "^USE_PROCD=1"
expect procd_good "procd: runs the milter in the foreground with the config" "^CALL set command $SPF_MILTER -c $good -l syslog"
expect procd_good "procd: respawn" "^CALL set respawn"
expect procd_good "procd: start succeeds" "^start=0"
expect procd_good "procd: reload sends SIGUSR1 through procd" "^CALL signal spf-milter spf-milter USR1"
expect procd_good "procd: a UCI change restarts" "^CALL trigger config.change spf-milter /etc/init.d/spf-milter restart"
expect_not procd_good "procd: no UCI socket, no -p" "CALL append command -p"

run procd_uci "$procd_pre
CONFFILE=\$GOOD
UCI_socket=inet:8894@127.0.0.1
UCI_log_level=debug
start_service
UCI_enabled=0
echo DISABLED
start_service"
expect procd_uci "procd: UCI socket becomes -p" "^CALL append command -p inet:8894@127.0.0.1"
expect procd_uci "procd: UCI log_level becomes -L" "^CALL append command -L debug"
if sed -n '/^DISABLED/,$p' "$tmp/procd_uci.out" | grep -q "CALL open"; then
	fail=$((fail + 1)); echo "not ok - procd: enabled=0 starts nothing"
else
	pass=$((pass + 1)); echo "ok - procd: enabled=0 starts nothing"
fi

run procd_bad "$procd_pre
CONFFILE=\$BAD
start_service; echo \"start=\$?\"
reload_service; echo \"reload=\$?\""
expect procd_bad "procd: start refuses a broken config" "^start=1"
expect procd_bad "procd: reload refuses a broken config" "^reload=1"
expect procd_bad "procd: the errors are shown with file and line" "bad.conf:2: invalid log_level"
expect_not procd_bad "procd: no instance for a broken config" "CALL open"
expect_not procd_bad "procd: no signal for a broken config" "CALL signal"

# restart: rc.common defines a restart (stop, start) before it reads the
# script, and procd's start and stop after it.
# shellcheck disable=SC2016
procd_rc='stop() { echo "CALL stop"; }
start() { echo "CALL start"; }'
run procd_restart_bad "$procd_pre
$procd_rc
CONFFILE=\$BAD
restart; echo \"restart=\$?\""
expect procd_restart_bad "procd: restart refuses a broken config" "^restart=1$"
expect_not procd_restart_bad "procd: restart with a broken config stops nothing" "CALL stop"
expect procd_restart_bad "procd: restart shows the errors" "bad.conf:2: invalid log_level"
run procd_restart_good "$procd_pre
$procd_rc
CONFFILE=\$GOOD
restart; echo \"restart=\$?\""
if awk '/^CALL stop/ { s = NR } /^CALL start/ { t = NR }
    END { exit !(s && t && s < t) }' "$tmp/procd_restart_good.out"; then
	pass=$((pass + 1)); echo "ok - procd: restart with a good config stops, then starts"
else
	fail=$((fail + 1)); echo "not ok - procd: restart with a good config stops, then starts"
	sed 's/^/    | /' "$tmp/procd_restart_good.out"
fi

echo "stub-tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
