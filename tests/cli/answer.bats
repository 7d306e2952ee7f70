#!/usr/bin/env bats
# The agent's answer (SPEC §3): `run` prints it instead of what the agent
# printed (--raw: that instead), runs store it, show and the JSON shapes
# carry it, and secrets in it come out [REDACTED].

bats_require_minimum_version 1.5.0

load lib
load npm-agent

TOKEN=sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abc

local_setup() {
	fake_agent_setup claude
	export CODEX_HOME=$T/codex-home FAKE_CODEX_LOG=$T/codex.log
	# A command agent: prints a line on each stream, then, by its
	# prompt: "none" writes no result file, "noresult" one without a
	# result, "secrets" an answer made of its secrets, "fail" fails
	# saying its secret; anything else is its own answer.
	cat >"$T/agent" <<-'EOF2'
	#!/bin/sh
	prompt=$(cat)
	if [ "$prompt" = fail ]; then
		echo "cannot log in with $PROFILE_VALUE" >&2
		exit 1
	fi
	echo "printed by the agent"
	echo "said on stderr" >&2
	case $prompt in
	none) ;;
	noresult) echo '{"input_tokens": 3}' >"$BATON_RESULT_FILE" ;;
	secrets)
		printf '{"result": "p=%s c=%s t=%s"}' "$PROFILE_VALUE" \
			"$FOO_API_KEY" "$TOKEN" >"$BATON_RESULT_FILE" ;;
	*) printf '{"result": "%s"}' "$prompt" >"$BATON_RESULT_FILE" ;;
	esac
	EOF2
	chmod +x "$T/agent"
	export TOKEN
	write_config
}

# The config, with $1 appended (e.g. a logs: section).
write_config() {
	config <<-EOF
	agents:
	  claude: {kind: claude, command: $AGENTS/fake-claude}
	  codex: {kind: codex, command: $AGENTS/fake-codex}
	  cmd:
	    kind: command
	    command: [$T/agent]
	    env: {PROFILE_VALUE: canary-profile-value-123}
	${1:-}
	EOF
}

# `baton run ARGS...` with stdout in $T/out and stderr in $T/err.
run_split() {
	local rc=0
	"$BATON" run "$@" >"$T/out" 2>"$T/err" || rc=$?
	return "$rc"
}

@test "answer: run with claude prints only the answer; --raw the CLI's JSON" {
	run_split --agent claude 'say hi'
	[ "$(cat "$T/out")" = "fake reply 1" ]
	# exactly the answer and one newline
	[ "$(wc -c <"$T/out")" = 13 ]
	run_split --raw --agent claude 'say hi'
	jq -e '.type == "result" and .result == "fake reply 1"' "$T/out"
	run_split -q --agent claude 'say hi'
	[ ! -s "$T/out" ]
}

@test "answer: run with codex prints the last agent message" {
	run_split --agent codex 'say hi'
	[ "$(cat "$T/out")" = "fake reply 1" ]
	run_split --raw --agent codex 'say hi'
	grep -q '"type":"item.completed"' "$T/out"
}

@test "answer: the shell agent's output streams, and it has no answer" {
	run_split 'echo one; echo two >&2'
	[ "$(cat "$T/out")" = one ]
	[ "$(cat "$T/err")" = two ]
	run "$BATON" show --json 1
	check '.answer == null and .runs[0].answer == null'
	run "$BATON" show 1
	assert_not_contains "answer:"
}

@test "answer: a command agent's result is its answer; without one its output shows" {
	run_split --agent cmd hi
	[ "$(cat "$T/out")" = hi ]
	# stderr still reaches the terminal as it comes
	[ "$(cat "$T/err")" = "said on stderr" ]
	run_split --agent cmd none
	[ "$(cat "$T/out")" = "printed by the agent" ]
	run_split --agent cmd noresult
	[ "$(cat "$T/out")" = "printed by the agent" ]
	run_split --raw --agent cmd hi
	[ "$(cat "$T/out")" = "printed by the agent" ]
	[ "$(sql "SELECT count(*) FROM runs WHERE answer IS NULL")" = 2 ]
}

@test "answer: show prints the last answer; the JSON shapes carry it" {
	"$BATON" run -q --agent cmd first
	"$BATON" run -q --agent claude second
	run "$BATON" show 2
	assert_status 0
	assert_contains $'answer:\nfake reply 1\n'
	run "$BATON" show --json 1
	check '.answer == "first" and .runs[0].answer == "first"'
	run "$BATON" status --json
	check '[.[].answer] == ["first", "fake reply 1"]'
	run "$BATON" run --json --agent cmd third
	check '.answer == "third" and .runs[0].answer == "third"'
}

@test "answer: a long answer is kept up to 1 MiB with a marker" {
	modes bigok
	run_split --agent claude big
	[ "$(sql "SELECT CASE WHEN length(answer) > 1048576 AND
		length(answer) < 1048700 THEN 1 ELSE 0 END FROM runs")" = 1 ]
	sql "SELECT answer FROM runs" | tail -n 1 |
		grep -Eq '^\[answer truncated: [0-9]+ bytes\]$'
	tail -n 1 "$T/out" | grep -q '^\[answer truncated'
}

@test "answer: secrets in answers and errors come out [REDACTED]" {
	FOO_API_KEY=canary-caller-key-456 run_split --agent cmd secrets
	[ "$(cat "$T/out")" = "p=[REDACTED] c=[REDACTED] t=[REDACTED]" ]
	[ "$(sql "SELECT answer FROM runs")" = \
		"p=[REDACTED] c=[REDACTED] t=[REDACTED]" ]
	FAKE_CLAUDE_ANSWER="your key is $TOKEN" run_split --agent claude key
	[ "$(cat "$T/out")" = "your key is [REDACTED]" ]
	run ! run_split --agent cmd fail
	run "$BATON" show --json 3
	check '.error == "exited with status 1: cannot log in with [REDACTED]"
		and .runs[0].error == .error'
	grep -q "^baton: task 3 failed: .*cannot log in with \[REDACTED\]" \
		"$T/err"
	# (the agent's own stderr streams as it printed it, like its logs)
	refute grep -q canary- "$T/out"
	[ "$(grep "^baton:" "$T/err" | grep -c canary-)" = 0 ]
	[ "$(sql "SELECT count(*) FROM runs WHERE answer LIKE '%canary%'
		OR error LIKE '%canary%' OR answer LIKE '%sk-ant%'")" = 0 ]
}

@test "answer: logs.redact false keeps secrets as they are" {
	write_config "logs: {redact: false}"
	FOO_API_KEY=canary-caller-key-456 run_split --agent cmd secrets
	[ "$(cat "$T/out")" = \
		"p=canary-profile-value-123 c=canary-caller-key-456 t=$TOKEN" ]
}
