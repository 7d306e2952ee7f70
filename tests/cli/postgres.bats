#!/usr/bin/env bats
# The PostgreSQL store (SPEC §10) against a private throwaway cluster
# (tests/pg.bash): the commands, two runners on one queue, a server
# restart mid-batch, schema versions, and the password kept out of sight.
# Skipped, saying why, only when no PostgreSQL server binaries are found.

load lib
load orch
load fence
source "$BATS_TEST_DIRNAME/../pg.bash"

setup_file() {
	pg_cluster_start
}

teardown_file() {
	pg_cluster_stop
}

local_setup() {
	if [ -n "${PG_SKIP:-}" ]; then
		skip "$PG_SKIP"
	fi
	DBNAME=t${BATS_TEST_NUMBER}_$$
	BATON_DB=$(pg_newdb "$DBNAME")
	export BATON_DB DBNAME
}

# Wait until FILE exists, 30 s at most (a psql script's pause: a test
# that fails first must not hang the suite).
until_file() {
	local _
	for _ in $(seq 600); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
}

psql_db() {
	pg_sql "$DBNAME" "$1"
}

pg_statuses() {
	psql_db "SELECT string_agg(id || ':' || status, ' ' ORDER BY id)
		FROM tasks"
}

# Stop whatever a failed test left running: baton and its agents, found
# by the database in their environment (orch.bash's, for a URL), but
# never the server (a pg_cluster_restart inherits that environment too).
local_teardown() {
	# a lock a test holds in a psql session of its own ends with it
	touch "$T/unlock"
	[ -n "${BATON_DB:-}" ] || return 0
	kill_db_procs "$BATON_DB"
}

@test "postgres: add, work, status, show, log, stats, doctor" {
	run "$BATON" add "echo hello from pg"
	assert_status 0
	[ "$output" = 1 ]
	run "$BATON" add --session s1 "echo one"
	assert_status 0
	run "$BATON" add --session s1 "echo two"
	assert_status 0
	run "$BATON" work -j2 --until-empty
	assert_status 0
	run "$BATON" status --json
	assert_status 0
	[ "$(echo "$output" | jq -r '[.[] | select(.status == "completed")] | length')" = 3 ]
	run "$BATON" show 1
	assert_status 0
	assert_contains "completed"
	run "$BATON" log 1
	assert_status 0
	assert_contains "hello from pg"
	run "$BATON" session list
	assert_status 0
	assert_contains "s1"
	run "$BATON" session show s1
	assert_status 0
	assert_contains "named"
	run "$BATON" stats
	assert_status 0
	assert_contains "3 completed"
	run "$BATON" doctor
	assert_status 0
	assert_contains "no problems found"
	# the rows are in PostgreSQL, not in a file named after the URL
	[ "$(psql_db "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 3 ]
	[ "$(psql_db "SELECT count(*) FROM runs")" = 3 ]
	[ "$(find "$T" -name 'postgres*' | wc -l)" = 0 ]
}

@test "postgres: retry, cancel, requeue and session close" {
	run "$BATON" add "exit 3"
	assert_status 0
	run "$BATON" add "echo later"
	assert_status 0
	run "$BATON" cancel 2
	assert_status 0
	run "$BATON" run --session s2 "echo in s2"
	assert_status 0
	run "$BATON" work --until-empty
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 1")" = failed ]
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 2")" = cancelled ]
	run "$BATON" retry 1
	assert_status 0
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 1")" = pending ]
	run "$BATON" cancel 1
	assert_status 0
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 1")" = cancelled ]
	run "$BATON" session close s2
	assert_status 0
	[ "$(psql_db "SELECT status FROM sessions WHERE name = 's2'")" = closed ]
	run "$BATON" status --json
	assert_status 0
	[ "$(echo "$output" | jq 'length')" = 3 ]
}

@test "postgres: two runners on one queue run each of 300 tasks exactly once" {
	seq 1 300 | sed 's/^/echo task /' > "$T/tasks.txt"
	while read -r p; do "$BATON" add "$p" >/dev/null; done < "$T/tasks.txt"
	"$BATON" work -j4 --until-empty > "$T/w1.out" 2>&1 &
	p1=$!
	"$BATON" work -j4 --until-empty > "$T/w2.out" 2>&1 &
	p2=$!
	wait "$p1"
	wait "$p2"
	[ "$(psql_db "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 300 ]
	[ "$(psql_db "SELECT count(DISTINCT task_id) FROM runs")" = 300 ]
	[ "$(psql_db "SELECT count(*) FROM runs")" = 300 ]
	[ "$(psql_db "SELECT count(*) FROM tasks WHERE attempts <> 1")" = 0 ]
	# both runners took part
	[ "$(psql_db "SELECT count(DISTINCT runner_id) FROM runs")" = 2 ]
	run "$BATON" doctor
	assert_status 0
}

@test "postgres: a server restart mid-batch loses nothing and runs nothing twice" {
	for i in $(seq 1 30); do
		"$BATON" add "sleep 0.2; echo task $i" >/dev/null
	done
	"$BATON" work -j2 --until-empty > "$T/w.out" 2>&1 &
	w=$!
	wait_for '[ "$(psql_db "SELECT count(*) FROM tasks WHERE status = '"'"'completed'"'"'")" -ge 4 ]' 30
	pg_cluster_restart
	wait "$w" || { cat "$T/w.out" >&2; return 1; }
	[ "$(psql_db "SELECT count(*) FROM tasks WHERE status = 'completed'")" = 30 ]
	[ "$(psql_db "SELECT count(*) FROM runs")" = 30 ]
	[ "$(psql_db "SELECT count(*) FROM tasks WHERE attempts <> 1")" = 0 ]
	run "$BATON" doctor
	assert_status 0
	assert_contains "no problems found"
}

