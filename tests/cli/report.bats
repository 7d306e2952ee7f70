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
	assert_contains "retries      1 after a transient failure, 0 more attempts of tasks"
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
	local nl="char(10)"
	if on_pg; then
		nl="chr(10)"
	fi
	sql "UPDATE tasks SET reason = 'we\"ird\\' || $nl || 'x' WHERE title = 'slow'"
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
	# and Prometheus' own checker, when it can be had (tests/promtool.sh)
	if pt=$(sh "$REPO/tests/promtool.sh"); then
		"$pt" check metrics <"$T/m.prom"
	else
		echo "# promtool unavailable ($pt): checked by the parsers above" >&3
	fi
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
	assert_contains "baton: --since: invalid duration 'yesterday-ish': use e.g. 90s, 15m, 1h30m, 1.5h, or a time like 2026-11-21T09:00:00Z"
	run "$BATON" stats --since 2026-13-01
	assert_status 2
	assert_contains "baton: --since: invalid time '2026-13-01'"
	run "$BATON" stats --json --since 1h30m
	assert_status 0
	[ "$(jq -r '.tasks' <<<"$output")" = 5 ]
}

# valid FILE: well-formed, and valid against the JUnit schema Jenkins
# and GitLab read (tests/junit.xsd).
valid() {
	xmllint --noout --schema "$REPO/tests/junit.xsd" "$1"
}

# junit FILE PYTHON: load FILE with junitparser (a JUnit reader CI tools
# use), then run PYTHON with x = the JUnitXml and cases = its testcases.
junit() {
	local f=$1
	shift
	/usr/bin/python3 - "$f" <<-PY
	import sys
	from junitparser import JUnitXml, Failure, Error, Skipped
	x = JUnitXml.fromfile(sys.argv[1])
	cases = [c for suite in x for c in suite]
	$*
	PY
}

@test "report --junit: one testcase per task, failures with reason and log tail" {
	run "$BATON" report --junit "$T/r.xml"
	assert_status 0
	assert_contains "wrote $T/r.xml: 5 tests, 2 failures, 0 errors, 0 skipped"
	valid "$T/r.xml"
	grep -q '<testsuites name="baton" tests="5" failures="2" errors="0"' "$T/r.xml"
	grep -q "<testsuite name=\"baton\" tests=\"5\" failures=\"2\" errors=\"0\" skipped=\"0\" time=\"[0-9.]*\" timestamp=\"20[0-9-]*T[0-9:]*\" hostname=\"$(hostname)\"" "$T/r.xml"
	[ "$(grep -c '<testcase ' "$T/r.xml")" = 5 ]
	# named by title, no task id in the name; the reason as the type,
	# the error as the message, the agent's stderr then stdout as body
	grep -q '<testcase classname="baton" name="broken &lt;&amp;&gt;" time="[0-9.]*">' "$T/r.xml"
	grep -q '<failure type="failed" message="script exited with status 3: ' "$T/r.xml"
	grep -q '<failure type="timeout" message="timeout: timed out after 1s"' "$T/r.xml"
	grep -q '^bad &amp; worse &lt;x&gt;$' "$T/r.xml"
	grep -q '<property name="task_id" value="3"/>' "$T/r.xml"
	grep -q '<property name="attempts" value="1"/>' "$T/r.xml"
	grep -q '<property name="resume_outcomes" value="new"/>' "$T/r.xml"
	grep -q '<property name="cost_usd" value="0.250000"/>' "$T/r.xml"
	grep -q '<property name="input_tokens" value="10"/>' "$T/r.xml"
	junit "$T/r.xml" '
s = next(iter(x))
assert (s.tests, s.failures, s.errors, s.skipped) == (5, 2, 0, 0)
assert [c.name for c in cases] == ["ok-one", "ok-two", "broken <&>", "slow", "flaky"]
bad = cases[2].result[0]
assert isinstance(bad, Failure) and bad.type == "failed", bad
assert "--- stderr ---\nbad & worse <x>\n" in bad.text, bad.text
assert isinstance(cases[3].result[0], Failure) and cases[3].result[0].type == "timeout"
assert cases[4].result == [] and cases[4].time > 0
'
}

