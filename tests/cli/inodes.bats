#!/usr/bin/env bats
# Inodes per task (issue 12; docs/design.md "What a task makes on disk"):
# a task makes nothing unless its agent needs it.  The prompt reaches
# the agent on stdin from memory, <run>.prompt is written for an agent
# that reads a file ({prompt_file}, shell) or a feedback prompt,
# <run>.out and <run>.err with their first byte, logs/<task>/ with the
# first file in it, and a temp session's $BATON_SESSION_DIR for the
# kinds whose program may use it (shell, command), not for claude and
# codex.

bats_require_minimum_version 1.5.0

load lib

# An agent script at $T/NAME running the shell code $2.
script() {
	printf '#!/bin/sh\n%s\n' "$2" >"$T/$1"
	chmod +x "$T/$1"
}

# Background processes of a test, stopped if it fails early.
BG=
local_teardown() {
	local pid
	touch "$T/go"
	for pid in $BG; do
		kill "$pid" 2>/dev/null || true
	done
}

# Files and directories under the database's directory, at depth 2 and
# below (logs/<task>, logs/<task>/<run>.*, sessions/<id>, ...).
count_files() {
	find "$(files_dir)" -mindepth 2 | wc -l
}

@test "inodes: work of trivial tasks makes one directory per task, and no file" {
	# keep_temp_dirs keeps every session directory made, so that what
	# is left counts what was created
	config <<-EOF
	defaults: {agent: true}
	sessions: {keep_temp_dirs: true}
	agents:
	  true: {kind: command, command: [/bin/true]}
	EOF
	local i
	for i in $(seq 1 20); do
		printf -- '- prompt: task %s\n' "$i"
	done >"$T/tasks.yaml"
	run "$BATON" add --from "$T/tasks.yaml"
	assert_status 0
	run "$BATON" work -j 2 --until-empty
	assert_status 0
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 20 ]
	# 20: sessions/<id>/ each (then 40 with logs/<task>/; before that
	# 100: those, <run>.prompt, <run>.out and <run>.err); nothing
	# printed, so no logs/<task>/, not even logs/
	run count_files
	[ "$output" = 20 ]
	[ "$(find "$(files_dir)" -mindepth 2 -type f | wc -l)" = 0 ]
	[ "$(find "$(files_dir)/sessions" -mindepth 1 | wc -l)" = 20 ]
	[ ! -e "$(files_dir)/logs" ]
	# and what every command shows of them still works
	run "$BATON" log 7
	assert_status 0
	[ "$output" = "" ]
	run "$BATON" log --stderr 7
	assert_status 0
	[ "$output" = "" ]
	run "$BATON" show 7
	assert_status 0
	assert_contains "task 7"
	run "$BATON" report --junit "$T/report.xml"
	assert_status 0
	grep -q 'tests="20"' "$T/report.xml"
}

@test "inodes: the prompt is on stdin from memory, and in a file only for an agent that names {prompt_file}" {
	script stdin 'cat >"$T/stdin-$BATON_TASK_ID"; test -f /dev/stdin && echo regular >"$T/kind-$BATON_TASK_ID"'
	script file 'cp "$1" "$T/file-$BATON_TASK_ID"; cat >"$T/stdin-$BATON_TASK_ID"'
	config <<-EOF
	defaults: {agent: stdin}
	agents:
	  stdin: {kind: command, command: [$T/stdin]}
	  file: {kind: command, command: [$T/file, "{prompt_file}"]}
	EOF
	run "$BATON" run 'say $(hi) "there"'
	assert_status 0
	[ "$(cat "$T/stdin-1")" = 'say $(hi) "there"' ]
	# stdin is a regular file, as the prompt file was
	[ "$(cat "$T/kind-1")" = regular ]
	[ ! -e "$(files_dir)/logs/1/1.prompt" ]
	run "$BATON" run --agent file 'read me "from" a file'
	assert_status 0
	[ "$(cat "$T/file-2")" = 'read me "from" a file' ]
	[ "$(cat "$T/stdin-2")" = 'read me "from" a file' ]
	[ "$(cat "$(files_dir)/logs/2/2.prompt")" = 'read me "from" a file' ]
}

