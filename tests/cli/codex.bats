#!/usr/bin/env bats
# The codex agent against the real Codex CLI (installed from the npm
# registry into .cache/ on first use by tests/npm-agent/install.sh),
# talking to a stub of the OpenAI Responses API on 127.0.0.1
# (tests/npm-agent/stub-server.js --api openai) through a model provider
# in $CODEX_HOME/config.toml.  The CLI holds real threads, writes real
# rollout files under $CODEX_HOME/sessions/ and prints its real events
# and errors.  Without node, npm or the registry every test is skipped
# with the reason, never passed.

bats_require_minimum_version 1.5.0

load lib
load npm-agent

setup_file() {
	# the version the adapter and these tests were checked against
	npm_agent_install Codex codex @openai/codex 0.169.0 '^codex-cli '
}

local_setup() {
	npm_agent_start codex openai OPENAI_ CODEX_
	export CODEX_HOME=$T/codex-home
	export OPENAI_API_KEY=sk-test-key
	mkdir -p "$CODEX_HOME"
	# The stub as the model provider; the CLI retries nothing itself
	# (baton does) and asks for nothing but the Responses API.
	cat >"$CODEX_HOME/config.toml" <<-EOF
	model = "gpt-5.5"
	model_provider = "stub"
	check_for_update_on_startup = false
	web_search = "disabled"

	[analytics]
	enabled = false

	[model_providers.stub]
	name = "stub"
	base_url = "http://127.0.0.1:$PORT/v1"
	env_key = "OPENAI_API_KEY"
	wire_api = "responses"
	request_max_retries = 0
	stream_max_retries = 0
	supports_websockets = false
	EOF
	# Fast retries; everything else stays the built-in default.
	config <<-EOF
	retry: {attempts: 3, base: 10ms, max: 40ms}
	EOF
	stub '{"input_tokens": 1000, "cached_tokens": 300, "output_tokens": 20}'
	WORK=$(pwd -P)
}

# The conversation of request N (0-based): user and assistant texts.
dialogue() {
	requests | sed -n "$(($1 + 1))p" | jq -c '[.messages[] | .text]'
}

# The rollout file of thread $1.
rollout() {
	find "$CODEX_HOME/sessions" -name "rollout-*-$1.jsonl"
}

