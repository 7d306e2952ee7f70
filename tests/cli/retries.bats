#!/usr/bin/env bats
# Task retries (--retries, work --retries, defaults.retries) and budgets
# (--max-cost, sessions.max_cost), SPEC §3 and §6.

load lib
bats_require_minimum_version 1.5.0

local_setup() {
	# A command agent that fails the first $T/fails turns of its session
	# (a counter in $BATON_SESSION_DIR), hangs on turn $T/hang, and
	# reports $T/cost USD for each turn.
	echo 0 >"$T/fails"
	echo 0 >"$T/hang"
	echo 0.1 >"$T/cost"
	cat >"$T/agent" <<-EOF
	#!/bin/sh
	n=\$(cat "\$BATON_SESSION_DIR/count" 2>/dev/null || echo 0)
	n=\$((n + 1))
	echo "\$n" >"\$BATON_SESSION_DIR/count"
	echo "\$n" >"$T/started"
	printf '{"cost_usd": %s, "result": "turn %s"}' "\$(cat "$T/cost")" "\$n" \
		>"\$BATON_RESULT_FILE"
	if [ "\$n" = "\$(cat "$T/hang")" ]; then
		exec sleep 30
	fi
	[ "\$n" -gt "\$(cat "$T/fails")" ]
	EOF
	chmod +x "$T/agent"
	write_config
}

write_config() {
	config <<-EOF
	retry: {attempts: 1, base: 10ms, max: 20ms}
	agents:
	  cmd: {kind: command, command: [$T/agent]}
	  claude: {kind: claude, command: $AGENTS/fake-claude}
	${1:-}
	EOF
}

@test "retries: --retries 2 runs a failing task again in its session, resumed" {
	echo 2 >"$T/fails"
	run "$BATON" run -q --agent cmd --retries 2 'do it'
	assert_status 0
	run "$BATON" show --json 1
	assert_status 0
	echo "$output" | jq -e '.status == "completed" and .attempts == 3 and
		.retries == 2'
	echo "$output" | jq -e '[.runs[].attempt] == [1, 2, 3]'
	echo "$output" | jq -e '[.runs[].session_id] | unique | length == 1'
	echo "$output" | jq -e '.runs[0].session_id == .session_id'
	echo "$output" | jq -e '[.runs[].resume_outcome] ==
		["new", "resumed", "resumed"]'
	echo "$output" | jq -e '[.runs[].outcome] == ["failed", "failed",
		"success"]'
	run "$BATON" show 1
	assert_contains "3 of 3"
	# stats counts the attempts beyond the first apart from transient ones
	run "$BATON" stats --json
	echo "$output" | jq -e '.task_retries == 2 and .retries == 0'
	run "$BATON" stats
	assert_contains "retries      0 after a transient failure, 2 more attempts of tasks"
	run "$BATON" stats --openmetrics
	assert_contains "baton_task_retries_total 2"
}

@test "retries: --retries 1 on a task that always fails: failed, attempts 2 of 2" {
	echo 99 >"$T/fails"
	run "$BATON" run -q --agent cmd --retries 1 'do it'
	assert_status 1
	run "$BATON" show --json 1
	echo "$output" | jq -e '.status == "failed" and .attempts == 2'
	echo "$output" | jq -e '.runs | length == 2'
	run "$BATON" show 1
	assert_contains "2 of 2"
	[ "$(cat "$T/started")" = 2 ]
}

@test "retries: none by default (defaults.retries 0)" {
	echo 1 >"$T/fails"
	run "$BATON" run -q --agent cmd 'do it'
	assert_status 1
	run "$BATON" show --json 1
	# none set, none recorded (null): the default 0 is not the task's
	echo "$output" | jq -e '.status == "failed" and .attempts == 1 and
		.retries == null'
	run "$BATON" show 1
	assert_contains "1 of 1"
}

@test "retries: a task a plain work ran takes a later work --retries after baton retry" {
	# (a new temp session after the retry: its turns count from 1 again)
	echo 2 >"$T/fails"
	"$BATON" add -q --agent cmd 'x'
	run "$BATON" work --until-empty
	assert_status 1
	"$BATON" retry 1 >/dev/null
	run "$BATON" work --until-empty --retries 2
	assert_status 0
	run "$BATON" show --json 1
	echo "$output" | jq -e '.status == "completed" and .attempts == 4 and
		.retries == 2'
}

@test "retries: a timed out task is retried" {
	echo 1 >"$T/hang"
	run "$BATON" run -q --agent cmd --retries 1 --timeout 1s 'do it'
	assert_status 0
	run "$BATON" show --json 1
	echo "$output" | jq -e '.status == "completed" and .attempts == 2'
	echo "$output" | jq -e '[.runs[].outcome][0] == "timed_out"'
}

@test "retries: a cancelled task is not retried" {
	echo 1 >"$T/hang"
	"$BATON" run -q --agent cmd --retries 3 'do it' 2>"$T/err" &
	pid=$!
	wait_for '[ -f "$T/started" ]'
	"$BATON" cancel 1
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -ne 0 ]
	run "$BATON" show --json 1
	echo "$output" | jq -e '.status == "cancelled" and .attempts == 1'
	[ "$(cat "$T/started")" = 1 ]
}

@test "retries: a missing agent binary is not retried" {
	write_config "  gone: {kind: command, command: [$T/no-such-agent]}"
	run -127 "$BATON" run -q --agent gone --retries 2 'do it'
	run "$BATON" show --json 1
	echo "$output" | jq -e '.status == "failed" and .attempts == 1'
}

