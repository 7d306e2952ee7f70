#!/usr/bin/env bats
# What baton prints to a terminal: hostile text made safe, tables fitted
# to the width, colour only on a terminal, long lists cut on a terminal,
# and lists that stream instead of holding every row.

load lib

ESC=$'\e'
HOSTILE=$'\e]0;pwn\a\e[2J'
FAKE=$'x\ntask 9 completed'
UTF=$'caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x9a\x80'

# tty COLS CMD: run the shell command CMD with stdout on a terminal COLS
# wide (script(1) gives it a pty); carriage returns dropped.
tty() {
	local cols=$1
	shift
	run env TERM=xterm script -qec "stty cols $cols rows 40; $*" /dev/null
	output=${output//$'\r'/}
}

# Whether every line of $output fits in COLS columns (colour aside; wc
# -L counts columns: 2 for a wide character).
fits() {
	local w
	w=$(printf '%s\n' "$output" | sed "s/$ESC\[[0-9;]*m//g" |
		LC_ALL=C.UTF-8 wc -L)
	if [ "$w" -gt "$1" ]; then
		echo "$w columns, more than $1:" >&2
		echo "$output" >&2
		return 1
	fi
}

# N pending tasks in all, grown from one with bench/mkrows (SQLite) or
# with the same clones of task 1, ids 2..N, made older than it (PostgreSQL).
many() {
	"$BATON" add -q first >/dev/null
	if on_pg; then
		sql "INSERT INTO tasks SELECT (jsonb_populate_record(t,
			jsonb_build_object('id', g.i, 'created_at',
			t.created_at + g.i - $1 - 1000))).*
			FROM tasks t, generate_series(2, $1) g(i) WHERE t.id = 1;
			SELECT setval(pg_get_serial_sequence('tasks', 'id'), $1)" \
			>/dev/null
		return
	fi
	bash "$REPO/bench/mkrows" "$BATON_DB" pending "$1" >/dev/null
}

@test "hostile titles never reach the terminal raw" {
	"$BATON" add -q --title "$HOSTILE" a >/dev/null
	"$BATON" add -q --title "$FAKE" b >/dev/null
	"$BATON" add -q --title "$UTF $(printf '\xff') end" c >/dev/null
	"$BATON" add -q "$(printf 'one\n\e[31mtwo')" >/dev/null
	for cmd in status "show 1" "show 2" "show 3" "show 4" \
		"milestone list"; do
		run "$BATON" $cmd
		assert_status 0
		assert_not_contains "$ESC"
		assert_not_contains $'\a'
	done
	tty 200 "$BATON" status
	assert_not_contains "$ESC]"
	assert_not_contains "$ESC[2J"
	run "$BATON" status
	assert_contains '\e]0;pwn\x07\e[2J'
	assert_contains 'x\ntask 9 completed'
	if on_pg; then
		# PostgreSQL's text is UTF-8: the byte was stored as U+FFFD
		assert_contains "$UTF $(printf '\357\277\275') end"
	else
		assert_contains "$UTF"' \xff end'
	fi
	refute grep -q '^task 9' <<<"$output"
	run "$BATON" show 2
	assert_contains 'task 2: x\ntask 9 completed'
	refute grep -q '^task 9' <<<"$output"
	run "$BATON" show 4
	assert_contains '\e[31mtwo'
}

@test "work and run lines show an agent's error made safe" {
	"$BATON" add -q "printf '\\033[2Jboom' >&2; exit 3" >/dev/null
	run "$BATON" work --until-empty
	assert_contains "task 1 failed"
	assert_not_contains "$ESC"
	# the agent's own stderr streams as it is; baton's line is made safe
	run "$BATON" run "printf '\\033]0;x\\007' >&2; exit 3"
	assert_contains 'baton: task 2 failed: script exited with status 3: \e]0;x\x07'
	refute grep -q "baton: task 2 failed.*$ESC" <<<"$output"
}

