#!/usr/bin/env bats
# The task commands through the real binary (SPEC §6, §6.1, §7): run,
# status, show, log, cancel, retry, doctor.

bats_require_minimum_version 1.5.0

load lib
load orch

local_setup() {
	fake_config "$(fake_profile fail print oops exit 3)" \
		"$(fake_profile slow print started sleep 30)" \
		"$(fake_profile drip print one sleep 0.4 print two sleep 0.4 print three)" \
		"$(fake_profile killed signal USR1)"
}

TASK_KEYS='["agent","attempts","cost_usd","created_at","error","exit_code","finished_at","id","input_tokens","iterations","milestone","model","output_tokens","session_id","started_at","status","title","workdir"]'
RUN_KEYS='["agent_session_in","agent_session_out","check_exit_code","cost_usd","ended_at","error","exit_code","id","input_tokens","iteration","outcome","output_tokens","resume_outcome","session_id","signal","started_at"]'
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'

@test "run streams the agent's output and exits 0; -q keeps it quiet" {
	run "$BATON" run --agent drip hello
	assert_status 0
	[ "$output" = "$(printf 'one\ntwo\nthree')" ]
	run "$BATON" -q run --agent drip hello
	assert_status 0
	[ -z "$output" ]
	[ "$(sql "SELECT group_concat(status) FROM tasks")" = completed,completed ]
}

@test "run --json prints the finished task with every field of SPEC 6.1" {
	run --separate-stderr "$BATON" run --json --title greet hello there
	assert_status 0
	# nothing but the JSON on stdout: the agent's output goes to the log
	echo "$output" | jq -e . >/dev/null
	echo "$output" | jq -e --argjson k "$TASK_KEYS" \
		'. as $o | $k | all(. as $f | $o | has($f))'
	echo "$output" | jq -e --argjson k "$RUN_KEYS" \
		'.runs[0] as $o | $k | all(. as $f | $o | has($f))'
	echo "$output" | jq -e '.id == 1 and .status == "completed" and
		.title == "greet" and .agent == "fake" and .attempts == 1 and
		.iterations == 1 and .exit_code == 0 and .error == null and
		(.runs | length) == 1 and .runs[0].exit_code == 0 and
		.runs[0].signal == null and .runs[0].outcome == "success" and
		.runs[0].session_id == .session_id'
	for f in created_at started_at finished_at; do
		echo "$output" | jq -e --arg re "$RFC3339" ".$f | test(\$re)"
	done
	echo "$output" | jq -e --arg re "$RFC3339" \
		'.runs[0].started_at, .runs[0].ended_at | test($re)'
	[ "$(echo "$output" | jq -r .workdir)" = "$(pwd -P)" ]
}

@test "run: a failing agent exits 1, its status and message recorded" {
	run --separate-stderr "$BATON" run --agent fail hello
	assert_status 1
	[ "$output" = oops ]
	[[ "$stderr" == *"baton: task 1 failed: exited with status 3"* ]]
	[ "$(tj 1 .status)" = failed ]
	[ "$(tj 1 .exit_code)" = 3 ]
	[ "$(tj 1 '.runs[0].exit_code')" = 3 ]
	[ "$(tj 1 '.runs[0].signal')" = null ]
	[ "$(tj 1 '.runs[0].outcome')" = failed ]
	# --json: the same task, same exit code
	run --separate-stderr "$BATON" run --json --agent fail hello
	assert_status 1
	echo "$output" | jq -e '.status == "failed" and .exit_code == 3'
}

@test "run: an agent killed by a signal: the signal is recorded, no exit code" {
	run "$BATON" run --agent killed hello
	assert_status 1
	assert_contains "killed by signal 10"
	[ "$(tj 1 '.runs[0].signal')" = 10 ]
	[ "$(tj 1 '.runs[0].exit_code')" = null ]
	[ "$(tj 1 .exit_code)" = null ]
	[ "$(tj 1 .status)" = failed ]
}

