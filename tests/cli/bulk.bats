#!/usr/bin/env bats
# Bulk retry and cancel (SPEC §6): retry --failed | --status S,S...
# [--milestone M]; cancel --all | --session S | --milestone M.

bats_require_minimum_version 1.5.0

load lib
load orch

local_setup() {
	fake_config "$(fake_profile fail print oops exit 3)" \
		"$(fake_profile slow print started sleep 30)"
}

# The statuses of all tasks, in id order: "1:failed 2:pending ...".
statuses() {
	sql "SELECT group_concat(id || ':' || status, ' ') FROM
		(SELECT id, status FROM tasks ORDER BY id) AS t"
}

# Tasks 1 failed, 2 timed_out, 3 completed, 4 cancelled.
four_endings() {
	"$BATON" add -q --agent fail one
	"$BATON" add -q --agent slow --timeout 1s two
	"$BATON" add -q three
	"$BATON" add -q four
	"$BATON" cancel 4 >/dev/null
	"$BATON" -q work --until-empty || true
	[ "$(statuses)" = "1:failed 2:timed_out 3:completed 4:cancelled" ]
}

@test "retry --failed requeues the failed and timed_out tasks only" {
	four_endings
	run "$BATON" retry --failed
	assert_status 0
	[ "$output" = "$(printf '%s\n' 'task 1 requeued (was failed)' \
		'task 2 requeued (was timed_out)' 'requeued 2 tasks')" ]
	[ "$(statuses)" = "1:pending 2:pending 3:completed 4:cancelled" ]
	[ "$(tj 2 .error)" = null ]
	# nothing left to retry: said so, and not an error
	run "$BATON" retry --failed
	assert_status 0
	[ "$output" = "no tasks to retry" ]
}

@test "retry --status cancelled --milestone m1: only that milestone's" {
	"$BATON" milestone create m1 >/dev/null
	"$BATON" add -q --milestone m1 one
	"$BATON" add -q two
	"$BATON" add -q --milestone m1 three
	"$BATON" add -q --milestone m1 four
	"$BATON" cancel 1 2 3 >/dev/null
	run "$BATON" retry --status cancelled --milestone m1
	assert_status 0
	[ "$output" = "$(printf '%s\n' 'task 1 requeued (was cancelled)' \
		'task 3 requeued (was cancelled)' 'requeued 2 tasks')" ]
	[ "$(statuses)" = "1:pending 2:cancelled 3:pending 4:pending" ]
	run "$BATON" retry --status cancelled,failed
	assert_status 0
	[ "$(statuses)" = "1:pending 2:pending 3:pending 4:pending" ]
}

@test "retry: bad statuses and ids with a selector are usage errors" {
	four_endings
	run "$BATON" retry --status failed,bogus
	assert_status 2
	assert_contains "invalid status 'bogus'"
	run "$BATON" retry --status failed,completed
	assert_status 2
	assert_contains "completed tasks cannot be retried"
	run "$BATON" retry --status pending
	assert_status 2
	assert_contains "pending tasks cannot be retried"
	run "$BATON" retry 1 --failed
	assert_status 2
	assert_contains "not both"
	run "$BATON" retry --failed --status failed
	assert_status 2
	run "$BATON" retry --milestone m1
	assert_status 2
	assert_contains "--milestone needs --failed or --status"
	run "$BATON" retry
	assert_status 2
	# nothing changed
	[ "$(statuses)" = "1:failed 2:timed_out 3:completed 4:cancelled" ]
}

@test "cancel --all: pending ones at once, the running one's agent stopped" {
	"$BATON" add -q --agent slow one
	"$BATON" work -j 1 --until-empty >"$T/work.out" 2>&1 &
	local pid=$!
	wait_for '[ -s "$T/rec/1.1.proc" ]'
	local agent
	agent=$(cut -d' ' -f1 "$T"/rec/1.1.proc)
	alive "$agent"
	"$BATON" add -q two
	"$BATON" add -q three
	"$BATON" add -q four
	run timeout 20 "$BATON" cancel --all
	assert_status 0
	assert_contains "task 1 cancelled"
	assert_contains "task 2 cancelled (it had not started)"
	assert_contains "task 4 cancelled (it had not started)"
	assert_contains "cancelled 4 tasks"
	[ "$(statuses)" = "1:cancelled 2:cancelled 3:cancelled 4:cancelled" ]
	refute alive "$agent"
	wait_exit "$pid"
	# work ran out of tasks and stopped: 1, a task did not complete
	assert_status 1
	grep -q "1 other" "$T/work.out"
	[ "$(tj 1 '.runs[0].outcome')" = cancelled ]
	[ "$(tj 2 '.runs | length')" = 0 ]
	# nothing left
	run "$BATON" cancel --all
	assert_status 0
	[ "$output" = "no tasks to cancel" ]
}

