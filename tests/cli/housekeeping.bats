#!/usr/bin/env bats
# Housekeeping (SPEC §6): baton prune, logs.retention in work, temp
# session directories, baton db backup and baton db vacuum.

bats_require_minimum_version 1.5.0

load lib

DAY=86400000

# Make task $1 (and the temp session it ran in) look finished $2 days ago.
age_task() {
	sql "UPDATE tasks SET finished_at = finished_at - $2 * CAST($DAY AS BIGINT)
	     WHERE id = $1;
	     UPDATE sessions SET closed_at = closed_at - $2 * CAST($DAY AS BIGINT)
	     WHERE id = (SELECT session_id FROM tasks WHERE id = $1)
	     AND status <> 'active'"
}

sid_of() {
	sql "SELECT session_id FROM tasks WHERE id = $1"
}

@test "prune deletes old finished tasks, runs, events, logs and unused ended sessions; --dry-run changes nothing" {
	"$BATON" run -q 'echo one'                       # 1: temp, old
	"$BATON" run -q 'exit 3' || true                  # 2: temp, old, failed
	"$BATON" run -q --session keep 'echo named'       # 3: named, old
	"$BATON" run -q 'echo recent'                     # 4: temp, recent
	"$BATON" add 'echo later' >/dev/null              # 5: pending
	s1=$(sid_of 1) s3=$(sid_of 3) s4=$(sid_of 4)
	age_task 1 3
	age_task 2 3
	age_task 3 3
	[ -d "$(files_dir)/logs/1" ]
	before=$(sql "SELECT count(*) FROM tasks; SELECT count(*) FROM runs;
		SELECT count(*) FROM events; SELECT count(*) FROM sessions")

	run "$BATON" prune --older-than 2d --dry-run
	assert_status 0
	assert_contains "dry run: would prune 3 tasks (3 runs,"
	assert_contains "2 sessions"
	[ "$(sql "SELECT count(*) FROM tasks; SELECT count(*) FROM runs;
		SELECT count(*) FROM events; SELECT count(*) FROM sessions")" = "$before" ]
	[ -d "$(files_dir)/logs/1" ]

	run "$BATON" prune --older-than 2d --json
	assert_status 0
	[ "$(echo "$output" | jq -c '[.dry_run, .tasks, .runs, .sessions, .directories > 0, .bytes > 0]')" = '[false,3,3,2,true,true]' ]
	[ "$(sql "SELECT group_concat(id) FROM tasks")" = "4,5" ]
	[ "$(sql "SELECT count(*) FROM runs WHERE task_id IN (1, 2, 3)")" = 0 ]
	[ "$(sql "SELECT count(*) FROM events WHERE task_id IN (1, 2) OR session_id = '$s1'")" = 0 ]
	[ ! -e "$(files_dir)/logs/1" ]
	[ ! -e "$(files_dir)/logs/2" ]
	[ ! -e "$(files_dir)/logs/3" ]
	[ -d "$(files_dir)/logs/4" ]
	# the temp sessions went; the active named one and the recent one stay
	[ "$(sql "SELECT count(*) FROM sessions WHERE id = '$s1'")" = 0 ]
	[ "$(sql "SELECT status FROM sessions WHERE id = '$s3'")" = active ]
	[ "$(sql "SELECT count(*) FROM sessions WHERE id = '$s4'")" = 1 ]
	[ -d "$(files_dir)/sessions/$s3" ]
	"$BATON" show 4 >/dev/null
	run "$BATON" doctor
	assert_status 0
	# nothing left to do
	run "$BATON" prune --older-than 2d
	assert_status 0
	assert_contains "pruned 0 tasks"
}

@test "prune never touches pending or running tasks, whatever their age" {
	"$BATON" run -q --session busy 'sleep 3' &
	wait_for "[ \"\$(sql \"SELECT status FROM tasks WHERE id = 1\")\" = running ]"
	"$BATON" add 'echo later' >/dev/null
	sql "UPDATE tasks SET created_at = created_at - 10 * $DAY,
		started_at = started_at - 10 * $DAY"
	run "$BATON" prune --older-than 1s
	assert_status 0
	assert_contains "pruned 0 tasks"
	wait
	[ "$(sql "SELECT count(*) FROM tasks")" = 2 ]
}

@test "prune: --older-than is required and checked" {
	run "$BATON" prune
	assert_status 2
	assert_contains "--older-than DUR is required"
	run "$BATON" prune --older-than soon
	assert_status 2
	assert_contains "bad duration 'soon'"
	run "$BATON" prune --older-than 1d extra
	assert_status 2
}

@test "prune removes directories a crashed prune left, not fresh ones" {
	"$BATON" run -q 'echo one'
	mkdir -p "$(files_dir)/logs/77" "$(files_dir)/logs/78" \
		"$(files_dir)/sessions/01a23ae0-25c0-7e42-a725-2bfcd8b596d4"
	echo x > "$(files_dir)/logs/77/1.out"
	touch -d '3 days ago' "$(files_dir)/logs/77" \
		"$(files_dir)/sessions/01a23ae0-25c0-7e42-a725-2bfcd8b596d4"
	run "$BATON" prune --older-than 1d
	assert_status 0
	assert_contains "of which 2 directories left by an earlier prune"
	[ ! -e "$(files_dir)/logs/77" ]
	[ ! -e "$(files_dir)/sessions/01a23ae0-25c0-7e42-a725-2bfcd8b596d4" ]
	[ -d "$(files_dir)/logs/78" ]  # too new: it may be a task starting now
	[ -d "$(files_dir)/logs/1" ]   # task 1 is recent
}

@test "prune sweeps its own directory, never another database's beside it" {
	"$BATON" run -q 'echo mine'
	# b.db beside baton.db: its session and its task's logs
	BATON_DB=$T/state/b.db "$BATON" run -q --session keep 'echo theirs'
	sid=$(BATON_DB=$T/state/b.db "$BATON" session show keep --json | jq -r .id)
	theirs=$(files_dir "$T/state/b.db")
	mkdir -p "$(files_dir)/logs/99" "$theirs/logs/99"
	touch -d '3 days ago' "$theirs/sessions/$sid" "$theirs/logs/99" \
		"$theirs/logs/1" "$(files_dir)/logs/99"
	run --separate-stderr "$BATON" prune --older-than 1d
	assert_status 0
	assert_contains "of which 1 directories left by an earlier prune"
	[ ! -e "$(files_dir)/logs/99" ]  # ours: swept again (SPEC §9)
	[ -d "$theirs/sessions/$sid" ]
	[ -d "$theirs/logs/99" ]
	[ -d "$theirs/logs/1" ]
}

@test "a task id is never handed out again after prune deleted the newest" {
	"$BATON" run -q 'echo one'
	"$BATON" run -q 'echo two'
	age_task 1 3
	age_task 2 3
	"$BATON" prune --older-than 1d >/dev/null
	[ "$("$BATON" add 'echo three')" = 3 ]
}

@test "prune of many tasks commits in batches of 1000 at most" {
	if on_pg; then
		skip "bench/mkrows history (2500 finished tasks) is SQLite-only"
	fi
	"$BATON" run -q 'echo one'
	bash "$REPO/bench/mkrows" "$BATON_DB" history 2500
	sql "UPDATE tasks SET finished_at = finished_at - 3 * $DAY;
	     UPDATE sessions SET closed_at = closed_at - 3 * $DAY"
	run "$BATON" prune --older-than 1d --json
	assert_status 0
	[ "$(echo "$output" | jq -c '[.tasks, .sessions]')" = '[2500,2500]' ]
	# 3 batches of tasks and 3 of sessions, more when one held the
	# write lock long enough to halve the next
	echo "$output" | jq -e '.transactions >= 6 and .longest_hold_ms >= 0'
	[ "$(sql "SELECT count(*) FROM tasks; SELECT count(*) FROM sessions;
		SELECT count(*) FROM runs; SELECT count(*) FROM session_chain")" = "$(printf '0\n0\n0\n0')" ]
	[ "$(sql "PRAGMA foreign_key_check")" = "" ]
}

# ---- temp session directories ----

@test "a temp task's \$BATON_SESSION_DIR is removed when it ends; a named session's is kept" {
	"$BATON" run -q 'echo x > "$BATON_SESSION_DIR/f"; echo "$BATON_SESSION_DIR" > '"$T/dir1"
	"$BATON" run -q --session keep 'echo x > "$BATON_SESSION_DIR/f"; echo "$BATON_SESSION_DIR" > '"$T/dir2"
	[ "$(cat "$T/dir1")" = "$(files_dir)/sessions/$(sid_of 1)" ]
	[ ! -e "$(cat "$T/dir1")" ]
	[ -f "$(cat "$T/dir2")/f" ]
	# a later task of the named session finds the file
	run "$BATON" run --session keep 'cat "$BATON_SESSION_DIR/f"'
	assert_status 0
	assert_contains "x"
}

@test "sessions.keep_temp_dirs: true keeps a temp task's directory" {
	config <<-EOF
	sessions: {keep_temp_dirs: true}
	EOF
	"$BATON" run -q 'echo x > "$BATON_SESSION_DIR/f"'
	[ -f "$(files_dir)/sessions/$(sid_of 1)/f" ]
}

# ---- logs.retention ----

@test "logs.retention: work prunes old finished tasks when it starts, in one stderr line" {
	"$BATON" run -q 'echo one'
	"$BATON" run -q 'echo two'
	age_task 1 3
	"$BATON" add 'echo three' >/dev/null
	config <<-EOF
	logs: {retention: 2d}
	EOF
	run --separate-stderr "$BATON" work --until-empty
	assert_status 0
	[ "$(echo "$stderr" | grep -c 'logs.retention: pruned 1 tasks')" = 1 ]
	[ "$(sql "SELECT group_concat(id) FROM tasks")" = "2,3" ]
	[ ! -e "$(files_dir)/logs/1" ]
}

@test "logs.retention: 0 (the default) prunes nothing" {
	"$BATON" run -q 'echo one'
	age_task 1 300
	"$BATON" add 'echo two' >/dev/null
	run --separate-stderr "$BATON" work --until-empty
	assert_status 0
	[[ "$stderr" != *logs.retention* ]]
	[ "$(sql "SELECT count(*) FROM tasks")" = 2 ]
}

# ---- db backup, db vacuum ----

@test "db backup while work -j2 runs 200 tasks: a consistent copy baton opens" {
	sqlite_only "db backup copies the database file (PostgreSQL: pg_dump)"
	for i in $(seq 200); do echo "- {prompt: 'echo $i'}"; done > "$T/tasks.yaml"
	"$BATON" add --from "$T/tasks.yaml" >/dev/null
	"$BATON" -q work -j2 --until-empty &
	wpid=$!
	wait_for "[ \"\$(sql \"SELECT count(*) FROM tasks WHERE status = 'completed'\")\" -ge 20 ]" 60
	run "$BATON" db backup "$T/copy.db"
	assert_status 0
	assert_contains "backed up"
	wait "$wpid"
	[ "$(stat -c %a "$T/copy.db")" = 600 ]
	[ "$(sqlite3 "$T/copy.db" 'PRAGMA integrity_check')" = ok ]
	[ "$(sqlite3 "$T/copy.db" 'PRAGMA foreign_key_check')" = "" ]
	n=$(sqlite3 "$T/copy.db" 'SELECT count(*) FROM tasks')
	[ "$n" = 200 ]
	run env BATON_DB="$T/copy.db" "$BATON" status --json
	assert_status 0
	[ "$(echo "$output" | jq length)" = 200 ]
}

@test "db backup refuses a file that exists and leaves it alone" {
	"$BATON" add 'echo one' >/dev/null
	echo precious > "$T/copy.db"
	run "$BATON" db backup "$T/copy.db"
	assert_status 2
	assert_contains "exists already"
	[ "$(cat "$T/copy.db")" = precious ]
	run "$BATON" db backup
	assert_status 2
	run "$BATON" db
	assert_status 2
}

@test "db backup of a PostgreSQL store says what to use instead, exit 2" {
	on_pg || skip "PostgreSQL: SQLite backs up"
	run --separate-stderr "$BATON" db backup "$T/copy.db"
	assert_status 2
	[[ "$stderr" == *"backup is not supported by the postgres store; use the server's own (pg_dump), or 'baton db copy' to an SQLite file"* ]]
	[ ! -e "$T/copy.db" ]
}

@test "db vacuum gives the space of a prune back" {
	sqlite_only "db vacuum shrinks the database file"
	"$BATON" run -q 'echo one'
	bash "$REPO/bench/mkrows" "$BATON_DB" history 3000
	sql "UPDATE tasks SET finished_at = finished_at - 3 * $DAY;
	     UPDATE sessions SET closed_at = closed_at - 3 * $DAY"
	"$BATON" prune --older-than 1d >/dev/null
	run "$BATON" db vacuum --json
	assert_status 0
	before=$(echo "$output" | jq .bytes_before)
	after=$(echo "$output" | jq .bytes_after)
	[ "$after" -lt "$before" ]
	[ "$(stat -c %s "$BATON_DB")" = "$after" ]
	[ "$(sql 'PRAGMA integrity_check')" = ok ]
	run "$BATON" db vacuum
	assert_status 0
	assert_contains "vacuumed $BATON_DB"
}