@test "inodes: a prompt larger than a pipe's buffer, read or not, never blocks the agent" {
	script reads 'wc -c >"$T/count"; head -c 300000 /dev/zero'
	script ignores 'head -c 300000 /dev/zero; exit 0'
	config <<-EOF
	defaults: {agent: reads}
	agents:
	  reads: {kind: command, command: [$T/reads]}
	  ignores: {kind: command, command: [$T/ignores]}
	EOF
	head -c 2000000 /dev/urandom | base64 -w 100 >"$T/big"
	local size
	size=$(stat -c %s "$T/big")
	"$BATON" add --prompt-file "$T/big" >/dev/null
	"$BATON" add --agent ignores --prompt-file "$T/big" >/dev/null
	# timeout is only a guard so that a hang fails the test
	# -j 1: run N is task N's
	run timeout -k 5 120 "$BATON" work -j 1 --until-empty
	assert_status 0
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 2 ]
	[ "$(cat "$T/count")" = "$size" ]
	[ "$(stat -c %s "$(files_dir)/logs/1/1.out")" = 300000 ]
	[ "$(stat -c %s "$(files_dir)/logs/2/2.out")" = 300000 ]
}

@test "inodes: the shell agent still runs its prompt file, with it on stdin too" {
	run "$BATON" run 'echo "$0"; cat'
	assert_status 0
	local dir
	dir=$(files_dir)
	[ "${lines[0]}" = "$dir/logs/1/1.prompt" ]
	[ "${lines[1]}" = 'echo "$0"; cat' ]
	[ "$(cat "$dir/logs/1/1.prompt")" = 'echo "$0"; cat' ]
}

@test "inodes: a feedback prompt is written to the run's prompt file" {
	script agent 'cat >/dev/null'
	config <<-EOF
	defaults: {agent: a}
	agents:
	  a: {kind: command, command: [$T/agent]}
	EOF
	run "$BATON" run --check 'echo check-said-no; exit 1' --max-iterations 2 first
	assert_status 1
	dir=$(files_dir)
	# the task's own prompt is in the database: no file
	[ ! -e "$dir/logs/1/1.prompt" ]
	# the feedback is in no row: its file is the record
	run cat "$dir/logs/1/2.prompt"
	assert_status 0
	assert_contains "check-said-no"
}

@test "inodes: .out and .err are made with their first byte, and log reads a missing one as empty" {
	script agent 'cat >/dev/null; case "$BATON_TASK_ID" in 1) ;; 2) echo to-err >&2 ;; 3) echo to-out ;; esac'
	config <<-EOF
	defaults: {agent: a}
	agents:
	  a: {kind: command, command: [$T/agent]}
	EOF
	local dir i
	for i in 1 2 3; do
		run "$BATON" run -q "task $i"
		assert_status 0
	done
	dir=$(files_dir)
	# nothing printed: no logs/1/ either
	[ ! -e "$dir/logs/1" ]
	[ ! -e "$dir/logs/2/2.out" ]
	[ "$(cat "$dir/logs/2/2.err")" = to-err ]
	[ "$(cat "$dir/logs/3/3.out")" = to-out ]
	[ ! -e "$dir/logs/3/3.err" ]
	for i in 1 2 3; do
		run "$BATON" log "$i"
		assert_status 0
		run "$BATON" log --stderr "$i"
		assert_status 0
		run "$BATON" log -f --stderr "$i"
		assert_status 0
	done
	run "$BATON" log --stderr 2
	[ "$output" = to-err ]
	run "$BATON" log 2
	[ "$output" = "" ]
	run "$BATON" log 3
	[ "$output" = to-out ]
	run "$BATON" log --stderr 1
	[ "$output" = "" ]
	# a task without logs/<task>/ printed nothing (it is made with the
	# first byte), as task 1 did
	rm -rf "$dir/logs/3"
	run "$BATON" log 3
	assert_status 0
	if on_pg; then
		# PostgreSQL keeps the output too (SPEC §10)
		[ "$output" = to-out ]
	else
		[ "$output" = "" ]
	fi
	# a database whose files are not here (another machine) says so
	mv "$dir" "$dir.away"
	run "$BATON" log 2
	if on_pg; then
		assert_status 0
	else
		assert_status 1
		assert_contains "cannot open"
	fi
	mv "$dir.away" "$dir"
}

