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
	run timeout -k 5 120 "$BATON" run hello
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
	run timeout -k 5 120 "$BATON" add --from "$T/fifo"
	[ "$status" -lt 124 ]
	[ "$(sql 'SELECT count(*) FROM tasks')" = 0 ]
	run timeout -k 5 120 "$BATON" add --prompt-file "$T/fifo"
	[ "$status" -lt 124 ]
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
	run timeout -k 5 120 "$BATON" --config "$T/fifo" status
	[ "$status" -lt 124 ]
}

@test "files: two databases in one directory never share a file" {
	agent 'echo "from-$BATON_DB_NAME"'
	BATON_DB_NAME=A run "$BATON" --db "$T/work/a.db" run hello
	assert_status 0
	BATON_DB_NAME=B run "$BATON" --db "$T/work/b.db" run hello
	assert_status 0
	run "$BATON" --db "$T/work/a.db" log 1
	assert_status 0
	[ "$output" = from-A ]
	run "$BATON" --db "$T/work/b.db" log 1
	[ "$output" = from-B ]
	[ "$(files_dir "$T/work/a.db")" != "$(files_dir "$T/work/b.db")" ]
	[ -f "$(files_dir "$T/work/a.db")/logs/1/1.out" ]
}

@test "files: a database made anew never reads its predecessor's files" {
	agent 'echo "{\"input_tokens\": 1000, \"cost_usd\": 0.5, \"session_id\": \"11111111-2222-4333-8444-555555555555\"}" >"$BATON_RESULT_FILE"'
	run "$BATON" run hello
	assert_status 0
	old=$(files_dir)
	rm -f "$BATON_DB" "$BATON_DB"-wal "$BATON_DB"-shm
	agent 'echo quiet'
	run "$BATON" run hello
	assert_status 0
	[ "$(files_dir)" != "$old" ]
	run "$BATON" show 1 --json
	[ "$(jq -r '.runs[0].input_tokens // 0' <<<"$output")" = 0 ]
	[ "$(jq -r '.cost_usd // 0' <<<"$output")" = 0 ]
	assert_not_contains 11111111-2222-4333-8444-555555555555
	run "$BATON" log 1
	[ "$output" = quiet ]
}

@test "files: a planted symlink at a log file is refused, never followed" {
	agent 'echo overwritten'
	run "$BATON" add hello
	assert_status 0
	echo precious >"$T/target"
	dir=$(files_dir)
	mkdir -p "$dir/logs/1" "$T/state/logs/1"
	ln -s "$T/target" "$dir/logs/1/1.out"
	ln -s "$T/target" "$T/state/logs/1/1.out"  # where older releases wrote
	run "$BATON" work --until-empty
	[ "$(cat "$T/target")" = precious ]
	run "$BATON" show 1 --json
	assert_contains "already exists"
	# a directory planted as a symlink is refused too
	ln -s "$T" "$dir/logs/2"
	run "$BATON" run hello
	[ "$(cat "$T/target")" = precious ]
	assert_contains "not a directory"
}

@test "files: a database of the previous release keeps its logs (moved once)" {
	run "$BATON" run 'echo old-output'
	assert_status 0
	dir=$(files_dir)
	sid=$(sql "SELECT session_id FROM tasks WHERE id = 1")
	# Make it what schema 4 left: files in the shared layout, no id.
	mv "$dir/logs" "$dir/sessions" "$T/state/"
	rmdir "$dir"
	sql "DROP TABLE meta; ALTER TABLE runs DROP COLUMN output_truncated;
		PRAGMA user_version = 4"
	run "$BATON" log 1
	assert_status 0
	[ "$output" = old-output ]
	dir=$(files_dir)
	[ -f "$dir/logs/1/1.out" ]
	[ ! -e "$T/state/logs" ]
	[ "$(sql "SELECT count(*) FROM meta WHERE key = 'legacy_files'")" = 0 ]
	# a new run goes to the same directory
	run "$BATON" run 'echo new-output'
	[ -f "$dir/logs/2/2.out" ]
}
