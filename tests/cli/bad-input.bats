#!/usr/bin/env bats
# Bad input (SPEC §6, §7): each refusal with its exit code and a message
# naming the value, and nothing added or run.

bats_require_minimum_version 1.5.0

load lib
load orch

local_setup() {
	touch "$T/noexec"
	fake_config "  nobin: {kind: command, command: [$T/no-such-agent]}" \
		"  nopath: {kind: command, command: [no-such-agent-on-path]}" \
		"  noexec: {kind: command, command: [$T/noexec]}"
}

# No task was added.
no_tasks() {
	[ "$(sql "SELECT count(*) FROM tasks")" = 0 ]
}

@test "invalid --session name" {
	run "$BATON" run --session 'bad name' hello
	assert_status 2
	assert_contains "baton: invalid session 'bad name': give a UUID or a name of 1 to 64 characters from A-Z a-z 0-9 . _ -"
	run "$BATON" add --session "$(printf 'x%.0s' $(seq 65))" hello
	assert_status 2
	assert_contains "invalid session 'xxxx"
	run "$BATON" add --session 'a/b' hello
	assert_status 2
	no_tasks
	[ "$(sql "SELECT count(*) FROM sessions")" = 0 ]
}

@test "invalid --session UUID" {
	run "$BATON" run --session 12345678-1234-1234-1234-1234567890zz hello
	assert_status 2
	assert_contains "invalid session '12345678-1234-1234-1234-1234567890zz'"
	no_tasks
	[ "$(sql "SELECT count(*) FROM sessions")" = 0 ]
}

@test "unknown or malformed task ids" {
	local cmd
	for cmd in show log cancel retry; do
		run "$BATON" "$cmd" 42
		assert_status 2
		assert_contains "baton: no task 42"
		run "$BATON" "$cmd" 4x2
		assert_status 2
		assert_contains "baton: invalid task id '4x2': give a number like 12"
		assert_contains "usage: baton $cmd"
	done
	run "$BATON" show --json 42
	assert_status 2
	assert_contains "baton: no task 42"
	run "$BATON" show 0
	assert_status 2
	run "$BATON" show -- -1
	assert_status 2
}

@test "workdir missing or not a directory" {
	run "$BATON" run --workdir "$T/nowhere" hello
	assert_status 2
	assert_contains "baton: workdir $T/nowhere: No such file or directory"
	run "$BATON" add --workdir "$T/noexec" hello
	assert_status 2
	assert_contains "baton: workdir $T/noexec: not a directory"
	no_tasks
}

@test "a workdir removed after add fails the task, not baton" {
	mkdir "$T/gone"
	"$BATON" add --workdir "$T/gone" hello >/dev/null
	rmdir "$T/gone"
	run "$BATON" work --until-empty
	assert_status 1
	assert_contains "task 1 failed: cannot use workdir $T/gone: No such file or directory"
	[ "$(tj 1 .status)" = failed ]
	no_session_left
}

@test "agent binary missing: exit 127" {
	run -127 --separate-stderr "$BATON" run --agent nobin hello
	assert_status 127
	[[ "$stderr" == *"baton: task 1 failed: cannot run '$T/no-such-agent': No such file or directory"* ]]
	run -127 "$BATON" run --agent nopath hello
	assert_status 127
	assert_contains "cannot run 'no-such-agent-on-path': No such file or directory"
	[ "$(tj 1 .status)" = failed ]
	[ "$(tj 1 '.runs[0].outcome')" = config_error ]
	[ "$(tj 1 '.runs[0].exit_code')" = null ]
	no_session_left
	# through work: the task fails, work goes on and exits 1
	"$BATON" add --agent nobin again >/dev/null
	"$BATON" add fine >/dev/null
	run "$BATON" work --until-empty
	assert_status 1
	assert_contains "task 3 failed: cannot run '$T/no-such-agent'"
	assert_contains "task 4 completed"
}

@test "agent binary not executable: exit 126" {
	run "$BATON" run --agent noexec hello
	assert_status 126
	assert_contains "cannot run '$T/noexec': Permission denied"
	[ "$(tj 1 .status)" = failed ]
	no_session_left
}

@test "prompt file missing, unreadable as a file, or empty" {
	run "$BATON" run --prompt-file "$T/nope"
	assert_status 2
	assert_contains "baton: cannot read prompt file $T/nope: No such file or directory"
	run "$BATON" add --prompt-file "$T"
	assert_status 2
	assert_contains "baton: cannot read prompt file $T:"
	: > "$T/empty"
	run "$BATON" run --prompt-file "$T/empty"
	assert_status 2
	assert_contains "empty prompt"
	run "$BATON" run --prompt-file "$T/empty" and words
	assert_status 2
	assert_contains "give a prompt or --prompt-file, not both"
	no_tasks
}

@test "empty prompt" {
	run "$BATON" run
	assert_status 2
	assert_contains "baton: empty prompt: give the task as words, --prompt-file FILE or --prompt-file - for stdin"
	run "$BATON" add ''
	assert_status 2
	assert_contains "baton: empty prompt"
	run "$BATON" add '  ' '	'
	assert_status 2
	run "$BATON" run --prompt-file - < /dev/null
	assert_status 2
	assert_contains "baton: empty prompt"
	no_tasks
}

@test "--timeout garbage" {
	local v
	for v in abc 10x -5 '' 1.5.3 5mins 1h30 30m1h; do
		run "$BATON" run --timeout "$v" hello
		assert_status 2
		assert_contains "baton: --timeout: invalid duration '$v': use e.g. 90s, 15m, 1h30m, 1.5h"
	done
	run "$BATON" run --timeout 0 hello
	assert_status 2
	assert_contains "baton: --timeout: expected a duration greater than 0, got '0'"
	no_tasks
}