@test "inodes: log -f picks up a .err made while it follows" {
	script agent 'cat >/dev/null; while [ ! -e "$T/go" ]; do sleep 0.05; done; echo late-err >&2'
	config <<-EOF
	defaults: {agent: a}
	agents:
	  a: {kind: command, command: [$T/agent]}
	EOF
	"$BATON" add x >/dev/null
	"$BATON" work --until-empty >/dev/null 2>&1 &
	BG="$!"
	wait_for '[ "$(sql "SELECT count(*) FROM runs WHERE pid IS NOT NULL")" = 1 ]'
	"$BATON" log -f --stderr 1 >"$T/followed" 2>&1 &
	BG="$BG $!"
	sleep 0.3
	local before=absent
	if [ -e "$(files_dir)/logs/1/1.err" ]; then
		before=present
	fi
	touch "$T/go"
	local pid
	for pid in $BG; do
		wait "$pid"
	done
	BG=
	[ "$before" = absent ]
	[ "$(cat "$T/followed")" = late-err ]
}

@test "inodes: stderr keeps its cap, its marker and redaction when made lazily" {
	script agent 'cat >/dev/null; echo "key canary-secret-value-456" >&2; head -c 20000 /dev/zero | tr "\0" x >&2'
	config <<-EOF
	defaults: {agent: a}
	logs: {max_bytes: 10000}
	agents:
	  a: {kind: command, command: [$T/agent], env: {MY_SECRET: canary-secret-value-456}}
	EOF
	run "$BATON" run -q go
	assert_status 0
	local err
	err=$(files_dir)/logs/1/1.err
	grep -q 'output truncated at 10000 bytes (logs.max_bytes)' "$err"
	run grep -c canary-secret-value-456 "$err"
	[ "$output" = 0 ]
	grep -q REDACTED "$err"
	[ "$(sql "SELECT output_truncated FROM runs WHERE id = 1")" = 1 ]
}

@test "inodes: a temp session's directory: made for command ({session_dir}) and shell, set but not made for claude" {
	script named 'cat >/dev/null; [ "$1" = "$BATON_SESSION_DIR" ] && [ -d "$1" ] && echo yes >"$T/named.said"'
	# a Claude Code CLI that says whether the directory was there, then
	# makes it as an agent told to use it would
	script claude 'sid=; for a; do case $a in --session-id=*) sid=${a#--session-id=} ;; esac; done
cat >/dev/null
if [ -e "$BATON_SESSION_DIR" ]; then echo exists; else echo absent; fi >"$T/claude.said"
mkdir -p "$BATON_SESSION_DIR" && echo kept >"$BATON_SESSION_DIR/f"
printf "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"ok\",\"session_id\":\"%s\"}\n" "$sid"'
	config <<-EOF
	defaults: {agent: named}
	agents:
	  named: {kind: command, command: [$T/named, "{session_dir}"]}
	  cl: {kind: claude, command: $T/claude}
	EOF
	run "$BATON" run -q go
	assert_status 0
	[ "$(cat "$T/named.said")" = yes ]
	run "$BATON" run -q --agent cl go
	assert_status 0
	# set, not made; the agent made it, and it went with the task
	[ "$(cat "$T/claude.said")" = absent ]
	local sid
	sid=$(sql "SELECT session_id FROM tasks WHERE id = 2")
	[ ! -e "$(files_dir)/sessions/$sid" ]
	# the shell agent's scripts find it made
	run "$BATON" run --agent shell 'test -d "$BATON_SESSION_DIR" && echo there'
	assert_status 0
	[ "$output" = there ]
	# a named session's directory is made for every kind, as before
	run "$BATON" run -q --agent cl --session keep go
	assert_status 0
	[ "$(cat "$T/claude.said")" = exists ]
}

@test "inodes: temp session directories are reused: renamed, empty, 0700, none left behind" {
	# each task's agent says what it found (inode, entries, mode), then
	# does what its prompt says to the directory
	script probe 'p=$(cat)
d=$BATON_SESSION_DIR
echo "$BATON_TASK_ID $(stat -c %i.%Y.%y "$d" | tr -d " ") $(ls -A "$d" | wc -l) $(stat -c %a "$d")" >>"$T/probe.log"
case $p in
dirty) echo left >"$d/file" && mkdir "$d/sub" && chmod 777 "$d" ;;
swap) rm -rf "$d" && ln -s "$T/victim" "$d" ;;
esac'
	mkdir "$T/victim"
	echo precious >"$T/victim/keep"
	config <<-EOF
	defaults: {agent: probe}
	agents:
	  probe: {kind: command, command: [$T/probe]}
	EOF
	local p
	for p in clean dirty clean swap clean clean; do
		"$BATON" add -q "$p"
	done
	run "$BATON" work -j 1 --until-empty
	assert_status 0
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 6 ]
	# every task found its directory empty and 0700
	[ "$(awk '$3 != 0 || $4 != 700' "$T/probe.log")" = "" ]
	[ "$(wc -l <"$T/probe.log")" = 6 ]
	# task 2 got task 1's directory, task 6 task 5's (renamed: one inode,
	# its mtime of when it was made, to the nanosecond);
	# what the dirty one and the swap left was removed, not reused
	[ "$(awk '$1 == 1 { print $2 }' "$T/probe.log")" = "$(awk '$1 == 2 { print $2 }' "$T/probe.log")" ]
	[ "$(awk '$1 == 5 { print $2 }' "$T/probe.log")" = "$(awk '$1 == 6 { print $2 }' "$T/probe.log")" ]
	# the symlink's target is untouched; nothing is left in sessions/
	[ "$(cat "$T/victim/keep")" = precious ]
	[ "$(find "$(files_dir)/sessions" -mindepth 1 | wc -l)" = 0 ]
}

