#!/usr/bin/env bats
# How baton runs an agent (SPEC §3): argv only, its own process group,
# the prompt on stdin, output streamed to log files, close-on-exec, a
# clean signal state, timeouts, and SIGINT / SIGTERM / SIGHUP to baton.

bats_require_minimum_version 1.5.0

load lib
load orch

local_setup() {
	fake_config "$(fake_profile slow print started sleep 30)" \
		"$(fake_profile noread noread print done)" \
		"$(fake_profile errfirst err 1048576 out 1048576)" \
		"  sigs: {kind: command, command: [$HELPERS/p-sigs]}" \
		"  fds: {kind: command, command: [$HELPERS/p-fds]}" \
		"  stuck: {kind: command, command: [$HELPERS/p-fork, $T/gc.pid, sleep, noterm]}" \
		"  orphan: {kind: command, command: [$HELPERS/p-fork, $T/gc.pid, exit, gcnoterm]}" \
		"  gcstuck: {kind: command, command: [$HELPERS/p-fork, $T/gc.pid, sleep, gcnoterm]}" \
		"  flood: {kind: command, command: [head, -c, '1073741824', /dev/zero]}" \
		"  chatty: {kind: command, command: [head, -c, '4194304', /dev/zero]}" \
		"  parentfds: {kind: command, command: [$T/parentfds]}" \
		"$(fake_profile flaky print attempt transient exit 1)" \
		"  hardterm: {kind: command, command: [$T/hardterm], kill_grace: 10m}"
	echo "retry: {attempts: 3, base: 30s, max: 30s}" >> "$BATON_CONFIG"
	# an agent that outlives TERM (its sleep does not): only KILL or
	# the end of the grace ends it
	cat > "$T/hardterm" <<-EOF
	#!/bin/sh
	trap 'echo term >> "$T/term"' TERM
	echo "\$\$" > "$T/hardterm.pid"
	echo ready
	while :; do sleep 1; done
	EOF
	chmod +x "$T/hardterm"
}

# Run "$@" with every fd above 2 closed, so that whatever baton has open
# is baton's own.
only_stdio() {
	local fd
	for fd in $(ls /proc/$BASHPID/fd); do
		if [ "$fd" -gt 2 ]; then
			eval "exec $fd>&-"
		fi
	done
	exec "$@"
}

@test "the agent runs in its own process group, from an argv with no shell" {
	run "$BATON" run 'some prompt $(touch pwned)'
	assert_status 0
	read -r pid pgid ppid < "$T/rec/1.1.proc"
	[ "$pid" = "$pgid" ]
	[ "$pgid" != "$(awk '{ print $5 }' /proc/$$/stat)" ]
	# the argv is the profile's, with the session id filled in: no
	# prompt, no shell
	[ "$(cat "$T/rec/1.1.argv")" = "$(tj 1 .session_id)" ]
	[ ! -e pwned ]
}

@test "the agent's environment carries the BATON_* variables of SPEC 3" {
	run "$BATON" run hello
	assert_status 0
	local env=$T/rec/1.1.env sid
	sid=$(tj 1 .session_id)
	grep -qx "BATON_TASK_ID=1" "$env"
	grep -qx "BATON_RUN_ID=1" "$env"
	grep -qx "BATON_SESSION_ID=$sid" "$env"
	grep -qx "BATON_AGENT_SESSION_ID=$sid" "$env"
	grep -qx "BATON_ITERATION=1" "$env"
	grep -qx "BATON_WORKDIR=$(pwd -P)" "$env"
	local dir
	dir=$(sed -n 's/^BATON_SESSION_DIR=//p' "$env")
	# a temp session's directory, gone with its task
	[ "$dir" = "$(files_dir)/sessions/$sid" ]
	# in results/, which exists: logs/1/ is made with its first file
	[ "$(sed -n 's/^BATON_RESULT_FILE=//p' "$env")" = "$(files_dir)/results/1.1.result" ]
}

