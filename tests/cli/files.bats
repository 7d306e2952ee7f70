#!/usr/bin/env bats
# Files baton reads and writes (SPEC §3 "Output", §9 Storage): nothing an
# agent leaves behind can hang baton or make it follow a symlink; each
# database keeps its files apart; output is capped and redacted.

bats_require_minimum_version 1.5.0

load lib

# An agent script at $T/agent running the shell code $1, and a config
# with it as the default profile (plus the lines in $2).
agent() {
	printf '#!/bin/sh\ncat >/dev/null\n%s\n' "$1" >"$T/agent"
	chmod +x "$T/agent"
	config <<-EOF
	defaults: {agent: cmd, kill_grace: 1s}
	agents:
	  cmd:
	    kind: command
	    command: [$T/agent]
	    env: {PROFILE_SECRET_VALUE: canary-profile-value-123}
	${2:-}
	EOF
}

# The run's error as stored.
run_error() {
	"$BATON" show "$1" --json | jq -r '.runs[-1].error // .error'
}

@test "files: a FIFO left at BATON_RESULT_FILE is refused, never waited on" {
	agent 'mkfifo "$BATON_RESULT_FILE"'
	# timeout is only a guard so that the old hang fails the test
	run timeout 120 "$BATON" run hello
	assert_status 1
	assert_contains "cannot read result file: not a regular file"
	[ "$("$BATON" show 1 --json | jq -r .status)" = failed ]
}

@test "files: a symlink at BATON_RESULT_FILE is not followed" {
	printf 'secret-first-line\n{"result": "leaked"}\n' >"$T/secret"
	chmod 600 "$T/secret"
	agent "ln -s $T/secret \"\$BATON_RESULT_FILE\""
	run "$BATON" run hello
	assert_status 1
	assert_contains "cannot read result file: is a symbolic link (not followed)"
	assert_not_contains "secret-first-line"
	run "$BATON" show 1 --json
	assert_not_contains "secret-first-line"
	assert_not_contains "leaked"
}

@test "files: a symlink planted for the agent's stderr log is not read back" {
	printf 'secret-first-line\n' >"$T/secret"
	# the agent replaces its own .err log with a link, then fails
	agent "ln -sf $T/secret \"\${BATON_RESULT_FILE%.result}.err\"; exit 3"
	run "$BATON" run hello
	assert_status 1
	assert_not_contains "secret-first-line"
	run "$BATON" show 1 --json
	assert_not_contains "secret-first-line"
}

@test "files: add --from a FIFO with no writer does not hang" {
	mkfifo "$T/fifo"
	run timeout 120 "$BATON" add --from "$T/fifo"
	[ "$status" != 124 ]
	[ "$(sql 'SELECT count(*) FROM tasks')" = 0 ]
	run timeout 120 "$BATON" add --prompt-file "$T/fifo"
	[ "$status" != 124 ]
	[ "$(sql 'SELECT count(*) FROM tasks')" = 0 ]
}

@test "files: add --from <(...) and --from - still read a pipe" {
	run "$BATON" add --from <(printf '%s\n' '- prompt: one' '- prompt: two')
	assert_status 0
	[ "$(sql 'SELECT count(*) FROM tasks')" = 2 ]
	run "$BATON" add --from - <<<'- prompt: three'
	assert_status 0
	[ "$(sql 'SELECT count(*) FROM tasks')" = 3 ]
}

@test "files: --config a FIFO with no writer does not hang" {
	mkfifo "$T/fifo"
	run timeout 120 "$BATON" --config "$T/fifo" status
	[ "$status" != 124 ]
}
