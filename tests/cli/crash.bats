#!/usr/bin/env bats
# Crashes and many processes (SPEC §5, S7): a baton killed with -9 is
# reaped by the next command, its agents killed after checking pid and
# start time, its tasks interrupted and not re-run unless asked.

bats_require_minimum_version 1.5.0

load lib
load orch

local_setup() {
	fake_config "$(fake_profile gate print started until "$T/go")" \
		"$(fake_profile quiet until "$T/go")"
}

# Start `baton work -j 2` on four gated tasks, kill -9 it once two agents
# run; sets agents (their pids).
crash_work() {
	local i
	for i in 1 2 3 4; do
		"$BATON" add --agent gate "task $i" >/dev/null
	done
	"$BATON" work -j 2 >/dev/null 2>&1 &
	local pid=$!
	wait_for '[ "$(ls "$T"/rec/*.proc 2>/dev/null | wc -l)" = 2 ]'
	agents=$(cat "$T"/rec/*.proc | cut -d' ' -f1)
	kill -9 "$pid"
	wait "$pid" || true
}

# "TASK:STATUS ..." for every task.
statuses() {
	sql "SELECT group_concat(id || ':' || status, ' ') FROM
		(SELECT id, status FROM tasks ORDER BY id) AS q"
}

@test "a runner has a row with its pid, start time and a heartbeat" {
	"$BATON" add --agent gate hello >/dev/null
	"$BATON" work --until-empty >/dev/null 2>&1 &
	local pid=$!
	wait_for '[ -e "$T"/rec/1.*.proc ]'
	[ "$(sql "SELECT pid FROM runners WHERE status = 'alive'")" = "$pid" ]
	[ "$(sql "SELECT proc_start FROM runners")" = "$(awk '{ print $22 }' /proc/$pid/stat)" ]
	[ "$(sql "SELECT host FROM runners")" = "$(hostname)" ]
	local beat
	beat=$(sql "SELECT heartbeat_at FROM runners")
	# runner.heartbeat is 1s
	wait_for "[ \$(sql 'SELECT heartbeat_at FROM runners') -gt $beat ]" 10
	# the running task and its run name the runner and the agent
	[ "$(sql "SELECT runner_id FROM tasks")" = "$(sql "SELECT id FROM runners")" ]
	[ "$(sql "SELECT pid FROM runs")" = "$(cut -d' ' -f1 "$T"/rec/1.*.proc)" ]
	touch "$T/go"
	wait_exit "$pid"
	assert_status 0
	[ "$(sql "SELECT status FROM runners")" = exited ]
	[ "$(sql "SELECT CAST(runner_id IS NULL AS INTEGER) FROM tasks")" = 1 ]
}

@test "an agent that ends within 50 ms has its pid recorded with its run's end; a longer one while it runs" {
	# the fake agent with no action prints and exits at once
	"$BATON" run hello >/dev/null
	[ "$(sql "SELECT pid FROM runs WHERE task_id = 1")" = "$(cut -d' ' -f1 "$T"/rec/1.*.proc)" ]
	[ -n "$(sql "SELECT proc_start FROM runs WHERE task_id = 1")" ]
	[ "$(sql "SELECT outcome FROM runs WHERE task_id = 1")" = success ]
	# a gated one: its pid while it waits, before its end
	"$BATON" run --agent gate hello >/dev/null 2>&1 &
	local pid=$!
	wait_for '[ -e "$T"/rec/2.*.proc ]'
	wait_for "[ -n \"\$(sql 'SELECT pid FROM runs WHERE task_id = 2')\" ]" 5
	[ "$(sql "SELECT pid FROM runs WHERE task_id = 2")" = "$(cut -d' ' -f1 "$T"/rec/2.*.proc)" ]
	[ -z "$(sql "SELECT ended_at FROM runs WHERE task_id = 2")" ]
	touch "$T/go"
	wait_exit "$pid"
	assert_status 0
	[ "$(sql "SELECT pid FROM runs WHERE task_id = 2")" = "$(cut -d' ' -f1 "$T"/rec/2.*.proc)" ]
}

@test "kill -9 of work: the next command reaps it, status and doctor are clean" {
	crash_work
	local a
	for a in $agents; do
		alive "$a" # a dead runner's agents live on until reaped
	done
	run "$BATON" status
	assert_status 0
	[[ "${lines[1]}" =~ ^\ +1\ +interrupted\  ]]
	[[ "${lines[2]}" =~ ^\ +2\ +interrupted\  ]]
	[[ "${lines[3]}" =~ ^\ +3\ +pending\  ]]
	for a in $agents; do
		wait_for "! alive $a" 5
	done
	[ "$(tj 1 .error)" = "interrupted: its runner died" ]
	[ "$(tj 1 '.runs[0].outcome')" = interrupted ]
	[ "$(tj 1 '.runs[0].ended_at')" != null ]
	[ "$(sql "SELECT status FROM runners")" = dead ]
	[ "$(sql "SELECT group_concat(status) FROM sessions")" = abandoned,abandoned ]
	no_session_left
	doctor_clean
}

@test "interrupted tasks are not re-run by work; retry requeues them" {
	crash_work
	"$BATON" status >/dev/null
	touch "$T/go"
	run "$BATON" work -j 2 --until-empty
	assert_status 0
	[ "$(statuses)" = "1:interrupted 2:interrupted 3:completed 4:completed" ]
	[ "$(grep -c '^[12] start' "$T/rec/events")" = 2 ]
	run "$BATON" retry 1 2
	assert_status 0
	assert_contains "task 1 requeued (was interrupted)"
	run "$BATON" work -j 2 --until-empty
	assert_status 0
	[ "$(statuses)" = "1:completed 2:completed 3:completed 4:completed" ]
	[ "$(tj 1 .attempts)" = 2 ]
	doctor_clean
}

@test "runner.requeue_interrupted puts them back to pending while attempts last" {
	sed -i 's/^runner: {/runner: {requeue_interrupted: true, /' "$BATON_CONFIG"
	crash_work
	run "$BATON" status
	assert_status 0
	[ "$(statuses)" = "1:pending 2:pending 3:pending 4:pending" ]
	[ "$(tj 1 .attempts)" = 1 ]
	no_session_left
	touch "$T/go"
	run "$BATON" work -j 2 --until-empty
	assert_status 0
	[ "$(statuses)" = "1:completed 2:completed 3:completed 4:completed" ]
	[ "$(tj 1 .attempts)" = 2 ]
	[ "$(tj 1 '.runs | map(.outcome) | join(" ")')" = "interrupted success" ]
	doctor_clean
}

@test "kill -9 of baton run while its agent runs" {
	# --raw: a command agent's stdout is otherwise shown after the run
	"$BATON" run --raw --agent gate hello >"$T/run.out" 2>&1 &
	local pid=$!
	wait_for '[ -s "$T/run.out" ]'
	local agent
	agent=$(cut -d' ' -f1 "$T"/rec/1.*.proc)
	kill -9 "$pid"
	wait "$pid" || true
	run "$BATON" doctor
	assert_status 0
	wait_for "! alive $agent" 5
	[ "$(tj 1 .status)" = interrupted ]
	no_session_left
	doctor_clean
}

@test "kill -9 between spawning the agent and recording its pid: the agent is still found" {
	# The agent writes nothing, so the closed pipes do not end it.
	BATON_TEST_FAIL_AT=kill-after-spawn "$BATON" run --agent quiet hello \
		>/dev/null 2>&1 &
	local pid=$!
	wait_exit "$pid"
	assert_status 137
	wait_for '[ -s "$T/rec/1.1.proc" ]'
	local agent
	agent=$(cut -d' ' -f1 "$T/rec/1.1.proc")
	alive "$agent"
	[ "$(sql "SELECT CAST(pid IS NULL AS INTEGER) FROM runs")" = 1 ]
	grep -qx "BATON_RUN_TOKEN=$(sql "SELECT pid || '.' || proc_start FROM runners").1" \
		"$T/rec/1.1.env"
	run "$BATON" status
	assert_status 0
	wait_for "! alive $agent" 5
	[ "$(tj 1 .status)" = interrupted ]
	[ "$(tj 1 '.runs[0].outcome')" = interrupted ]
	no_session_left
	doctor_clean
}

@test "kill -9 of baton run: a process the agent moved out of its group is stopped too" {
	"$BATON" run --agent shell "setsid sleep 100 </dev/null >/dev/null 2>&1 &
		echo \$! > '$T/esc.pid'; echo started; sleep 100" >"$T/run.out" 2>&1 &
	local pid=$!
	wait_for '[ -s "$T/run.out" ] && [ -s "$T/esc.pid" ]'
	local esc
	esc=$(cat "$T/esc.pid")
	# its own session and group: a group kill does not reach it
	wait_for "[ \"\$(awk '{ print \$6 }' /proc/$esc/stat)\" = $esc ]"
	kill -9 "$pid"
	wait "$pid" || true
	alive "$esc"
	run "$BATON" status
	assert_status 0
	wait_for "! alive $esc" 5
	[ "$(tj 1 .status)" = interrupted ]
	doctor_clean
}

@test "reaping checks pid and start time before killing a dead runner's agent" {
	# two stand-ins for agents a dead runner left, each leading its group
	setsid sleep 60 &
	local mine=$!
	setsid sleep 60 &
	local reused=$!
	wait_for "[ -e /proc/$mine/stat ] && [ -e /proc/$reused/stat ]"
	local start
	start=$(awk '{ print $22 }' "/proc/$mine/stat")
	"$BATON" add one >/dev/null
	"$BATON" add two >/dev/null
	# runner 99 died (its pid is ours, but with another start time); it
	# ran task 1 as $mine and task 2 as a pid since reused by $reused
	sql "INSERT INTO runners (id, pid, host, boot_id, proc_start,
		started_at, heartbeat_at) VALUES (99, $$, '$(hostname)',
		'$(cat /proc/sys/kernel/random/boot_id)', 1, 1, 1);
	     UPDATE tasks SET status = 'running', runner_id = 99, attempts = 1;
	     INSERT INTO runs (task_id, attempt, iteration, runner_id, pid,
		proc_start, started_at) VALUES
		(1, 1, 1, 99, $mine, $start, 1),
		(2, 1, 1, 99, $reused, $((start + 12345)), 1)"
	run "$BATON" status
	assert_status 0
	[ "$(statuses)" = "1:interrupted 2:interrupted" ]
	wait_for "! alive $mine" 5
	alive "$reused"
	kill "$reused"
	[ "$(sql "SELECT status FROM runners WHERE id = 99")" = dead ]
	doctor_clean
}

@test "a stopped runner is alive: its tasks are not reaped under it" {
	sed -i 's/^runner: {.*/runner: {heartbeat: 250ms, stale_after: 1s}/' "$BATON_CONFIG"
	"$BATON" add --agent gate hello >/dev/null
	"$BATON" work --until-empty >/dev/null 2>&1 &
	local pid=$!
	wait_for '[ -e "$T"/rec/1.*.proc ]'
	local agent
	agent=$(cut -d' ' -f1 "$T"/rec/1.*.proc)
	kill -STOP "$pid"
	# longer than runner.stale_after: its heartbeat is stale
	sleep 2
	run "$BATON" status
	kill -CONT "$pid"
	assert_status 0
	[[ "${lines[1]}" =~ ^\ +1\ +running\  ]]
	alive "$agent"
	touch "$T/go"
	wait_exit "$pid"
	assert_status 0
	[ "$(tj 1 .status)" = completed ]
	doctor_clean
}

@test "a running work's writes survive other commands opening the database" {
	local i
	for i in 1 2 3 4 5 6; do
		"$BATON" add --agent gate "task $i" >/dev/null
	done
	"$BATON" work -j 2 --until-empty >/dev/null 2>&1 &
	local pid=$!
	wait_for '[ "$(ls "$T"/rec/*.proc 2>/dev/null | wc -l)" = 2 ]'
	# peers open and close the database while it works, then one keeps
	# it open until the last task ends
	for i in 1 2 3 4 5; do
		"$BATON" status >/dev/null
		sql "SELECT count(*) FROM tasks" >/dev/null
	done
	"$BATON" log -f 6 >"$T/log.out" 2>&1 &
	local follower=$!
	touch "$T/go"
	for i in 1 2 3 4 5; do
		"$BATON" status >/dev/null
		sql "SELECT count(*) FROM tasks" >/dev/null
	done
	wait_exit "$pid"
	assert_status 0
	wait_exit "$follower" 20
	assert_status 0
	[ "$(cat "$T/log.out")" = started ]
	[ "$(statuses)" = "1:completed 2:completed 3:completed 4:completed 5:completed 6:completed" ]
	[ "$(sql "SELECT status FROM runners")" = exited ]
	doctor_clean
}

@test "kill -9 at any instant leaves nothing for doctor after the next command" {
	local i round
	touch "$T/out"  # (a round may be killed before any task ran)
	for round in 1 2 3 4 5; do
		for i in 1 2 3 4 5 6 7 8; do
			printf '{"prompt": "echo %s >> %s/out", "agent": "shell"}\n' \
				"$round.$i" "$T"
		done > "$T/tasks.jsonl"
		"$BATON" -q add --from "$T/tasks.jsonl"
		"$BATON" work -j 3 --until-empty >/dev/null 2>&1 &
		local pid=$!
		sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
		run "$BATON" status
		assert_status 0
		doctor_clean
	done
	# nothing ran twice; every completed task ran, an interrupted one
	# may have
	[ "$(sort "$T/out" | uniq -d | wc -l)" = 0 ]
	local lines done cut
	lines=$(wc -l < "$T/out")
	done=$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")
	cut=$(sql "SELECT count(*) FROM tasks WHERE status = 'interrupted'")
	[ "$lines" -ge "$done" ]
	[ "$lines" -le $((done + cut)) ]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status NOT IN
		('completed', 'interrupted', 'pending')")" = 0 ]
}

