#!/usr/bin/env bats
# The codex agent with tests/agents/fake-codex standing in for the CLI,
# for what the real one cannot be made to do on demand: forked or
# invalid thread ids, garbage, truncated, empty or huge output, a hang,
# a crash mid-output.  The fake takes the real arguments and keeps
# threads like the CLI (rollout files, UUIDv7 ids, running usage totals;
# see the script's header for its modes).

bats_require_minimum_version 1.5.0

load lib
load npm-agent

local_setup() {
	fake_agent_setup codex
	export CODEX_HOME=$T/codex-home
	config <<-EOF
	retry: {attempts: 2, base: 10ms, max: 20ms}
	agents:
	  codex:
	    kind: codex
	    command: $AGENTS/fake-codex
	    model: gpt-5
	    args: [--sandbox=workspace-write]
	    price: {input: 1.25, cached_input: 0.125, output: 10}
	EOF
	WORK=$(pwd -P)
}

@test "codex-fake: argv: exec, options, resume of the thread it reported, prompt on stdin" {
	prompt=$'--help "$(touch pwned)" `id` \'q\'\n; rm -rf /\nline 3'
	run "$BATON" run --json --agent codex --session argv -- "$prompt"
	assert_status 0
	check '.runs[0].agent_session_in == null
		and .runs[0].resume_outcome == "new"'
	tid=$(jq -r '.runs[0].agent_session_out' <<<"$output")
	[ "$(args_of 1 | tr '\n' ' ')" = \
		"exec --json --skip-git-repo-check --model=gpt-5 --sandbox=workspace-write - " ]
	[ "$(cat "$FAKE_CODEX_LOG.stdin")" = "$prompt" ]
	[ ! -e pwned ]
	# the session's pinned model, resume of the head; exec's options
	# (--sandbox) stay before resume, where the CLI takes them
	run "$BATON" run -q --agent codex --session argv --model o3 "again"
	assert_status 0
	[ "$(args_of 2 | tr '\n' ' ')" = \
		"exec --json --skip-git-repo-check --model=gpt-5 --sandbox=workspace-write resume $tid - " ]
	[ "$(cwd_of 1)" = "$WORK" ]
	[ "$(cwd_of 2)" = "$WORK" ]
}

