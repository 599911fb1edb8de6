# test/lib.sh - shell helpers the test scripts share; sourced, not run.
# shellcheck shell=sh
# Every wait here is bounded, and a process is stopped by its PID.

# stop_pid PID SECONDS: TERM, wait up to SECONDS, then KILL.
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	_n=0
	while kill -0 "$1" 2>/dev/null && [ "$_n" -lt $(($2 * 10)) ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		echo "process $1 did not stop in $2 s, killing it" >&2
		kill -KILL "$1" 2>/dev/null
	fi
	return 0
}

# wait_for SECONDS TEST-ARGS...: until `test TEST-ARGS` holds, at most
# SECONDS; its status is the last test's.
wait_for() {
	_limit=$(($1 * 10))
	shift
	_n=0
	while ! test "$@" && [ "$_n" -lt "$_limit" ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	test "$@"
}
