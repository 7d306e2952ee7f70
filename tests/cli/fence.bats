#!/usr/bin/env bats
# Fenced leases (SPEC §5, docs/leases.md) with real processes: runners on
# separate "machines" (their own UTS and PID namespaces, each with its
# own host name) sharing one SQLite database, one of them stopped past
# runner.stale_after and reaped by the other; and the final write that
# meets a locked database.

load lib
load orch
load fence

statuses() {
	sql "SELECT group_concat(id || ':' || status, ' ') FROM
		(SELECT id, status FROM tasks ORDER BY id) AS q"
}

@test "a runner stopped past stale_after on another machine writes nothing and stops its agent" {
	need_machines
	fence_config
	"$BATON" add -q --session s1 1  # a: ends while a is stopped
	"$BATON" add -q 60              # a: still running when a wakes
	"$BATON" add -q --session s1 go # b, once it took over s1
	"$BATON" add -q --session s1 1  # b
	machine machine-a "$T/a.out" work -j 2 --until-empty
	local a=$MACHINE
	wait_for '[ "$(seen 1)$(seen 2)" = 11 ]' 20
	local runner
	runner=$(baton_of "$a")
	kill -STOP "$runner"
	wait_for '[ "$(seen 1 end)" = 1 ]' 20
	machine machine-b "$T/b.out" work -j 1 --until-empty
	local b=$MACHINE
	# b reaps a once its heartbeat is stale_after old, and goes on in s1
	wait_for '[ "$(seen 3)" = 1 ]' 30
	kill -CONT "$runner"
	wait_exit "$a" 30
	assert_status 1
	run cat "$T/a.out"
	assert_contains "baton: lost lease for task 1 (attempt 1 superseded)"
	assert_contains "baton: lost lease for task 2 (attempt 1 superseded)"
	assert_contains "lost its leases: another baton reaped it"
	# an outcome it could not record is not announced (issue 10)
	assert_not_contains "task 1 completed"
	assert_contains "0 completed, 0 failed, 2 other"
	# its agent was stopped, not left to run its 60 s
	[ "$(seen 2 term)" = 1 ]
	# and nothing it would have written was: task 3 runs on in s1
	[ "$(statuses)" = "1:interrupted 2:interrupted 3:running 4:pending" ]
	[ "$(sql "SELECT lease_task FROM sessions WHERE name = 's1'")" = 3 ]
	[ "$(sql "SELECT count(*) FROM runs WHERE task_id = 1 AND
		outcome = 'interrupted'")" = 1 ]
	touch "$T/rec/go"
	wait_exit "$b" 30
	assert_status 0
	[ "$(statuses)" = "1:interrupted 2:interrupted 3:completed 4:completed" ]
	no_overlap
	[ "$(sql "SELECT group_concat(status) FROM
		(SELECT status FROM runners ORDER BY id) AS q")" = "dead,exited" ]
	doctor_clean
}

@test "a runner frozen between its claim and the spawn starts no agent once reaped" {
	need_machines
	fence_config
	"$BATON" add -q --session s1 1  # a claims it, freezes before the spawn
	"$BATON" add -q --session s1 go # b, once it reaped a and took s1
	BATON_TEST_FAIL_AT=stop-before-spawn \
		machine machine-a "$T/a.out" work -j 1 --until-empty
	local a=$MACHINE runner
	wait_for 'runner=$(baton_of "$a") &&
		[ "$(ps -o stat= -p "$runner" | cut -c1)" = T ]' 20
	[ "$(sql "SELECT status FROM tasks WHERE id = 1")" = running ]
	[ ! -e "$T/rec/sessions" ] # no agent yet
	machine machine-b "$T/b.out" work -j 1 --until-empty
	local b=$MACHINE
	# b reaps a once its heartbeat is stale_after old, and runs task 2
	# in s1, waiting for "go"
	wait_for '[ "$(seen 2)" = 1 ]' 30
	kill -CONT "$runner"
	wait_exit "$a" 30
	assert_status 1
	run cat "$T/a.out"
	assert_contains "baton: lost lease for task 1 (attempt 1 superseded)"
	assert_contains "lost its leases: another baton reaped it"
	assert_not_contains "task 1 completed"
	# its agent never started: task 2's is alone in s1
	[ "$(seen 1)" = 0 ] || { cat "$T/rec/sessions" "$T/a.out" >&2; false; }
	touch "$T/rec/go"
	wait_exit "$b" 30
	assert_status 0
	[ "$(statuses)" = "1:interrupted 2:completed" ]
	no_overlap
	doctor_clean
}