@test "add prints the id (--json: the task); --key makes it idempotent" {
	run "$BATON" add --key k1 hello
	assert_status 0
	[ "$output" = 1 ]
	run --separate-stderr "$BATON" add --key k1 hello again
	assert_status 0
	[ "$output" = 1 ]
	[[ "$stderr" == *"a task with this key exists already: 1"* ]]
	run "$BATON" add --json --title t2 other
	assert_status 0
	echo "$output" | jq -e '.id == 2 and .status == "pending" and
		.title == "t2" and .attempts == 0 and .started_at == null'
	[ "$(sql "SELECT count(*) FROM tasks")" = 2 ]
	# run with a known key does not run it again
	"$BATON" -q work --until-empty
	run --separate-stderr "$BATON" run --key k1 hello
	assert_status 0
	[[ "$stderr" == *"task 1 has this key already (status completed); not run again"* ]]
	[ "$(tj 1 '.runs | length')" = 1 ]
}

@test "status lists tasks as a table and as JSON, filtered by --status" {
	"$BATON" -q run hello
	"$BATON" -q run --agent fail hello || true
	"$BATON" add later >/dev/null
	run "$BATON" status
	assert_status 0
	[ "${lines[0]}" = "$(printf '%6s  %-11s %-9s %-8s %-9s %s' ID STATUS AGENT TIME WHEN TASK)" ]
	[[ "${lines[1]}" =~ ^\ +1\ +completed\ +fake\ .*hello$ ]]
	[[ "${lines[2]}" =~ ^\ +2\ +failed\ +fail\ .*hello$ ]]
	[[ "${lines[3]}" =~ ^\ +3\ +pending\ +-\ .*later$ ]]
	run "$BATON" status --json
	assert_status 0
	echo "$output" | jq -e 'length == 3 and (map(.status) ==
		["completed", "failed", "pending"]) and all(has("runs") | not)'
	echo "$output" | jq -e --argjson k "$TASK_KEYS" \
		'all(. as $o | $k | all(. as $f | $o | has($f)))'
	run "$BATON" status --json --status failed
	echo "$output" | jq -e 'length == 1 and .[0].id == 2'
	run "$BATON" status --status running
	assert_status 0
	assert_contains "(no tasks with status running)"
}

@test "show prints a task with its runs; show --json the same task" {
	"$BATON" -q run --agent fail --title broken hello || true
	run "$BATON" show 1
	assert_status 0
	assert_contains "task 1: broken"
	[[ "$output" =~ status\ +failed ]]
	[[ "$output" =~ error\ +exited\ with\ status\ 3 ]]
	[[ "$output" =~ \ +1\ +1\ new\ +failed\ +3\  ]]
	assert_contains "baton log 1"
	run "$BATON" show --json 1
	assert_status 0
	echo "$output" | jq -e '.id == 1 and .title == "broken" and
		(.runs | length) == 1'
}

@test "log prints a run's output or its stderr; --run picks the run" {
	"$BATON" -q run --agent fail hello || true
	"$BATON" -q retry 1
	"$BATON" -q work --until-empty || true
	run --separate-stderr "$BATON" log 1
	assert_status 0
	[ "$output" = oops ]
	run "$BATON" log 1 --stderr
	assert_status 0
	[ -z "$output" ]
	run "$BATON" log 1 --run 1
	[ "$output" = oops ]
	[ "$(tj 1 '.runs | length')" = 2 ]
	"$BATON" add never >/dev/null
	run --separate-stderr "$BATON" log 2
	assert_status 0
	[[ "$stderr" == *"task 2 has not run yet"* ]]
}

@test "log -f follows a running task to its end" {
	"$BATON" add --agent drip hello >/dev/null
	"$BATON" work --until-empty >/dev/null 2>&1 &
	local pid=$!
	wait_for '[ "$(sql "SELECT status FROM tasks WHERE id = 1")" = running ]'
	run timeout 30 "$BATON" log -f 1
	assert_status 0
	[ "$output" = "$(printf 'one\ntwo\nthree')" ]
	# it returned because the task ended, not before
	[ "$(sql "SELECT status FROM tasks WHERE id = 1")" = completed ]
	wait_exit "$pid"
	assert_status 0
}

@test "cancel drops a pending task" {
	"$BATON" add hello >/dev/null
	run "$BATON" cancel 1
	assert_status 0
	assert_contains "task 1 cancelled (it had not started)"
	[ "$(tj 1 .status)" = cancelled ]
	"$BATON" -q work --until-empty || true
	[ "$(tj 1 '.runs | length')" = 0 ]
	# nothing left to cancel
	run "$BATON" cancel 1
	assert_status 1
	assert_contains "task 1 is cancelled; nothing to cancel"
}