# A failing task whose title and output hold what breaks XML, a
# terminal, a workflow command or a Markdown table.
add_hostile() {
	HOSTILE=$'X <&"\'> ]]> \e[2J \xff | `tick` 50%:a,b\nline two'
	cat > "$T/hostile.sh" <<-'SH'
	printf 'E <&> ]]> \033[2J \377 \001\000 50%% |\n::warning::injected\n' >&2
	printf 'O \033]0;title\007 done' >&1
	exit 5
	SH
	"$BATON" add --title "$HOSTILE" --prompt-file "$T/hostile.sh" >/dev/null
	run "$BATON" -q work --until-empty
	[ "$status" = 1 ]
}

@test "report --junit: hostile titles and output stay well-formed XML" {
	add_hostile
	run "$BATON" report --junit "$T/h.xml"
	assert_status 0
	assert_contains "6 tests, 3 failures"
	valid "$T/h.xml"
	# not one byte that is not UTF-8 text XML allows
	iconv -f UTF-8 -t UTF-8 "$T/h.xml" >/dev/null
	refute grep -q "$(printf '[\001-\010\013\014\016-\037\177]')" "$T/h.xml"
	grep -qF 'name="X &lt;&amp;&quot;&apos;&gt; ]]&gt; �[2J � | `tick` 50%:a,b line two"' "$T/h.xml"
	junit "$T/h.xml" '
c = cases[5]
assert c.name == "X <&\"'"'"'> ]]> \ufffd[2J \ufffd | `tick` 50%:a,b line two", c.name
f = c.result[0]
assert f.type == "failed", f.type
assert "E <&> ]]> \ufffd[2J \ufffd \ufffd\ufffd 50% |\n::warning::injected\n" in f.text, f.text
assert "--- stdout ---\nO \ufffd]0;title\ufffd done\n" in f.text, f.text
assert "\x1b" not in f.text and "\x1b" not in c.name
'
}

@test "report --junit: names by key, title or first prompt line, the same in any database" {
	names() {
		"$BATON" add --key k1 --title 'has a key' 'echo 1' >/dev/null
		"$BATON" add --title same 'echo 2' >/dev/null
		"$BATON" add --title same 'echo 3' >/dev/null
		"$BATON" add --title 'same (2)' 'echo 4' >/dev/null
		"$BATON" add --milestone m1 --title same 'echo 5' >/dev/null
		"$BATON" add --session named $'\n  \n  first line  \nsecond' >/dev/null
		"$BATON" report --junit "$1" >/dev/null
		sed -n 's/.*<testcase classname="\([^"]*\)" name="\([^"]*\)".*/\1|\2/p' "$1"
	}
	db_remove
	names "$T/a.xml" > "$T/a.names"
	db_remove
	names "$T/b.xml" > "$T/b.names"
	cat > "$T/want" <<-'EOF'
	baton|k1
	baton|same
	baton|same (2)
	baton|same (2) (2)
	m1|same
	named|first line
	EOF
	diff "$T/want" "$T/a.names"
	diff "$T/a.names" "$T/b.names"
	valid "$T/b.xml"
}