@test "cancel --session S: that session's tasks, by name or id" {
	"$BATON" session init s1 >/dev/null
	"$BATON" session init s2 >/dev/null
	"$BATON" add -q --session s1 one
	"$BATON" add -q --session s2 two
	"$BATON" add -q three
	"$BATON" add -q --session s1 four
	"$BATON" add -q --session later five
	run "$BATON" cancel --session s1
	assert_status 0
	[ "$output" = "$(printf '%s\n' \
		'task 1 cancelled (it had not started)' \
		'task 4 cancelled (it had not started)' 'cancelled 2 tasks')" ]
	[ "$(statuses)" = "1:cancelled 2:pending 3:pending 4:cancelled 5:pending" ]
	local id
	id=$("$BATON" session show s2 --json | jq -r .id)
	run "$BATON" cancel --session "$id"
	assert_status 0
	assert_contains "task 2 cancelled"
	# a session not created yet: the tasks that asked for it
	run "$BATON" cancel --session later
	assert_status 0
	assert_contains "task 5 cancelled"
	run "$BATON" cancel --session nosuch
	assert_status 2
	assert_contains "nosuch"
	[ "$(statuses)" = "1:cancelled 2:cancelled 3:pending 4:cancelled 5:cancelled" ]
}

@test "cancel --milestone M: that milestone's tasks only" {
	"$BATON" milestone create m1 >/dev/null
	"$BATON" add -q --milestone m1 one
	"$BATON" add -q two
	"$BATON" add -q --milestone m1 three
	run "$BATON" cancel --milestone m1
	assert_status 0
	assert_contains "cancelled 2 tasks"
	[ "$(statuses)" = "1:cancelled 2:pending 3:cancelled" ]
	run "$BATON" cancel --milestone nosuch
	assert_status 2
	assert_contains "no milestone 'nosuch'"
}

@test "cancel: ids with a selector, or two selectors, are usage errors" {
	"$BATON" add -q one
	run "$BATON" cancel 1 --all
	assert_status 2
	assert_contains "not both"
	run "$BATON" cancel --all --milestone m1
	assert_status 2
	run "$BATON" cancel
	assert_status 2
	[ "$(statuses)" = "1:pending" ]
}

@test "retry --failed --json and cancel --all --json: arrays of results" {
	four_endings
	"$BATON" add -q five
	run --separate-stderr "$BATON" retry --failed --json
	assert_status 0
	[ "$(jq -c '[.[] | keys]' <<<"$output")" = \
		'[["error","id","status","was"],["error","id","status","was"]]' ]
	[ "$(jq -c '[.[] | [.id, .was, .status, .error]]' <<<"$output")" = \
		'[[1,"failed","pending",null],[2,"timed_out","pending",null]]' ]
	run --separate-stderr "$BATON" cancel --all --json
	assert_status 0
	[ "$(jq -c '[.[] | [.id, .was, .status, .error]]' <<<"$output")" = \
		'[[1,"pending","cancelled",null],[2,"pending","cancelled",null],[5,"pending","cancelled",null]]' ]
	# nothing matched: an empty array
	run --separate-stderr "$BATON" cancel --all --json
	assert_status 0
	[ "$output" = "[]" ]
	run --separate-stderr "$BATON" retry --status interrupted --json
	assert_status 0
	[ "$output" = "[]" ]
}

@test "retry --failed past one batch: 2500 tasks, every one requeued" {
	"$BATON" add -q --agent fail one
	"$BATON" -q work --until-empty || true
	# 2500 copies of the failed task (2048 by doubling, then 452)
	if on_pg; then
		sql "INSERT INTO tasks SELECT (jsonb_populate_record(t,
			jsonb_build_object('id', g.i))).* FROM tasks t,
			generate_series(2, 2500) g(i) WHERE t.id = 1;
			SELECT setval(pg_get_serial_sequence('tasks', 'id'), 2500)" \
			>/dev/null
	else
		sql "CREATE TEMP TABLE t AS SELECT * FROM tasks;
			UPDATE t SET id = NULL;
			INSERT INTO tasks SELECT * FROM t;
			INSERT INTO tasks SELECT * FROM t;
			$(for i in 1 2 3 4 5 6 7 8 9 10; do
				printf '%s\n' 'DELETE FROM t;' \
					'INSERT INTO t SELECT * FROM tasks;' \
					'UPDATE t SET id = NULL;' \
					'INSERT INTO tasks SELECT * FROM t;'
			done)
			DELETE FROM tasks WHERE id > 2500;"
	fi
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'failed'")" = 2500 ]
	run "$BATON" retry --failed
	assert_status 0
	[ "${lines[2499]}" = "task 2500 requeued (was failed)" ]
	[ "${lines[2500]}" = "requeued 2500 tasks" ]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'pending'")" = 2500 ]
}
