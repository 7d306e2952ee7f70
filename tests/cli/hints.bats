#!/usr/bin/env bats
# "Did you mean": a mistyped command, subcommand or long option is refused
# (exit 2) with the name it most likely meant.  Names are taken exactly:
# an abbreviation of a long option is refused too (SPEC §6).

bats_require_minimum_version 1.5.0

load lib

no_tasks() {
	if on_pg; then
		if [ "$(sql "SELECT count(*) FROM pg_tables
			WHERE tablename = 'tasks'")" = 1 ]; then
			[ "$(sql "SELECT count(*) FROM tasks")" = 0 ]
		fi
		return
	fi
	if [ -f "$BATON_DB" ]; then
		[ "$(sqlite3 "$BATON_DB" "SELECT count(*) FROM tasks")" = 0 ]
	fi
}

@test "a mistyped command: did you mean" {
	run "$BATON" stauts
	assert_status 2
	assert_contains "baton: unknown command 'stauts' (did you mean 'status'?)"
	run "$BATON" stats --jsno
	assert_status 2
	assert_contains "unknown option '--jsno' (did you mean '--json'?)"
	run "$BATON" ad hello
	assert_status 2
	assert_contains "unknown command 'ad' (did you mean 'add'?)"
	no_tasks
	run "$BATON" help stauts
	assert_status 2
	assert_contains "unknown command 'stauts' (did you mean 'status'?)"
}

@test "nothing close: no hint" {
	run "$BATON" frobnicate
	assert_status 2
	assert_contains "baton: unknown command 'frobnicate'"
	case "$output" in *"did you mean"*) false ;; esac
}

@test "a mistyped subcommand: did you mean" {
	run "$BATON" session lsit
	assert_status 2
	assert_contains "baton: unknown command 'session lsit' (did you mean 'session list'?)"
	run "$BATON" milestone craete m1
	assert_status 2
	assert_contains "(did you mean 'milestone create'?)"
	run "$BATON" help session lsit
	assert_status 2
	assert_contains "(did you mean 'session list'?)"
}

@test "a mistyped long option: did you mean, nothing added" {
	run "$BATON" run --timout 5s x
	assert_status 2
	assert_contains "baton: unknown option '--timout' (did you mean '--timeout'?)"
	assert_contains "usage: baton run"
	run "$BATON" add --mileston m1 x
	assert_status 2
	assert_contains "unknown option '--mileston' (did you mean '--milestone'?)"
	run "$BATON" status --limt=3
	assert_status 2
	assert_contains "unknown option '--limt' (did you mean '--limit'?)"
	run "$BATON" session list --al
	assert_status 2
	assert_contains "unknown option '--al' (did you mean '--all'?)"
	no_tasks
}

@test "an abbreviated long option is refused, naming the whole one" {
	run "$BATON" run --time 5s x
	assert_status 2
	assert_contains "unknown option '--time' (did you mean '--timeout'?)"
	run "$BATON" add --time=5s x
	assert_status 2
	assert_contains "unknown option '--time' (did you mean '--timeout'?)"
	run "$BATON" status --lim 3
	assert_status 2
	assert_contains "unknown option '--lim' (did you mean '--limit'?)"
	run "$BATON" work --until
	assert_status 2
	assert_contains "unknown option '--until' (did you mean '--until-empty'?)"
	no_tasks
	# the exact names still work, both spellings of a value
	run "$BATON" add --timeout 5s --title t1 x
	assert_status 0
	run "$BATON" add --timeout=5s --title=t2 y
	assert_status 0
	run "$BATON" status --limit 1 --json
	assert_status 0
	[ "$(echo "$output" | jq length)" = 1 ]
}