@test "status fits the terminal, 80 and 200 columns" {
	long=$(printf 'word%.0s ' {1..40})
	"$BATON" add -q --title "$long$UTF" x >/dev/null
	tty 80 "$BATON" status
	assert_status 0
	fits 80
	assert_contains "…"
	tty 200 "$BATON" status
	fits 200
	assert_contains "${long:0:150}"
	# COLUMNS counts when there is no window size
	COLUMNS=60 run "$BATON" status
	fits 60
	# piped and no COLUMNS: nothing is cut
	run "$BATON" status
	assert_contains "$long$UTF"
}

@test "session list and milestone list fit the terminal" {
	"$BATON" session init a-rather-long-session-name-for-the-table >/dev/null
	run "$BATON" session list
	assert_contains "just now"
	"$BATON" milestone create a-rather-long-milestone-name >/dev/null
	for cmd in "session list" "milestone list"; do
		tty 80 "$BATON" $cmd
		assert_status 0
		fits 80
		tty 200 "$BATON" $cmd
		fits 200
	done
	tty 200 "$BATON" session list
	assert_contains "a-rather-long-session-name-for-the-table"
}

@test "colour on a terminal only" {
	"$BATON" run -q true
	"$BATON" add -q false >/dev/null
	"$BATON" session init s1 >/dev/null
	tty 80 "$BATON" status
	assert_contains "$ESC[32mcompleted$ESC[m"
	tty 80 "$BATON" work --until-empty
	assert_contains "task 2 $ESC[31mfailed$ESC[m"
	tty 80 "$BATON" show 1
	assert_contains "$ESC[32mcompleted"
	tty 80 "$BATON" session list --all
	assert_contains "$ESC[32mactive"
	# aligned: the column after STATUS starts where the header says
	tty 80 "$BATON" status
	[ "$(printf '%s\n' "$output" | sed "s/$ESC\[[0-9;]*m//g" |
		awk 'NR > 1 { print index($0, "shell") }' | sort -u)" = \
		"$(printf '%s\n' "$output" | awk 'NR == 1 { print index($0, "AGENT") }')" ]
	run "$BATON" status
	assert_not_contains "$ESC"
	tty 80 NO_COLOR=1 "$BATON" status
	assert_contains completed
	assert_not_contains "$ESC"
	tty 80 "$BATON" --no-color status
	assert_not_contains "$ESC"
	tty 80 "$BATON" status --no-color
	assert_not_contains "$ESC"
	tty 80 TERM=dumb "$BATON" status
	assert_not_contains "$ESC"
	# NO_COLOR empty means unset
	tty 80 NO_COLOR= "$BATON" status
	assert_contains "$ESC[32m"
}

@test "status on a terminal shows the newest 50 and how many more" {
	many 120
	tty 100 "$BATON" status
	assert_status 0
	[ "$(printf '%s\n' "$output" | grep -c '^ *[0-9]')" = 50 ]
	[ "$(printf '%s\n' "$output" | awk 'NR == 2 { print $1 }')" = 71 ]
	[ "$(printf '%s\n' "$output" | tail -1)" = \
		"... 70 earlier tasks not shown (--all, or --last N)" ]
	tty 100 "$BATON" status --all
	[ "$(printf '%s\n' "$output" | grep -c '^ *[0-9]')" = 120 ]
	assert_not_contains "earlier"
	tty 100 "$BATON" status --last 5
	[ "$(printf '%s\n' "$output" | grep -c '^ *[0-9]')" = 5 ]
	assert_contains "... 115 earlier tasks not shown"
	# piped: every row, or the last N
	run "$BATON" status
	[ "${#lines[@]}" = 121 ]
	assert_not_contains "earlier"
	run "$BATON" status --last 3
	[ "$(printf '%s\n' "$output" | awk 'NR > 1 { print $1 }' | paste -sd,)" = 118,119,120 ]
	run "$BATON" status --json --last 2
	[ "$(echo "$output" | jq -c '[.[].id]')" = "[119,120]" ]
	run "$BATON" status --json
	[ "$(echo "$output" | jq length)" = 120 ]
	run "$BATON" status --all --last 2
	assert_status 2
	run "$BATON" status --last 0
	assert_status 2
}

@test "status --status a,b, --since and --session" {
	"$BATON" run -q --session s1 true
	"$BATON" run -q false || true
	"$BATON" add -q pending-one >/dev/null
	run "$BATON" status --json --status failed,pending
	[ "$(echo "$output" | jq -c '[.[].id]')" = "[2,3]" ]
	run "$BATON" status --status completed,bogus
	assert_status 2
	assert_contains "invalid status 'bogus'"
	run "$BATON" status --status running
	assert_contains "(no tasks with status running)"
	run "$BATON" status --json --session s1
	[ "$(echo "$output" | jq -c '[.[].id]')" = "[1]" ]
	run "$BATON" status --session nosuch
	assert_status 2
	run "$BATON" status --json --since 1h
	[ "$(echo "$output" | jq length)" = 3 ]
	run "$BATON" status --json --since 2999-01-01T00:00:00Z
	[ "$(echo "$output" | jq length)" = 0 ]
	run "$BATON" status --since yesterday
	assert_status 2
	# the last N of a filter: the newest pending and failed one
	run "$BATON" status --json --status failed,pending --last 1
	[ "$(echo "$output" | jq -c '[.[].id]')" = "[3]" ]
}

@test "status --session: the tasks cancel --session picks, pending ones that asked for it too" {
	"$BATON" run -q --session s1 true
	"$BATON" add -q --session s1 by-name >/dev/null
	local id
	id=$("$BATON" session show s1 --json | jq -r .id)
	"$BATON" add -q --session "$id" by-id >/dev/null
	"$BATON" add -q --session later not-yet >/dev/null
	"$BATON" add -q other >/dev/null
	run "$BATON" status --json --session s1
	assert_status 0
	[ "$(echo "$output" | jq -c '[.[].id]')" = "[1,2,3]" ]
	run "$BATON" status --json --session "${id:0:8}" --status pending
	[ "$(echo "$output" | jq -c '[.[].id]')" = "[2,3]" ]
	# a session not created yet: the pending tasks that asked for it
	run "$BATON" status --json --session later
	assert_status 0
	[ "$(echo "$output" | jq -c '[.[].id]')" = "[4]" ]
	run "$BATON" status --session never
	assert_status 2
	assert_contains "no session 'never'"
	# the very tasks cancel --session then cancels
	local s shown
	for s in s1 later; do
		shown=$("$BATON" status --json --session $s --status pending,running |
			jq -c '[.[].id]')
		run "$BATON" cancel --json --session $s
		assert_status 0
		[ "$(echo "$output" | jq -c '[.[].id]')" = "$shown" ]
	done
	[ "$shown" = "[4]" ]
	run "$BATON" status --json --session later
	[ "$(echo "$output" | jq -c '[.[] | [.id, .status]]')" = '[[4,"cancelled"]]' ]
	[ "$(sql "SELECT status FROM tasks WHERE id = 5")" = pending ]
}

@test "status --summary counts the tasks every filter of the list selects" {
	"$BATON" run -q --session s1 true
	"$BATON" run -q false || true
	"$BATON" add -q --session s1 asked >/dev/null
	"$BATON" add -q other >/dev/null
	# task 1 a hundred days old
	sql "UPDATE tasks SET created_at = created_at - 8640000000 WHERE id = 1"
	local counts='[.pending, .running, .completed, .failed, .cancelled, .timed_out, .interrupted] | @csv'
	run "$BATON" status --summary --json
	[ "$(echo "$output" | jq -r "$counts")" = 2,0,1,1,0,0,0 ]
	run "$BATON" status --summary --json --since 90d
	assert_status 0
	[ "$(echo "$output" | jq -r "$counts")" = 2,0,0,1,0,0,0 ]
	run "$BATON" status --summary --json --status pending,completed
	[ "$(echo "$output" | jq -r "$counts")" = 2,0,1,0,0,0,0 ]
	run "$BATON" status --summary --json --session s1
	[ "$(echo "$output" | jq -r "$counts")" = 1,0,1,0,0,0,0 ]
	run "$BATON" status --summary --json --last 3
	[ "$(echo "$output" | jq -r "$counts")" = 2,0,0,1,0,0,0 ]
	run "$BATON" status --summary --json --limit 1
	[ "$(echo "$output" | jq -r "$counts")" = 0,0,1,0,0,0,0 ]
	run "$BATON" status --summary --json --status pending,failed --last 2 --since 90d
	[ "$(echo "$output" | jq -r "$counts")" = 2,0,0,0,0,0,0 ]
	# the same tasks as the list, for every filter
	local f
	for f in "--since 90d" "--status failed" "--session s1" "--last 2" "--limit 3"; do
		[ "$("$BATON" status --json $f | jq length)" = \
			"$("$BATON" status --summary --json $f | jq '[.[]] | add')" ]
	done
	run "$BATON" status --summary
	assert_status 0
	[ "$(echo "$output" | awk '$1 == "pending" { print $2 }')" = 2 ]
	run "$BATON" status --summary --since 2999-01-01T00:00:00Z
	[ "$(echo "$output" | awk '{ s += $2 } END { print s }')" = 0 ]
}

@test "show and session show print local times with their zone" {
	"$BATON" run -q --session s1 true
	TZ=UTC run "$BATON" show 1
	assert_contains "UTC"
	TZ=Europe/Paris run "$BATON" session show s1
	[[ "$output" =~ created\ +[0-9-]+\ [0-9:]+\ (CET|CEST|\+0[12]00) ]]
	run "$BATON" show 1 --json
	[[ "$(echo "$output" | jq -r .created_at)" == *Z ]]
}

@test "lists stream: 20k rows do not grow memory" {
	[ -x /usr/bin/time ] || skip "no /usr/bin/time"
	case $BATON in */san/*) skip "sanitizer builds use more memory" ;; esac
	many 20000
	"$BATON" session init s0 >/dev/null
	local hex="printf('%08x', i)"
	if on_pg; then
		hex="lpad(to_hex(i), 8, '0')"
	fi
	sql "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g
		WHERE i < 20000) INSERT INTO sessions (id, kind, name, agent,
		project, workdir, os_user, created_at, last_used_at)
		SELECT $hex || '-0000-7000-8000-000000000000', 'named',
		's' || i, agent, project, workdir, os_user, created_at + i,
		last_used_at FROM g, (SELECT * FROM sessions LIMIT 1) AS s"
	# the whole arrays took 57 MB (tasks) and 80 MB (sessions)
	for cmd in "status --json" "session list --all --json" \
		"session list --all" status; do
		/usr/bin/time -f %M -o "$T/rss" "$BATON" $cmd >"$T/out"
		echo "$cmd: $(cat "$T/rss") KB"
		[ "$(cat "$T/rss")" -lt 20000 ]
	done
	[ "$(wc -l <"$T/out")" = 20001 ]
	"$BATON" session list --all --json >"$T/out"
	[ "$(jq length "$T/out")" = 20001 ]
	# a milestone's tasks stream too (milestone show --json)
	"$BATON" milestone create big >/dev/null
	sql "UPDATE tasks SET milestone_id = (SELECT id FROM milestones
		WHERE name = 'big')"
	/usr/bin/time -f %M -o "$T/rss" "$BATON" milestone show big --json \
		>"$T/out"
	echo "milestone show --json: $(cat "$T/rss") KB"
	[ "$(cat "$T/rss")" -lt 20000 ]
	[ "$(jq '.tasks | length' "$T/out")" = 20000 ]
	[ "$(jq -r .name "$T/out")" = big ]
}