@test "inodes: a reusable directory left by a killed runner is pruned as an orphan" {
	"$BATON" add -q "true"
	run "$BATON" work -j 1 --until-empty
	assert_status 0
	mkdir "$(files_dir)/sessions/.free-999999-0" "$(files_dir)/sessions/.other"
	touch -d '3 days ago' "$(files_dir)/sessions/.free-999999-0" "$(files_dir)/sessions/.other"
	run "$BATON" prune --older-than 1d
	assert_status 0
	[ ! -e "$(files_dir)/sessions/.free-999999-0" ]
	# a dot entry that is not baton's stays
	[ -d "$(files_dir)/sessions/.other" ]
}

@test "inodes: logs/<task>/ is made with its first file: none for a silent task" {
	script agent 'cat >/dev/null; case "$BATON_TASK_ID" in 2) echo said-so ;; 3) echo "{\"result\": \"r3\"}" >"$BATON_RESULT_FILE" ;; esac'
	config <<-EOF
	defaults: {agent: a}
	agents:
	  a: {kind: command, command: [$T/agent]}
	EOF
	local i dir
	for i in 1 2 3; do
		"$BATON" add -q "task $i"
	done
	run "$BATON" work -j 1 --until-empty
	assert_status 0
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 3 ]
	dir=$(files_dir)
	# silent: no directory, and its log is empty, said without an error
	[ ! -e "$dir/logs/1" ]
	run --separate-stderr "$BATON" log 1
	assert_status 0
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	run --separate-stderr "$BATON" log --stderr -f 1
	assert_status 0
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	# it printed: its directory and its log
	[ "$(cat "$dir/logs/2/2.out")" = said-so ]
	run "$BATON" log 2
	assert_status 0
	[ "$output" = said-so ]
	# $BATON_RESULT_FILE (results/, there when the agent starts) is read,
	# then kept with the run's logs; results/ is left empty
	[ "$("$BATON" show 3 --json | jq -r .answer)" = r3 ]
	[ -f "$dir/logs/3/3.result" ]
	[ ! -e "$dir/logs/3/3.out" ]
	[ "$(ls -A "$dir/results")" = "" ]
	# show, report and prune of a task with no directory
	run "$BATON" show 1
	assert_status 0
	run "$BATON" report --junit "$T/report.xml"
	assert_status 0
	run --separate-stderr "$BATON" prune --older-than 0s
	assert_status 0
	[ "$stderr" = "" ]
	[ ! -e "$dir/logs/2" ]
	[ ! -e "$dir/logs/3" ]
}

@test "inodes: logs/<task>/ that cannot be made fails the run when its first byte comes, as a log file does" {
	script agent 'cat >/dev/null; echo ran >"$T/ran-$BATON_TASK_ID"; [ "$BATON_TASK_ID" = 2 ] || echo printed'
	config <<-EOF
	defaults: {agent: a}
	agents:
	  a: {kind: command, command: [$T/agent]}
	EOF
	run "$BATON" run -q first
	assert_status 0
	local dir
	dir=$(files_dir)
	# a file in the way of task 2's and 3's directories
	echo in-the-way >"$dir/logs/2"
	echo in-the-way >"$dir/logs/3"
	# task 2 prints nothing: it never needs its directory
	run "$BATON" run -q second
	assert_status 0
	# task 3 prints: the agent has run, the run fails saying why
	run "$BATON" run -q third
	assert_status 1
	[ -f "$T/ran-3" ]
	assert_contains "cannot create $dir/logs/3: not a directory"
	[ "$("$BATON" show 3 --json | jq -r .status)" = failed ]
	[ "$(cat "$dir/logs/3")" = in-the-way ]
}
