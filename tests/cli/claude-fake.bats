#!/usr/bin/env bats
# The claude agent with tests/agents/fake-claude standing in for the CLI,
# for what the real one cannot be made to do on demand: forked ids,
# garbage, truncated, empty or huge output, a hang, a crash mid-output.
# The fake takes the real flags and keeps conversations like the CLI
# (see the script's header for its modes).

bats_require_minimum_version 1.5.0

load lib
load npm-agent

local_setup() {
	fake_agent_setup claude
	config <<-EOF
	retry: {attempts: 2, base: 10ms, max: 20ms}
	agents:
	  claude:
	    kind: claude
	    command: $AGENTS/fake-claude
	    model: sonnet
	    args: [--permission-mode=acceptEdits]
	EOF
	WORK=$(pwd -P)
}

@test "claude-fake: argv: single --flag=value tokens, session id then resume, prompt on stdin" {
	prompt=$'--help "$(touch pwned)" `id` \'q\'\n; rm -rf /\nline 3'
	run "$BATON" run -q --agent claude --session argv -- "$prompt"
	assert_status 0
	sid=$(sql "select id from sessions")
	[ "$(args_of 1 | tr '\n' ' ')" = \
		"-p --output-format=json --session-id=$sid --model=sonnet --permission-mode=acceptEdits " ]
	[ "$(cat "$FAKE_CLAUDE_LOG.stdin")" = "$prompt" ]
	[ ! -e pwned ]
	run "$BATON" run -q --agent claude --session argv --model opus "again"
	assert_status 0
	# the session's pinned model, --resume of the head
	[ "$(args_of 2 | tr '\n' ' ')" = \
		"-p --output-format=json --resume=$sid --model=sonnet --permission-mode=acceptEdits " ]
	[ "$(grep -c "^cwd=$WORK\$" "$FAKE_CLAUDE_LOG")" = 2 ]
}

@test "claude-fake: usage is added to the run, the task and the session" {
	run "$BATON" run --json --agent claude --session u "one"
	assert_status 0
	check '.input_tokens == 10 and .output_tokens == 5
		and .runs[0].input_tokens == 10 and .runs[0].cost_usd > 0'
	run "$BATON" run --json --agent claude --session u "two"
	check '.input_tokens == 20 and .output_tokens == 5'
	[ "$(sql "select turns, input_tokens, output_tokens, cache_read_tokens,
		  cache_creation_tokens from sessions")" = "2|30|10|4|2" ]
	[ "$(sql "select round(cost_usd, 5) from sessions")" = 0.0032 ]
}

@test "claude-fake: a forked id becomes the head with edge resume; the next run resumes it" {
	run "$BATON" run -q --agent claude --session fk "one"
	sid=$(sql "select id from sessions")
	modes fork
	run "$BATON" run --json --agent claude --session fk "two"
	assert_status 0
	new=$(jq -r '.runs[0].agent_session_out' <<<"$output")
	[ "$new" != "$sid" ]
	check --arg s "$sid" '.runs[0].agent_session_in == $s
		and .runs[0].resume_outcome == "resumed"'
	[ "$(sql "select edge || ':' || agent_session_id from session_chain
		  order by id" | tr '\n' ' ')" = "first:$sid resume:$new " ]
	[ "$(sql "select head from sessions")" = "$new" ]
	run "$BATON" run -q --agent claude --session fk "three"
	assert_status 0
	args_of 3 | grep -qx -- "--resume=$new"
}

@test "claude-fake: an id reported on a first run that differs is a fork" {
	modes fork
	run "$BATON" run --json --agent claude --session f1 "one"
	assert_status 0
	sid=$(sql "select id from sessions")
	new=$(jq -r '.runs[0].agent_session_out' <<<"$output")
	[ "$(sql "select edge || ':' || agent_session_id from session_chain
		  order by id" | tr '\n' ' ')" = "first:$sid fork:$new " ]
}

@test "claude-fake: a reported id that is not a UUID is bad output, not a head" {
	modes badid
	run "$BATON" run --json --agent claude --session bi "one"
	assert_status 1
	check '.runs[0].outcome == "bad_output" and (.runs | length) == 1
		and (.error | contains("not-a-uuid"))
		and (.error | contains("not a UUID"))
		and .input_tokens == 10'
	[ "$(sql "select count(*) from session_chain
		  where agent_session_id = 'not-a-uuid'")" = 0 ]
}