@test "a runner frozen on its own host past stale_after goes on: its agent starts" {
	fence_config
	"$BATON" add -q --session s1 1
	BATON_TEST_FAIL_AT=stop-before-spawn \
		"$BATON" work -j 1 --until-empty >"$T/a.out" 2>&1 &
	local a=$!
	wait_for '[ "$(ps -o stat= -p "$a" | cut -c1)" = T ]' 20
	# frozen longer than stale_after (3s): nobody reaps a runner whose
	# pid lives on this host, so nothing was lost
	sleep 4
	kill -CONT "$a"
	wait_exit "$a" 30
	assert_status 0
	run cat "$T/a.out"
	assert_not_contains "lost"
	[ "$(seen 1 end)" = 1 ]
	[ "$(statuses)" = "1:completed" ]
	doctor_clean
}

@test "with requeue_interrupted the stale runner does not end the attempt that superseded it" {
	need_machines
	fence_config ", requeue_interrupted: true"
	"$BATON" add -q --session s1 "1 go" # attempt 1 on a, attempt 2 on b
	"$BATON" add -q "60 1"              # a's agent runs on; rerun on b
	"$BATON" add -q --session s1 1      # keeps b's --until-empty waiting
	machine machine-a "$T/a.out" work -j 2 --until-empty
	local a=$MACHINE
	wait_for '[ "$(seen 1)$(seen 2)" = 11 ]' 20
	local runner
	runner=$(baton_of "$a")
	kill -STOP "$runner"
	wait_for '[ "$(seen 1 end)" = 1 ]' 20
	# any command reaps a once its heartbeat is stale_after old: tasks
	# 1 and 2 are pending again
	wait_for '"$BATON" status >/dev/null; [ "$(statuses)" = "1:pending 2:pending 3:pending" ]' 30
	machine machine-b "$T/b.out" work -j 1 --until-empty
	local b=$MACHINE
	wait_for '[ "$(seen 1)" = 2 ]' 30
	kill -CONT "$runner"
	wait_exit "$a" 30
	assert_status 1
	run cat "$T/a.out"
	assert_contains "baton: lost lease for task 1 (attempt 1 superseded)"
	assert_contains "baton: lost lease for task 2 (attempt 1 superseded)"
	[ "$(seen 2 term)" = 1 ]
	# attempt 2 runs on: a's finish did not make it completed
	[ "$(tj 1 .status)" = running ]
	[ "$(tj 1 .attempts)" = 2 ]
	[ "$(sql "SELECT lease_task FROM sessions WHERE name = 's1'")" = 1 ]
	touch "$T/rec/go"
	wait_exit "$b" 30
	assert_status 0
	[ "$(statuses)" = "1:completed 2:completed 3:completed" ]
	[ "$(tj 2 .attempts)" = 2 ]
	no_overlap
	doctor_clean
}

@test "a run that ends while another process holds the write lock is recorded once the lock goes" {
	sqlite_only "holds SQLite's write lock with sqlite3 (postgres.bats has the PostgreSQL ones)"
	fake_config "$(fake_profile gate until "$T/go")"
	sed -i '1i db: {busy_timeout: 1s}' "$BATON_CONFIG"
	sed -i 's/^runner: {.*/runner: {heartbeat: 1s, stale_after: 60s}/' "$BATON_CONFIG"
	"$BATON" add -q --agent gate hello
	"$BATON" work -j 1 --until-empty >"$T/work.out" 2>"$T/work.err" &
	local pid=$!
	wait_for '[ -e "$T"/rec/1.*.proc ]'
	# (its pid's own write, 50 ms after the spawn, done before)
	wait_for '[ -n "$(sql "SELECT pid FROM runs WHERE task_id = 1")" ]'
	# another process takes the write lock and holds it across the end
	# of the run, for several busy timeouts
	{
		echo "BEGIN IMMEDIATE;"
		echo "SELECT 'locked';"
		while [ ! -e "$T/unlock" ]; do sleep 0.1; done
		echo "COMMIT;"
	} | sqlite3 -batch -cmd '.timeout 5000' "$BATON_DB" >"$T/lock.out" &
	local locker=$!
	wait_for 'grep -q locked "$T/lock.out"'
	touch "$T/go"
	wait_for 'grep -q "retrying for up to db.final_write_timeout" "$T/work.err"' 20
	[ "$(tj 1 .status)" = running ]
	touch "$T/unlock"
	wait_exit "$locker"
	wait_exit "$pid"
	assert_status 0
	[ "$(tj 1 .status)" = completed ]
	[ "$(sql "SELECT outcome FROM runs WHERE task_id = 1")" = success ]
	run cat "$T/work.err"
	assert_contains "baton: task 1: cannot begin transaction: database is locked (waited 1s); retrying for up to db.final_write_timeout"
	assert_contains "baton: 1 completed, 0 failed, 0 other"
	doctor_clean
}