@test "postgres: a database of a newer schema is refused, exit 4, untouched" {
	run "$BATON" add "echo x"
	assert_status 0
	psql_db "UPDATE baton_schema SET version = 99"
	run "$BATON" add "echo y"
	assert_status 4
	assert_contains "newer baton (schema 99"
	run "$BATON" status
	assert_status 4
	[ "$(psql_db "SELECT version FROM baton_schema")" = 99 ]
	[ "$(psql_db "SELECT count(*) FROM tasks")" = 1 ]
}

@test "postgres: a fresh database is migrated once by concurrent openers" {
	for i in 1 2 3 4; do
		"$BATON" status > "$T/o$i" 2>&1 &
	done
	wait
	[ "$(psql_db "SELECT version FROM baton_schema")" = 5 ]
	[ "$(psql_db "SELECT count(*) FROM baton_schema")" = 1 ]
	run "$BATON" add "echo after"
	assert_status 0
}

@test "a URL of an unsupported store is exit 4 and creates no file" {
	export BATON_DB=mysql://x
	run "$BATON" add "echo x"
	assert_status 4
	assert_contains "'mysql' is not a supported store"
	run "$BATON" --db mysql://u:pw@h/db status
	assert_status 4
	assert_not_contains "pw@"
	[ "$(find "$T" -name 'mysql*' | wc -l)" = 0 ]
}

@test "postgres: libpq is loaded only for a PostgreSQL store; without it, a clear exit 4" {
	# an SQLite store's baton never maps libpq (nor OpenSSL, Kerberos
	# ...): its agent reads its parent's maps
	local n
	n=$(BATON_DB="$T/lite.db" "$BATON" run 'grep -c libpq /proc/$PPID/maps; true' 2>/dev/null)
	[ "$n" = 0 ]
	# a PostgreSQL one does
	n=$("$BATON" run 'grep -c libpq /proc/$PPID/maps; true' 2>/dev/null)
	[ "$n" -ge 1 ]
	# and a machine without libpq gets a clear error, the password
	# not in it
	run env BATON_LIBPQ=/nonexistent/libpq.so.5 "$BATON" \
		--db "postgres://baton:pw77@/$DBNAME?host=$PG_DIR" status
	assert_status 4
	assert_contains "cannot load libpq (/nonexistent/libpq.so.5)"
	assert_contains "libpq5"
	assert_not_contains "pw77"
}

@test "postgres: the password never shows in config show, errors or ps" {
	pw=s3cretPW42
	url="postgres://baton:$pw@/$DBNAME?host=$PG_DIR"
	export BATON_DB=$url
	run "$BATON" add "sleep 2; echo ok"
	assert_status 0
	run "$BATON" config show
	assert_status 0
	assert_not_contains "$pw"
	config <<-EOF
	db:
	  url: "$url"
	EOF
	unset BATON_DB
	run "$BATON" config show
	assert_status 0
	assert_not_contains "$pw"
	assert_contains "postgres://baton:***@/$DBNAME"
	run "$BATON" doctor
	assert_status 0
	assert_not_contains "$pw"
	"$BATON" work --until-empty > "$T/w.out" 2>&1 &
	w=$!
	wait_for '[ "$(psql_db "SELECT count(*) FROM runs")" = 1 ]' 20
	run ps -eo args
	assert_not_contains "$pw"
	wait "$w"
	run cat "$T/w.out"
	assert_not_contains "$pw"
	# a server that is not there: the error names the URL, masked
	run "$BATON" --db "postgres://baton:$pw@/nodb?host=$T/nowhere" status
	assert_status 4
	assert_contains "cannot open database postgres://baton:***@/nodb"
	assert_not_contains "$pw"
}

@test "postgres: add wakes idle workers (NOTIFY baton_work)" {
	{
		echo 'LISTEN baton_work;'
		until_file "$T/added"
		echo 'SELECT 1;'
	} | "$PG_BIN/psql" -X -h "$PG_DIR" -U baton -d "$DBNAME" > "$T/listen.out" 2>&1 &
	l=$!
	wait_for '[ "$(psql_db "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '"'"'LISTEN baton_work%'"'"'")" = 1 ]' 20
	run "$BATON" add "echo woken"
	touch "$T/added"
	assert_status 0
	wait "$l"
	run cat "$T/listen.out"
	assert_contains 'notification "baton_work" received'
	# an idle worker listening is woken and runs it
	"$BATON" work --until-empty
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 1")" = completed ]
}

# A psql session holding baton's write lock (db/postgres/open.c) in
# shared mode, as a claim does, until $T/unlock exists; returns when it
# holds it.
hold_claim_lock() {
	{
		echo "BEGIN; SELECT pg_advisory_xact_lock_shared(6452334, 2);"
		echo "SELECT 'locked';"
		until_file "$T/unlock"
		echo "COMMIT;"
	} | "$PG_BIN/psql" -X -q -A -t -h "$PG_DIR" -U baton -d "$DBNAME" \
		>"$T/lock.out" 2>&1 &
	LOCKER=$!
	wait_for 'grep -q locked "$T/lock.out"'
}

