#!/usr/bin/env bats
# The claude agent against the real Claude Code CLI (installed from the
# npm registry into .cache/ on first use by tests/npm-agent/install.sh),
# talking to a stub of the Anthropic Messages API on 127.0.0.1
# (tests/npm-agent/stub-server.js --api anthropic).  The CLI holds real
# conversations, writes real transcripts under $HOME/.claude/projects/
# and prints its real errors.  Without node, npm or the registry every
# test is skipped with the reason, never passed.

bats_require_minimum_version 1.5.0

load lib
load npm-agent

setup_file() {
	# the version the adapter and these tests were checked against
	npm_agent_install "Claude Code" claude @anthropic-ai/claude-code \
		2.1.197 'Claude Code'
}

local_setup() {
	npm_agent_start claude anthropic ANTHROPIC_ CLAUDE_
	export ANTHROPIC_BASE_URL=http://127.0.0.1:$PORT
	export ANTHROPIC_API_KEY=sk-ant-test-key
	export CLAUDE_CODE_MAX_RETRIES=0 DISABLE_TELEMETRY=1
	export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1
	export DISABLE_ERROR_REPORTING=1
	# Fast retries; everything else stays the built-in default.
	config <<-EOF
	retry: {attempts: 3, base: 10ms, max: 40ms}
	EOF
	stub '{"input_tokens": 1000, "output_tokens": 20, "cache_read": 300,
	       "cache_creation": 40}'
	WORK=$(pwd -P)
}

# The conversation of request N (0-based): user and assistant texts.
dialogue() {
	requests | sed -n "$(($1 + 1))p" |
		jq -c '[.messages[] | select(.role == "user" or
		       .role == "assistant") | .text]'
}

@test "claude: run prints exactly the answer, as claude -p would" {
	stub '{"reply": "Hello from the stub."}'
	"$BATON" run --agent claude 'say hi' >"$T/out" 2>"$T/err"
	printf 'Hello from the stub.\n' | cmp - "$T/out"
	[ "$(sql "SELECT answer FROM runs")" = "Hello from the stub." ]
}

@test "claude: a plain task runs the real CLI, usage and the chain recorded" {
	run "$BATON" run --json --agent claude "say hello"
	assert_status 0
	sid=$(jq -r .session_id <<<"$output")
	check --arg s "$sid" '.status == "completed" and .model == "sonnet"
		and .input_tokens == 1000 and .output_tokens == 20
		and .cost_usd > 0 and (.runs | length) == 1
		and .runs[0].resume_outcome == "new"
		and .runs[0].outcome == "success"
		and .runs[0].agent_session_in == $s
		and .runs[0].agent_session_out == $s'
	# the CLI's own transcript, under baton's session id
	[ -f "$(echo "$HOME"/.claude/projects/*/"$sid".jsonl)" ]
	[ "$(posts)" = 1 ]
	output=$(requests)
	check --arg w "$WORK" '.stream == true and .cwd == $w
		and (.model | startswith("claude-sonnet"))
		and (.messages[0].text | contains("say hello"))'
	[ "$(sql "select edge, agent_session_id from session_chain")" = \
		"first|$sid" ]
	[ "$(sql "select cache_read_tokens, cache_creation_tokens, num_turns
		  from runs")" = "300|40|1" ]
	[ "$(sql "select kind, status, head from sessions")" = \
		"temp|closed|$sid" ]
}

@test "claude: a named session carried over several tasks resumes one conversation" {
	"$BATON" add --agent claude --session s1 "first prompt" >/dev/null
	"$BATON" add --agent claude --session s1 "second prompt" >/dev/null
	"$BATON" add --agent claude --session s1 "third prompt" >/dev/null
	run "$BATON" work -j 2 --until-empty
	assert_status 0
	sid=$(sql "select id from sessions where name = 's1'")
	[ "$(sql "select group_concat(resume_outcome || ':' ||
		  agent_session_in || ':' || outcome, ' ')
		  from (select * from runs order by id) AS q")" = \
		"new:$sid:success resumed:$sid:success resumed:$sid:success" ]
	# the stub saw the conversation grow, the CLI's replies included
	[ "$(posts)" = 3 ]
	[ "$(dialogue 0 | jq length)" = 1 ]
	[ "$(dialogue 1 | jq length)" = 3 ]
	output=$(dialogue 2)
	check 'length == 5 and (.[0] | contains("first prompt"))
		and .[1] == "stub reply 1"
		and (.[2] | contains("second prompt"))
		and .[3] == "stub reply 2"
		and (.[4] | contains("third prompt"))'
	[ "$(sql "select turns, input_tokens, output_tokens, head, status
		  from sessions")" = "3|3000|60|$sid|active" ]
	[ "$(sql "select count(*) from session_chain")" = 1 ]
}