@test "codex: a plain task runs the real CLI, usage and the chain recorded" {
	run "$BATON" run --json --agent codex "say hello"
	assert_status 0
	sid=$(jq -r .session_id <<<"$output")
	tid=$(jq -r '.runs[0].agent_session_out' <<<"$output")
	# cached tokens are part of OpenAI's input_tokens; baton counts
	# them apart, like Claude's cache reads; cost from the price:
	# (700 * 1.25 + 300 * 0.125 + 20 * 10) / 1e6
	check '.status == "completed" and .input_tokens == 700
		and .output_tokens == 20 and .cost_usd == 0.0011125
		and (.runs | length) == 1
		and .runs[0].resume_outcome == "new"
		and .runs[0].outcome == "success"
		and .runs[0].agent_session_in == null'
	[[ $tid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]
	[ "$tid" != "$sid" ]
	# the CLI's own rollout, under its thread id
	[ -f "$(rollout "$tid")" ]
	[ "$(posts)" = 1 ]
	output=$(requests)
	check --arg w "$WORK" --arg t "$tid" '.stream == true and .cwd == $w
		and .model == "gpt-5.5" and .thread == $t
		and (.messages | length) == 1
		and (.messages[0].text | contains("say hello"))'
	[ "$(sql "select edge, agent_session_id from session_chain")" = \
		"first|$tid" ]
	[ "$(sql "select cache_read_tokens, num_turns from runs")" = "300|1" ]
	[ "$(sql "select kind, status, head from sessions")" = \
		"temp|closed|$tid" ]
	[ "$(sql "select count(*) from runs where error is not null")" = 0 ]
}

@test "codex: a named session carried over several tasks resumes one thread" {
	"$BATON" add --agent codex --session s1 "first prompt" >/dev/null
	"$BATON" add --agent codex --session s1 "second prompt" >/dev/null
	"$BATON" add --agent codex --session s1 "third prompt" >/dev/null
	run "$BATON" work -j 2 --until-empty
	assert_status 0
	tid=$(sql "select head from sessions where name = 's1'")
	[ "$(sql "select group_concat(resume_outcome || ':' ||
		  coalesce(agent_session_in, '-') || ':' || agent_session_out ||
		  ':' || outcome, ' ') from (select * from runs order by id) AS q")" = \
		"new:-:$tid:success resumed:$tid:$tid:success resumed:$tid:$tid:success" ]
	# the stub saw the thread grow, the CLI's replies included
	[ "$(posts)" = 3 ]
	[ "$(dialogue 0 | jq length)" = 1 ]
	[ "$(dialogue 1 | jq length)" = 3 ]
	output=$(dialogue 2)
	check 'length == 5 and (.[0] | contains("first prompt"))
		and .[1] == "stub reply 1"
		and (.[2] | contains("second prompt"))
		and .[3] == "stub reply 2"
		and (.[4] | contains("third prompt"))'
	[ "$(requests | jq -r .thread | sort -u)" = "$tid" ]
	# each run is charged its own turn, though the CLI reports the
	# thread's running totals (1000, 2000, 3000 input tokens)
	[ "$(sql "select group_concat(input_tokens || '/' ||
		  cache_read_tokens || '/' || output_tokens, ' ')
		  from (select * from runs order by id) AS q")" = \
		"700/300/20 700/300/20 700/300/20" ]
	[ "$(sql "select turns, input_tokens, cache_read_tokens,
		  output_tokens, head, status from sessions")" = \
		"3|2100|900|60|$tid|active" ]
	[ "$(sql "select count(*) from session_chain")" = 1 ]
}

@test "codex: the session's model is passed as --model" {
	run "$BATON" run --json --agent codex --model gpt-6-sol --session m1 "one"
	assert_status 0
	check '.model == "gpt-6-sol"'
	run "$BATON" run -q --agent codex --session m1 "two"
	assert_status 0
	[ "$(requests | jq -r .model | sort -u)" = gpt-6-sol ]
}

@test "codex: a lost rollout falls back to a fresh thread (S13)" {
	run "$BATON" run --json --agent codex --session fb "remember apples"
	assert_status 0
	tid=$(sql "select head from sessions where name = 'fb'")
	rm "$(rollout "$tid")"
	run "$BATON" run --json --agent codex --session fb "what fruit?"
	assert_status 0
	check --arg t "$tid" '(.runs | length) == 2
		and .runs[0].resume_outcome == "resumed"
		and .runs[0].agent_session_in == $t
		and .runs[0].outcome == "resume_failed"
		and (.runs[0].error | contains("no rollout found for thread id " + $t))
		and .runs[1].resume_outcome == "fresh_after_failed_resume"
		and .runs[1].agent_session_in == null
		and .runs[1].outcome == "success"'
	fresh=$(jq -r '.runs[1].agent_session_out' <<<"$output")
	[ "$fresh" != "$tid" ]
	# the turn was repeated once, in a new thread
	[ "$(posts)" = 2 ]
	output=$(dialogue 1)
	check 'length == 1 and (.[0] | contains("what fruit?"))
		and (.[0] | contains("apples") | not)'
	[ "$(sql "select head, resume_failures, resumable from sessions")" = \
		"$fresh|1|1" ]
	[ "$(sql "select group_concat(edge || ':' || agent_session_id, ' ')
		  from (select * from session_chain order by id) AS q")" = \
		"first:$tid fresh_after_failed_resume:$fresh" ]
	[ "$(sql "select count(*) from events where kind = 'fallback'")" = 1 ]
	# and the next task resumes the new head
	run "$BATON" run --json --agent codex --session fb "and now?"
	assert_status 0
	check --arg f "$fresh" '.runs[0].resume_outcome == "resumed"
		and .runs[0].agent_session_in == $f'
	output=$(dialogue 2)
	check 'length == 3 and (.[0] | contains("what fruit?"))'
}

@test "codex: 429 is transient: retried, resuming the thread the failed turn started" {
	stub '{"fail": [429]}'
	run "$BATON" run --json --agent codex --session r1 "rate me"
	assert_status 0
	tid=$(sql "select head from sessions where name = 'r1'")
	check --arg t "$tid" '.status == "completed" and (.runs | length) == 2
		and .runs[0].resume_outcome == "new"
		and .runs[0].outcome == "transient"
		and (.runs[0].error | contains("429 Too Many Requests"))
		and .runs[0].agent_session_out == $t
		and .runs[1].resume_outcome == "resumed"
		and .runs[1].agent_session_in == $t
		and .runs[1].outcome == "success"'
	[ "$(posts)" = 2 ]
	output=$(dialogue 1)
	check '.[0] | contains("rate me")'
	[ "$(sql "select resume_failures, head from sessions")" = "0|$tid" ]
}

@test "codex: 500, 503 and a dropped stream are transient and retried" {
	stub '{"fail": [500, 503], "drop": 1}'
	run "$BATON" run --json --agent codex "overloaded"
	assert_status 0
	check '[.runs[] | .outcome] ==
		    ["transient", "transient", "transient", "success"]
		and [.runs[] | .resume_outcome] ==
		    ["new", "resumed", "resumed", "resumed"]
		and (.runs[0].error | contains("high demand"))
		and (.runs[1].error | contains("unexpected status 503"))
		and (.runs[2].error | contains("stream disconnected"))'
	[ "$(posts)" = 4 ]
}

@test "codex: retries run out: the task fails with the CLI's words" {
	config <<-EOF
	retry: {attempts: 1, base: 10ms, max: 10ms}
	EOF
	stub '{"always": 502}'
	run "$BATON" run --json --agent codex "never"
	assert_status 1
	check '.status == "failed" and (.runs | length) == 2
		and ([.runs[] | .outcome] | unique) == ["transient"]
		and (.error | startswith("unexpected status 502 Bad Gateway"))'
	[ "$(posts)" = 2 ]
}

@test "codex: a rejected API key (401) fails at once and is not retried" {
	stub '{"always": 401}'
	run "$BATON" run --json --agent codex --session ak "let me in"
	assert_status 1
	check '.status == "failed" and (.runs | length) == 1
		and .runs[0].outcome == "config_error"
		and (.error | startswith("unexpected status 401 Unauthorized"))
		and (.error | contains("Incorrect API key"))'
	[ "$(posts)" = 1 ]
	[ "$(sql "select resume_failures from sessions")" = 0 ]
	[ "$(sql "select count(*) from events where kind = 'fallback'")" = 0 ]
	# a good key again: the thread the CLI started goes on
	stub '{}'
	tid=$(sql "select head from sessions")
	run "$BATON" run --json --agent codex --session ak "hello again"
	assert_status 0
	check --arg t "$tid" '.runs[0].resume_outcome == "resumed"
		and .runs[0].agent_session_in == $t'
}

@test "codex: no API key fails at once without a request" {
	unset OPENAI_API_KEY
	run "$BATON" run --json --agent codex "hello?"
	assert_status 1
	check '(.runs | length) == 1 and .runs[0].outcome == "config_error"
		and (.error | contains("Missing environment variable: `OPENAI_API_KEY`"))'
	[ "$(posts)" = 0 ]
}

@test "codex: an unknown argument fails at once; the session has no thread" {
	config <<-EOF
	agents:
	  codex: {kind: codex, args: [--no-such-flag]}
	EOF
	run "$BATON" run --json --agent codex --session uo "flagged"
	assert_status 1
	check '(.runs | length) == 1 and .runs[0].outcome == "config_error"
		and .error == "error: unexpected argument '"'--no-such-flag'"' found"'
	[ "$(posts)" = 0 ]
	[ "$(sql "select count(*) from session_chain")" = 0 ]
	# exec's own options in args: work on resumed turns too
	config <<-EOF
	agents:
	  codex: {kind: codex, args: [--sandbox=workspace-write]}
	EOF
	run "$BATON" run -q --agent codex --session uo "fixed"
	assert_status 0
	run "$BATON" run --json --agent codex --session uo "again"
	assert_status 0
	check '.runs[0].resume_outcome == "resumed"'
	grep -q 'workspace-write' "$(rollout "$(sql "select head from sessions")")"
}

@test "codex: parallel work on several sessions keeps the threads apart" {
	for s in a b c; do
		"$BATON" add --agent codex --session "p$s" "one for $s" >/dev/null
	done
	for s in a b c; do
		"$BATON" add --agent codex --session "p$s" "two for $s" >/dev/null
	done
	run "$BATON" work -j 3 --until-empty
	assert_status 0
	[ "$(sql "select count(*) from tasks where status = 'completed'")" = 6 ]
	[ "$(sql "select count(distinct head) from sessions")" = 3 ]
	for s in a b c; do
		sid=$(sql "select id from sessions where name = 'p$s'")
		tid=$(sql "select head from sessions where id = '$sid'")
		[ "$(sql "select group_concat(resume_outcome || ':' ||
			  agent_session_out, ' ') from (select * from runs
			  where session_id = '$sid' order by id) AS q")" = \
			"new:$tid resumed:$tid" ]
		[ "$(sql "select turns, input_tokens from sessions
			  where id = '$sid'")" = "2|1400" ]
		# its second request carried its own first turn, nobody else's
		output=$(requests | jq -c --arg s "$s" \
			'select(.messages[-1].text | contains("two for " + $s))
			 | [.messages[] | select(.role == "user") | .text]')
		check --arg s "$s" 'length == 2 and (.[0] | contains("one for " + $s))
			and (map(select(test("for [abc]")
				and (test("for " + $s) | not))) | length) == 0'
	done
	[ "$(posts)" = 6 ]
}

@test "codex: each turn runs in the task's workdir, the thread follows it" {
	mkdir -p .git a b
	run "$BATON" run -q --agent codex --session wd --workdir a "from a"
	assert_status 0
	run "$BATON" run --json --agent codex --session wd --workdir b "from b"
	assert_status 0
	check '.runs[0].resume_outcome == "resumed"
		and .runs[0].outcome == "success"'
	[ "$(requests | jq -r .cwd | tr '\n' ' ')" = "$WORK/a $WORK/b " ]
	[ "$(dialogue 1 | jq length)" = 3 ]
}

@test "codex: a hung API call is stopped by the timeout" {
	stub '{"delay_ms": 60000}'
	run -124 "$BATON" run -q --agent codex --timeout 2s "hang"
	[ "$(sql "select status from tasks")" = timed_out ]
	[ "$(sql "select outcome from runs")" = timed_out ]
	pid=$(sql "select pid from runs")
	[ -n "$pid" ]
	refute kill -0 "$pid"
}