@test "codex-fake: the thread id codex reports is the first link, then resumed" {
	run "$BATON" run --json --agent codex --session ch "one"
	assert_status 0
	sid=$(sql "select id from sessions")
	tid=$(jq -r '.runs[0].agent_session_out' <<<"$output")
	[[ $tid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]
	[ "$tid" != "$sid" ]
	[ "$(sql "select edge || ':' || agent_session_id from session_chain")" = \
		"first:$tid" ]
	run "$BATON" run --json --agent codex --session ch "two"
	assert_status 0
	check --arg t "$tid" '.runs[0].resume_outcome == "resumed"
		and .runs[0].agent_session_in == $t
		and .runs[0].agent_session_out == $t'
	[ "$(sql "select count(*) from session_chain")" = 1 ]
	[ "$(sql "select head, turns from sessions")" = "$tid|2" ]
}

@test "codex-fake: usage is the turn's own, not the thread's running totals" {
	run "$BATON" run --json --agent codex --session u "one"
	assert_status 0
	# turn 1: 100 input of which 40 cached, 5 output
	check '.input_tokens == 60 and .output_tokens == 5
		and .runs[0].cost_usd == 0.000130'
	run "$BATON" run --json --agent codex --session u "two"
	assert_status 0
	# turn 2: 200 of which 40 cached; the CLI said 300 (its totals)
	check '.input_tokens == 160 and .output_tokens == 5'
	run "$BATON" run --json --agent codex --session u "three"
	check '.input_tokens == 260 and .output_tokens == 5'
	[ "$(sql "select turns, input_tokens, cache_read_tokens, output_tokens
		  from sessions")" = "3|480|120|15" ]
	[ "$(sql "select round(cost_usd, 6) from sessions")" = 0.000765 ]
	[ "$(sql "select group_concat(num_turns) from runs")" = "1,1,1" ]
}

@test "codex-fake: a thread continued under a new id becomes the head" {
	run "$BATON" run -q --agent codex --session fk "one"
	tid=$(sql "select head from sessions")
	modes fork
	run "$BATON" run --json --agent codex --session fk "two"
	assert_status 0
	new=$(jq -r '.runs[0].agent_session_out' <<<"$output")
	[ "$new" != "$tid" ]
	check --arg t "$tid" '.runs[0].agent_session_in == $t
		and .runs[0].resume_outcome == "resumed"
		and .input_tokens == 160'
	[ "$(sql "select edge || ':' || agent_session_id from session_chain
		  order by id" | tr '\n' ' ')" = "first:$tid resume:$new " ]
	run "$BATON" run -q --agent codex --session fk "three"
	assert_status 0
	args_of 3 | grep -qx -- "$new"
}

@test "codex-fake: a thread id that is not a UUID is bad output, not a head" {
	modes badid
	run "$BATON" run --json --agent codex --session bi "one"
	assert_status 1
	check '.runs[0].outcome == "bad_output" and (.runs | length) == 1
		and (.error | contains("not-a-uuid"))
		and (.error | contains("not a UUID"))
		and .input_tokens == 60'
	[ "$(sql "select count(*) from session_chain")" = 0 ]
	[ "$(sql "select CAST(head IS NULL AS INTEGER) from sessions")" = 1 ]
	# the next task starts a conversation of its own
	run "$BATON" run --json --agent codex --session bi "two"
	assert_status 0
	check '.runs[0].resume_outcome == "new"'
}

@test "codex-fake: a new conversation without thread.started is bad output" {
	modes noid
	run "$BATON" run --json --agent codex "one"
	assert_status 1
	check '.runs[0].outcome == "bad_output"
		and (.error | contains("no thread.started event"))'
}

@test "codex-fake: garbage on stdout is an agent error carrying stderr's line" {
	modes garbage
	run "$BATON" run --json --agent codex "x"
	assert_status 1
	check '.status == "failed" and .runs[0].outcome == "bad_output"
		and (.error | contains("not JSON lines"))
		and (.error | contains("fake-codex: printed garbage"))
		and (.runs | length) == 1'
}

@test "codex-fake: truncated output with a failure exit is a failed turn" {
	modes truncated
	run "$BATON" run --json --agent codex --session tr "x"
	assert_status 1
	check '.runs[0].outcome == "failed"
		and (.error | contains("exit status 1"))
		and (.error | contains("fake-codex: cut short"))'
	# the thread it started is kept: the next turn resumes it
	tid=$(jq -r '.runs[0].agent_session_out' <<<"$output")
	[ "$(sql "select head from sessions")" = "$tid" ]
	run "$BATON" run --json --agent codex --session tr "y"
	assert_status 0
	check --arg t "$tid" '.runs[0].agent_session_in == $t'
}

@test "codex-fake: no output, or no finished turn, is an agent error" {
	modes empty noturn
	run "$BATON" run --json --agent codex "x"
	assert_status 1
	check '.runs[0].outcome == "bad_output" and (.error | contains("no output"))'
	run "$BATON" run --json --agent codex "y"
	assert_status 1
	check '.runs[0].outcome == "bad_output"
		and (.error | contains("no turn.completed event"))'
}

@test "codex-fake: a crash mid-output is a failed turn naming the signal" {
	modes crash
	run "$BATON" run --json --agent codex "x"
	assert_status 1
	check '.runs[0].outcome == "failed" and .runs[0].signal == 11
		and (.error | contains("killed by signal 11"))
		and (.error | contains("fake-codex: about to crash"))'
}

@test "codex-fake: a hang is stopped by the timeout" {
	modes hang
	run -124 "$BATON" run -q --agent codex --timeout 1s "x"
	[ "$(sql "select status from tasks")" = timed_out ]
	[ "$(sql "select outcome from runs")" = timed_out ]
	pid=$(sql "select pid from runs")
	[ -n "$pid" ]
	refute kill -0 "$pid"
}

@test "codex-fake: 70 MB of output is refused" {
	modes huge
	run "$BATON" run --json --agent codex "x"
	assert_status 1
	check '.runs[0].outcome == "bad_output"
		and (.error | contains("too large"))'
}

@test "codex-fake: a 2 MB answer, reconnects and a non-zero exit after a completed turn are fine" {
	modes bigok reconnect exit3ok
	run "$BATON" run -q --agent codex --session ok "x"
	assert_status 0
	run "$BATON" run --json --agent codex --session ok "y"
	assert_status 0
	check '.runs[0].outcome == "success" and .runs[0].error == null'
	run "$BATON" run --json --agent codex --session ok "z"
	assert_status 0
	check '.status == "completed" and .runs[0].exit_code == 3'
}

@test "codex-fake: rate limits, 5xx, overload and dropped streams are retried, resuming the thread" {
	config <<-EOF
	retry: {attempts: 5, base: 10ms, max: 20ms}
	agents:
	  codex: {kind: codex, command: $AGENTS/fake-codex}
	EOF
	modes 429 500 overloaded disconnect ok
	run "$BATON" run --json --agent codex --session tr "x"
	assert_status 0
	check '[.runs[] | .outcome] ==
		    ["transient", "transient", "transient", "transient",
		     "success"]
		and [.runs[] | .resume_outcome] ==
		    ["new", "resumed", "resumed", "resumed", "resumed"]
		and (.runs[0].error | contains("429 Too Many Requests"))
		and (.runs[1].error | contains("unexpected status 500"))
		and (.runs[2].error | contains("high demand"))
		and (.runs[3].error | contains("stream disconnected"))'
	# the failed first turn started the thread: every retry resumed it
	tid=$(jq -r '.runs[0].agent_session_out' <<<"$output")
	for n in 2 3 4 5; do
		[ "$(args_of $n | tail -n 2 | head -n 1)" = "$tid" ]
	done
	[ "$(sql "select count(*) from session_chain")" = 1 ]
	[ "$(sql "select resume_failures from sessions")" = 0 ]
}

@test "codex-fake: retries run out: the task fails with the CLI's words" {
	export FAKE_CODEX_MODE=503
	run "$BATON" run --json --agent codex "never"
	assert_status 1
	check '.status == "failed" and (.runs | length) == 3
		and ([.runs[] | .outcome] | unique) == ["transient"]
		and (.error | startswith("unexpected status 503"))'
}

@test "codex-fake: a lost rollout falls back to a fresh thread (S13)" {
	run "$BATON" run -q --agent codex --session fb "one"
	tid=$(sql "select head from sessions")
	modes lost
	run "$BATON" run --json --agent codex --session fb "two"
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
	# the turn was repeated once, as a new thread, with the same prompt
	[ "$(args_of 3 | tr '\n' ' ')" = \
		"exec --json --skip-git-repo-check --model=gpt-5 --sandbox=workspace-write - " ]
	[ "$(sql "select head, resume_failures, resumable from sessions")" = \
		"$fresh|1|1" ]
	[ "$(sql "select group_concat(edge || ':' || agent_session_id, ' ')
		  from (select * from session_chain order by id) AS q")" = \
		"first:$tid fresh_after_failed_resume:$fresh" ]
	[ "$(sql "select count(*) from events where kind = 'fallback'")" = 1 ]
}

@test "codex-fake: 'No saved session found' is a resume failure too" {
	run "$BATON" run -q --agent codex --session ns "one"
	modes nosession
	run "$BATON" run --json --agent codex --session ns "two"
	assert_status 0
	check '[.runs[] | .outcome] == ["resume_failed", "success"]
		and (.runs[0].error | contains("No saved session found with ID"))'
}

@test "codex-fake: a rejected API key fails at once; the thread is kept" {
	modes unauthorized
	run "$BATON" run --json --agent codex --session ua "x"
	assert_status 1
	check '(.runs | length) == 1 and .runs[0].outcome == "config_error"
		and (.error | contains("401 Unauthorized"))'
	tid=$(jq -r '.runs[0].agent_session_out' <<<"$output")
	[ "$(sql "select head, resume_failures from sessions")" = "$tid|0" ]
	run "$BATON" run --json --agent codex --session ua "y"
	assert_status 0
	check --arg t "$tid" '.runs[0].agent_session_in == $t
		and .runs[0].resume_outcome == "resumed"'
}

@test "codex-fake: an unknown argument or no quota fails at once" {
	modes unknown-arg quota
	run "$BATON" run --json --agent codex --session uo "x"
	assert_status 1
	check '(.runs | length) == 1 and .runs[0].outcome == "config_error"
		and .error == "error: unexpected argument '"'--no-such-flag'"' found"'
	[ "$(sql "select count(*) from session_chain")" = 0 ]
	run "$BATON" run --json --agent codex "y"
	assert_status 1
	check '(.runs | length) == 1 and .runs[0].outcome == "config_error"
		and (.error | startswith("Quota exceeded"))'
}

@test "codex-fake: a turn that failed for no known reason is not retried" {
	modes failed ok
	run "$BATON" run --json --agent codex "x"
	assert_status 1
	check '(.runs | length) == 1 and .runs[0].outcome == "failed"
		and .error == "the fake cannot do that"'
}

@test "codex-fake: a missing binary exits 127" {
	config <<-EOF
	agents:
	  codex: {kind: codex, command: $T/nowhere/codex}
	EOF
	run -127 "$BATON" run --agent codex --session mb "anyone?"
	assert_status 127
	[ "$(sql "select outcome from runs")" = config_error ]
	[ "$(sql "select count(*) from session_chain")" = 0 ]
}

@test "codex-fake: every turn runs in the task's workdir; the thread follows" {
	mkdir -p .git a b
	run "$BATON" run -q --agent codex --session wd --workdir a "from a"
	assert_status 0
	run "$BATON" run --json --agent codex --session wd --workdir b "from b"
	assert_status 0
	check '.runs[0].resume_outcome == "resumed"'
	[ "$(cwd_of 1)" = "$WORK/a" ]
	[ "$(cwd_of 2)" = "$WORK/b" ]
}

@test "codex-fake: parallel work on several sessions keeps the threads apart" {
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
		head=$(sql "select head from sessions where id = '$sid'")
		[ "$(sql "select group_concat(resume_outcome || ':' ||
			  coalesce(agent_session_in, '-') || ':' ||
			  agent_session_out, ' ') from (select * from runs
			  where session_id = '$sid' order by id) AS q")" = \
			"new:-:$head resumed:$head:$head" ]
		[ "$(sql "select turns, input_tokens from sessions
			  where id = '$sid'")" = "2|220" ]
	done
}

@test "codex-fake: session fork is refused: codex exec cannot branch a conversation" {
	run "$BATON" run -q --agent codex --session cx "one"
	assert_status 0
	id=$(sql "select id from sessions where name = 'cx'")
	run "$BATON" session fork cx branch
	assert_status 1
	assert_contains "baton: cannot fork session cx ($id): the codex agent cannot branch a conversation"
	[ "$(sql "select count(*) from sessions")" = 1 ]
}
