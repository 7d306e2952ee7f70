#!/usr/bin/env bats
# The write-ahead log under a long reader (SPEC §5, issue 13 item 13):
# `work` warns once when it passes db.wal_warn_mib and says why, `doctor`
# says what holds it, and once the reader is gone `work` empties it.
# Sizes and messages only: no timing.

bats_require_minimum_version 1.5.0

load lib

# reader MODE NAME: a python3 sqlite3 connection to the database, until
# $T/NAME.release exists.  MODE txn holds a read transaction open; idle
# is only connected.  Waits until it is in place.
reader() {
	command -v python3 >/dev/null || skip "python3 is not installed"
	python3 - "$BATON_DB" "$1" "$T/$2" <<-'EOF' &
	import os, sqlite3, sys, time
	db, mode, name = sys.argv[1:]
	c = sqlite3.connect(db, isolation_level=None)
	if mode == "txn":
	    c.execute("BEGIN")
	c.execute("SELECT count(*) FROM tasks").fetchall()
	open(name + ".ready", "w").close()
	while not os.path.exists(name + ".release"):
	    time.sleep(0.05)
	if mode == "txn":
	    c.execute("COMMIT")
	c.close()
	EOF
	echo $! > "$T/$2.pid"
	while [ ! -e "$T/$2.ready" ]; do sleep 0.05; done
}

release() {
	touch "$T/$1.release"
	wait "$(cat "$T/$1.pid")"
}

# a reader a failed test left behind
local_teardown() {
	local f
	for f in "$T"/*.pid; do
		[ -e "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || true
	done
}

wal_size() {
	stat -c %s "$BATON_DB-wal" 2>/dev/null || echo 0
}

local_setup() {
	config <<-EOF
	db: {wal_warn_mib: 8}
	EOF
	"$BATON" status >/dev/null
	pad=$(head -c 3000 /dev/zero | tr '\0' x)
	for i in $(seq 300); do
		echo "- {prompt: 'echo $i', title: 't$i $pad'}"
	done > "$T/tasks.yaml"
	"$BATON" add -q --from "$T/tasks.yaml"
}

@test "wal: a long reader: work warns once, naming the log, the threshold and why" {
	sqlite_only "the write-ahead log grown by a long reader"
	reader txn r1
	run --separate-stderr "$BATON" work --until-empty -j 2
	assert_status 0
	[ "$(grep -c 'write-ahead log' <<<"$stderr")" = 1 ]
	[[ "$stderr" == *"baton: warning: the write-ahead log $BATON_DB-wal has grown to "*" MiB, past db.wal_warn_mib (8 MiB): a long read transaction on the database (a sqlite3 shell, a backup, another program) keeps SQLite from checkpointing it"* ]]
	[ "$(wal_size)" -gt 8388608 ]
	[ "$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 300 ]

	# doctor says it cannot be checkpointed and who has the database open
	run --separate-stderr "$BATON" doctor
	assert_status 0
	assert_contains "ok: no problems found in $BATON_DB"
	assert_contains "warning: the write-ahead log $BATON_DB-wal ("
	assert_contains "MiB) cannot be checkpointed: "
	assert_contains "pages are held by another connection's read transaction"
	assert_contains "warning: processes with the database open: $(cat "$T/r1.pid") (python3)"
	run "$BATON" doctor --json
	assert_status 0
	[ "$(jq -r .wal.blocked <<<"$output")" = true ]
	[ "$(jq -r '.wal.frames > .wal.checkpointed' <<<"$output")" = true ]
	[ "$(jq -r '.wal.open_by[0]' <<<"$output")" = "$(cat "$T/r1.pid") (python3)" ]
	[ "$(jq -r .wal.bytes <<<"$output")" -gt 8388608 ]
	release r1

	# reader gone, another connection still open (so closing is not
	# what empties it): the end of work checkpoints and truncates it
	reader idle r2
	"$BATON" add -q "echo one more"
	run --separate-stderr "$BATON" work --until-empty
	assert_status 0
	[ "$(grep -c 'write-ahead log' <<<"$stderr")" = 0 ]
	[ "$(wal_size)" = 0 ]
	run "$BATON" doctor
	assert_status 0
	assert_not_contains "write-ahead log"
	run "$BATON" doctor --json
	[ "$(jq -r .wal.blocked <<<"$output")" = false ]
	[ "$(jq -r .wal.bytes <<<"$output")" = 0 ]
	release r2
}

@test "wal: without a reader work does not warn, and wal_warn_mib: 0 never does" {
	sqlite_only "the write-ahead log warning"
	run --separate-stderr "$BATON" work --until-empty -j 2
	assert_status 0
	[ "$(grep -c 'write-ahead log' <<<"$stderr")" = 0 ]
	"$BATON" add -q --from "$T/tasks.yaml"
	config <<-EOF
	db: {wal_warn_mib: 0}
	EOF
	reader txn r3
	run --separate-stderr "$BATON" work --until-empty
	assert_status 0
	[ "$(grep -c 'write-ahead log' <<<"$stderr")" = 0 ]
	[ "$(wal_size)" -gt 8388608 ]
	release r3
}

@test "wal: a work left running empties the log once the reader is gone" {
	sqlite_only "the write-ahead log checkpointed"
	reader txn r4
	"$BATON" work -j 2 > "$T/work.out" 2>&1 &
	echo $! > "$T/work.pid"
	wait_for '[ "$(sql "SELECT count(*) FROM tasks WHERE status = '"'completed'"'")" = 300 ]' 120
	# the idle pool could not checkpoint: the reader holds the log
	[ "$(wal_size)" -gt 8388608 ]
	release r4
	# the idle pool tries again and empties it, still connected
	wait_for '[ "$(wal_size)" = 0 ]' 60
	kill -TERM "$(cat "$T/work.pid")"
	wait "$(cat "$T/work.pid")" || true
	rm "$T/work.pid"
	[ "$(grep -c 'write-ahead log' "$T/work.out")" = 1 ]
}
