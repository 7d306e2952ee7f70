#!/usr/bin/env bats
# baton work (SPEC §5, §6) and the session protocol as a user sees it
# from the CLI: S1, S3, S4, S6, S7.

bats_require_minimum_version 1.5.0

load lib
load orch

local_setup() {
	fake_config "$(fake_profile fail exit 3)" \
		"$(fake_profile slow sleep 30)" \
		"$(fake_profile locked lock sleep 0.3)" \
		"$(fake_profile gate until "$T/go")" \
		"  barrier: {kind: command, command: [$T/barrier]}" \
		"  s1: {kind: command, command: [$T/s1, \"{session_id}\"]}" \
		"  nobin: {kind: command, command: [$T/no-such-agent]}"
}

# JSON Lines of N shell tasks that append their task id to $T/out.
append_tasks() {
	local i
	for i in $(seq 1 "$1"); do
		printf '{"prompt": "echo $BATON_TASK_ID >> %s/out", "agent": "shell"}\n' "$T"
	done > "$T/tasks.jsonl"
	"$BATON" -q add --from "$T/tasks.jsonl"
}

@test "work --until-empty runs every task, one line per finished task, exit 0" {
	"$BATON" add one >/dev/null
	"$BATON" add two >/dev/null
	"$BATON" add three >/dev/null
	run --separate-stderr "$BATON" work -j 2 --until-empty
	assert_status 0
	[ "$(echo "$output" | sort)" = "$(printf 'task 1 completed\ntask 2 completed\ntask 3 completed')" ]
	[ "$stderr" = "$(printf 'baton: batch %s\nbaton: 3 completed, 0 failed, 0 other' "$(sql "SELECT DISTINCT batch_id FROM runs")")" ]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 3 ]
	[ "$(sql "SELECT count(*) FROM runners WHERE status = 'exited'")" = 1 ]
}

@test "work exits 1 when a task it ran failed, and says which" {
	"$BATON" add one >/dev/null
	"$BATON" add --agent fail two >/dev/null
	run --separate-stderr "$BATON" work --until-empty
	assert_status 1
	[[ "$output" == *"task 2 failed: exited with status 3"* ]]
	[[ "$output" == *"task 1 completed"* ]]
	[[ "$stderr" == *"1 completed, 1 failed, 0 other"* ]]
}

@test "work -j 3 runs three tasks at once" {
	# each task waits (up to 20s) until all three have started
	cat > "$T/barrier" <<-EOF
	#!/bin/sh
	touch "$T/started.\$BATON_TASK_ID"
	i=0
	while [ \$(ls "$T" | grep -c '^started\.') -lt 3 ]; do
		i=\$((i + 1)); [ \$i -gt 400 ] && exit 1
		sleep 0.05
	done
	EOF
	chmod +x "$T/barrier"
	local i
	for i in 1 2 3; do
		"$BATON" add --agent barrier "task $i" >/dev/null
	done
	run "$BATON" work -j 3 --until-empty
	assert_status 0
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 3 ]
}

@test "work --max-tasks N starts exactly N tasks" {
	local i
	for i in 1 2 3 4 5; do
		"$BATON" add "task $i" >/dev/null
	done
	run "$BATON" work -j 2 --max-tasks 2 --until-empty
	assert_status 0
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 2 ]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'pending'")" = 3 ]
}

@test "work without --until-empty waits for new tasks until signalled" {
	"$BATON" work >"$T/work.out" 2>&1 &
	local pid=$!
	wait_for '[ "$(sql "SELECT count(*) FROM runners WHERE status = '"'alive'"'")" = 1 ]'
	"$BATON" add later >/dev/null
	wait_for '[ "$(sql "SELECT status FROM tasks WHERE id = 1")" = completed ]' 20
	alive "$pid"
	kill -INT "$pid"
	wait_exit "$pid"
	assert_status 130
	grep -q "task 1 completed" "$T/work.out"
	[ "$(sql "SELECT status FROM runners")" = exited ]
}

@test "work on a terminal draws a progress line" {
	command -v script >/dev/null || skip "script (util-linux) is not installed"
	local i
	for i in 1 2 3; do
		"$BATON" add "task $i" >/dev/null
	done
	run script -qec "$BATON work -j 2 --until-empty" /dev/null
	assert_status 0
	assert_contains "3/3 done, 0 running, 0 failed"
	assert_contains "[########################]"
	assert_not_contains "completed, 0 failed, 0 other"
}

