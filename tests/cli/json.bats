#!/usr/bin/env bats
# Every command's --json output against the schemas of docs/schema/
# (docs/json.md): the contract scripts rely on (SPEC §6.1).

bats_require_minimum_version 1.5.0

load lib

# validate SCHEMA [--array|--lines]: $output against docs/schema/SCHEMA.
validate() {
	printf '%s' "$output" |
		/usr/bin/python3 "$REPO/tests/json-validate.py" "$@"
}

# A database with tasks in every final state, a named session with a
# chain, a milestone, a check, a usage-reporting command agent.
local_setup() {
	cat > "$T/agent" <<-'SH'
	#!/bin/sh
	cat > /dev/null
	echo '{"input_tokens": 7, "output_tokens": 3, "cost_usd": 0.01}' \
		> "$BATON_RESULT_FILE"
	SH
	chmod +x "$T/agent"
	config <<-EOF
	defaults: {kill_grace: 200ms}
	agents:
	  cmd: {kind: command, command: [$T/agent]}
	EOF
	"$BATON" milestone create m1 >/dev/null
	"$BATON" add --title ok --key k1 'echo one' >/dev/null
	"$BATON" add --title bad 'exit 3' >/dev/null
	"$BATON" add --timeout 1s 'sleep 30' >/dev/null
	"$BATON" add --session s1 --agent cmd 'first' >/dev/null
	"$BATON" add --session s1 --agent cmd 'second' >/dev/null
	"$BATON" add --milestone m1 --check 'true' 'echo m' >/dev/null
	"$BATON" add 'echo never' >/dev/null
	"$BATON" work -j 2 --max-tasks 6 --until-empty >/dev/null 2>&1 || true
	"$BATON" cancel 7 >/dev/null
	"$BATON" add 'echo pending' >/dev/null
}

@test "json: status, show, add and run objects match task.schema.json" {
	run "$BATON" status --json
	assert_status 0
	validate task.schema.json --array
	# every final status is there
	for s in completed failed timed_out cancelled pending; do
		assert_contains "\"status\": \"$s\""
	done
	for id in 1 2 3 4 5 6 7 8; do
		run "$BATON" show --json "$id"
		assert_status 0
		validate task.schema.json
	done
	run "$BATON" add --json 'echo added'
	assert_status 0
	validate task.schema.json
	run "$BATON" run --json 'echo now'
	assert_status 0
	validate task.schema.json
	assert_contains '"runs": ['
}

@test "json: session list and show match session.schema.json" {
	run "$BATON" session list --json --all
	assert_status 0
	validate session.schema.json --array
	run "$BATON" session show --json s1
	assert_status 0
	validate session.schema.json
	assert_contains '"chain": ['
	run "$BATON" session init s2 --json
	assert_status 0
	validate session.schema.json
}

@test "json: stats, doctor, milestones and add --from match their schemas" {
	run "$BATON" stats --json
	assert_status 0
	validate stats.schema.json
	run "$BATON" doctor --json
	assert_status 0
	validate doctor.schema.json
	run "$BATON" milestone list --json
	assert_status 0
	validate milestone.schema.json --array
	run "$BATON" milestone create m2 --json
	assert_status 0
	validate milestone.schema.json
	printf '{"prompt": "echo a"}\n{"prompt": "echo b", "key": "k1"}\n' \
		> "$T/tasks.jsonl"
	run "$BATON" add --from "$T/tasks.jsonl" --json
	assert_status 0
	validate add-from.schema.json
}

@test "json: the validator rejects what breaks the contract" {
	run "$BATON" show --json 1
	assert_status 0
	output=${output/\"status\": \"completed\"/\"status\": \"done\"}
	run -1 validate task.schema.json
	output='{"id": 1}'
	run -1 validate session.schema.json
}

@test "json: work --json lines match work-line.schema.json, one a line as tasks end" {
	"$BATON" add --title second 'exit 4' >/dev/null
	run --separate-stderr "$BATON" --json work --until-empty
	assert_status 1
	validate work-line.schema.json --lines
	[ "$(printf '%s\n' "$output" | wc -l)" = 2 ]
	[ "$(jq -s -c 'map(.status) | sort' <<<"$output")" = '["completed","failed"]' ]
}

@test "json: a task failed at its claim (S11) has a whole work --json line and joblog line" {
	# the set-up's active sessions and one more fill the limit
	local n
	n=$(sql "SELECT count(*) FROM sessions WHERE status = 'active'")
	printf 'sessions: {max_active: %d}\n' $((n + 1)) >"$T/limit.yaml"
	BATON_CONFIG=$T/limit.yaml "$BATON" -q session init holder >/dev/null
	BATON_CONFIG=$T/limit.yaml "$BATON" add --title refused --key r1 'echo never' >/dev/null
	BATON_CONFIG=$T/limit.yaml run --separate-stderr "$BATON" --json work \
		--until-empty --joblog "$T/joblog"
	assert_status 1
	validate work-line.schema.json --lines
	jq -e 'select(.key == "r1") | .status == "failed" and .title == "refused"
		and .attempts == 0 and .exit_code == null and .session_id == null
		and (.error | contains("cannot create a session"))' <<<"$output"
	# the joblog's Command column is the title, its status failed
	awk -F'\t' '$11 == "r1" { print $9, $12 }' "$T/joblog" >"$T/cols"
	[ "$(cat "$T/cols")" = "refused failed" ]
}

@test "json: a title that is not UTF-8 keeps its field (U+FFFD), the JSON stays valid" {
	id=$("$BATON" add --title $'bad\xff\xfe title' 'echo x')
	run "$BATON" status --json
	assert_status 0
	validate task.schema.json --array
	[ "$(jq -r '.[-1].title' <<<"$output")" = $'bad\uFFFD\uFFFD title' ]
	run "$BATON" show --json "$id"
	assert_status 0
	validate task.schema.json
	check_title=$(jq -r .title <<<"$output")
	[ "$check_title" = $'bad\uFFFD\uFFFD title' ]
}
