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
	# the agent puts a link where its own .err log goes, then fails
	agent "l=\$(dirname \"\$(dirname \"\$BATON_RESULT_FILE\")\")/logs/\$BATON_TASK_ID
	mkdir -p \"\$l\" && ln -sf $T/secret \"\$l/\$BATON_RUN_ID.err\"; exit 3"
	run "$BATON" run hello
	assert_status 1
	assert_not_contains "secret-first-line"
	run "$BATON" show 1 --json
	assert_not_contains "secret-first-line"
	[ -L "$(files_dir)/logs/1/1.err" ]
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
	db_remove
	agent 'echo quiet'
	run "$BATON" run hello
	assert_status 0
	run "$BATON" show 1 --json
	[ "$(jq -r '.runs[0].input_tokens // 0' <<<"$output")" = 0 ]
	[ "$(jq -r '.cost_usd // 0' <<<"$output")" = 0 ]
	assert_not_contains 11111111-2222-4333-8444-555555555555
	run "$BATON" log 1
	[ "$output" = quiet ]
	[ "$(files_dir)" != "$old" ]
}

@test "files: a planted symlink at a log file is refused, never followed" {
	agent 'echo overwritten'
	run "$BATON" add hello
	assert_status 0
	echo precious >"$T/target"
	dir=$(files_dir)
	mkdir -p "$dir/logs/1" "$T/state/logs/1"
	ln -s "$T/target" "$dir/logs/1/1.out"
	if [ ! -L "$T/state/logs/1/1.out" ]; then
		# where older releases wrote
		ln -s "$T/target" "$T/state/logs/1/1.out"
	fi
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

@test "files: logs/ swapped for a symlink between two tasks of one worker is refused" {
	# the first task's agent swaps <files dir>/logs for a symlink (a
	# worker checks the directories above a task's once, then only that
	# they are still directories, SPEC §9)
	# ($BATON_RESULT_FILE is <files dir>/results/<task>.<run>.result.)
	# Each task prints, so that its logs/<task>/ is made: the first
	# swaps once baton has made (and checked) logs/ for its output.
	agent 'd=$(dirname "$(dirname "$BATON_RESULT_FILE")")
	echo out >&2
	if [ ! -L "$d/logs" ]; then
		while [ ! -e "$d/logs/$BATON_TASK_ID/$BATON_RUN_ID.err" ]; do
			sleep 0.05
		done
		mv "$d/logs" "$d/logs.real" && mkdir "$T/elsewhere" &&
			ln -s "$T/elsewhere" "$d/logs"
	fi'
	"$BATON" add -q one
	"$BATON" add -q two
	run "$BATON" work -j 1 --until-empty
	[ -L "$(files_dir)/logs" ]
	# nothing of task 2 was made through it
	[ "$(find "$T/elsewhere" -mindepth 1 | wc -l)" = 0 ]
	[ "$(sql "SELECT status FROM tasks WHERE id = 2")" != completed ]
	[ "$(run_error 2)" != null ]
	run run_error 2
	assert_contains "not a directory"
}

@test "files: a database of the previous release keeps its logs (moved once)" {
	sqlite_only "a database of schema 4 (files in the shared layout)"
	run "$BATON" run 'echo old-output'
	assert_status 0
	dir=$(files_dir)
	sid=$(sql "SELECT session_id FROM tasks WHERE id = 1")
	# Make it what schema 4 left: files in the shared layout, no id.
	mv "$dir/logs" "$dir/sessions" "$T/state/"
	rmdir "$dir/results" "$dir"
	sql "DROP TABLE meta; ALTER TABLE runs DROP COLUMN output_truncated;
		ALTER TABLE tasks DROP COLUMN lease_epoch;
		ALTER TABLE sessions DROP COLUMN lease_epoch;
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

@test "files: each stream is capped at logs.max_bytes, the pipe still drained" {
	# 3 MB on each stream: an agent that blocked on a full pipe would
	# never reach its last line
	agent 'head -c 3000000 /dev/zero | tr "\0" x; head -c 3000000 /dev/zero | tr "\0" y >&2; echo done >"$T/finished"' \
		'logs: {max_bytes: 10000}'
	run "$BATON" run -q hello
	assert_status 0
	[ -f "$T/finished" ]
	dir=$(files_dir)
	[ "$(head -c 10000 "$dir/logs/1/1.out" | tr -d x | wc -c)" = 0 ]
	[ "$(stat -c %s "$dir/logs/1/1.out")" -lt 10200 ]
	[ "$(stat -c %s "$dir/logs/1/1.err")" -lt 10200 ]
	grep -q 'output truncated at 10000 bytes (logs.max_bytes)' "$dir/logs/1/1.out"
	grep -q 'output truncated at 10000 bytes (logs.max_bytes)' "$dir/logs/1/1.err"
	[ "$("$BATON" show 1 --json | jq -r '.runs[0].output_truncated')" = true ]
	run "$BATON" show 1
	assert_contains "output: truncated at logs.max_bytes"
	# under the cap: not marked
	agent 'echo small' 'logs: {max_bytes: 10000}'
	run "$BATON" run -q hello
	[ "$("$BATON" show 2 --json | jq -r '.runs[0].output_truncated')" = false ]
}

@test "files: logs.max_bytes is checked" {
	agent 'true' 'logs: {max_bytes: 0}'
	run "$BATON" status
	assert_status 3
	assert_contains "logs.max_bytes: expected a whole number ≥ 1, got '0'"
	agent 'echo ok' 'logs: {max_bytes: 1}'
	run "$BATON" status
	assert_status 0
}

@test "files: secrets are redacted in the agent's logs, even split across reads" {
	# each secret is written in two pieces with a pause between, so the
	# pieces come in two read()s
	agent 'printf "p=canary-prof"; sleep 0.2; printf "ile-value-123 c=caller-sec"
		sleep 0.2; printf "ret-value-456\n"
		printf "t=sk-ant-api03-AAAAAAAAAA" >&2; sleep 0.2
		printf "BBBBBBBBBBBBBBBBBBBBBB\n" >&2
		printf "last sk-ant-api03-CCCCCCCCCCCCCCCCCCCCCCCCCC"'
	FOO_API_KEY=caller-secret-value-456 run "$BATON" run --raw hello
	assert_status 0
	assert_contains "p=[REDACTED] c=[REDACTED]"
	assert_not_contains canary-profile
	assert_not_contains caller-secret
	assert_not_contains sk-ant
	run "$BATON" log 1
	assert_contains "p=[REDACTED] c=[REDACTED]"
	assert_contains "last [REDACTED]"
	assert_not_contains canary-profile
	assert_not_contains caller-secret
	assert_not_contains AAAAAAAAAA
	run "$BATON" log 1 --stderr
	assert_contains "t=[REDACTED]"
	assert_not_contains AAAAAAAAAA
	assert_not_contains BBBBBBBBBB
	run grep -r -e canary-profile -e caller-secret -e sk-ant "$(files_dir)"
	assert_status 1
	# logs.redact: false keeps them (the switch works both ways)
	agent 'echo "p=$PROFILE_SECRET_VALUE"' 'logs: {redact: false}'
	run "$BATON" run hello
	run "$BATON" log 2
	assert_contains "p=canary-profile-value-123"
}

# A small file system of its own at $T/full (we run as root in CI);
# unmounted by local_teardown.
small_fs() {
	mkdir -p "$T/full"
	if ! mount -t tmpfs -o size=4m tmpfs "$T/full" 2>/dev/null; then
		skip "cannot mount a tmpfs here (needs root)"
	fi
	MOUNTED=$T/full
}

# Fill it up (again: SQLite frees its WAL when the last connection closes).
fill_disk() {
	FILLS=$(( ${FILLS:-0} + 1 ))
	dd if=/dev/zero of="$T/full/fill$FILLS" bs=1k 2>/dev/null || true
}

local_teardown() {
	if [ -n "${AGENT_PID:-}" ]; then
		kill -9 "$AGENT_PID" 2>/dev/null || true
	fi
	if [ -n "${MOUNTED:-}" ]; then
		umount "$MOUNTED" 2>/dev/null || umount -l "$MOUNTED"
	fi
}

@test "files: with the disk full, status and doctor show what they can" {
	small_fs
	export BATON_DB=$T/full/baton.db
	agent 'echo $$ >"$T/agent.pid"; exec sleep 1000' \
		'runner: {heartbeat: 1s, stale_after: 3s}'
	"$BATON" add -q hello
	"$BATON" work >/dev/null 2>&1 &
	work=$!
	wait_for '[ -s "$T/agent.pid" ]'
	AGENT_PID=$(cat "$T/agent.pid")
	# a runner that died with its task running: the next command reaps
	kill -9 "$work"
	wait "$work" || true
	fill_disk
	run --separate-stderr "$BATON" status
	assert_status 0
	assert_contains "running"
	[[ "$stderr" == *"warning: cannot reap dead runners ("*"disk full"* ]]
	fill_disk  # a closing connection may have freed its WAL
	run --separate-stderr "$BATON" doctor
	[ "$status" != 4 ]
	[[ "$stderr" == *"warning: cannot reap dead runners"* ]]
	fill_disk
	run "$BATON" show 1 --json
	assert_status 0
	fill_disk
	# a command that must write still says why it cannot
	run "$BATON" add again
	assert_status 4
	assert_contains "disk full"
	# room again: the next command reaps
	rm -f "$T"/full/fill*
	run "$BATON" status
	assert_status 0
	assert_not_contains "running"
}
