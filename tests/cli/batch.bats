#!/usr/bin/env bats
# work for batch and CI use (SPEC §6): --halt, --max-cost, --joblog,
# batch ids, and waiting at the session limit.

bats_require_minimum_version 1.5.0

load lib

local_setup() {
	# A command agent acting on its prompt: "fail" exits 1, "slow"
	# sleeps 30s, "nap" half a second, "cost X" reports that cost, "until F" waits for file F;
	# anything else succeeds.
	cat >"$T/agent" <<-'EOF2'
	#!/bin/sh
	prompt=$(cat)
	case $prompt in
	fail*) exit 1 ;;
	slow*) sleep 30 ;;
	nap*) sleep 0.5 ;;
	costfail*) printf '{"result": "no", "cost_usd": %s}' "${prompt#costfail }" \
		>"$BATON_RESULT_FILE"
		exit 1 ;;
	cost*) printf '{"result": "ok", "cost_usd": %s}' "${prompt#cost }" \
		>"$BATON_RESULT_FILE" ;;
	until*) i=0
		while [ ! -e "${prompt#until }" ] && [ $i -lt 400 ]; do
			i=$((i + 1)); sleep 0.05
		done ;;
	dieat*) # a FIFO: every reader waiting on it wakes at once
		timeout 20 cat "${prompt#dieat }" >/dev/null
		exit 1 ;;
	esac
	exit 0
	EOF2
	chmod +x "$T/agent"
	config <<-EOF
	defaults: {agent: cmd, kill_grace: 1s}
	agents:
	  cmd: {kind: command, command: [$T/agent]}
	EOF
}

# add PROMPT...: one task each, quietly
add() {
	local p
	for p in "$@"; do
		"$BATON" -q add "$p" >/dev/null
	done
}

@test "work --halt soon,fail=2 stops claiming after 2 failures, exit 1 and why" {
	add fail1 fail2 ok3 ok4 ok5
	run --separate-stderr "$BATON" work -j 1 --until-empty --halt soon,fail=2
	assert_status 1
	[[ "$stderr" == *"baton: work halted after 2 failures (--halt soon,fail=2)"* ]]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'failed'")" = 2 ]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'pending'")" = 3 ]
}

@test "work --halt: tasks that end together do not each claim one more (--max-cost counts the same way)" {
	# three workers' tasks fail at the same moment: the first end claims
	# a fourth task (one failure so far), the two after it see the
	# others' ends, written or not, and claim nothing: 4 failures at
	# most, where each counting only its own end made it 6
	local i
	mkfifo "$T/go"
	for i in 1 2 3 4 5 6 7 8 9; do
		add "dieat $T/go"
	done
	"$BATON" work -j 3 --until-empty --halt soon,fail=2 >"$T/out" 2>"$T/err" &
	local wpid=$!
	wait_for '[ "$(sql "SELECT count(*) FROM tasks WHERE status = '"'"'running'"'"'")" = 3 ]' 10
	sleep 0.3 # (the agents reach their cat)
	# opened for writing and closed: the three wake together; then
	# again for the one the first end claims
	( while kill -0 "$wpid" 2>/dev/null; do : >"$T/go"; sleep 0.1; done ) &
	wait "$wpid" || true
	grep -q "work halted after" "$T/err"
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'failed'")" -le 4 ]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'pending'")" -ge 5 ]
}

@test "work --max-cost stops a task's retries too once the work spent it" {
	"$BATON" -q add --retries 5 "costfail 1" >/dev/null
	add "cost 0.1"
	run --separate-stderr "$BATON" work -j 1 --until-empty --max-cost 0.5
	assert_status 1
	[[ "$stderr" == *"task 1: not retried: this work's tasks cost \$1.0000 (--max-cost 0.5)"* ]]
	[ "$(sql "SELECT status || ' ' || attempts FROM tasks WHERE id = 1")" = "failed 1" ]
	[ "$(sql "SELECT status FROM tasks WHERE id = 2")" = pending ]
}

@test "work --halt now,fail=1 cancels the running task with the reason" {
	add slow1 fail2 ok3
	run --separate-stderr "$BATON" work -j 2 --until-empty --halt now,fail=1
	assert_status 1
	[[ "$stderr" == *"baton: work halted after 1 failure (--halt now,fail=1)"* ]]
	[ "$(sql "SELECT status FROM tasks WHERE id = 1")" = cancelled ]
	[ "$(sql "SELECT error FROM tasks WHERE id = 1")" = "cancelled: work --halt now,fail=1" ]
	[ "$(sql "SELECT status FROM tasks WHERE id = 2")" = failed ]
	[ "$(sql "SELECT status FROM tasks WHERE id = 3")" = pending ]
}

@test "work --halt soon,fail=50% counts once 3 tasks ended" {
	# 1 of 1 failed is 100%, but fewer than 3 ended: it goes on; after
	# task 3, 2 of 3 failed
	add fail1 ok2 fail3 ok4 ok5
	run --separate-stderr "$BATON" work -j 1 --until-empty --halt soon,fail=50%
	assert_status 1
	[[ "$stderr" == *"baton: work halted after 2 failures (--halt soon,fail=50%)"* ]]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'pending'")" = 2 ]
}