@test "cancel from another terminal stops a running task's agent" {
	# --raw: a command agent's stdout is otherwise shown after the run
	"$BATON" run --raw --agent slow hello >"$T/run.out" 2>"$T/run.err" &
	local pid=$!
	wait_for '[ -s "$T/run.out" ]'
	local agent
	agent=$(cut -d' ' -f1 "$T"/rec/1.1.proc)
	alive "$agent"
	run "$BATON" cancel 1
	assert_status 0
	assert_contains "task 1 cancelled"
	wait_exit "$pid"
	assert_status 130
	grep -q "baton: task 1 cancelled: cancelled by baton cancel" "$T/run.err"
	refute alive "$agent"
	[ "$(tj 1 .status)" = cancelled ]
	[ "$(tj 1 '.runs[0].outcome')" = cancelled ]
	[ "$(tj 1 '.runs[0].signal')" = 15 ]
	no_session_left
	doctor_clean
}

@test "retry requeues failed tasks and work runs them again" {
	"$BATON" -q run --agent fail hello || true
	"$BATON" -q run hello
	run "$BATON" retry 1
	assert_status 0
	assert_contains "task 1 requeued (was failed)"
	[ "$(tj 1 .status)" = pending ]
	[ "$(tj 1 .error)" = null ]
	run "$BATON" retry 2
	assert_status 1
	assert_contains "task 2 is completed; only failed, cancelled, timed_out or interrupted tasks can be retried"
	"$BATON" -q work --until-empty || true
	[ "$(tj 1 .attempts)" = 2 ]
	[ "$(tj 1 '.runs | length')" = 2 ]
	# each attempt in a session of its own, both closed
	[ "$(sql "SELECT count(DISTINCT session_id) FROM runs WHERE task_id = 1")" = 2 ]
	no_session_left
}

@test "doctor: ok on a clean database, exit 1 with a list when not, --fix repairs" {
	"$BATON" -q run hello
	run "$BATON" doctor
	assert_status 0
	assert_contains "ok: no problems found in $BATON_DB"
	run "$BATON" doctor --json
	assert_status 0
	echo "$output" | jq -e '.ok == true and .problems == []'

	# break S7 behind baton's back: a temp session left active, and a
	# task running for a runner that has exited
	local sid
	sid=$(tj 1 .session_id)
	sql "UPDATE sessions SET status = 'active' WHERE id = '$sid'"
	"$BATON" add other >/dev/null
	sql "UPDATE tasks SET status = 'running', runner_id = 1 WHERE id = 2"
	run "$BATON" doctor
	assert_status 1
	assert_contains "problem: active temp session $sid has no pending or running task"
	assert_contains "problem: task 2 is running but its runner 1 is gone"
	assert_contains "2 problems found; 'baton doctor --fix' repairs them"
	run "$BATON" doctor --json
	assert_status 1
	echo "$output" | jq -e '.ok == false and (.problems | length) == 2 and
		(.problems | map(.kind) | sort) == ["running-task", "temp-session"]'
	run "$BATON" doctor --fix
	assert_status 0
	assert_contains "2 problems found and fixed"
	doctor_clean
	[ "$(tj 2 .status)" = interrupted ]
}

@test "doctor reports a failed PRAGMA integrity_check" {
	sqlite_only "PRAGMA integrity_check (PostgreSQL enforces CHECK always)"
	"$BATON" -q run hello
	# a row that breaks a CHECK constraint: only integrity_check sees it
	sql "PRAGMA ignore_check_constraints = ON;
		UPDATE tasks SET status = 'bogus' WHERE id = 1"
	run "$BATON" doctor
	assert_status 1
	assert_contains "problem:"
	assert_contains "CHECK constraint failed in tasks"
	assert_contains "the database file is damaged"
	# --fix cannot repair that, and does not say it did
	run "$BATON" doctor --fix
	assert_status 1
	assert_not_contains "fixed"
	run "$BATON" doctor --json
	assert_status 1
	echo "$output" | jq -e '.ok == false and .problems[0].kind == "integrity"'
}
