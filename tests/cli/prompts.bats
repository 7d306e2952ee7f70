#!/usr/bin/env bats
# Prompts reach the agent byte for byte on its stdin, never through argv
# or a shell built by baton (SPEC §3): a 10 MB prompt, quotes, $(),
# backticks, a leading --.

bats_require_minimum_version 1.5.0

load lib
load orch

local_setup() {
	fake_config
}

# The stdin the fake agent got for task $1.
got() {
	cat "$T"/rec/$1.*.stdin
}

# Nothing a prompt tried to run has run.
nothing_ran() {
	local f

	for f in "$T/work/pwned" "$T/pwned" "$T/work/pwned2"; do
		if [ -e "$f" ]; then
			echo "a prompt ran something: $f exists" >&2
			return 1
		fi
	done
}

NASTY=(-- '--json' '-q' '$(touch pwned)' '`touch pwned2`' "it's" '"quoted"'
	'a\b' '$HOME' '{session_id}' '; touch pwned' '|' '&&' '>' 'x')

@test "a 10 MB prompt reaches the agent byte for byte (run and work)" {
	head -c 7864320 /dev/urandom | base64 > "$T/big"
	[ "$(stat -c %s "$T/big")" -gt 10000000 ]
	run "$BATON" -q run --prompt-file "$T/big"
	assert_status 0
	cmp "$T/big" <(got 1)
	"$BATON" add --prompt-file "$T/big" >/dev/null
	run "$BATON" -q work --until-empty
	assert_status 0
	cmp "$T/big" <(got 2)
	# and the agent's argv never carried it
	[ "$(wc -c < "$T"/rec/1.*.argv)" -lt 100 ]
}

@test "a 10 MB script runs with the shell agent" {
	seq 1 120000 | awk '{ printf "# line %d of a large script, with some text to make it long enough ......................\n", $1 }' > "$T/script"
	echo 'echo "end of the script: $BATON_TASK_ID"' >> "$T/script"
	[ "$(stat -c %s "$T/script")" -gt 10000000 ]
	run "$BATON" run --agent shell --prompt-file "$T/script"
	assert_status 0
	[ "$output" = "end of the script: 1" ]
}

@test "quotes, \$(), backticks and a leading -- reach the agent as written" {
	run "$BATON" run "${NASTY[@]}"
	assert_status 0
	# the words after -- joined with spaces, and nothing else
	local want
	want=$(printf '%s ' "${NASTY[@]:1}")
	[ "$(got 1)" = "${want% }" ]
	nothing_ran
	# not taken as options: no JSON, and not quiet
	[ "$(tj 1 .status)" = completed ]
	[ "$(cat "$T"/rec/1.*.argv)" = "$(tj 1 .session_id)" ]
	# the stored prompt is the same text
	[ "$(sql "SELECT prompt FROM tasks WHERE id = 1")" = "${want% }" ]
}

@test "a prompt on stdin keeps its bytes: newlines, tabs, CR, UTF-8" {
	printf -- '--first line\n\tindented $(touch pwned)\r\nnaïve — ✓ `touch pwned2`\n\n\ntrailing\n\n' > "$T/p"
	run "$BATON" -q run --prompt-file - < "$T/p"
	assert_status 0
	cmp "$T/p" <(got 1)
	"$BATON" add --prompt-file - < "$T/p" >/dev/null
	"$BATON" -q work --until-empty
	cmp "$T/p" <(got 2)
	nothing_ran
}

@test "a prompt with a NUL byte is refused" {
	printf 'one\0two' > "$T/nul"
	run "$BATON" run --prompt-file "$T/nul"
	assert_status 2
	assert_contains "baton: prompt file $T/nul contains a NUL byte"
	[ "$(sql "SELECT count(*) FROM tasks")" = 0 ]
}

@test "the command agent's argv templates are expanded as whole items" {
	# a prompt file with spaces and quotes in its name is one argv item
	fake_config '  pf: {kind: command, command: [sh, -c, "cat \"$0\" > '"$T"'/pf.out; printf %s \"$1\" > '"$T"'/arg1", "{prompt_file}", "{workdir}"]}'
	mkdir -p "$T/a dir 'q' \$(x)"
	run "$BATON" run --agent pf --workdir "$T/a dir 'q' \$(x)" 'the $(prompt)'
	assert_status 0
	[ "$(cat "$T/pf.out")" = 'the $(prompt)' ]
	[ "$(cat "$T/arg1")" = "$T/a dir 'q' \$(x)" ]
}

@test "no PROMPT: run and add read it from a stdin that is not a terminal" {
	run "$BATON" run --agent shell <<<'echo from-stdin'
	assert_status 0
	assert_contains "from-stdin"
	printf 'queued from stdin' | "$BATON" add >/dev/null
	[ "$(sql "select prompt from tasks where id = 2")" = "queued from stdin" ]
	run "$BATON" run </dev/null
	assert_status 2
	assert_contains "baton: empty prompt"
	run "$BATON" add <<<'   '
	assert_status 2
	assert_contains "baton: empty prompt"
	# words win over stdin, which is left alone
	run "$BATON" run --agent shell 'echo words' <<<'echo stdin'
	assert_status 0
	assert_contains "words"
	assert_not_contains "stdin"
	[ "$(sql "select count(*) from tasks")" = 3 ]
}

@test "no PROMPT and a terminal on stdin: a usage error saying to give one" {
	command -v script >/dev/null || skip "no script(1) for a terminal"
	run script -qec "$BATON run" /dev/null
	assert_status 2
	assert_contains "baton: no prompt: give a PROMPT, pipe one on standard input or use --prompt-file FILE"
	[ "$(sql "select count(*) from tasks")" = 0 ]
}