@test "the agent starts with no blocked and no ignored signals" {
	# baton itself started with signals ignored, as under nohup or in
	# the background of a script
	trap '' HUP INT QUIT TERM USR1 PIPE
	run "$BATON" run --agent sigs check
	trap - HUP INT QUIT TERM USR1 PIPE
	assert_status 0
	assert_contains "SigBlk:	0000000000000000"
	assert_contains "SigIgn:	0000000000000000"
	# and from a worker thread of `work`
	"$BATON" add --agent sigs check >/dev/null
	"$BATON" add --agent sigs check >/dev/null
	run "$BATON" work -j 2 --until-empty
	assert_status 0
	local f
	for f in "$(files_dir)"/logs/2/*.out "$(files_dir)"/logs/3/*.out; do
		grep -qx 'SigBlk:	0000000000000000' "$f"
		grep -qx 'SigIgn:	0000000000000000' "$f"
	done
}

@test "every fd baton opens is close-on-exec; the agent gets only 0, 1, 2" {
	# The agent looks at baton's own fds while it runs: each one above 2
	# must carry O_CLOEXEC (02000000 in fdinfo's octal flags).
	cat > "$T/parentfds" <<-'EOF'
	#!/bin/sh
	for f in /proc/$PPID/fdinfo/*; do
		n=${f##*/}
		flags=$(awk '/^flags:/ { print $2 }' "$f" 2>/dev/null) || continue
		[ -n "$flags" ] || continue
		[ "$n" -le 2 ] && continue
		if [ $(( 0$flags & 02000000 )) = 0 ]; then
			echo "fd $n of baton lacks O_CLOEXEC: $(readlink /proc/$PPID/fd/$n)"
		fi
	done
	echo checked
	EOF
	chmod +x "$T/parentfds"
	run only_stdio "$BATON" run --agent parentfds check
	assert_status 0
	[ "$output" = checked ]
	"$BATON" add --agent parentfds check >/dev/null
	run only_stdio "$BATON" -q work -j 2 --until-empty
	assert_status 0
	[ "$(cat "$(files_dir)"/logs/2/*.out)" = checked ]
	run "$BATON" run --agent fds check
	assert_status 0
	[ "$output" = "$(printf '0\n1\n2')" ]
}

@test "an agent that never reads its prompt is not an error (no SIGPIPE)" {
	head -c 10485760 /dev/zero | tr '\0' x > "$T/big"
	run "$BATON" run --agent noread --prompt-file "$T/big"
	assert_status 0
	[ "$output" = done ]
	[ "$(tj 1 .status)" = completed ]
}

@test "stderr filled first does not deadlock; both streams land in the logs" {
	run timeout 60 "$BATON" -q run --agent errfirst go
	assert_status 0
	[ "$(stat -c %s "$(files_dir)/logs/1/1.out")" = 1048576 ]
	[ "$(stat -c %s "$(files_dir)/logs/1/1.err")" = 1048576 ]
	[ "$("$BATON" log 1 --stderr | wc -c)" = 1048576 ]
	[ "$("$BATON" log 1 | wc -c)" = 1048576 ]
}

# Free the blocks of growing log $1 until $T/flood.done exists, so that
# the 1 GB test (run by both builds at once) needs little disk.
punch_holes() {
	until [ -e "$T/flood.done" ]; do
		if [ -f "$1" ]; then
			fallocate -p -o 0 -l 1073741824 "$1" 2>/dev/null || true
		fi
		sleep 0.1
	done
}