@test "postgres: a task's end and the next claim run beside a claim in flight; another write waits" {
	fake_config "$(fake_profile gate until "$T/go")"
	"$BATON" add -q --agent gate one
	"$BATON" add -q two
	"$BATON" work -j1 --until-empty >"$T/work.out" 2>&1 &
	local pid=$!
	wait_for '[ -e "$T"/rec/1.*.proc ]'
	# another claim holds the write lock in shared mode meanwhile
	hold_claim_lock
	touch "$T/go"
	# task 1's end with task 2's claim, then task 2's end: beside it
	wait_for '[ "$(pg_statuses)" = "1:completed 2:completed" ]'
	# a write of another kind (an add) waits for it, past its busy timeout
	cp "$BATON_CONFIG" "$T/quick.yaml"
	sed -i '1i db: {busy_timeout: 500ms}' "$T/quick.yaml"
	BATON_CONFIG=$T/quick.yaml run "$BATON" add three
	[ "$status" != 0 ]
	assert_contains "lock timeout"
	touch "$T/unlock"
	wait_exit "$LOCKER"
	wait_exit "$pid"
	assert_status 0
	run "$BATON" add -q three
	assert_status 0
	doctor_clean
}

@test "postgres: sessions.max_active holds across runners whose claims run side by side" {
	fake_config "$(fake_profile nap sleep 0.3)"
	printf 'sessions: {max_active: 2}\n' >>"$BATON_CONFIG"
	for i in $(seq 1 24); do echo "{\"prompt\": \"p$i\", \"agent\": \"nap\"}"; done >"$T/t.jsonl"
	"$BATON" add -q --from "$T/t.jsonl"
	# the most active sessions seen at any moment, sampled from the side
	{
		max=0
		while [ ! -e "$T/done" ]; do
			n=$(psql_db "SELECT count(*) FROM sessions WHERE status = 'active'")
			if [ "$n" -gt "$max" ]; then
				max=$n
			fi
			echo "$max" >"$T/max"
			sleep 0.02
		done
	} &
	local sampler=$! pids= i
	for i in 1 2 3 4; do
		"$BATON" work -q -j4 --until-empty >"$T/w$i.out" 2>&1 &
		pids="$pids $!"
	done
	for i in $pids; do wait_exit "$i" 60; assert_status 0; done
	touch "$T/done"
	wait "$sampler"
	[ "$(cat "$T/max")" -le 2 ]
	[ "$(cat "$T/max")" -ge 1 ]
	[ "$(psql_db "SELECT count(*) FROM tasks WHERE status = 'completed' AND attempts = 1")" = 24 ]
	[ "$(psql_db "SELECT count(*) FROM runs")" = 24 ]
	# never more than two sessions' agents at once, by the agents' own clock
	sort -k3,3n -k2,2 "$T"/rec/events | awk '$2 == "start" { n++; if (n > m) m = n }
		$2 == "end" { n-- } END { exit m > 2 }'
	doctor_clean
}

@test "postgres: a transaction whose connection is killed is replayed, ids and all" {
	CMOCKA_MESSAGE_OUTPUT=STDOUT BATON_TEST_PG_URL=$BATON_DB \
		run "$HELPERS/pg-replay"
	assert_status 0
	assert_contains "PASSED  ] 21 test(s)"
	assert_not_contains "SKIPPED"
}

@test "postgres: without pipelines (an older libpq) the same, ids and files too" {
	local other
	other=$(pg_newdb "${DBNAME}_np")
	BATON_PG_NO_PIPELINE=1 CMOCKA_MESSAGE_OUTPUT=STDOUT \
		BATON_TEST_PG_URL=$other run "$HELPERS/pg-replay"
	assert_status 0
	assert_contains "PASSED  ] 21 test(s)"
	# a claim spends no id of the runs' sequence: run N is task N's
	export BATON_PG_NO_PIPELINE=1
	"$BATON" add -q "echo one"
	"$BATON" add -q "echo two"
	"$BATON" add -q --session s "echo three"
	# (-j1: claims one after another, so the ids follow the tasks)
	run "$BATON" work -j 1 --until-empty
	assert_status 0
	[ "$(pg_statuses)" = "1:completed 2:completed 3:completed" ]
	[ "$(psql_db "SELECT string_agg(task_id || '.' || id, ' ' ORDER BY id) FROM runs")" = "1.1 2.2 3.3" ]
	run "$BATON" log 2
	assert_status 0
	[ "$output" = two ]
	doctor_clean
}

@test "postgres: output written while the run goes is capped, read back, fenced (pg-output)" {
	CMOCKA_MESSAGE_OUTPUT=STDOUT BATON_TEST_PG_URL=$BATON_DB \
		run "$HELPERS/pg-output"
	assert_status 0
	assert_contains "PASSED  ] 3 test(s)"
	assert_not_contains "SKIPPED"
}

@test "postgres: log works from another machine: output kept in the database, capped, redacted" {
	config <<-EOF
	logs:
	  db_max_bytes: 1000
	EOF
	export MY_API_TOKEN=supersecretvalue123456
	run "$BATON" add 'echo first-line; seq 1 2000; echo "key $MY_API_TOKEN"; echo last-line; echo oops >&2'
	assert_status 0
	run "$BATON" work --until-empty
	assert_status 0
	# the output was bigger than the cap: head and tail with a marker
	[ "$(psql_db "SELECT max(pos + length(data)) > 1000 FROM run_output WHERE stream = 'out'")" = t ]
	[ "$(psql_db "SELECT sum(length(data)) <= 1000 FROM run_output WHERE stream = 'out'")" = t ]
	[ "$(psql_db "SELECT count(*) FROM run_output WHERE position('supersecret' in encode(data, 'escape')) > 0")" = 0 ]
	# another machine: its own state directory, no log files there
	export XDG_STATE_HOME=$T/other-machine
	run "$BATON" log 1
	assert_status 0
	assert_contains "first-line"
	assert_contains "last-line"
	assert_contains "bytes of output not kept in the database"
	assert_contains "[REDACTED]"
	assert_not_contains "supersecret"
	run "$BATON" log 1 --stderr
	assert_status 0
	assert_contains "oops"
}