@test "four work processes on one database run 400 tasks exactly once" {
	append_tasks 400
	local i pids=""
	for i in 1 2 3 4; do
		"$BATON" work -j 3 --until-empty >"$T/w$i.out" 2>"$T/w$i.err" &
		pids="$pids $!"
	done
	local rc=0 p
	for p in $pids; do
		wait_exit "$p" 240
		[ "$status" = 0 ] || rc=$status
	done
	# nothing on stderr but each worker's batch and closing line
	if cat "$T"/w*.err | grep -v '^baton: batch [0-9a-f-]*$' |
		grep -v '^baton: [0-9]* completed, 0 failed, 0 other$' >&2; then
		return 1
	fi
	[ "$rc" = 0 ]
	[ "$(wc -l < "$T/out")" = 400 ]
	[ "$(sort -u "$T/out" | wc -l)" = 400 ]
	[ "$(sort -n "$T/out" | head -1)" = 1 ]
	[ "$(sort -n "$T/out" | tail -1)" = 400 ]
	[ "$(cat "$T"/w*.out | wc -l)" = 400 ]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed' AND attempts = 1")" = 400 ]
	[ "$(sql "SELECT count(*) FROM runs")" = 400 ]
	[ "$(sql "SELECT count(DISTINCT runner_id) FROM runs")" -ge 2 ]
	no_session_left
	doctor_clean
}

@test "S1: the session row is committed before the agent starts" {
	local query="sqlite3 -batch -noheader '$BATON_DB'"
	if on_pg; then
		query="'${PG_BIN:-/usr/lib/postgresql/15/bin}/psql' -X -q -A -t -d '$BATON_DB' -c"
	fi
	cat > "$T/s1" <<-EOF
	#!/bin/sh
	# another connection, from inside the agent: the row must be there
	$query \
		"SELECT kind || ' ' || status FROM sessions WHERE id = '\$1'"
	EOF
	chmod +x "$T/s1"
	run "$BATON" run --agent s1 hello
	assert_status 0
	[ "$output" = "temp active" ]
	run "$BATON" run --agent s1 --session mine hello
	assert_status 0
	[ "$output" = "named active" ]
}

@test "S4, S3: the agent gets its task's session id; named ones do not leak" {
	"$BATON" add one >/dev/null
	"$BATON" add --session shared two >/dev/null
	"$BATON" add three >/dev/null
	"$BATON" add --session shared four >/dev/null
	run "$BATON" work -j 1 --until-empty
	assert_status 0
	local t sid
	for t in 1 2 3 4; do
		sid=$(tj "$t" .session_id)
		# argv {session_id}, BATON_SESSION_ID and the task's session agree
		[ "$(cat "$T"/rec/$t.*.argv)" = "$sid" ]
		grep -qx "BATON_SESSION_ID=$sid" "$T"/rec/$t.*.env
		grep -qx "BATON_TASK_ID=$t" "$T"/rec/$t.*.env
	done
	# the named session is the same for 2 and 4, and the tasks after
	# it (3) are back on a temp session of their own (the prior restored)
	[ "$(tj 2 .session_id)" = "$(tj 4 .session_id)" ]
	[ "$(sql "SELECT kind FROM sessions WHERE id = '$(tj 2 .session_id)'")" = named ]
	[ "$(sql "SELECT kind FROM sessions WHERE id = '$(tj 3 .session_id)'")" = temp ]
	[ "$(tj 3 .session_id)" != "$(tj 1 .session_id)" ]
	# S4: the first link of each chain is the session's own id
	[ "$(sql "SELECT count(*) FROM session_chain c JOIN sessions s ON
		s.id = c.session_id WHERE c.edge = 'first' AND
		c.agent_session_id = s.id")" = 3 ]
}

@test "S7: sequential tasks never share a temp session; each is closed" {
	local i
	for i in 1 2 3 4 5; do
		"$BATON" add "task $i" >/dev/null
	done
	run "$BATON" work -j 1 --until-empty
	assert_status 0
	[ "$(sql "SELECT count(DISTINCT session_id) FROM tasks")" = 5 ]
	[ "$(sql "SELECT count(DISTINCT session_id) FROM runs")" = 5 ]
	[ "$(sql "SELECT count(*) FROM sessions WHERE kind = 'temp' AND status = 'closed'")" = 5 ]
	# and the agent saw five different ids
	[ "$(cat "$T"/rec/*.argv | sort -u | wc -l)" = 5 ]
}