@test "claude: 429 is transient: retried with --resume of the same conversation" {
	stub '{"fail": [429]}'
	run "$BATON" run --json --agent claude --session r1 "rate me"
	assert_status 0
	sid=$(sql "select id from sessions where name = 'r1'")
	check --arg s "$sid" '.status == "completed" and (.runs | length) == 2
		and .runs[0].resume_outcome == "new"
		and .runs[0].outcome == "transient"
		and (.runs[0].error | contains("429"))
		and .runs[1].resume_outcome == "resumed"
		and .runs[1].agent_session_in == $s
		and .runs[1].outcome == "success"'
	# the retry continued the transcript the failed call left behind
	[ "$(posts)" = 2 ]
	output=$(dialogue 1)
	check '.[0] | contains("rate me")'
	[ "$(sql "select resume_failures, head from sessions")" = "0|$sid" ]
}

@test "claude: 500 and 529 are transient and retried until the turn succeeds" {
	stub '{"fail": [500, 529]}'
	run "$BATON" run --json --agent claude "overloaded"
	assert_status 0
	check '[.runs[] | .outcome] == ["transient", "transient", "success"]
		and [.runs[] | .resume_outcome] ==
		    ["new", "resumed", "resumed"]
		and (.runs[0].error | contains("500"))
		and (.runs[1].error | contains("529"))'
	[ "$(posts)" = 3 ]
}

@test "claude: retries run out: the task fails with the CLI's words" {
	config <<-EOF
	retry: {attempts: 1, base: 10ms, max: 10ms}
	EOF
	stub '{"always": 503}'
	run "$BATON" run --json --agent claude "never"
	assert_status 1
	check '.status == "failed" and (.runs | length) == 2
		and ([.runs[] | .outcome] | unique) == ["transient"]
		and (.error | contains("API Error: 503"))'
	[ "$(posts)" = 2 ]
}

@test "claude: an error event in the middle of a stream: the CLI asks again without streaming" {
	stub '{"stream_error": {"type": "overloaded_error", "message": "Overloaded"},
	       "input_tokens": 1000, "output_tokens": 20}'
	run "$BATON" run --json --agent claude "midstream"
	assert_status 0
	# the CLI's own fallback answers the turn: one run, one success;
	# its result reports zero "usage", so the tokens come from
	# "modelUsage"
	check '[.runs[] | .outcome] == ["success"]
		and .input_tokens == 1000 and .output_tokens == 20
		and .runs[0].input_tokens == .input_tokens and .cost_usd > 0'
	[ "$(requests | jq -c '.stream' | paste -sd' ')" = "true false" ]
	[ "$(dialogue 1)" = "$(dialogue 0)" ]
	grep -q '"usage":{"input_tokens":0,' "$(files_dir)/logs/1/1.out"
}

@test "claude: a stream cut half-way is transient and retried with --resume" {
	stub '{"stream_cut": 1}'
	run "$BATON" run --json --agent claude "cut"
	assert_status 0
	check '[.runs[] | .outcome] == ["transient", "success"]
		and [.runs[] | .resume_outcome] == ["new", "resumed"]
		and (.runs[0].error | contains("ECONNRESET"))'
}

@test "claude: the API unreachable is transient" {
	config <<-EOF
	retry: {attempts: 1, base: 10ms, max: 10ms}
	EOF
	export ANTHROPIC_BASE_URL=http://127.0.0.1:1
	run "$BATON" run --json --agent claude "anyone there"
	assert_status 1
	check '(.runs | length) == 2
		and ([.runs[] | .outcome] | unique) == ["transient"]
		and (.error | contains("Unable to connect to API"))'
}