# The log file of run $1 of task 1 on this machine (the runner's).
run_log() {
	find "$T/state" -path "*/logs/1/$1.out"
}

# Let an agent blocked reading fifo $1 go on (never waiting for ever).
release() {
	timeout 20 sh -c 'echo go > "$1"' sh "$1"
}

# `baton ARGS` on another machine: a state directory of its own, so none
# of the runner's log files.
elsewhere() {
	XDG_STATE_HOME=$T/other-machine "$BATON" "$@"
}

@test "postgres: log -f on another machine follows a running task live and ends with it" {
	mkfifo "$T/go1" "$T/go2"
	run "$BATON" add "echo line-one; read x < $T/go1; echo line-two; read x < $T/go2; echo done"
	assert_status 0
	"$BATON" work --until-empty > "$T/work.out" 2>&1 &
	local w=$!
	elsewhere log -f 1 > "$T/follow.out" 2> "$T/follow.err" &
	local f=$!
	# line one shows while the agent waits for go1
	wait_for 'grep -qx line-one "$T/follow.out"' 20
	run cat "$T/follow.out"
	assert_not_contains "line-two"
	release "$T/go1"
	wait_for 'grep -qx line-two "$T/follow.out"' 20
	# the task runs on (the agent waits for go2): so does log -f
	alive "$f"
	release "$T/go2"
	wait_exit "$f" 30
	assert_status 0
	[ "$(cat "$T/follow.out")" = "$(printf 'line-one\nline-two\ndone')" ]
	[ ! -s "$T/follow.err" ]
	wait_exit "$w" 30
	assert_status 0
	[ -z "$(find "$T/other-machine" -name '*.out')" ]
}

@test "postgres: output past logs.db_max_bytes is capped while the run goes: head, marker, rolling tail" {
	config <<-EOF
	logs:
	  db_max_bytes: 1000
	EOF
	mkfifo "$T/go"
	run "$BATON" add "seq 1 3000; read x < $T/go; echo last-line"
	assert_status 0
	"$BATON" work --until-empty > "$T/work.out" 2>&1 &
	local w=$! size expected
	size=$(seq 1 3000 | wc -c)
	# all that seq printed was written while the agent waits
	wait_for '[ "$(psql_db "SELECT max(pos + length(data)) FROM run_output WHERE stream = '"'out'"'")" = "$size" ]' 20
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 1")" = running ]
	# never more than the cap in the database
	[ "$(psql_db "SELECT sum(length(data)) FROM run_output WHERE stream = 'out'")" = 1000 ]
	expected=$(seq 1 3000 | head -c 500
		printf '\n[... %d bytes of output not kept in the database; the log file has them ...]\n' $((size - 1000))
		seq 1 3000 | tail -c 500)
	run elsewhere log 1
	assert_status 0
	[ "$output" = "$expected" ]
	release "$T/go"
	wait_exit "$w" 30
	assert_status 0
	# the end: the head and tail of the runner's log file
	local f
	f=$(run_log 1)
	[ -s "$f" ]
	size=$(stat -c %s "$f")
	expected=$(head -c 500 "$f"
		printf '\n[... %d bytes of output not kept in the database; the log file has them ...]\n' $((size - 1000))
		tail -c 500 "$f")
	run elsewhere log 1
	assert_status 0
	[ "$output" = "$expected" ]
	assert_contains "last-line"
	[ "$(psql_db "SELECT sum(length(data)) FROM run_output WHERE stream = 'out'")" = 1000 ]
}

@test "postgres: a run that prints nothing stores no output; log elsewhere prints nothing" {
	run "$BATON" add "true"
	assert_status 0
	run "$BATON" work --until-empty
	assert_status 0
	[ "$(psql_db "SELECT count(*) FROM run_output")" = 0 ]
	run elsewhere log 1
	assert_status 0
	[ "$output" = "" ]
	run elsewhere log 1 --stderr
	assert_status 0
	[ "$output" = "" ]
}

@test "postgres: a secret is redacted in the output written while the run goes" {
	export MY_API_TOKEN=supersecretvalue123456
	mkfifo "$T/go"
	run "$BATON" add "echo \"key \$MY_API_TOKEN\"; echo \"err \$MY_API_TOKEN\" >&2; read x < $T/go"
	assert_status 0
	"$BATON" work --until-empty > "$T/work.out" 2>&1 &
	local w=$!
	wait_for '[ "$(psql_db "SELECT count(DISTINCT stream) FROM run_output")" = 2 ]' 20
	[ "$(psql_db "SELECT count(*) FROM run_output WHERE position('supersecret' in encode(data, 'escape')) > 0")" = 0 ]
	run elsewhere log 1
	assert_status 0
	[ "$output" = "key [REDACTED]" ]
	run elsewhere log 1 --stderr
	assert_status 0
	[ "$output" = "err [REDACTED]" ]
	release "$T/go"
	wait_exit "$w" 30
	assert_status 0
}

