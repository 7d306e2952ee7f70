#!/usr/bin/env bats
# baton stats and baton report --junit (SPEC §6).

bats_require_minimum_version 1.5.0

load lib

# A small finished batch: 2 completed, 1 failed, 1 timed out, and one
# task whose agent fails transiently once before it succeeds (a retry).
local_setup() {
	cat > "$T/flaky" <<-'SH'
	#!/bin/sh
	# transient on its first call, then fine
	if [ ! -e "$BATON_SESSION_DIR/seen" ]; then
		: > "$BATON_SESSION_DIR/seen"
		echo '{"transient": true}' > "$BATON_RESULT_FILE"
		exit 1
	fi
	echo '{"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.25}' \
		> "$BATON_RESULT_FILE"
	SH
	chmod +x "$T/flaky"
	config <<-EOF
	retry: {attempts: 2, base: 1ms, max: 2ms}
	defaults: {kill_grace: 200ms}
	agents:
	  flaky: {kind: command, command: [$T/flaky]}
	EOF
	"$BATON" add --title ok-one 'echo one' >/dev/null
	"$BATON" add --title ok-two 'echo two' >/dev/null
	"$BATON" add --title 'broken <&>' 'echo "bad & worse <x>" >&2; exit 3' >/dev/null
	"$BATON" add --title slow --timeout 1 'sleep 30' >/dev/null
	"$BATON" add --agent flaky --title flaky 'hi' >/dev/null
	run "$BATON" -q work -j 2 --until-empty
	[ "$status" = 1 ]
}

@test "stats counts by status, runs, usage, cost and retries" {
	run "$BATON" stats --json
	assert_status 0
	[ "$(jq -r '.tasks' <<<"$output")" = 5 ]
	[ "$(jq -r '.by_status.completed' <<<"$output")" = 3 ]
	[ "$(jq -r '.by_status.failed' <<<"$output")" = 1 ]
	[ "$(jq -r '.by_status.timed_out' <<<"$output")" = 1 ]
	[ "$(jq -r '.runs' <<<"$output")" = 6 ]
	[ "$(jq -r '.retries' <<<"$output")" = 1 ]
	[ "$(jq -r '.input_tokens' <<<"$output")" = 10 ]
	[ "$(jq -r '.cost_usd' <<<"$output")" = 0.25 ]
	# the timed-out run is the slowest
	[ "$(jq -r '.run_duration.max_ms >= 1000' <<<"$output")" = true ]
	[ "$(jq -r '.run_duration.p50_ms <= .run_duration.p95_ms' <<<"$output")" = true ]
	run "$BATON" stats
	assert_status 0
	assert_contains "tasks        5, 3 completed, 1 failed, 1 timed_out"
	assert_contains "retries      1"
}

@test "stats --since: a duration back from now, a time, or a usage error" {
	run "$BATON" stats --json --since 1h
	assert_status 0
	[ "$(jq -r '.tasks' <<<"$output")" = 5 ]
	run "$BATON" stats --json --since 2999-01-01T00:00:00Z
	assert_status 0
	[ "$(jq -r '.tasks' <<<"$output")" = 0 ]
	run "$BATON" stats --since yesterday-ish
	assert_status 2
	assert_contains "baton: --since: invalid duration 'yesterday-ish': use e.g. 90s, 15m, 1h30m, 1.5h, or a time like 2026-11-21T09:00:00Z"
	run "$BATON" stats --since 2026-13-01
	assert_status 2
	assert_contains "baton: --since: invalid time '2026-13-01'"
	run "$BATON" stats --json --since 1h30m
	assert_status 0
	[ "$(jq -r '.tasks' <<<"$output")" = 5 ]
}

@test "report --junit: one testcase per task, failures with reason and log tail" {
	run "$BATON" report --junit "$T/r.xml"
	assert_status 0
	assert_contains "wrote $T/r.xml: 5 tests, 2 failures, 0 errors, 0 skipped"
	grep -q '<testsuites tests="5" failures="2" errors="0" skipped="0"' "$T/r.xml"
	[ "$(grep -c '<testcase ' "$T/r.xml")" = 5 ]
	# escaped title, the failure's reason and the agent's stderr tail
	grep -q 'name="3: broken &lt;&amp;&gt;"' "$T/r.xml"
	grep -q '<failure type="failed"' "$T/r.xml"
	grep -q '<failure type="timed_out"' "$T/r.xml"
	grep -q '<system-err>bad &amp; worse &lt;x&gt;' "$T/r.xml"
	# well-formed enough for an XML parser, when one is installed
	if command -v python3 >/dev/null; then
		python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$T/r.xml"
	fi
}

@test "report: pending tasks are skipped; --milestone filters" {
	"$BATON" add --milestone m1 'echo later' >/dev/null
	run "$BATON" report --junit "$T/m.xml" --milestone m1
	assert_status 0
	assert_contains "1 tests, 0 failures, 0 errors, 1 skipped"
	grep -q '<skipped message="pending"/>' "$T/m.xml"
	run "$BATON" report --junit "$T/m.xml" --milestone nope
	assert_status 2
	assert_contains "no milestone 'nope'"
}

@test "report: usage errors, and a file it cannot write leaves nothing" {
	run "$BATON" report
	assert_status 2
	assert_contains "--junit FILE is required"
	run "$BATON" report --junit "$T/no/such/dir/r.xml"
	assert_status 1
	assert_contains "cannot write $T/no/such/dir/r.xml"
	[ ! -e "$T/no/such/dir" ]
	# an existing report is replaced whole or not at all
	echo old > "$T/keep.xml"
	chmod 0500 "$T" 2>/dev/null
	if [ "$(id -u)" != 0 ]; then
		run "$BATON" report --junit "$T/keep.xml"
		assert_status 1
		[ "$(cat "$T/keep.xml")" = old ]
	fi
	chmod 0700 "$T"
}