@test "claude: a deleted transcript falls back to a fresh conversation (S13)" {
	run "$BATON" run --json --agent claude --session fb "remember apples"
	assert_status 0
	sid=$(sql "select id from sessions where name = 'fb'")
	rm "$HOME"/.claude/projects/*/"$sid".jsonl
	run "$BATON" run --json --agent claude --session fb "what fruit?"
	assert_status 0
	check --arg s "$sid" '(.runs | length) == 2
		and .runs[0].resume_outcome == "resumed"
		and .runs[0].agent_session_in == $s
		and .runs[0].outcome == "resume_failed"
		and (.runs[0].error | contains("No conversation found with session ID: " + $s))
		and .runs[1].resume_outcome == "fresh_after_failed_resume"
		and .runs[1].agent_session_in != $s
		and .runs[1].outcome == "success"'
	fresh=$(jq -r '.runs[1].agent_session_in' <<<"$output")
	# the turn was repeated once, in a new conversation
	[ "$(posts)" = 2 ]
	output=$(dialogue 1)
	check 'length == 1 and (.[0] | contains("what fruit?"))
		and (.[0] | contains("apples") | not)'
	[ "$(sql "select head, resume_failures, resumable from sessions")" = \
		"$fresh|1|1" ]
	[ "$(sql "select group_concat(edge || ':' || agent_session_id, ' ')
		  from (select * from session_chain order by id) AS q")" = \
		"first:$sid fresh_after_failed_resume:$fresh" ]
	[ "$(sql "select count(*) from events where kind = 'fallback'")" = 1 ]
	# and the next task resumes the new head
	run "$BATON" run --json --agent claude --session fb "and now?"
	assert_status 0
	check --arg f "$fresh" '.runs[0].resume_outcome == "resumed"
		and .runs[0].agent_session_in == $f'
	output=$(dialogue 2)
	check 'length == 3 and (.[0] | contains("what fruit?"))'
	run "$BATON" session show fb --json
	assert_status 0
	check --arg s "$sid" --arg f "$fresh" '.head == $f
		and .resume_failures == 1 and .resumable == true
		and [.chain[] | .edge] == ["first", "fresh_after_failed_resume"]
		and .chain[0].agent_session_id == $s'
}

@test "claude: an id already in use is a resume failure answered with a fresh one" {
	id=$(cat /proc/sys/kernel/random/uuid)
	# someone already holds a conversation with this id in this directory
	echo hi | claude -p --output-format=json --session-id="$id" >/dev/null
	run "$BATON" run --json --agent claude --session "$id" "mine now"
	assert_status 0
	check --arg s "$id" '(.runs | length) == 2 and .session_id == $s
		and .runs[0].resume_outcome == "new"
		and .runs[0].outcome == "resume_failed"
		and (.runs[0].error | contains("is already in use"))
		and .runs[1].resume_outcome == "fresh_after_failed_resume"
		and .runs[1].agent_session_in != $s
		and .runs[1].outcome == "success"'
	[ "$(sql "select resume_failures from sessions")" = 1 ]
}

@test "claude: not logged in fails at once, the session keeps its id" {
	unset ANTHROPIC_API_KEY
	run "$BATON" run --json --agent claude --session nl "hello?"
	assert_status 1
	sid=$(sql "select id from sessions where name = 'nl'")
	check '.status == "failed" and (.runs | length) == 1
		and .runs[0].outcome == "config_error"
		and .error == "Not logged in · Please run /login"'
	[ "$(posts)" = 0 ]
	# logged in again, the same session goes on from its own id
	export ANTHROPIC_API_KEY=sk-ant-test-key
	run "$BATON" run --json --agent claude --session nl "hello again"
	assert_status 0
	check --arg s "$sid" '(.runs | length) == 1
		and .runs[0].outcome == "success"
		and .runs[0].agent_session_in == $s'
	[ "$(sql "select head, resume_failures from sessions")" = "$sid|0" ]
	[ "$(sql "select count(*) from events where kind = 'fallback'")" = 0 ]
}

@test "claude: an invalid API key fails at once and is not retried" {
	stub '{"always": 401}'
	run "$BATON" run --json --agent claude "let me in"
	assert_status 1
	check '.status == "failed" and (.runs | length) == 1
		and .runs[0].outcome == "config_error"
		and (.error | startswith("Invalid API key"))'
	[ "$(posts)" = 1 ]
}

@test "claude: an unknown option fails at once; the session keeps its id" {
	config <<-EOF
	retry: {attempts: 3, base: 10ms, max: 40ms}
	agents:
	  claude: {kind: claude, args: [--no-such-flag]}
	EOF
	run "$BATON" run --json --agent claude --session uo "flagged"
	assert_status 1
	sid=$(sql "select id from sessions where name = 'uo'")
	check '(.runs | length) == 1 and .runs[0].outcome == "config_error"
		and .error == "error: unknown option '"'--no-such-flag'"'"'
	[ "$(posts)" = 0 ]
	[ "$(sql "select count(*) from session_chain")" = 0 ]
	# fixed: the session's first run again, with its own id
	config <<-EOF
	agents:
	  claude: {kind: claude}
	EOF
	run "$BATON" run --json --agent claude --session uo "fixed"
	assert_status 0
	check --arg s "$sid" '.runs[0].resume_outcome == "new"
		and .runs[0].agent_session_in == $s
		and .runs[0].outcome == "success"'
	[ "$(sql "select head, resume_failures from sessions")" = "$sid|0" ]
}

@test "claude: a missing binary exits 127, the session keeps its id" {
	config <<-EOF
	agents:
	  claude: {kind: claude, command: $T/nowhere/claude}
	EOF
	run -127 "$BATON" run --agent claude --session mb "anyone?"
	assert_status 127
	sid=$(sql "select id from sessions where name = 'mb'")
	[ "$(sql "select outcome from runs")" = config_error ]
	[ "$(sql "select count(*) from runs")" = 1 ]
	[ "$(sql "select count(*) from session_chain")" = 0 ]
	config <<-EOF
	agents:
	  claude: {kind: claude}
	EOF
	run "$BATON" run --json --agent claude --session mb "found it"
	assert_status 0
	check --arg s "$sid" '.runs[0].resume_outcome == "new"
		and .runs[0].agent_session_in == $s'
}

@test "claude: parallel work on several sessions keeps the conversations apart" {
	for s in a b c; do
		"$BATON" add --agent claude --session "p$s" "one for $s" >/dev/null
	done
	for s in a b c; do
		"$BATON" add --agent claude --session "p$s" "two for $s" >/dev/null
	done
	run "$BATON" work -j 3 --until-empty
	assert_status 0
	[ "$(sql "select count(*) from tasks where status = 'completed'")" = 6 ]
	for s in a b c; do
		sid=$(sql "select id from sessions where name = 'p$s'")
		[ "$(sql "select group_concat(resume_outcome || ':' ||
			  agent_session_in, ' ') from (select * from runs
			  where session_id = '$sid' order by id) AS q")" = \
			"new:$sid resumed:$sid" ]
		[ "$(sql "select turns, head from sessions
			  where id = '$sid'")" = "2|$sid" ]
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

@test "claude: every turn runs in the directory the session was created in" {
	mkdir -p .git a b
	(cd a && "$BATON" run -q --agent claude --session wd "from a") >/dev/null
	run "$BATON" run --json --agent claude --session wd --workdir b "from b"
	assert_status 0
	check '.runs[0].resume_outcome == "resumed"
		and .runs[0].outcome == "success"'
	[ "$(requests | jq -r .cwd | sort -u)" = "$WORK/a" ]
	[ "$(dialogue 1 | jq length)" = 3 ]
}

@test "claude: ids the CLI reports (--fork-session) become the head of the chain" {
	config <<-EOF
	agents:
	  claude: {kind: claude, model: sonnet, args: [--fork-session]}
	EOF
	for p in one two three; do
		run "$BATON" run -q --agent claude --session fk "$p"
		assert_status 0
	done
	sid=$(sql "select id from sessions where name = 'fk'")
	[ "$(sql "select count(distinct agent_session_id) from session_chain")" = 3 ]
	[ "$(sql "select edge from session_chain order by id" | tr '\n' ' ')" = \
		"first resume resume " ]
	# each run resumed the newest id, and the newest is the head
	[ "$(sql "select count(*) from runs r join runs p on p.id = r.id - 1
		  where r.agent_session_in = p.agent_session_out")" = 2 ]
	[ "$(sql "select head from sessions")" = \
		"$(sql "select agent_session_id from session_chain
			order by id desc limit 1")" ]
	[ "$(sql "select CAST(head != id AS INTEGER) from sessions")" = 1 ]
	[ "$(dialogue 2 | jq length)" = 5 ]
}

@test "claude: --verbose (a JSON array of events) is read too" {
	config <<-EOF
	agents:
	  claude: {kind: claude, args: [--verbose]}
	EOF
	run "$BATON" run --json --agent claude "verbose"
	assert_status 0
	check '.runs[0].outcome == "success" and .input_tokens == 1000'
	grep -q '^\[{"type":"system"' "$(files_dir)/logs/1/1.out"
}

@test "claude: a hung API call is stopped by the timeout" {
	stub '{"delay_ms": 60000}'
	run "$BATON" run -q --agent claude --timeout 2s "hang"
	assert_status 124
	[ "$(sql "select status from tasks")" = timed_out ]
	[ "$(sql "select outcome from runs")" = timed_out ]
}

@test "claude: run -c resumes the project's last conversation, the stub sees its history" {
	run "$BATON" run -q --agent claude "hello"
	assert_status 0
	first=$(sql "select id from sessions")
	run "$BATON" run -q -c "and again"
	assert_status 0
	# a new temp session resumed the first one's conversation
	[ "$(sql "select agent_session_in, resume_outcome from runs
		  where task_id = 2")" = "$first|resumed" ]
	[ "$(sql "select kind, status, predecessor from sessions
		  where id != '$first'")" = "temp|closed|$first" ]
	[ "$(posts)" = 2 ]
	output=$(dialogue 1)
	check 'length == 3 and (.[0] | contains("hello"))
		and .[1] == "stub reply 1" and (.[2] | contains("and again"))'
}

@test "claude: session fork branches the conversation with --fork-session" {
	run "$BATON" run -q --agent claude --session trunk "the trunk"
	assert_status 0
	sid=$(sql "select id from sessions where name = 'trunk'")
	run "$BATON" session fork trunk branch
	assert_status 0
	run "$BATON" run -q --session branch "on the branch"
	assert_status 0
	# the branch saw the trunk's history, under a new id (edge fork)
	output=$(dialogue 1)
	check 'length == 3 and (.[0] | contains("the trunk"))
		and (.[2] | contains("on the branch"))'
	new=$(sql "select head from sessions where name = 'branch'")
	[ -n "$new" ]
	[ "$new" != "$sid" ]
	[ "$(sql "select group_concat(edge, ' ') from (select edge from
		  session_chain c join sessions s on s.id = c.session_id
		  where s.name = 'branch' order by c.id) AS q")" = "fork fork" ]
	# the trunk goes on without the branch's turn
	run "$BATON" run -q --session trunk "trunk again"
	assert_status 0
	output=$(dialogue 2)
	check 'length == 3 and (.[2] | contains("trunk again"))'
	[ "$(sql "select head from sessions where name = 'trunk'")" = "$sid" ]
}

@test "claude: --max-cost is the CLI's own budget; its stop is budget_exceeded and never retried" {
	# a million input tokens: dollars a turn, over any budget below
	stub '{"input_tokens": 1000000, "output_tokens": 20}'
	run --separate-stderr "$BATON" run --agent claude --max-cost 1 \
		--retries 2 'spend'
	assert_status 1
	[[ "$stderr" == *"Reached maximum budget"* ]]
	run "$BATON" show --json 1
	check '.status == "failed" and .reason == "budget_exceeded"
		and .attempts == 1 and (.runs | length) == 1
		and .cost_usd > 1 and .runs[0].input_tokens == 1000000'
	# the CLI stopped after its one request; no retry asked again
	[ "$(posts)" = 1 ]
}

@test "claude: a budget spent over iterations stops the task between turns" {
	stub '{"input_tokens": 100000, "output_tokens": 20}'
	run "$BATON" run -q --agent claude --max-cost 0.5 --check false \
		--max-iterations 10 'iterate'
	assert_status 1
	run "$BATON" show --json 1
	check '.status == "failed" and .reason == "budget_exceeded"
		and (.runs | length) < 10 and (.runs | length) >= 1'
	# every request the CLI sent is a recorded turn: nothing ran unpaid
	[ "$(posts)" = "$(sql 'select count(*) from runs')" ]
}