@test "claude-fake: garbage on stdout is an agent error carrying stderr's first line" {
	modes garbage
	run "$BATON" run --json --agent claude "x"
	assert_status 1
	check '.status == "failed" and .runs[0].outcome == "bad_output"
		and (.error | contains("not JSON"))
		and (.error | contains("fake-claude: printed garbage"))
		and (.runs | length) == 1'
}

@test "claude-fake: truncated output is an agent error" {
	modes truncated
	run "$BATON" run --json --agent claude "x"
	assert_status 1
	check '.runs[0].outcome == "bad_output"
		and (.error | contains("exit status 1"))
		and (.error | contains("fake-claude: cut short"))'
}

@test "claude-fake: no output at all is an agent error" {
	modes empty
	run "$BATON" run --json --agent claude "x"
	assert_status 1
	check '.runs[0].outcome == "bad_output" and (.error | contains("no output"))'
}

@test "claude-fake: a crash mid-output is an agent error naming the signal" {
	modes crash
	run "$BATON" run --json --agent claude "x"
	assert_status 1
	check '.runs[0].outcome == "bad_output" and .runs[0].signal == 11
		and (.error | contains("killed by signal 11"))
		and (.error | contains("fake-claude: about to crash"))'
}

@test "claude-fake: a hang is stopped by the timeout" {
	modes hang
	run -124 "$BATON" run -q --agent claude --timeout 1s "x"
	[ "$(sql "select status from tasks")" = timed_out ]
	[ "$(sql "select outcome from runs")" = timed_out ]
	pid=$(sql "select pid from runs")
	[ -n "$pid" ]
	refute kill -0 "$pid"
}

@test "claude-fake: 70 MB of output is refused without reading it all" {
	modes huge
	run "$BATON" run --json --agent claude "x"
	assert_status 1
	check '.runs[0].outcome == "bad_output"
		and (.error | contains("too large"))'
}

@test "claude-fake: a 2 MB answer is fine" {
	modes bigok
	run "$BATON" run -q --agent claude "x"
	assert_status 0
}

@test "claude-fake: a JSON array of events and JSON lines are read" {
	modes array lines
	run "$BATON" run --json --agent claude --session ar "x"
	assert_status 0
	check '.runs[0].outcome == "success" and .input_tokens == 10'
	run "$BATON" run --json --agent claude --session ar "y"
	assert_status 0
	check '.runs[0].outcome == "success" and .input_tokens == 20'
}

@test "claude-fake: a non-zero exit with a successful result object succeeds" {
	modes exit3ok
	run "$BATON" run --json --agent claude "x"
	assert_status 0
	check '.status == "completed" and .runs[0].exit_code == 3'
}

@test "claude-fake: a transient failure on a first run is retried with --resume" {
	modes 529 429 ok
	run "$BATON" run --json --agent claude --session tr "x"
	assert_status 0
	sid=$(sql "select id from sessions")
	check '[.runs[] | .outcome] == ["transient", "transient", "success"]'
	args_of 1 | grep -qx -- "--session-id=$sid"
	args_of 2 | grep -qx -- "--resume=$sid"
	args_of 3 | grep -qx -- "--resume=$sid"
}

@test "claude-fake: past the resume failure limit a session is not resumable" {
	config <<-EOF
	retry: {attempts: 2, base: 10ms, max: 20ms}
	sessions: {resume_failure_limit: 1}
	agents:
	  claude: {kind: claude, command: $AGENTS/fake-claude}
	EOF
	run "$BATON" run -q --agent claude --session lim "one"
	sid=$(sql "select id from sessions")
	modes lost
	run "$BATON" run --json --agent claude --session lim "two"
	assert_status 0
	check '[.runs[] | .outcome] == ["resume_failed", "success"]
		and [.runs[] | .resume_outcome] ==
		    ["resumed", "fresh_after_failed_resume"]'
	[ "$(sql "select resume_failures, resumable from sessions")" = "1|0" ]
	# not resumable: the next turn starts a fresh conversation again
	run "$BATON" run --json --agent claude --session lim "three"
	assert_status 0
	check '.runs[0].resume_outcome == "fresh_after_failed_resume"'
	args_of 4 | grep -q -- "--session-id="
	[ "$(args_of 4 | grep -c -- "--resume=")" = 0 ]
}