@test "postgres: a runner killed -9 mid-run leaves the output it wrote readable elsewhere" {
	mkfifo "$T/go"
	run "$BATON" add "echo before-the-kill; read x < $T/go; echo after"
	assert_status 0
	"$BATON" work --until-empty > "$T/work.out" 2>&1 &
	local w=$!
	wait_for '[ "$(psql_db "SELECT count(*) FROM run_output")" = 1 ]' 20
	kill -9 "$w"
	wait "$w" || true
	run elsewhere log 1
	assert_status 0
	[ "$output" = "before-the-kill" ]
}

@test "postgres: a stream that printed nothing (no log file) reads as empty from another machine" {
	run "$BATON" add 'echo only-stdout'
	assert_status 0
	run "$BATON" work --until-empty
	assert_status 0
	# no .err was made here, and the database keeps nothing of it
	[ -n "$(find "$T/state" -path '*/logs/1/1.out')" ]
	[ -z "$(find "$T/state" -name 1.err)" ]
	[ "$(psql_db "SELECT string_agg(DISTINCT stream, ',') FROM run_output")" = out ]
	export XDG_STATE_HOME=$T/other-machine
	run "$BATON" log 1 --stderr
	assert_status 0
	[ "$output" = "" ]
	run "$BATON" log 1
	assert_status 0
	[ "$output" = only-stdout ]
}

@test "postgres: report shows a failed task's log tail from another machine" {
	run "$BATON" add 'echo boom-on-stderr >&2; exit 1'
	assert_status 0
	run "$BATON" work --until-empty
	export XDG_STATE_HOME=$T/other-machine
	run "$BATON" report --github
	assert_contains "--- stderr ---%0Aboom-on-stderr"
}

@test "db copy: SQLite to PostgreSQL and back keeps every row and id" {
	lite=$T/state/lite.db
	back=$T/state/back.db
	pg=$BATON_DB
	export BATON_DB=$lite
	run "$BATON" add "echo a"
	assert_status 0
	run "$BATON" add --session s1 "echo b"
	assert_status 0
	run "$BATON" add --session s1 "exit 2"
	assert_status 0
	run "$BATON" work --until-empty
	"$BATON" status --json > "$T/before.json"
	"$BATON" session show s1 --json > "$T/s1-before.json"
	run "$BATON" db copy "$lite" "$pg"
	assert_status 0
	assert_contains "3 tasks, 3 runs"
	[ "$(psql_db "SELECT count(*) FROM tasks")" = 3 ]
	[ "$(psql_db "SELECT count(*) FROM session_chain")" = 2 ]
	# the next id follows the copied ones
	run "$BATON" --db "$pg" add "echo d"
	assert_status 0
	[ "$output" = 4 ]
	run "$BATON" --db "$pg" cancel 4
	assert_status 0
	run "$BATON" db copy "$pg" "$back"
	assert_status 0
	assert_contains "4 tasks, 3 runs"
	export BATON_DB=$back
	"$BATON" status --json | jq 'map(select(.id != 4))' > "$T/after.json"
	jq . "$T/before.json" > "$T/before.norm"
	jq . "$T/after.json" > "$T/after.norm"
	diff "$T/before.norm" "$T/after.norm"
	"$BATON" session show s1 --json > "$T/s1-after.json"
	diff <(jq 'del(.last_used_ago)' "$T/s1-before.json") <(jq 'del(.last_used_ago)' "$T/s1-after.json")
	run "$BATON" doctor
	assert_status 0
	# a store that is not empty is refused, and a source that is not there
	run "$BATON" db copy "$lite" "$pg"
	assert_status 2
	assert_contains "not empty"
	run "$BATON" db copy "$T/nothing.db" "$T/state/new.db"
	assert_status 2
	[ ! -e "$T/nothing.db" ]
}

@test "postgres: text that is not UTF-8 is stored with U+FFFD, not refused" {
	printf 'echo bad \377 byte\n' > "$T/prompt"
	run "$BATON" add --title "$(printf 'bad \377 title')" --prompt-file "$T/prompt"
	assert_status 0
	[ "$(psql_db "SELECT prompt FROM tasks WHERE id = 1")" = $'echo bad \xef\xbf\xbd byte' ]
	run "$BATON" work --until-empty
	assert_status 0
}