# Issue 10, deterministically: the lease goes while the task's end waits
# for the write lock (no poll of the lease comes between), so it is the
# end's own fenced write that finds it lost.
@test "a lease lost while the end waits for the lock: no completed line, no joblog line" {
	sqlite_only "holds SQLite's write lock with sqlite3"
	fake_config "$(fake_profile gate until "$T/go")"
	sed -i '1i db: {busy_timeout: 1s}' "$BATON_CONFIG"
	sed -i 's/^runner: {.*/runner: {heartbeat: 1s, stale_after: 60s}/' "$BATON_CONFIG"
	"$BATON" add -q --agent gate hello
	"$BATON" work -j 1 --until-empty --joblog "$T/joblog" \
		>"$T/work.out" 2>"$T/work.err" &
	local pid=$!
	wait_for '[ -e "$T"/rec/1.*.proc ]'
	# (its pid's own write, 50 ms after the spawn, done before)
	wait_for '[ -n "$(sql "SELECT pid FROM runs WHERE task_id = 1")" ]'
	# another process takes the write lock across the end of the run
	# and, before it lets go, takes the task over (as a reaper would)
	{
		echo "BEGIN IMMEDIATE;"
		echo "SELECT 'locked';"
		while [ ! -e "$T/unlock" ]; do sleep 0.1; done
		echo "UPDATE tasks SET status = 'interrupted',
			lease_epoch = lease_epoch + 1 WHERE id = 1;"
		echo "COMMIT;"
	} | sqlite3 -batch -cmd '.timeout 5000' "$BATON_DB" >"$T/lock.out" &
	local locker=$!
	wait_for 'grep -q locked "$T/lock.out"'
	touch "$T/go"
	wait_for 'grep -q "retrying for up to db.final_write_timeout" "$T/work.err"' 20
	touch "$T/unlock"
	wait_exit "$locker"
	wait_exit "$pid"
	assert_status 1
	run cat "$T/work.out" "$T/work.err"
	assert_contains "baton: lost lease for task 1 (attempt 1 superseded)"
	assert_not_contains "task 1 completed"
	assert_not_contains "cannot record run: lost lease"
	assert_contains "baton: 0 completed, 0 failed, 1 other"
	[ "$(grep -c . "$T/joblog")" = 1 ]
	# nothing of the end was written over the takeover
	[ "$(tj 1 .status)" = interrupted ]
	[ -z "$(sql "SELECT outcome FROM runs WHERE task_id = 1")" ]
}

@test "a runner that cannot renew its heartbeat for stale_after stops its own agent" {
	sqlite_only "holds SQLite's write lock with sqlite3 (postgres.bats has the PostgreSQL ones)"
	fake_config "$(fake_profile gate until "$T/go")"
	sed -i '1i db: {busy_timeout: 500ms}' "$BATON_CONFIG"
	"$BATON" add -q --agent gate hello
	"$BATON" work -j 1 --until-empty >"$T/work.out" 2>"$T/work.err" &
	local pid=$!
	wait_for '[ -e "$T"/rec/1.*.proc ]'
	local agent
	agent=$(cut -d' ' -f1 "$T"/rec/1.*.proc)
	# (its pid's own write, 50 ms after the spawn, done before)
	wait_for '[ -n "$(sql "SELECT pid FROM runs WHERE task_id = 1")" ]'
	# the database stays locked: no renewal gets through
	{
		echo "BEGIN IMMEDIATE;"
		echo "SELECT 'locked';"
		while [ ! -e "$T/unlock" ]; do sleep 0.1; done
		echo "COMMIT;"
	} | sqlite3 -batch -cmd '.timeout 5000' "$BATON_DB" >"$T/lock.out" &
	local locker=$!
	wait_for 'grep -q locked "$T/lock.out"'
	wait_for 'grep -q "lost lease for task 1" "$T/work.err"' 20
	# it stopped its agent by itself, nobody else could have
	wait_for "! alive $agent" 10
	touch "$T/unlock"
	wait_exit "$locker"
	wait_exit "$pid"
	assert_status 1
	run cat "$T/work.err"
	assert_contains "baton: lost lease for task 1 (attempt 1 superseded)"
	assert_contains "lost its leases: its heartbeat could not be renewed within runner.stale_after"
	[ ! -e "$T/go" ]
	[ "$(tj 1 .status)" = interrupted ]
	doctor_clean
}