@test "claude-fake: a resume failure is repeated only once" {
	run "$BATON" run -q --agent claude --session once "one"
	# the resume fails, and so does the fresh start
	modes lost inuse ok
	run "$BATON" run --json --agent claude --session once "two"
	assert_status 1
	check '(.runs | length) == 2
		and [.runs[] | .outcome] == ["resume_failed", "resume_failed"]
		and (.error | contains("is already in use"))'
	[ "$(sql "select resume_failures from sessions")" = 2 ]
}

@test "claude-fake: not logged in keeps the session's id and is not retried" {
	modes nologin
	run "$BATON" run --json --agent claude --session nl "x"
	assert_status 1
	check '(.runs | length) == 1 and .runs[0].outcome == "config_error"
		and (.error | startswith("Not logged in"))'
	sid=$(sql "select id from sessions")
	run "$BATON" run --json --agent claude --session nl "y"
	assert_status 0
	check --arg s "$sid" '.runs[0].agent_session_in == $s
		and .runs[0].outcome == "success"'
	[ "$(sql "select resume_failures from sessions")" = 0 ]
}

@test "claude-fake: huge stderr does not hurt" {
	cat >"$T/noisy" <<-EOF
	#!/bin/sh
	head -c 5000000 /dev/zero | tr '\0' 'e' >&2
	exec "$AGENTS/fake-claude" "\$@"
	EOF
	chmod +x "$T/noisy"
	config <<-EOF
	agents:
	  claude: {kind: claude, command: $T/noisy}
	EOF
	run "$BATON" run -q --agent claude "x"
	assert_status 0
}

@test "claude-fake: session fork: the first turn resumes the parent's head with --fork-session" {
	run "$BATON" run -q --agent claude --session parent "one"
	assert_status 0
	sid=$(sql "select id from sessions where name = 'parent'")
	run "$BATON" session fork parent child
	assert_status 0
	assert_contains "forked parent into child"
	child=$(sql "select id from sessions where name = 'child'")
	[ "$(sql "select kind, agent, model, predecessor, head from sessions
		  where name = 'child'")" = "named|claude|sonnet|$sid|$sid" ]
	[ "$(sql "select count(*) from events where kind = 'fork'")" = 2 ]
	run "$BATON" run -q --session child "two"
	assert_status 0
	[ "$(args_of 2 | tr '\n' ' ')" = \
		"-p --output-format=json --resume=$sid --fork-session --model=sonnet --permission-mode=acceptEdits " ]
	new=$(sql "select head from sessions where name = 'child'")
	[ "$new" != "$sid" ]
	[ "$(sql "select edge || ':' || agent_session_id from session_chain
		  where session_id = '$child' order by id" | tr '\n' ' ')" = \
		"fork:$sid fork:$new " ]
	# later turns resume the branch; the parent keeps its own head
	run "$BATON" run -q --session child "three"
	assert_status 0
	[ "$(args_of 3 | tr '\n' ' ')" = \
		"-p --output-format=json --resume=$new --model=sonnet --permission-mode=acceptEdits " ]
	run "$BATON" run -q --session parent "four"
	assert_status 0
	[ "$(args_of 4 | grep -c -- --fork-session)" = 0 ]
	[ "$(sql "select head from sessions where name = 'parent'")" = "$sid" ]
	# S8: NEW must not exist
	run "$BATON" session fork parent child
	assert_status 1
	assert_contains "cannot fork into child: session child ($child) exists"
	run "$BATON" session fork nosuch other
	assert_status 2
	assert_contains "no session 'nosuch'"
	"$BATON" session init empty --agent claude >/dev/null
	run "$BATON" session fork empty other
	assert_status 1
	assert_contains "cannot fork session empty ("
	assert_contains "): it has no conversation yet"
}

@test "claude-fake: run -c after a temp session resumes its head in a new temp session" {
	run "$BATON" run -q --agent claude "one"
	assert_status 0
	sid=$(sql "select id from sessions")
	run "$BATON" run -q --continue "two"
	assert_status 0
	[ "$(args_of 2 | tr '\n' ' ')" = \
		"-p --output-format=json --resume=$sid --model=sonnet --permission-mode=acceptEdits " ]
	run "$BATON" run -q -c "three"
	assert_status 0
	[ "$(args_of 3 | grep -c -- "--resume=$sid")" = 1 ]
	[ "$(sql "select count(*) from sessions where kind = 'temp' and
		  status = 'closed'")" = 3 ]
	[ "$(sql "select count(*) from events where kind = 'continue'")" = 2 ]
}