# Fenced leases on PostgreSQL (SPEC §5, docs/leases.md): fence.bats's
# scenario with the database on a server, the two runners on machines of
# their own (UTS and PID namespaces, host names) both connected to it.
@test "postgres: a runner stopped past stale_after on another machine writes nothing and stops its agent" {
	need_machines
	fence_config
	"$BATON" add -q --session s1 1  # a: ends while a is stopped
	"$BATON" add -q 60              # a: still running when a wakes
	"$BATON" add -q --session s1 go # b, once it took over s1
	"$BATON" add -q --session s1 1  # b
	machine machine-a "$T/a.out" work -j 2 --until-empty
	local a=$MACHINE runner
	wait_for '[ "$(seen 1)$(seen 2)" = 11 ]' 20
	runner=$(baton_of "$a")
	kill -STOP "$runner"
	wait_for '[ "$(seen 1 end)" = 1 ]' 20
	machine machine-b "$T/b.out" work -j 1 --until-empty
	local b=$MACHINE
	# b reaps a once its heartbeat is stale_after old, and goes on in s1
	wait_for '[ "$(seen 3)" = 1 ]' 30
	[ "$(psql_db "SELECT status FROM runners ORDER BY id LIMIT 1")" = dead ]
	kill -CONT "$runner"
	wait_exit "$a" 30
	assert_status 1
	run cat "$T/a.out"
	assert_contains "baton: lost lease for task 1 (attempt 1 superseded)"
	assert_contains "baton: lost lease for task 2 (attempt 1 superseded)"
	assert_contains "lost its leases: another baton reaped it"
	# an outcome it could not record is not announced (issue 10)
	assert_not_contains "task 1 completed"
	assert_contains "0 completed, 0 failed, 2 other"
	# its agent was stopped, not left to run its 60 s
	[ "$(seen 2 term)" = 1 ]
	# and nothing it would have written was: task 3 runs on in s1
	[ "$(pg_statuses)" = "1:interrupted 2:interrupted 3:running 4:pending" ]
	[ "$(psql_db "SELECT lease_task FROM sessions WHERE name = 's1'")" = 3 ]
	[ "$(psql_db "SELECT count(*) FROM runs WHERE task_id = 1 AND
		outcome = 'interrupted'")" = 1 ]
	[ "$(psql_db "SELECT input_tokens + cost_usd FROM tasks
		WHERE id = 1")" = 0 ]
	touch "$T/rec/go"
	wait_exit "$b" 30
	assert_status 0
	[ "$(pg_statuses)" = "1:interrupted 2:interrupted 3:completed 4:completed" ]
	no_overlap
	[ "$(psql_db "SELECT string_agg(status, ',' ORDER BY id) FROM runners")" = "dead,exited" ]
	[ "$(psql_db "SELECT string_agg(host, ',' ORDER BY id) FROM runners")" = "machine-a,machine-b" ]
	doctor_clean
}

# Issue 10's fleet: three machines (host names and PID namespaces of
# their own) share one queue of 300 tasks in 30 sessions.  One machine's
# runner is stopped past stale_after while the others go on, then
# continued; another machine is killed -9 whole (its PID namespace: baton
# and its agents at once); the server restarts mid-batch.
@test "postgres: 3 machines, 300 tasks; one stopped and continued, one killed -9 whole, a server restart: no task twice, one agent per session" {
	# Opt-in until 2026-12-03: the continued runner could exit 4 instead
	# of 1 (its failed writes were a database error, not a lost lease),
	# and a runner frozen between claim and spawn started its agent in a
	# session another machine held (fence.bats "a runner frozen between
	# its claim and the spawn ..."); 15 runs of 15 passed after both.
	need_machines
	fence_config
	local i m killed
	# 0.25 s agents: the batch must outlast machine-a's reaping (about
	# stale_after), or machine-c may never again have two runs open
	# (with 0.1 s, once in 40 runs after PostgreSQL got faster)
	for i in $(seq 0 299); do
		printf '{"prompt": "0.25", "session": "s%d"}\n' $((i % 30))
	done > "$T/tasks.jsonl"
	"$BATON" add -q --from "$T/tasks.jsonl"
	for m in a b c; do
		machine "machine-$m" "$T/$m.out" work -j 4 --until-empty
		eval "pid_$m=\$MACHINE"
	done
	open_on() {
		psql_db "SELECT count(*) FROM runs r JOIN runners n
			ON n.id = r.runner_id WHERE n.host = 'machine-$1'
			AND r.ended_at IS NULL"
	}
	# machine-a's baton is stopped (its agents run on) until reaped
	wait_for '[ "$(open_on a)" -ge 2 ]' 60
	local a
	a=$(baton_of "$pid_a")
	kill -STOP "$a"
	wait_for '[ "$(psql_db "SELECT status FROM runners
		WHERE host = '"'"'machine-a'"'"'")" = dead ]' 60
	kill -CONT "$a"
	wait_exit "$pid_a" 30
	assert_status 1
	run cat "$T/a.out"
	assert_contains "lost lease"
	# machine-c dies whole: SIGKILL to its namespace's init
	wait_for '[ "$(open_on c)" -ge 2 ]' 60
	kill -9 "$(pgrep -P "$pid_c")"
	# no agent of machine-c runs past this (they die with its namespace)
	killed=$(date +%s%3N)
	wait_exit "$pid_c" 30
	wait_for '[ "$(psql_db "SELECT count(*) FROM tasks
		WHERE status = '"'"'completed'"'"'")" -ge 150 ]' 120
	pg_cluster_restart
	wait_exit "$pid_b" 120
	[ "$status" = 0 ] || { cat "$T/b.out" >&2; return 1; }
	# a and c were reaped (by each other or b) and their tasks in
	# progress interrupted; every task ran exactly once
	[ "$(psql_db "SELECT string_agg(host || ':' || status, ' ' ORDER BY host)
		FROM runners")" = "machine-a:dead machine-b:exited machine-c:dead" ]
	[ "$(psql_db "SELECT count(*) FROM tasks WHERE status NOT IN
		('completed', 'interrupted')")" = 0 ]
	# (a task claimed by a stopped runner that never started its agent
	# is interrupted with no run: at most once, not exactly once)
	[ "$(psql_db "SELECT count(*) FROM (SELECT task_id FROM runs
		GROUP BY 1 HAVING count(*) > 1) x")" = 0 ]
	[ "$(psql_db "SELECT count(*) FROM tasks t WHERE status = 'completed'
		AND (SELECT count(*) FROM runs r WHERE r.task_id = t.id
		AND r.outcome = 'success') <> 1")" = 0 ]
	[ "$(psql_db "SELECT count(*) FROM tasks WHERE attempts <> 1")" = 0 ]
	[ "$(psql_db "SELECT count(*) FROM tasks t JOIN runs r ON r.task_id = t.id
		JOIN runners n ON n.id = r.runner_id
		WHERE t.status = 'interrupted' AND n.host = 'machine-b'")" = 0 ]
	[ "$(psql_db "SELECT count(*) FROM tasks WHERE status = 'interrupted'")" -ge 2 ]
	# no session is left leased, and no two agents ever shared one
	[ "$(psql_db "SELECT count(*) FROM sessions WHERE lease_task IS NOT NULL")" = 0 ]
	no_overlap "$killed" || { echo "killed $killed" >&2; cat "$T/rec/sessions" >&2; psql_db "SELECT r.id, r.task_id, n.host, r.started_at, r.ended_at, r.outcome, r.pid FROM runs r JOIN runners n ON n.id = r.runner_id ORDER BY r.id" >&2; return 1; } #DBG
	local done lost
	done=$(psql_db "SELECT count(*) FROM tasks WHERE status = 'completed'")
	lost=$(psql_db "SELECT count(*) FROM tasks WHERE status = 'interrupted'")
	run "$BATON" status --summary --json
	assert_status 0
	[ "$(echo "$output" | jq -c '[.completed, .interrupted, .pending, .running]')" = "[$done,$lost,0,0]" ]
	doctor_clean
}