@test "work --halt never, and a condition not reached, run everything" {
	add fail1 ok2 ok3
	run --separate-stderr "$BATON" work --until-empty --halt never
	assert_status 1
	[[ "$stderr" != *halted* ]]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'pending'")" = 0 ]
	add fail4 ok5
	run --separate-stderr "$BATON" work --until-empty --halt now,fail=2
	assert_status 1
	[[ "$stderr" != *halted* ]]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'pending'")" = 0 ]
}

@test "work --halt with a bad spec is a usage error" {
	local spec
	for spec in now soon,fail=0 later,fail=1 now,fail=x now,fail=101% \
		now,fail=% now,success=1; do
		run --separate-stderr "$BATON" work --until-empty --halt "$spec"
		assert_status 2
		[[ "$stderr" == *"invalid --halt '$spec'"* ]]
	done
	run --separate-stderr "$BATON" work --until-empty --max-cost -1
	assert_status 2
}

@test "work --max-cost stops claiming once its tasks cost that much" {
	add "cost 0.25" "cost 0.25" "cost 0.25" "cost 0.25"
	run --separate-stderr "$BATON" work -j 1 --until-empty --max-cost 0.5
	assert_status 0
	[[ "$stderr" == *"baton: work stopped claiming: its tasks cost \$0.50 (--max-cost 0.5)"* ]]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 2 ]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'pending'")" = 2 ]
}

@test "work --joblog writes GNU parallel's columns and baton's, a line as each task ends" {
	printf 'a title\twith a tab' >"$T/title"
	"$BATON" -q add --title "$(cat "$T/title")" "cost 0.125" >/dev/null
	add "until $T/go" fail3
	"$BATON" work -j 2 --until-empty --joblog "$T/log" >/dev/null 2>&1 &
	local wpid=$!
	# task 1 ended (and 3), task 2 still waits: its line is not there yet
	wait_for '[ "$(grep -c . "$T/log" 2>/dev/null)" = 3 ]'
	touch "$T/go"
	wait "$wpid" || true
	[ "$(head -1 "$T/log")" = "$(printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\tTaskId\tKey\tStatus\tAttempts\tInputTokens\tOutputTokens\tCostUSD\tSessionId')" ]
	[ "$(awk -F'\t' 'NR > 1 { print NF }' "$T/log" | sort -u)" = 17 ]
	[ "$(awk -F'\t' 'NR > 1 { print $10 }' "$T/log" | tr '\n' ' ')" = "1 3 2 " ] ||
		[ "$(awk -F'\t' 'NR > 1 { print $10 }' "$T/log" | tr '\n' ' ')" = "3 1 2 " ]
	run awk -F'\t' '$10 == 1 { print $3 ~ /^[0-9]+\.[0-9][0-9][0-9]$/, ($4 + 0 >= 0), $7, $9, $12, $13, $17 }' "$T/log"
	[ "$output" = "1 1 0 a title\\twith a tab completed 1 $(sql "SELECT session_id FROM tasks WHERE id = 1")" ]
	[ "$(awk -F'\t' '$10 == 1 { print $16 }' "$T/log")" = 0.125000 ]
	[ "$(awk -F'\t' '$10 == 3 { print $7, $9, $12 }' "$T/log")" = "1 fail3 failed" ]
	# a second work appends, without a second header
	add ok4
	"$BATON" work --until-empty --joblog "$T/log" >/dev/null 2>&1
	[ "$(grep -c '^Seq' "$T/log")" = 1 ]
	[ "$(awk -F'\t' 'END { print $10 }' "$T/log")" = 4 ]
	# control characters a terminal would obey are escaped
	"$BATON" -q add --title $'esc\e]8;;x\a csi\xc2\x9b2J' 'ok' >/dev/null
	"$BATON" work --until-empty --joblog "$T/log" >/dev/null 2>&1
	grep -qF 'esc\x1b]8;;x\x07 csi\xc2\x9b2J' "$T/log"
	[ "$(grep -c $'\e' "$T/log")" = 0 ]
	# a joblog that cannot be written is a bad argument: nothing runs
	add ok5
	run --separate-stderr "$BATON" work --until-empty --joblog ''
	assert_status 2
	[[ "$stderr" == *"empty --joblog"* ]]
	run --separate-stderr "$BATON" work --until-empty --joblog "$T/no/such/dir/log"
	assert_status 2
	[[ "$stderr" == *"cannot open joblog"* ]]
	[ "$(sql "SELECT status FROM tasks WHERE prompt = 'ok5'")" = pending ]
}