@test "a runner with this host name but another boot id is judged by its heartbeat, not its pid" {
	fence_config
	"$BATON" add -q one
	local now
	now=$(date +%s%3N)
	# runner 99: this host name, another boot (another machine or
	# container sharing the name), a pid that here is ours
	sql "INSERT INTO runners (id, pid, host, boot_id, proc_start,
		started_at, heartbeat_at) VALUES (99, $$, '$(hostname)',
		'another-boot', 1, $now, $now);
	     UPDATE tasks SET status = 'running', runner_id = 99, attempts = 1"
	run "$BATON" status
	assert_status 0
	[ "$(statuses)" = "1:running" ]
	[ "$(sql "SELECT status FROM runners WHERE id = 99")" = alive ]
	# its heartbeat goes stale: now it is dead
	sql "UPDATE runners SET heartbeat_at = $((now - 10000)) WHERE id = 99"
	run "$BATON" status
	assert_status 0
	[ "$(statuses)" = "1:interrupted" ]
	[ "$(sql "SELECT status FROM runners WHERE id = 99")" = dead ]
	doctor_clean
}

@test "doctor reports two runs of one session whose times overlap" {
	fence_config
	"$BATON" add -q --session s1 one
	"$BATON" add -q --session s1 two
	# (a session is made when its first task is claimed: make it here)
	local s=11111111-1111-4111-8111-111111111111
	sql "INSERT INTO sessions (id, kind, name, agent, project,
		workdir, os_user, created_at, last_used_at) VALUES ('$s',
		'named', 's1', 'sess', '/', '/', 'me', 1, 1);
	     UPDATE tasks SET status = 'completed', session_id = '$s';
	     INSERT INTO runs (task_id, attempt, iteration, session_id,
		started_at, ended_at, outcome) VALUES
		(1, 1, 1, '$s', 1000, 5000, 'success'),
		(2, 1, 1, '$s', 5000, 9000, 'success')"
	doctor_clean
	sql "INSERT INTO runs (task_id, attempt, iteration, session_id,
		started_at, ended_at, outcome) VALUES
		(2, 2, 1, '$s', 8000, 12000, 'success')"
	run "$BATON" doctor
	assert_status 1
	assert_contains "problem: run 3 of task 2 started before an earlier run of session $s ended (two agents in one session)"
	run "$BATON" doctor --json
	[ "$(echo "$output" | jq -r '.problems[0].kind')" = session-overlap ]
}

# Issue 10: a runner whose lease went while it was stopped announced the
# outcome it could not record ("task 1 completed"), and its summary and
# --joblog counted it as its own.
@test "a stale runner says only that it lost the task: no completed line, no joblog line" {
	need_machines
	fence_config
	stale_runner --joblog "$T/a.joblog"
	assert_status 1
	run cat "$T/a.out"
	assert_contains "baton: lost lease for task 1 (attempt 1 superseded)"
	assert_not_contains "task 1 completed"
	assert_not_contains "cannot record run: lost lease"
	assert_contains "0 completed, 0 failed, 1 other"
	# the joblog's header only: no task finished here
	[ "$(grep -c . "$T/a.joblog")" = 1 ]
	[ "$(statuses)" = "1:interrupted 2:completed" ]
	[ "$(sql "SELECT count(*) FROM runs WHERE task_id = 1 AND
		outcome = 'interrupted'")" = 1 ]
	no_overlap
}

@test "a stale runner's --json has no line for the task it lost" {
	need_machines
	fence_config
	stale_runner --json
	assert_status 1
	run cat "$T/a.out"
	assert_contains "baton: lost lease for task 1 (attempt 1 superseded)"
	[ "$(grep -c '^{' "$T/a.out")" = 0 ]
	[ "$(statuses)" = "1:interrupted 2:completed" ]
}