# lib/num.h on PostgreSQL: usage an agent reports is clamped, the sums in
# the UPDATEs saturate (no "bigint out of range"), stats reads sum()'s
# numeric in range, and rows stored out of range are read in range.
@test "postgres: absurd usage numbers are clamped and saturate, never overflow" {
	cat > "$T/huge" <<-EOF
	#!/bin/sh
	echo '{"input_tokens": 9223372036854775807, "output_tokens": 1e300,
	       "cost_usd": 1e308}' > "\$BATON_RESULT_FILE"
	EOF
	chmod +x "$T/huge"
	config <<-EOF
	agents:
	  huge: {kind: command, command: [$T/huge]}
	EOF
	"$BATON" session init big --agent huge >/dev/null
	run "$BATON" run --session big --agent huge one
	assert_status 0
	run "$BATON" run --session big --agent huge two
	assert_status 0
	run "$BATON" session list --json
	assert_status 0
	[ "$(echo "$output" | jq -r '.[0].input_tokens')" = 9007199254740991 ]
	[ "$(echo "$output" | jq -r '.[0].cost_usd')" = 1000000000000 ]
	run "$BATON" stats --json
	assert_status 0
	[ "$(echo "$output" | jq -r '.input_tokens')" = 9007199254740991 ]
	[ "$(echo "$output" | jq -r '.cost_usd')" = 1000000000000 ]
	# as an older baton could have left them: past the cap, negative, inf
	psql_db "UPDATE tasks SET input_tokens = 9223372036854775807,
	     output_tokens = -2, cost_usd = 'Infinity'"
	run "$BATON" stats --json
	assert_status 0
	[ "$(echo "$output" | jq -r '.input_tokens')" = 9007199254740991 ]
	[ "$(echo "$output" | jq -r '.output_tokens')" = 0 ]
	[ "$(echo "$output" | jq -r '.cost_usd')" = 1000000000000 ]
	run "$BATON" show 1 --json
	assert_status 0
	[ "$(echo "$output" | jq -r '.input_tokens')" = 9007199254740991 ]
	[ "$(echo "$output" | jq -r '.cost_usd')" = 1000000000000 ]
}

# store_busy on PostgreSQL: a lock timeout (SQLSTATE 55P03) is "busy", so
# the final write of a run (SPEC §5) is tried again until the lock goes
# instead of losing the finished run.
# The heartbeat takes no write lock (store_begin_own): a client that
# holds it past stale_after — a baton stopped inside a transaction —
# must not make the others look dead, or fence themselves.
@test "postgres: a runner's heartbeat goes on while another client holds the write lock past stale_after" {
	fake_config "$(fake_profile gate until "$T/go")"
	sed -i '1i db: {busy_timeout: 500ms}' "$BATON_CONFIG"
	sed -i 's/^runner: {.*/runner: {heartbeat: 1s, stale_after: 3s}/' "$BATON_CONFIG"
	"$BATON" add -q --agent gate hello
	"$BATON" work -j 1 --until-empty >"$T/work.out" 2>"$T/work.err" &
	local pid=$!
	wait_for '[ -e "$T"/rec/1.*.proc ]'
	# baton's own write lock (db/postgres/open.c), held for 5 s
	{
		echo "BEGIN; SELECT pg_advisory_xact_lock(6452334, 2);"
		echo "SELECT 'locked';"
		until_file "$T/unlock"
		echo "COMMIT;"
	} | "$PG_BIN/psql" -X -q -A -t -h "$PG_DIR" -U baton -d "$DBNAME" \
		>"$T/lock.out" 2>&1 &
	local locker=$!
	wait_for 'grep -q locked "$T/lock.out"'
	local t0
	t0=$(psql_db "SELECT heartbeat_at FROM runners")
	sleep 5
	[ "$(psql_db "SELECT status FROM runners")" = alive ]
	[ "$(psql_db "SELECT heartbeat_at - $t0 >= 3000 FROM runners")" = t ]
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 1")" = running ]
	touch "$T/unlock" "$T/go"
	wait_exit "$locker"
	wait_exit "$pid"
	assert_status 0
	run cat "$T/work.err"
	assert_not_contains "lost its leases"
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 1")" = completed ]
	doctor_clean
}