@test "each work is a batch: said on stderr, on its runs, in --json lines; stats --batch" {
	add ok1 fail2
	run --separate-stderr "$BATON" work --until-empty
	[[ "${stderr%%$'\n'*}" =~ ^baton:\ batch\ ([0-9a-f-]{36})$ ]]
	local first=${BASH_REMATCH[1]}
	add "cost 0.5"
	"$BATON" --json work --until-empty >"$T/lines" 2>/dev/null
	"$BATON" -q run ok4 >/dev/null
	[ "$(sql 'SELECT count(DISTINCT batch_id) FROM runs')" = 3 ]
	[ "$(sql 'SELECT count(*) FROM runs WHERE batch_id IS NULL')" = 0 ]
	[ "$(sql "SELECT group_concat(task_id) FROM (SELECT task_id FROM runs WHERE batch_id = '$first' ORDER BY task_id) AS r")" = 1,2 ]
	local second
	second=$(jq -r .batch "$T/lines")
	[ "$(sql "SELECT task_id FROM runs WHERE batch_id = '$second'")" = 3 ]
	run "$BATON" stats --json --batch "$first"
	assert_status 0
	echo "$output" | jq -e --arg b "$first" '.batch == $b and .tasks == 2 and .runs == 2
		and .by_status.failed == 1 and .by_status.completed == 1'
	run "$BATON" stats --json --batch "$second"
	echo "$output" | jq -e '.tasks == 1 and .cost_usd == 0.5'
	run "$BATON" stats --json
	echo "$output" | jq -e '.batch == null and .tasks == 4'
}

@test "stats --batch: an unknown or empty id is a usage error; a unique prefix will do" {
	add ok1
	"$BATON" work --until-empty 2>/dev/null
	add ok2 ok3
	"$BATON" work --until-empty 2>/dev/null
	# two batches whose ids share their first four characters
	local a=0123aaaa-0000-7000-8000-000000000001
	local b=0123bbbb-0000-7000-8000-000000000002
	sql "UPDATE runs SET batch_id = CASE WHEN task_id = 1 THEN '$a' ELSE '$b' END"
	sql "UPDATE runners SET batch_id = CASE WHEN id = (SELECT min(id) FROM runners) THEN '$a' ELSE '$b' END"
	local ref
	for ref in nope '' 0123cccc "$a-1" "${a}x"; do
		run --separate-stderr "$BATON" stats --batch "$ref"
		assert_status 2
		[[ "$stderr" == *"no batch '$ref' (each \`work\` and \`run\` prints its id first on stderr ('baton: batch ID')"* ]]
		[ -z "$output" ]
	done
	run --separate-stderr "$BATON" stats --batch 0123
	assert_status 2
	[[ "$stderr" == *"batch id prefix '0123' is ambiguous: give more of the id"* ]]
	run --separate-stderr "$BATON" stats --batch 012
	assert_status 2
	[[ "$stderr" == *"batch id prefix '012' is too short"* ]]
	# a prefix or the whole id, in either case: the whole id in --json
	run "$BATON" stats --json --batch 0123A
	assert_status 0
	echo "$output" | jq -e --arg b "$a" '.batch == $b and .tasks == 1'
	run "$BATON" stats --json --batch "${b^^}"
	assert_status 0
	echo "$output" | jq -e --arg b "$b" '.batch == $b and .tasks == 2'
	run "$BATON" stats --batch 0123b
	assert_status 0
	assert_contains "tasks        2, 2 completed"
}

@test "work waits at the session limit instead of failing tasks; run does not" {
	printf 'sessions: {max_active: 2}\n' >>"$BATON_CONFIG"
	add nap1 nap2 nap3 nap4 nap5 nap6
	run --separate-stderr "$BATON" work -j 4 --until-empty
	assert_status 0
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 6 ]
	[[ "$stderr" =~ baton:\ task\ [0-9]+\ waits:\ 2\ of\ 2\ active\ sessions\ in\ use ]]
	# once per task
	[ "$(echo "$stderr" | grep -c waits: | tr -d ' ')" -le 4 ]
	[ "$(sql "SELECT count(*) FROM events WHERE kind = 'refused'")" = 0 ]
	# with nothing of its own running to free one, it fails as before
	"$BATON" -q session init holder1 >/dev/null
	"$BATON" -q session init holder2 >/dev/null
	add ok7
	run --separate-stderr "$BATON" work --until-empty
	assert_status 1
	[[ "$output" == *"task 7 failed: cannot create a session"* ]]
	run --separate-stderr "$BATON" run ok8
	assert_status 1
}

@test "work waits at the session limit while another work's tasks hold it" {
	printf 'sessions: {max_active: 2}\n' >>"$BATON_CONFIG"
	add "until $T/go" "until $T/go" nap3 nap4
	# the first work holds both sessions with its two tasks
	"$BATON" work -j 2 --max-tasks 2 >/dev/null 2>&1 &
	local first=$!
	wait_for '[ "$(sql "SELECT count(*) FROM tasks WHERE status = '"'"'running'"'"'")" = 2 ]' 10
	# the second waits for them rather than failing tasks 3 and 4
	"$BATON" work -j 2 --until-empty >"$T/second.out" 2>"$T/second.err" &
	local second=$!
	wait_for 'grep -q "waits: 2 of 2 active sessions" "$T/second.err"' 10
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'failed'")" = 0 ]
	touch "$T/go"
	wait "$first"
	wait "$second"
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 4 ]
	[ "$(sql "SELECT count(*) FROM events WHERE kind = 'refused'")" = 0 ]
}