@test "report --github: annotations, and a summary hostile titles cannot break" {
	add_hostile
	echo '# earlier step' > "$T/summary.md"
	GITHUB_STEP_SUMMARY=$T/summary.md run "$BATON" report --github
	assert_status 0
	# stdout: one workflow command a failed or timed-out task, nothing else
	[ "$(grep -c '' <<<"$output")" = 3 ]
	[ "$(grep -c '^::error title=' <<<"$output")" = 3 ]
	refute grep -q '^::warning' <<<"$output"
	refute grep -q "$(printf '\033')" <<<"$output"
	grep -qxF '::error title=broken <&>::task 3 failed: script exited with status 3: bad & worse <x>%0A--- stderr ---%0Abad & worse <x>%0A' <<<"$output"
	grep -qxF '::error title=slow::task 4 timed_out: timeout: timed out after 1s' <<<"$output"
	grep -qF '::error title=X <&"'"'"'> ]]> �[2J � | `tick` 50%25%3Aa%2Cb line two::task 6 failed: ' <<<"$output"
	grep -qF '%0A--- stderr ---%0AE <&> ]]> �[2J � �� 50%25 |%0A::warning::injected%0A' <<<"$output"
	# the summary is appended, counts then one row a failed task
	[ "$(head -n 1 "$T/summary.md")" = '# earlier step' ]
	grep -qx '| completed | 3 |' "$T/summary.md"
	grep -qx '| failed | 2 |' "$T/summary.md"
	grep -qx '| timed_out | 1 |' "$T/summary.md"
	# (its time: the 1 s timeout and what a loaded machine adds to it)
	grep -qx '| 4 | slow | timed_out | timeout | 1\.[0-9]s | \$0\.0000 |' "$T/summary.md"
	grep -qF '| 6 | X \<\&\"\'"'"'\> \]\]\> �\[2J � \| \`tick\` 50\%\:a\,b line two | failed | failed |' "$T/summary.md"
	# every row of the failed tasks' table has its 7 cell borders: an
	# unescaped | would add one, a newline would end the row
	rows=$(sed -n '/^| id | name |/,$p' "$T/summary.md" | grep '^|')
	[ "$(grep -c '' <<<"$rows")" = 5 ]
	[ "$(sed 's/\\|//g' <<<"$rows" | awk -F'|' 'NF != 8' | wc -l)" = 0 ]
}

@test "report --github: without GITHUB_STEP_SUMMARY the summary follows on stdout" {
	unset GITHUB_STEP_SUMMARY
	run "$BATON" report --github --junit "$T/r.xml"
	assert_status 0
	[ "$(sed -n 1p <<<"$output")" = "wrote $T/r.xml: 5 tests, 2 failures, 0 errors, 0 skipped" ]
	[ "$(sed -n 2p <<<"$output" | cut -c1-20)" = '::error title=broken' ]
	[ "$(sed -n 3p <<<"$output" | cut -c1-18)" = '::error title=slow' ]
	assert_contains "### baton report"
	assert_contains "5 tasks, 2 did not complete"
	assert_contains "| 3 | broken \<\&\> | failed | failed |"
	GITHUB_STEP_SUMMARY=$T/no/such/dir/s.md run "$BATON" report --github
	assert_status 1
	assert_contains "cannot write $T/no/such/dir/s.md"
}

@test "report --github and stats on one task: '1 task', and no rate of no resumes" {
	export BATON_DB=$T/one.db
	[ -z "${BATON_TEST_PG:-}" ] || skip "SQLite: a database of its own"
	"$BATON" -q run 'true' >/dev/null
	unset GITHUB_STEP_SUMMARY
	run "$BATON" report --github
	assert_status 0
	assert_contains "1 task, 0 did not complete"
	run "$BATON" stats
	assert_status 0
	assert_contains "resumes      0"
	assert_not_contains "resumed cleanly"
}

@test "report: pending tasks are skipped; --milestone filters" {
	"$BATON" add --milestone m1 'echo later' >/dev/null
	run "$BATON" report --junit "$T/m.xml" --milestone m1
	assert_status 0
	assert_contains "1 tests, 0 failures, 0 errors, 1 skipped"
	grep -q '<skipped message="pending"/>' "$T/m.xml"
	grep -q '<testsuite name="m1" tests="1" failures="0" errors="0" skipped="1"' "$T/m.xml"
	grep -q '<testcase classname="m1" name="echo later" time="0.000">' "$T/m.xml"
	valid "$T/m.xml"
	run "$BATON" report --junit "$T/m.xml" --milestone nope
	assert_status 2
	assert_contains "no milestone 'nope'"
}

@test "report: usage errors, and a file it cannot write leaves nothing" {
	run "$BATON" report
	assert_status 2
	assert_contains "give --junit FILE, --github or both"
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