@test "postgres: a run that ends while another session locks the tables is recorded once the lock goes" {
	fake_config "$(fake_profile gate until "$T/go")"
	sed -i '1i db: {busy_timeout: 500ms}' "$BATON_CONFIG"
	sed -i 's/^runner: {.*/runner: {heartbeat: 1s, stale_after: 60s}/' "$BATON_CONFIG"
	"$BATON" add -q --agent gate hello
	"$BATON" work -j 1 --until-empty >"$T/work.out" 2>"$T/work.err" &
	local pid=$!
	wait_for '[ -e "$T"/rec/1.*.proc ]'
	# another session locks runs and tasks against writes across the end
	# of the run, for several lock timeouts
	{
		echo "BEGIN; LOCK TABLE runs, tasks IN EXCLUSIVE MODE;"
		echo "SELECT 'locked';"
		until_file "$T/unlock"
		echo "COMMIT;"
	} | "$PG_BIN/psql" -X -q -A -t -h "$PG_DIR" -U baton -d "$DBNAME" \
		>"$T/lock.out" 2>&1 &
	local locker=$!
	wait_for 'grep -q locked "$T/lock.out"'
	touch "$T/go"
	wait_for 'grep -q "retrying for up to db.final_write_timeout" "$T/work.err"' 20
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 1")" = running ]
	touch "$T/unlock"
	wait_exit "$locker"
	wait_exit "$pid"
	assert_status 0
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 1")" = completed ]
	[ "$(psql_db "SELECT outcome FROM runs WHERE task_id = 1")" = success ]
	run cat "$T/work.err"
	assert_contains "lock timeout; retrying for up to db.final_write_timeout"
	assert_contains "baton: 1 completed, 0 failed, 0 other"
	doctor_clean
}

# Issue 10 on PostgreSQL: the lease goes while the task's end waits for
# the lock, so the end's own fenced write finds it lost; the runner says
# only that, and its --json has no line for the task.
@test "postgres: a lease lost while the end waits for the lock: no completed line, no --json line" {
	fake_config "$(fake_profile gate until "$T/go")"
	sed -i '1i db: {busy_timeout: 500ms}' "$BATON_CONFIG"
	sed -i 's/^runner: {.*/runner: {heartbeat: 1s, stale_after: 60s}/' "$BATON_CONFIG"
	"$BATON" add -q --agent gate hello
	"$BATON" work -j 1 --until-empty --json >"$T/work.out" 2>"$T/work.err" &
	local pid=$!
	wait_for '[ -e "$T"/rec/1.*.proc ]'
	# another session locks the tables across the end of the run and,
	# before it lets go, takes the task over (as a reaper would)
	{
		echo "BEGIN; LOCK TABLE runs, tasks IN EXCLUSIVE MODE;"
		echo "SELECT 'locked';"
		until_file "$T/unlock"
		echo "UPDATE tasks SET status = 'interrupted',
			lease_epoch = lease_epoch + 1 WHERE id = 1;"
		echo "COMMIT;"
	} | "$PG_BIN/psql" -X -q -A -t -h "$PG_DIR" -U baton -d "$DBNAME" \
		>"$T/lock.out" 2>&1 &
	local locker=$!
	wait_for 'grep -q locked "$T/lock.out"'
	touch "$T/go"
	wait_for 'grep -q "retrying for up to db.final_write_timeout" "$T/work.err"' 20
	touch "$T/unlock"
	wait_exit "$locker"
	wait_exit "$pid"
	assert_status 1
	[ "$(grep -c . "$T/work.out")" = 0 ]
	run cat "$T/work.err"
	assert_contains "baton: lost lease for task 1 (attempt 1 superseded)"
	assert_not_contains "cannot record run: lost lease"
	assert_contains "baton: 0 completed, 0 failed, 1 other"
	[ "$(psql_db "SELECT status FROM tasks WHERE id = 1")" = interrupted ]
	[ -z "$(psql_db "SELECT outcome FROM runs WHERE task_id = 1")" ]
}

# Issue 10: `add --from` of many tasks took a round trip per task (the
# key, the INSERT, a NOTIFY: three for a keyed one); now a few a batch
# of 500.  Counted as the statements the server logs for the add alone
# (log_statement for its connection only).
@test "postgres: add --from of 2000 keyed tasks takes a few statements, not one a task" {
	seq 2000 | awk '{ printf "{\"prompt\": \"p%d\", \"key\": \"k%d\", \"milestone\": \"m\"}\n", $1, $1 }' > many.jsonl
	"$BATON" status >/dev/null # the schema, made before we count
	local before after
	before=$(grep -c 'LOG:  \(statement\|execute\)' "$PG_DIR/log" || true)
	PGOPTIONS="-c log_statement=all" run "$BATON" add --from many.jsonl
	assert_status 0
	assert_contains "added 2000 tasks"
	after=$(grep -c 'LOG:  \(statement\|execute\)' "$PG_DIR/log" || true)
	echo "$((after - before)) statements" >&2
	[ "$((after - before))" -gt 4 ]
	[ "$((after - before))" -lt 40 ]
	[ "$(psql_db "SELECT count(*), min(id), max(id) FROM tasks")" = "2000|1|2000" ]
	# and again: every key known, nothing added
	run "$BATON" --json add --from many.jsonl
	[ "$(echo "$output" | jq -c '[.added, .existing, .ids[0], .ids[1999]]')" = "[0,2000,1,2000]" ]
}