@test "--timeout, config and BATON_SESSION_TTL: 1h30m, 1.5h, 2d, 1w" {
	"$BATON" add --timeout 1h30m one >/dev/null
	"$BATON" add --timeout 1.5h two >/dev/null
	"$BATON" add --timeout 2m30s three >/dev/null
	[ "$(sql "SELECT group_concat(timeout_ms) FROM tasks")" = 5400000,5400000,150000 ]
	config <<<'sessions: {ttl: 1w, retention: 2d}'
	BATON_SESSION_TTL=1.5d run "$BATON" config show
	assert_status 0
	assert_contains "ttl: 36h"
	assert_contains "retention: 2d"
}

@test "-j 0, -j -1 and other bad work options" {
	local v
	for v in 0 -1 abc 257 ''; do
		run "$BATON" work -j "$v" --until-empty
		assert_status 2
		assert_contains "baton: invalid -j '$v': give a number from 1 to 256"
		assert_contains "usage: baton work"
	done
	run "$BATON" work --max-tasks 0
	assert_status 2
	assert_contains "invalid --max-tasks '0'"
	run "$BATON" work --bogus
	assert_status 2
	assert_contains "unknown option '--bogus'"
	run "$BATON" work now
	assert_status 2
	assert_contains "unexpected argument 'now'"
	# nothing ran: no runner was registered
	[ "$(sql "SELECT count(*) FROM runners")" = 0 ]
}

@test "other bad options and values are usage errors" {
	run "$BATON" run --agent nosuch hello
	assert_status 2
	assert_contains "baton: unknown agent 'nosuch'"
	run "$BATON" run --max-iterations 0 --check true hello
	assert_status 2
	assert_contains "invalid --max-iterations '0'"
	run "$BATON" run --bogus hello
	assert_status 2
	assert_contains "unknown option '--bogus'"
	run "$BATON" status --status bogus
	assert_status 2
	assert_contains "invalid status 'bogus'"
	run "$BATON" log 1 --run x
	assert_status 2
	assert_contains "invalid run 'x'"
	run "$BATON" cancel
	assert_status 2
	assert_contains "give task ids"
	run "$BATON" doctor extra
	assert_status 2
	no_tasks
}

# A command agent reporting the numbers of $T/huge.json.
huge_agent() {
	cat > "$T/huge" <<-EOF
	#!/bin/sh
	cat "$T/huge.json" > "\$BATON_RESULT_FILE"
	EOF
	chmod +x "$T/huge"
	echo "  huge: {kind: command, command: [$T/huge]}" >> "$BATON_CONFIG"
}

@test "absurd numbers from an agent are clamped and saturate, never overflow" {
	huge_agent
	echo '{"input_tokens": 9223372036854775807, "output_tokens": 1e300,
	       "cost_usd": 1e308, "num_turns": -5, "duration_ms": -1}' > "$T/huge.json"
	"$BATON" session init big --agent huge >/dev/null
	run "$BATON" run --session big --agent huge one
	assert_status 0
	run "$BATON" run --session big --agent huge two
	assert_status 0
	# the session's sums stay at the cap, positive and finite
	run "$BATON" session list --json
	assert_status 0
	[ "$(echo "$output" | jq -r '.[0].input_tokens')" = 9007199254740991 ]
	[ "$(echo "$output" | jq -r '.[0].output_tokens')" = 9007199254740991 ]
	[ "$(echo "$output" | jq -r '.[0].cost_usd | type')" = number ]
	[ "$(echo "$output" | jq -r '.[0].cost_usd')" = 1000000000000 ]
	run "$BATON" session list
	assert_status 0
	assert_not_contains inf
	assert_contains '9007199254740991'
	# each run and task as reported, clamped; turns not reported
	[ "$(tj 2 '.runs[0].input_tokens')" = 9007199254740991 ]
	[ "$(tj 2 '.runs[0].cost_usd')" = 1000000000000 ]
	[ "$(sql "SELECT coalesce(CAST(num_turns AS TEXT), 'null') FROM runs WHERE id = 2")" = null ]
	# stats adds up every task without an integer overflow
	run "$BATON" stats --json
	assert_status 0
	[ "$(echo "$output" | jq -r '.input_tokens')" = 9007199254740991 ]
	[ "$(echo "$output" | jq -r '.cost_usd')" = 1000000000000 ]
	run "$BATON" stats
	assert_status 0
	assert_not_contains inf
	run "$BATON" status --json
	assert_status 0
	[ "$(echo "$output" | jq -r '[.[].cost_usd | type] | unique | join(",")')" = number ]
}

@test "usage out of range in rows already stored is read in range" {
	run "$BATON" add hello
	assert_status 0
	run "$BATON" add again
	assert_status 0
	# as an older baton could have left them: wrapped, overflowed, inf
	local inf=9e999
	if on_pg; then
		inf="'Infinity'"
	fi
	sql "UPDATE tasks SET input_tokens = 9223372036854775807,
	     output_tokens = -2, cost_usd = $inf"
	run "$BATON" stats --json
	assert_status 0
	[ "$(echo "$output" | jq -r '.input_tokens')" = 9007199254740991 ]
	[ "$(echo "$output" | jq -r '.output_tokens')" = 0 ]
	[ "$(echo "$output" | jq -r '.cost_usd')" = 1000000000000 ]
	run "$BATON" show 1 --json
	assert_status 0
	[ "$(echo "$output" | jq -r '.cost_usd')" = 1000000000000 ]
	[ "$(echo "$output" | jq -r '.output_tokens')" = 0 ]
}