@test "retries: work --retries for tasks without, a task's own wins" {
	echo 1 >"$T/fails"
	"$BATON" add -q --agent cmd --new-session 'a'
	"$BATON" add -q --agent cmd --new-session --retries 0 'b'
	run "$BATON" work -j 1 --until-empty --retries 1
	assert_status 1
	run "$BATON" show --json 1
	echo "$output" | jq -e '.status == "completed" and .attempts == 2 and
		.retries == 1'
	run "$BATON" show --json 2
	echo "$output" | jq -e '.status == "failed" and .attempts == 1 and
		.retries == 0'
}

@test "retries: defaults.retries from the config" {
	write_config "defaults: {retries: 2}"
	echo 2 >"$T/fails"
	run "$BATON" run -q --agent cmd 'do it'
	assert_status 0
	run "$BATON" show --json 1
	echo "$output" | jq -e '.status == "completed" and .attempts == 3'
}

@test "retries: bad values are usage errors" {
	run "$BATON" add --retries -1 'x'
	assert_status 2
	assert_contains "invalid --retries '-1'"
	run "$BATON" add --max-cost 0 'x'
	assert_status 2
	assert_contains "invalid --max-cost '0'"
	run "$BATON" add --max-cost abc 'x'
	assert_status 2
	run "$BATON" work --retries x
	assert_status 2
	printf '%s\n' '{"prompt": "p", "retries": 2, "max_cost": 0.25}' \
		>"$T/tasks.jsonl"
	run "$BATON" add --from "$T/tasks.jsonl"
	assert_status 0
	run "$BATON" show --json 1
	echo "$output" | jq -e '.retries == 2 and .max_cost == 0.25'
}

@test "budget: --max-cost stops a task between turns, budget_exceeded" {
	echo 0.3 >"$T/cost"
	run "$BATON" run -q --agent cmd --max-cost 0.5 --check false \
		--max-iterations 5 --retries 2 'do it'
	assert_status 1
	run "$BATON" show --json 1
	echo "$output" | jq -e '.status == "failed" and
		.reason == "budget_exceeded" and (.runs | length) == 2'
	echo "$output" | jq -e '.error | test("0.6000.*0.5000")'
	[ "$(cat "$T/started")" = 2 ]
}

@test "budget: sessions.max_cost refuses turns once a session cost it" {
	write_config "sessions: {max_cost: 0.5}"
	echo 0.3 >"$T/cost"
	"$BATON" run -q --agent cmd --session s1 'one'
	"$BATON" run -q --agent cmd --session s1 'two'
	run "$BATON" run -q --agent cmd --session s1 'three'
	assert_status 1
	run "$BATON" show --json 3
	echo "$output" | jq -e '.status == "failed" and
		.reason == "budget_exceeded" and (.runs | length) == 0'
	echo "$output" | jq -e '.error | test("session")'
}

@test "budget: the claude CLI is told the budget left (--max-budget-usd=)" {
	export FAKE_CLAUDE_LOG=$T/claude.log
	run "$BATON" run -q --agent claude --max-cost 2 'hi'
	assert_status 0
	grep -qx -- 'arg=--max-budget-usd=2' "$T/claude.log"
	: >"$T/claude.log"
	run "$BATON" run -q --agent claude 'hi'
	assert_status 0
	refute grep -q -- '--max-budget-usd' "$T/claude.log"
}

@test "retries: a task yet to run says the attempts it may have, not max_attempts" {
	# the issue's "attempts 1 of 2" for a task that would never run again
	write_config "defaults: {max_attempts: 5}"
	"$BATON" add -q --agent cmd 'none'
	"$BATON" add -q --agent cmd --retries 2 'two'
	run "$BATON" show 1
	assert_contains "0 of 1"
	run "$BATON" show 2
	assert_contains "0 of 3"
	# the hang turn keeps task 1 running while show looks
	echo 1 >"$T/hang"
	"$BATON" work -q --max-tasks 1 >/dev/null 2>&1 &
	wait_for '[ -s "$T/started" ]' 10
	run "$BATON" show 1
	assert_contains "running"
	assert_contains "1 of 1"
	"$BATON" cancel 1 >/dev/null
	wait
	# a runner that requeues interrupted tasks may run one max_attempts times
	write_config "$(printf 'defaults: {max_attempts: 5}\nrunner: {requeue_interrupted: true}')"
	run "$BATON" show 2
	assert_contains "0 of 5"
}

@test "budget: --max-cost reads money as sessions.max_cost does" {
	local v
	# strtod's hex, inf and nan were $16, no budget and a NaN budget
	for v in 0x10 0X1p4 inf infinity nan 1e400 ' 5' 5x -1 +2 ''; do
		run "$BATON" add --max-cost "$v" 'x'
		assert_status 2
		assert_contains "invalid --max-cost '$v': give an amount in USD greater than 0"
		run --separate-stderr "$BATON" work --until-empty --max-cost "$v"
		assert_status 2
		[[ "$stderr" == *"invalid --max-cost '$v': give an amount in USD greater than 0"* ]]
	done
	[ "$(sql "SELECT count(*) FROM tasks")" = 0 ]
	write_config "sessions: {max_cost: 0x10}"
	run "$BATON" config check
	assert_status 3
	assert_contains "max_cost: expected a number ≥ 0 (USD), got '0x10'"
	# the plain decimals the config takes, the command line takes too
	for v in 5 0.30 .5 1e2 2.50E-1; do
		write_config "sessions: {max_cost: $v}"
		run "$BATON" config check
		assert_status 0
		run "$BATON" add -q --max-cost "$v" "x $v"
		assert_status 0
	done
	run "$BATON" status --json
	[ "$(echo "$output" | jq -c '[.[].max_cost]')" = "[5,0.3,0.5,100,0.25]" ]
}