# kill_at SYSCALL N: `work -j1` over two tasks of /bin/true (a fresh
# copy of $T/template.db),
# killed (SIGKILL, by strace) at the Nth call of SYSCALL in one of its
# threads; then the next command, and the checks that must hold after
# any kill: integrity ok, doctor clean, every task work reported as
# completed is completed, none left running.  Sets ended (1: work ran
# to its end, the kill came too late) and between (1: the kill fell
# between the commit that ended task 1 and claimed task 2 and the commit
# of task 2's pid).
kill_at() {
	local syscall=$1 n=$2 done i
	rm -rf "$BATON_DB" "$BATON_DB"-* "$BATON_DB".files-*
	cp "$T/template.db" "$BATON_DB"
	strace -f -qq -o /dev/null -e trace="$syscall" \
		-e inject="$syscall":signal=SIGKILL:when="$n" \
		"$BATON" work -j1 --until-empty >"$T/out" 2>"$T/err" || true
	ended=0
	if grep -q '2 completed, 0 failed' "$T/err"; then
		ended=1
	fi
	# doctor is the next command: it reaps the killed runner first
	doctor_clean
	# integrity, the tasks' statuses, open runs, task 2's pid missing
	state=$(sql "SELECT (SELECT integrity_check FROM pragma_integrity_check)
		|| ' ' || (SELECT group_concat(status) FROM
		(SELECT status FROM tasks ORDER BY id)) || ' ' ||
		(SELECT count(*) FROM runs WHERE ended_at IS NULL) || ' ' ||
		coalesce((SELECT pid IS NULL FROM runs WHERE task_id = 2), 1)")
	[[ "$state" =~ ^ok\ (completed|interrupted|pending),(completed|interrupted|pending)\ 0\ [01]$ ]]
	# nothing that was acknowledged is lost
	done=$(sed -n 's/^task \([0-9]*\) completed$/\1/p' "$T/out")
	for i in $done; do
		[ "$(echo "$state" | cut -d' ' -f2 | cut -d, -f"$i")" = completed ]
	done
	between=0
	if [ "$state" = "ok completed,interrupted 0 1" ]; then
		between=1
	fi
}

@test "kill -9 at every WAL write and every sync of a batch leaves nothing lost and doctor clean" {
	sqlite_only "kill -9 at each of SQLite's WAL writes and syncs"
	config <<-EOF
	defaults: {agent: t}
	agents:
	  t: {kind: command, command: [/bin/true]}
	EOF
	local n hit=0
	# the queue every round starts from: two pending tasks
	"$BATON" -q add one >/dev/null
	"$BATON" -q add two >/dev/null
	sql "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	cp "$BATON_DB" "$T/template.db"
	for n in $(seq 1 400); do
		kill_at pwrite64 "$n"
		hit=$((hit + between))
		if [ "$ended" = 1 ]; then
			break
		fi
	done
	# the loop reached a run that ended: every write was tried
	[ "$ended" = 1 ]
	# and one kill fell after the commit that ended task 1 and claimed
	# task 2, before task 2's pid: task 2 was interrupted, not task 1
	[ "$hit" -ge 1 ]
	for n in $(seq 1 50); do
		kill_at fdatasync "$n"
		if [ "$ended" = 1 ]; then
			break
		fi
	done
	[ "$ended" = 1 ]
}