@test "S7: a temp session is closed whatever the outcome" {
	"$BATON" -q run ok
	"$BATON" -q run --agent fail failing || true
	"$BATON" -q run --agent slow --timeout 1 slow || true
	"$BATON" -q run --agent nobin missing || true
	BATON_TEST_FAIL_AT=after-claim "$BATON" -q run inject1 || true
	BATON_TEST_FAIL_AT=before-spawn "$BATON" -q run inject2 || true
	BATON_TEST_FAIL_AT=after-run "$BATON" -q run inject3 || true
	"$BATON" add --agent slow cancelled >/dev/null
	"$BATON" work --until-empty >/dev/null 2>&1 &
	local pid=$!
	wait_for '[ "$(sql "SELECT status FROM tasks WHERE id = 8")" = running ]'
	"$BATON" cancel 8 >/dev/null
	wait_exit "$pid"
	assert_status 1
	[ "$(sql "SELECT group_concat(status, ' ') FROM (SELECT status FROM tasks ORDER BY id) AS q")" = "completed failed timed_out failed failed failed failed cancelled" ]
	[ "$(sql "SELECT count(*) FROM sessions WHERE kind = 'temp' AND status = 'closed'")" = 8 ]
	[ "$(sql "SELECT count(*) FROM runs WHERE ended_at IS NULL")" = 0 ]
	no_session_left
	doctor_clean
}

@test "S6: tasks of one session never overlap and run in the order added" {
	local i
	for i in 1 2 3 4 5; do
		"$BATON" add --agent locked --session queue "task $i" >/dev/null
	done
	"$BATON" add unrelated >/dev/null
	run "$BATON" work -j 4 --until-empty
	assert_status 0
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 6 ]
	refute grep -E '^[1-5] overlap' "$T/rec/events"
	[ "$(grep -E '^[1-5] start' "$T/rec/events" | cut -d' ' -f1 | tr '\n' ' ')" = "1 2 3 4 5 " ]
	# each started after the one before had ended
	awk '$1 <= 5 && $2 == "start" { if ($3 < last_end) bad = 1 }
	     $1 <= 5 && $2 == "end" { last_end = $3 }
	     END { exit bad }' "$T/rec/events"
}

@test "S6: baton run waits while another task holds its session" {
	"$BATON" add --agent gate --session busy first >/dev/null
	"$BATON" work --until-empty >/dev/null 2>&1 &
	local wpid=$!
	wait_for '[ "$(sql "SELECT status FROM tasks WHERE id = 1")" = running ]'
	"$BATON" run --session busy second >"$T/run.out" 2>"$T/run.err" &
	local pid=$!
	wait_for 'grep -q "task 2 waits: its session is in use by another task" "$T/run.err"'
	[ "$(sql "SELECT status FROM tasks WHERE id = 2")" = pending ]
	touch "$T/go"
	wait_exit "$pid"
	assert_status 0
	[ "$(sql "SELECT group_concat(status) FROM tasks")" = completed,completed ]
	# one after the other
	[ "$(tj 2 .started_at)" \> "$(tj 1 .finished_at)" ] ||
		[ "$(tj 2 .started_at)" = "$(tj 1 .finished_at)" ]
	wait_exit "$wpid"
}

@test "S6: baton cancel of a run still waiting for its session ends that run" {
	"$BATON" add --agent slow --session busy first >/dev/null
	"$BATON" work --until-empty >/dev/null 2>&1 &
	local wpid=$!
	wait_for '[ "$(sql "SELECT status FROM tasks WHERE id = 1")" = running ]'
	"$BATON" run --session busy second >"$T/run.out" 2>"$T/run.err" &
	local pid=$!
	wait_for 'grep -q "task 2 waits" "$T/run.err"'
	run "$BATON" cancel 2
	assert_status 0
	assert_contains "task 2 cancelled (it had not started)"
	wait_exit "$pid"
	assert_status 130
	grep -q "baton: task 2 cancelled: cancelled before it started" "$T/run.err"
	[ "$(tj 2 '.runs | length')" = 0 ]
	"$BATON" cancel 1 >/dev/null
	wait_exit "$wpid"
	no_session_left
}

@test "a task refused at its claim (S11 limit) counts as failed: work exits 1" {
	printf 'sessions: {max_active: 1}\n' > "$T/limit.yaml"
	BATON_CONFIG=$T/limit.yaml "$BATON" session init holder >/dev/null
	BATON_CONFIG=$T/limit.yaml "$BATON" add 'echo never' >/dev/null
	BATON_CONFIG=$T/limit.yaml run --separate-stderr "$BATON" work --until-empty
	assert_status 1
	assert_contains "task 1 failed: cannot create a session"
	[ "$(sql "SELECT status FROM tasks WHERE id = 1")" = failed ]
	BATON_CONFIG=$T/limit.yaml run --separate-stderr "$BATON" run 'echo never'
	assert_status 1
	[[ "$stderr" == *"baton: task 2 failed: cannot create a session"* ]]
}
