#!/usr/bin/env bats
# baton stats and baton report --junit/--github (SPEC §6, docs/ci.md).

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
	# why the others did not complete: the task's reason
	[ "$(jq -c '.failure_reasons' <<<"$output")" = '{"failed":1,"timeout":1}' ]
	[ "$(jq -r '.milestone' <<<"$output")" = null ]
	run "$BATON" stats
	assert_status 0
	assert_contains "tasks        5, 3 completed, 1 failed, 1 timed_out"
	assert_contains "retries      1"
	assert_contains "failures     2 (1 failed, 1 timeout)"
}

@test "stats --milestone: only that milestone's tasks, runs and sessions" {
	"$BATON" add --milestone m1 'echo fine' >/dev/null
	"$BATON" add --milestone m1 'exit 4' >/dev/null
	"$BATON" add --session elsewhere 'echo other' >/dev/null
	run "$BATON" -q work --until-empty
	[ "$status" = 1 ]
	run "$BATON" stats --json --milestone m1
	assert_status 0
	[ "$(jq -r '.milestone' <<<"$output")" = m1 ]
	[ "$(jq -r '.tasks' <<<"$output")" = 2 ]
	[ "$(jq -r '.by_status.completed' <<<"$output")" = 1 ]
	[ "$(jq -r '.runs' <<<"$output")" = 2 ]
	[ "$(jq -r '.retries' <<<"$output")" = 0 ]
	[ "$(jq -r '.input_tokens' <<<"$output")" = 0 ]
	[ "$(jq -c '.failure_reasons' <<<"$output")" = '{"failed":1}' ]
	# the milestone's shared session, not the one named elsewhere
	[ "$(jq -r '.active_sessions' <<<"$output")" = 1 ]
	run "$BATON" stats --json
	[ "$(jq -r '.tasks' <<<"$output")" = 8 ]
	[ "$(jq -r '.active_sessions' <<<"$output")" = 2 ]
	run "$BATON" stats --milestone nope
	assert_status 2
	assert_contains "no milestone 'nope'"
}

# lint_om FILE: the exposition format checked line by line.
lint_om() {
	awk -f "$REPO/tests/openmetrics-lint.awk" "$1"
}

@test "stats --openmetrics: the text format the textfile collector reads" {
	# a reason that needs escaping in a label value
	sql "UPDATE tasks SET reason = 'we\"ird\\' || char(10) || 'x' WHERE title = 'slow'"
	json=$("$BATON" stats --json)
	run "$BATON" stats --openmetrics
	assert_status 0
	printf '%s\n' "$output" > "$T/m.prom"
	lint_om "$T/m.prom"
	[ "$(tail -n 1 "$T/m.prom")" = "# EOF" ]
	grep -qx 'baton_tasks{status="completed"} 3' "$T/m.prom"
	grep -qx 'baton_tasks{status="pending"} 0' "$T/m.prom"
	grep -qx 'baton_runs_total 6' "$T/m.prom"
	grep -qx 'baton_tokens_total{direction="input"} 10' "$T/m.prom"
	grep -qx 'baton_tokens_total{direction="output"} 4' "$T/m.prom"
	grep -qx 'baton_cost_usd_total 0.25' "$T/m.prom"
	grep -qx 'baton_run_duration_seconds_count 6' "$T/m.prom"
	grep -q '^baton_run_duration_seconds{quantile="0.95"} [1-9]' "$T/m.prom"
	grep -qx "baton_resumes_total $(jq .resumes <<<"$json")" "$T/m.prom"
	grep -qx 'baton_sessions_active [0-9]*' "$T/m.prom"
	grep -qx 'baton_failures_total{reason="failed"} 1' "$T/m.prom"
	grep -qxF 'baton_failures_total{reason="we\"ird\\\nx"} 1' "$T/m.prom"
	grep -qx '# TYPE baton_runs_total counter' "$T/m.prom"
	grep -qx '# TYPE baton_run_duration_seconds summary' "$T/m.prom"
	# a Prometheus client's own parser of that format reads it back
	/usr/bin/python3 - "$T/m.prom" <<-'PY'
	import sys
	from prometheus_client.parser import text_string_to_metric_families
	fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
	assert fams["baton_runs"].type == "counter", fams["baton_runs"]
	assert fams["baton_run_duration_seconds"].type == "summary"
	reasons = {s.labels["reason"]: s.value for s in fams["baton_failures"].samples}
	assert reasons == {"failed": 1, 'we"ird\\\nx': 1}, reasons
	PY
	run "$BATON" --json stats --openmetrics
	assert_status 2
	assert_contains "--json and --openmetrics"
}

@test "openmetrics-lint.awk finds what is wrong" {
	printf '# HELP a x\n# TYPE a gauge\na 1\n' > "$T/1"
	refute lint_om "$T/1"		# no # EOF
	printf 'a 1\n# EOF\n' > "$T/2"
	refute lint_om "$T/2"		# no HELP, TYPE
	printf '# HELP a x\n# TYPE a gauge\na{l="\\t"} 1\n# EOF\n' > "$T/3"
	refute lint_om "$T/3"		# an escape the format has not
	printf '# HELP a x\n# TYPE a gauge\na 1\n# EOF\na 2\n' > "$T/4"
	refute lint_om "$T/4"		# after # EOF
	printf '# HELP a-b x\n# TYPE a-b gauge\na-b 1\n# EOF\n' > "$T/5"
	refute lint_om "$T/5"		# a bad name
	printf '# HELP a x\n# TYPE a gauge\na{l="\\"x"} 1\n# EOF\n' > "$T/6"
	lint_om "$T/6"
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
	assert_contains "invalid --since 'yesterday-ish'"
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