@test "1 GB of output is streamed to the log with flat memory" {
	command -v /usr/bin/time >/dev/null || skip "/usr/bin/time is not installed"
	local avail
	avail=$(df -P -k "$T" | awk 'NR == 2 { print $4 }')
	head -c 65536 /dev/zero > "$T/probe"
	if ! fallocate -p -o 0 -l 65536 "$T/probe" 2>/dev/null &&
	    [ "$avail" -lt 1572864 ]; then
		skip "needs 1.5 GB free under $T or a file system that punches holes"
	fi
	# past the default logs.max_bytes (256 MiB), which would cap it;
	# redaction on, as by default: it streams too
	echo 'logs: {max_bytes: 2000000000}' >>"$BATON_CONFIG"
	"$BATON" status >/dev/null  # the database, and so files_dir
	punch_holes "$(files_dir)/logs/1/1.out" 3>&- &
	local trim=$!
	run /usr/bin/time -f 'maxrss=%M' "$BATON" -q run --agent flood go
	touch "$T/flood.done"
	wait "$trim"
	assert_status 0
	[ "$(stat -c %s "$(files_dir)/logs/1/1.out")" = 1073741824 ]
	local kb=${output##*maxrss=}
	# a copy in memory would be a million kB; the sanitizer build's
	# own overhead stays well below the bound
	if [ "$kb" -ge 262144 ]; then
		echo "baton's peak RSS was $kb kB" >&2
		return 1
	fi
	rm -f "$(files_dir)/logs/1/1.out"
}

@test "a terminal that does not read holds the agent back but not the timeout" {
	# a FIFO held open and never read: a paused terminal, a stuck pager
	mkfifo "$T/fifo"
	exec 5<>"$T/fifo"
	local rc=0
	# --raw: streamed as it comes (a command agent's stdout is
	# otherwise held in case it reports an answer)
	timeout -s KILL 60 "$BATON" run --raw --agent chatty --timeout 2s go \
		>"$T/fifo" 2>"$T/err" || rc=$?
	exec 5>&-
	[ "$rc" = 124 ]
	[ "$(tj 1 .status)" = timed_out ]
	# the agent waited for the reader: less than its 4 MB went out
	local size
	size=$(stat -c %s "$(files_dir)/logs/1/1.out")
	[ "$size" -gt 0 ]
	[ "$size" -lt 4194304 ]
	# what the reader never got is said on stderr, with where it is
	grep -q "task 1: [0-9]* bytes of the agent's output were not shown" "$T/err"
	grep -q "baton log 1 \[--stderr\] has all of it" "$T/err"
	no_session_left
}

@test "a slow reader of baton run gets every byte" {
	run bash -c '"$BATON" run --agent chatty go | { sleep 1; wc -c; }'
	assert_status 0
	[ "$output" = 4194304 ]
	[ "$(stat -c %s "$(files_dir)/logs/1/1.out")" = 4194304 ]
}

@test "timeout: TERM to the group, KILL after the grace, grandchildren too" {
	# 3s: the leader must be ignoring TERM when it comes, even on a
	# loaded machine
	run "$BATON" run --agent stuck --timeout 3s go
	assert_status 124
	assert_contains "baton: task 1 timed_out: timed out after 3s"
	local gc
	gc=$(cat "$T/gc.pid")
	refute alive "$gc"
	[ "$(tj 1 .status)" = timed_out ]
	[ "$(tj 1 '.runs[0].outcome')" = timed_out ]
	[ "$(tj 1 '.runs[0].signal')" = 9 ]
	[ "$(tj 1 '.runs[0].exit_code')" = null ]
	no_session_left
}

@test "timeout: a grandchild that ignores TERM is killed after the grace" {
	run "$BATON" run --agent gcstuck --timeout 1s go
	assert_status 124
	refute alive "$(cat "$T/gc.pid")"
	[ "$(tj 1 '.runs[0].signal')" = 15 ]
}

@test "an agent that exits leaving a grandchild with its stdout is done" {
	# the grandchild holds the output pipe open and ignores TERM: baton
	# must neither wait for it nor leave it behind
	run timeout 60 "$BATON" run --agent orphan go
	assert_status 0
	[ "$output" = leader-done ]
	refute alive "$(cat "$T/gc.pid")"
	[ "$(tj 1 .status)" = completed ]
	[ "$(tj 1 '.runs[0].exit_code')" = 0 ]
}

@test "timeout of an agent that obeys TERM: signal 15 recorded" {
	run "$BATON" run --agent slow --timeout 1 go
	assert_status 124
	[ "$(tj 1 '.runs[0].signal')" = 15 ]
	[ "$(tj 1 .error)" = "timed out after 1s" ]
}

# signal_run SIG TASK: start `baton run` on the slow agent (it becomes
# task TASK), signal baton once the agent has started, wait for baton;
# sets status and agent (the agent's pid).
signal_run() {
	"$BATON" run --raw --agent slow go >"$T/run$2.out" 2>"$T/run$2.err" &
	local pid=$!
	wait_for "[ -s '$T/run$2.out' ]"
	agent=$(cut -d' ' -f1 "$T"/rec/$2.*.proc)
	kill -s "$1" "$pid"
	wait_exit "$pid"
}

@test "SIGINT to baton run: agent stopped, task cancelled, cleanup, exit 130" {
	signal_run INT 1
	assert_status 130
	refute alive "$agent"
	grep -q "baton: task 1 cancelled: cancelled: baton was signalled" "$T/run1.err"
	[ "$(tj 1 .status)" = cancelled ]
	[ "$(tj 1 '.runs[0].outcome')" = cancelled ]
	[ "$(tj 1 '.runs[0].signal')" = 15 ]
	[ "$(sql "SELECT status FROM runners")" = exited ]
	no_session_left
	doctor_clean
}

@test "SIGTERM to baton run exits 143; SIGHUP exits 129; both clean up" {
	signal_run TERM 1
	assert_status 143
	refute alive "$agent"
	[ "$(tj 1 .status)" = cancelled ]
	signal_run HUP 2
	assert_status 129
	refute alive "$agent"
	[ "$(tj 2 .status)" = cancelled ]
	no_session_left
	doctor_clean
}

@test "SIGTERM to baton work: running tasks cancelled, pending ones kept, exit 143" {
	local i
	for i in 1 2 3 4; do
		"$BATON" add --agent slow "task $i" >/dev/null
	done
	"$BATON" work -j 2 >"$T/work.out" 2>"$T/work.err" &
	local pid=$!
	wait_for '[ "$(ls "$T"/rec/*.proc 2>/dev/null | wc -l)" = 2 ]'
	local agents
	agents=$(cat "$T"/rec/*.proc | cut -d' ' -f1)
	kill -TERM "$pid"
	wait_exit "$pid"
	assert_status 143
	for i in $agents; do
		refute alive "$i"
	done
	[ "$(sql "SELECT group_concat(status, ' ') FROM (SELECT status FROM tasks ORDER BY id) AS q")" = "cancelled cancelled pending pending" ]
	grep -q "task 1 cancelled" "$T/work.out"
	grep -q "task 2 cancelled" "$T/work.out"
	no_session_left
	doctor_clean
}

@test "baton cancel during a retry's backoff ends the task cancelled" {
	"$BATON" run --agent flaky go >"$T/run.out" 2>"$T/run.err" &
	local pid=$!
	# the first run failed transiently: baton now waits up to 30s
	wait_for '[ "$(sql "SELECT outcome FROM runs WHERE id = 1")" = transient ]'
	run "$BATON" cancel 1
	assert_status 0
	assert_contains "task 1 cancelled"
	wait_exit "$pid" 10
	assert_status 130
	[ "$(tj 1 .status)" = cancelled ]
	[ "$(tj 1 .error)" = "cancelled by baton cancel" ]
	[ "$(tj 1 '.runs | length')" = 1 ]
	no_session_left
}

@test "SIGINT during a retry's backoff: cancelled, exit 130" {
	"$BATON" run --agent flaky go >"$T/run.out" 2>"$T/run.err" &
	local pid=$!
	wait_for '[ "$(sql "SELECT outcome FROM runs WHERE id = 1")" = transient ]'
	kill -INT "$pid"
	wait_exit "$pid" 10
	assert_status 130
	[ "$(tj 1 .status)" = cancelled ]
	[ "$(tj 1 .error)" = "cancelled: baton was signalled" ]
	no_session_left
	doctor_clean
}

@test "a baton started with TERM and INT blocked and ignored still stops on them" {
	# as a CI shell may start it: the mask passes through exec
	"$HELPERS/p-sigstart" block TERM,INT,TSTP ignore TERM,INT -- \
		"$BATON" run --raw --agent slow go >"$T/run.out" 2>"$T/run.err" &
	local pid=$!
	wait_for "[ -s '$T/run.out' ]"
	local agent
	agent=$(cut -d' ' -f1 "$T"/rec/1.*.proc)
	# baton unblocked them; its agent starts with nothing blocked
	[ "$(awk '/^SigBlk:/ { print $2 }' /proc/$pid/status)" = 0000000000000000 ]
	[ "$(awk '/^SigBlk:/ { print $2 }' /proc/$agent/status)" = 0000000000000000 ]
	kill -TERM "$pid"
	wait_exit "$pid"
	assert_status 143
	refute alive "$agent"
	[ "$(tj 1 .status)" = cancelled ]
	# INT too, from `work`'s threads
	"$BATON" add --agent slow go >/dev/null
	"$HELPERS/p-sigstart" block TERM,INT ignore INT -- \
		"$BATON" work -j 2 >"$T/work.out" 2>"$T/work.err" &
	pid=$!
	wait_for "ls '$T'/rec/2.*.proc >/dev/null 2>&1"
	kill -INT "$pid"
	wait_exit "$pid"
	assert_status 130
	[ "$(tj 2 .status)" = cancelled ]
	no_session_left
}

@test "a second Ctrl-C kills the agents at once instead of waiting the grace" {
	# the agent ignores TERM and its grace is 10 minutes
	"$BATON" run --raw --agent hardterm go >"$T/run.out" 2>"$T/run.err" &
	local pid=$!
	wait_for "[ -s '$T/run.out' ]"
	local agent
	agent=$(cat "$T/hardterm.pid")
	kill -INT "$pid"
	# the first one: TERM sent, baton waits out the grace
	wait_for "[ -s '$T/term' ]"
	alive "$agent"
	kill -INT "$pid"
	wait_exit "$pid" 60
	assert_status 130
	refute alive "$agent"
	[ "$(tj 1 .status)" = cancelled ]
	[ "$(tj 1 '.runs[0].signal')" = 9 ]
	no_session_left
	doctor_clean
}

# The state letter of process $1 (R, S, T, Z ...).
pstate() {
	awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null
}

# Every process of group $1 is stopped (T) or gone.
group_stopped() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(awk '{ sub(/.*\) /, ""); print $3 }' "$p/stat" 2>/dev/null)" = "$1" ] || continue
		case $(pstate "${p#/proc/}") in
		T | t | Z | X | "") ;;
		*) return 1 ;;
		esac
	done
}

@test "Ctrl-Z stops the agents with baton; fg continues them; a timeout passed meanwhile fires" {
	"$BATON" add --agent slow --timeout 5s one >/dev/null
	"$BATON" add --agent slow --timeout 5s two >/dev/null
	"$BATON" work -j 2 --until-empty >"$T/work.out" 2>"$T/work.err" &
	local pid=$!
	wait_for '[ "$(ls "$T"/rec/*.proc 2>/dev/null | wc -l)" = 2 ]'
	local a1 a2
	a1=$(cut -d' ' -f1 "$T"/rec/1.*.proc)
	a2=$(cut -d' ' -f1 "$T"/rec/2.*.proc)
	# what a terminal's Ctrl-Z sends to baton's process group
	kill -TSTP "$pid"
	wait_for "[ \"\$(pstate $pid)\" = T ]"
	wait_for "group_stopped $a1"
	wait_for "group_stopped $a2"
	[ "$(pstate "$a1")" = T ]
	[ "$(pstate "$a2")" = T ]
	# let their 5s pass while everything is stopped
	sleep 6
	[ "$(pstate "$a1")" = T ]
	[ "$(tj 1 .status)" = running ]
	kill -CONT "$pid"
	wait_exit "$pid" 60
	assert_status 1
	refute alive "$a1"
	refute alive "$a2"
	[ "$(tj 1 .status)" = timed_out ]
	[ "$(tj 2 .status)" = timed_out ]
	[ "$(tj 1 .error)" = "timed out after 5s" ]
	no_session_left
	doctor_clean
}
