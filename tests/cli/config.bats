#!/usr/bin/env bats
# `baton config check` and `baton config show`: resolution (trust of a
# project's ./baton.yaml is in trust.bats), every kind of
# config error (exit 3, file:line:col), environment overrides, masking
# and the show → load round trip.

load lib
bats_require_minimum_version 1.5.0

# check_error FILE-CONTENT EXPECTED-STDERR: ./baton.yaml holding the
# content is refused with exit 3 and exactly that message.
check_error() {
	printf '%s' "$1" > baton.yaml
	run --separate-stderr "$BATON" config check
	assert_status 3
	if [ "$stderr" != "$2" ]; then
		echo "expected: $2" >&2
		echo "got:      $stderr" >&2
		return 1
	fi
	[ -z "$output" ]
}

@test "config check: nothing configured is the built-in defaults" {
	run "$BATON" config check
	assert_status 0
	[ "$output" = "ok: built-in defaults" ]
}

@test "config check: the repository's config.yaml is valid" {
	run "$BATON" config check "$REPO/config.yaml"
	assert_status 0
	[ "$output" = "ok: $REPO/config.yaml" ]
}

@test "config show: the repository's config.yaml shows as the defaults" {
	run --separate-stderr "$BATON" config show
	assert_status 0
	defaults=$(printf '%s\n' "$output" | tail -n +2)
	run --separate-stderr "$BATON" --config "$REPO/config.yaml" config show
	assert_status 0
	[ "$(printf '%s\n' "$output" | head -1)" = \
		"# baton configuration: $REPO/config.yaml" ]
	[ "$(printf '%s\n' "$output" | tail -n +2)" = "$defaults" ]
}

@test "resolution: XDG, then ./baton.yaml, BATON_CONFIG, --config" {
	mkdir -p "$XDG_CONFIG_HOME/baton"
	echo 'workers: 5' > "$XDG_CONFIG_HOME/baton/config.yaml"
	run "$BATON" config check
	assert_status 0
	[ "$output" = "ok: $XDG_CONFIG_HOME/baton/config.yaml" ]
	run "$BATON" config show
	assert_contains "workers: 5"

	# ./baton.yaml is layered on top of it
	echo 'workers: 4' > baton.yaml
	run "$BATON" config check
	[ "$output" = "ok: $XDG_CONFIG_HOME/baton/config.yaml, baton.yaml" ]
	run "$BATON" config show
	assert_contains "workers: 4"

	echo 'workers: 3' > "$T/env.yaml"
	export BATON_CONFIG=$T/env.yaml
	run "$BATON" config check
	[ "$output" = "ok: $T/env.yaml" ]
	run "$BATON" config show
	assert_contains "workers: 3"

	echo 'workers: 6' > "$T/cli.yaml"
	run "$BATON" --config "$T/cli.yaml" config check
	[ "$output" = "ok: $T/cli.yaml" ]
	run "$BATON" --config "$T/cli.yaml" config show
	assert_contains "workers: 6"
	assert_not_contains "workers: 3"
}

@test "resolution: ~/.config/baton/config.yaml without XDG_CONFIG_HOME" {
	unset XDG_CONFIG_HOME
	mkdir -p "$HOME/.config/baton"
	echo 'workers: 9' > "$HOME/.config/baton/config.yaml"
	run "$BATON" config check
	assert_status 0
	[ "$output" = "ok: $HOME/.config/baton/config.yaml" ]
	run "$BATON" config show
	assert_contains "workers: 9"
}

@test "--config works after the command, and as --config=FILE" {
	echo 'workers: 7' > "$T/c.yaml"
	echo 'workers: 1' > baton.yaml
	run "$BATON" config check --config "$T/c.yaml"
	assert_status 0
	[ "$output" = "ok: $T/c.yaml" ]
	run "$BATON" config show --config="$T/c.yaml"
	assert_status 0
	assert_contains "workers: 7"
}

@test "an explicit config file that does not exist is an error" {
	echo 'workers: 1' > baton.yaml
	run --separate-stderr "$BATON" --config "$T/nope.yaml" config check
	assert_status 3
	[ "$stderr" = "baton: cannot read config $T/nope.yaml: No such file or directory" ]

	export BATON_CONFIG=$T/missing.yaml
	run --separate-stderr "$BATON" config show
	assert_status 3
	[ "$stderr" = "baton: cannot read config $T/missing.yaml: No such file or directory" ]
	[ -z "$output" ]
}

@test "config check FILE checks that file, not the one in use" {
	printf 'workers: [\n' > baton.yaml
	printf 'workers: 3\n' > "$T/good.yaml"
	run "$BATON" config check "$T/good.yaml"
	assert_status 0
	[ "$output" = "ok: $T/good.yaml" ]
	printf 'wokers: 3\n' > "$T/bad.yaml"
	run --separate-stderr "$BATON" config check "$T/bad.yaml"
	assert_status 3
	[ "$stderr" = "baton: $T/bad.yaml:1:1: unknown key 'wokers' (did you mean 'workers'?)" ]
	run --separate-stderr "$BATON" config check "$T/none.yaml"
	assert_status 3
	[ "$stderr" = "baton: cannot read config $T/none.yaml: No such file or directory" ]
	run --separate-stderr "$BATON" config check "$T"
	assert_status 3
	[ "$stderr" = "baton: cannot read config $T: Is a directory" ]
}

@test "an empty file is the defaults" {
	: > baton.yaml
	run "$BATON" config check
	assert_status 0
	[ "$output" = "ok: baton.yaml" ]
	run "$BATON" config show
	assert_contains "workers: 2"
}

@test "errors: unknown keys, with a suggestion" {
	check_error $'workers: 2\n\nwokers: 3\n' \
		"baton: baton.yaml:3:1: unknown key 'wokers' (did you mean 'workers'?)"
	check_error $'defaults:\n  agnet: claude\n' \
		"baton: baton.yaml:2:3: unknown key 'agnet' in defaults (did you mean 'agent'?)"
	check_error $'agents:\n  x:\n    kind: shell\n    modle: m\n' \
		"baton: baton.yaml:4:5: unknown key 'modle' in agents.x (did you mean 'model'?)"
	check_error $'colour: red\n' \
		"baton: baton.yaml:1:1: unknown key 'colour' (expected one of: db, workers, defaults, retry, sessions, logs, runner, iterate_prompt, agents)"
}

@test "errors: wrong types" {
	check_error $'defaults: fast\n' \
		"baton: baton.yaml:1:11: defaults: expected a mapping, got 'fast'"
	check_error $'retry:\n  - 1\n' \
		"baton: baton.yaml:2:3: retry: expected a mapping, got a list"
	check_error $'workers: many\n' \
		"baton: baton.yaml:1:10: workers: expected a whole number ≥ 1, got 'many'"
	check_error $'runner:\n  requeue_interrupted: maybe\n' \
		"baton: baton.yaml:2:24: runner.requeue_interrupted: expected true or false, got 'maybe'"
	check_error $'iterate_prompt: {a: 1}\n' \
		"baton: baton.yaml:1:17: iterate_prompt: expected a string, got a mapping"
	check_error $'db: {synchronous: off}\n' \
		"baton: baton.yaml:1:19: db.synchronous: expected normal or full, got 'off'"
	check_error $'- workers\n' \
		"baton: baton.yaml:1:1: configuration: expected a mapping, got a list"
}

@test "errors: bad durations" {
	check_error $'defaults:\n  timeout: 15 minutes\n' \
		"baton: baton.yaml:2:12: defaults.timeout: invalid duration '15 minutes': use e.g. 90s, 15m, 1h30m, 1.5h"
	check_error $'sessions: {ttl: 1mo}\n' \
		"baton: baton.yaml:1:17: sessions.ttl: invalid duration '1mo': use e.g. 90s, 15m, 1h30m, 1.5h"
	check_error $'db: {busy_timeout: -1s}\n' \
		"baton: baton.yaml:1:20: db.busy_timeout: invalid duration '-1s': use e.g. 90s, 15m, 1h30m, 1.5h"
}

@test "errors: zero and negative counts and durations" {
	check_error $'workers: 0\n' \
		"baton: baton.yaml:1:10: workers: expected a whole number ≥ 1, got '0'"
	check_error $'workers: -2\n' \
		"baton: baton.yaml:1:10: workers: expected a whole number ≥ 1, got '-2'"
	check_error $'sessions:\n  max_active: 0\n' \
		"baton: baton.yaml:2:15: sessions.max_active: expected a whole number ≥ 1, got '0'"
	check_error $'retry: {attempts: 0}\n' \
		"baton: baton.yaml:1:19: retry.attempts: expected a whole number ≥ 1, got '0'"
	check_error $'runner: {heartbeat: 0}\n' \
		"baton: baton.yaml:1:21: runner.heartbeat: expected a duration greater than 0, got '0'"
	check_error $'defaults: {timeout: 0s}\n' \
		"baton: baton.yaml:1:21: defaults.timeout: expected a duration greater than 0, got '0s'"
	check_error $'retry: {base: 1m, max: 30s}\n' \
		"baton: baton.yaml:1:24: retry.max (30s) is less than retry.base (1m)"
}

@test "errors: agent profiles" {
	check_error $'agents:\n  mine: {kind: robot}\n' \
		"baton: baton.yaml:2:16: agents.mine.kind: unknown kind 'robot' (expected shell, command, claude or codex)"
	check_error $'agents:\n  mine: {kind: command}\n' \
		"baton: baton.yaml:2:9: agents.mine: a command profile needs 'command' (the program and its arguments as a list)"
	check_error $'agents:\n  mine: {command: [x]}\n' \
		"baton: baton.yaml:2:9: agents.mine: missing 'kind' (one of shell, command, claude, codex)"
	check_error $'agents:\n  c: {kind: claude, command: [a, b]}\n' \
		"baton: baton.yaml:2:30: agents.c.command: expected a program name or a one-element list, got a list"
	check_error $'defaults: {agent: mine}\n' \
		"baton: baton.yaml:1:19: defaults.agent: no agent profile named 'mine' (profiles: claude, codex, shell)"
}

@test "a command agent defined in the file can be the default" {
	cat > baton.yaml <<-'EOF'
	defaults: {agent: mine}
	agents:
	  mine: {kind: command, command: [./my-agent, --session, "{session_id}"], use_session_persistence: false}
	  claude: {kind: claude, model: opus}
	EOF
	# it adds and changes agents: trusted first (trust.bats)
	"$BATON" config trust >/dev/null
	run "$BATON" config check
	assert_status 0
	run "$BATON" config show
	assert_status 0
	assert_contains "agent: mine"
	assert_contains "command: [./my-agent, --session, '{session_id}']"
	assert_contains "use_session_persistence: false"
	assert_contains "model: opus"
	# the built-in claude profile was replaced, not merged
	assert_not_contains "permission-mode"
	# the other built-ins are still there
	assert_contains "  codex:"
	assert_contains "  shell:"
}

@test "errors: YAML syntax, documents, aliases, duplicates" {
	check_error $'workers: [1, 2\n' \
		"baton: baton.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence at line 1)"
	check_error $'a: b: c\n' \
		"baton: baton.yaml:1:5: mapping values are not allowed in this context"
	check_error $'workers: 1\n---\nworkers: 2\n' \
		"baton: baton.yaml:2:1: more than one YAML document"
	check_error $'defaults: &d {agent: shell}\nretry: *d\n' \
		"baton: baton.yaml:2:8: aliases are not supported"
	check_error $'workers: 1\nretry: {}\nworkers: 2\n' \
		"baton: baton.yaml:3:1: duplicate key 'workers' (first at line 1)"
}

@test "errors: hostile files fail cleanly" {
	# an alias bomb
	check_error $'a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n' \
		"baton: baton.yaml:2:8: aliases are not supported"
	# deep nesting
	printf 'x: ' > baton.yaml
	head -c 100000 /dev/zero | tr '\0' '[' >> baton.yaml
	run --separate-stderr "$BATON" config check
	assert_status 3
	[ "$stderr" = "baton: baton.yaml:1:35: nesting deeper than 32 levels" ]
	# over 1 MiB
	head -c 1048577 /dev/zero | tr '\0' '#' > baton.yaml
	run --separate-stderr "$BATON" config check
	assert_status 3
	[ "$stderr" = "baton: cannot read config baton.yaml: larger than 1 MiB" ]
	# a NUL byte, raw and escaped
	printf 'workers: 1\nretry: \0\n' > baton.yaml
	run --separate-stderr "$BATON" config check
	assert_status 3
	[ "$stderr" = "baton: baton.yaml:2:8: control characters are not allowed (byte 0x00)" ]
	check_error 'iterate_prompt: "a\0b"' \
		"baton: baton.yaml:1:17: NUL bytes are not allowed in values"
	# binary garbage: the start of baton's own executable
	head -c 4096 "$BATON" > baton.yaml
	run --separate-stderr "$BATON" config check
	assert_status 3
	[ "$stderr" = "baton: baton.yaml:1:1: control characters are not allowed (byte 0x7F)" ]
	# invalid UTF-8
	check_error $'workers: \xff\n' \
		"baton: baton.yaml:1:10: invalid leading UTF-8 octet (byte 0xFF)"
}

@test "environment overrides apply after the file" {
	echo 'workers: 3' > baton.yaml
	BATON_WORKERS=8 BATON_SESSION_TTL=2h BATON_DB='~/x.db' \
		run "$BATON" config show
	assert_status 0
	assert_contains "workers: 8"
	assert_contains "ttl: 2h"
	assert_contains "path: $HOME/x.db"
	BATON_WORKERS=8 run "$BATON" config check
	assert_status 0
	[ "$output" = "ok: baton.yaml" ]
}

@test "environment overrides are validated" {
	BATON_WORKERS=x run --separate-stderr "$BATON" config check
	assert_status 3
	[ "$stderr" = "baton: BATON_WORKERS: expected a whole number ≥ 1, got 'x'" ]
	BATON_WORKERS=0 run --separate-stderr "$BATON" config show
	assert_status 3
	[ "$stderr" = "baton: BATON_WORKERS: expected a whole number ≥ 1, got '0'" ]
	[ -z "$output" ]
	BATON_SESSION_TTL='1 day' run --separate-stderr "$BATON" config check
	assert_status 3
	[ "$stderr" = "baton: BATON_SESSION_TTL: invalid duration '1 day': use e.g. 90s, 15m, 1h30m, 1.5h" ]
	BATON_DB= run --separate-stderr "$BATON" config check
	assert_status 3
	[ "$stderr" = "baton: BATON_DB: expected a non-empty path" ]
}

@test "config show masks env values and secrets" {
	cat > baton.yaml <<-'EOF'
	agents:
	  c:
	    kind: claude
	    env: {ANTHROPIC_API_KEY: sk-ant-hunter2, HTTP_PROXY: http://proxy:3128}
	    args: [--api-key=hunter3, --verbose]
	EOF
	"$BATON" config trust >/dev/null
	run --separate-stderr "$BATON" config show
	assert_status 0
	assert_contains 'ANTHROPIC_API_KEY: "***"'
	assert_contains 'HTTP_PROXY: "***"'
	assert_not_contains "hunter2"
	assert_not_contains "hunter3"
	assert_contains "args: [--api-key=***, --verbose]"
	assert_not_contains "proxy:3128"
}

@test "config show round-trips: its output loads to the same config" {
	cat > baton.yaml <<-'EOF'
	db: {path: "/tmp/a b: #c.db", synchronous: full, busy_timeout: 1500ms}
	workers: 12
	defaults: {agent: "yes", timeout: 90, max_attempts: 4, kill_grace: 0, max_iterations: 7}
	retry: {attempts: 5, base: 250ms, max: 61s}
	sessions: {ttl: 36h, max_active: 7, resume_failure_limit: 1, retention: 0}
	runner: {heartbeat: 1s, stale_after: 3s, requeue_interrupted: true}
	iterate_prompt: "  check {check}\n\tfailed: 'x' \"y\" ü\n\n"
	agents:
	  "yes": {kind: command, command: ["~", "{prompt_file}", "- x", "a, b", "#"], model: "null"}
	  cl: {kind: claude, command: /opt/bin/claude, args: ["--x=1", "[y]"], timeout: 2h}
	  cx: {kind: codex, price: {input: 0.3, output: 0.0000007}}
	EOF
	"$BATON" config trust >/dev/null
	run --separate-stderr "$BATON" config show
	assert_status 0
	first=$(printf '%s\n' "$output" | tail -n +2)
	printf '%s\n' "$output" > "$T/shown.yaml"
	run --separate-stderr "$BATON" config check "$T/shown.yaml"
	assert_status 0
	run --separate-stderr "$BATON" --config "$T/shown.yaml" config show
	assert_status 0
	second=$(printf '%s\n' "$output" | tail -n +2)
	[ "$first" = "$second" ]
	# and the values really are the file's, not the defaults
	assert_contains "workers: 12"
	assert_contains "synchronous: full"
	assert_contains "requeue_interrupted: true"
}

@test "config show of the defaults round-trips" {
	unset BATON_DB
	run --separate-stderr "$BATON" config show
	assert_status 0
	[ "${lines[0]}" = "# baton configuration: built-in defaults" ]
	assert_contains "workers: 2"
	assert_contains "  path: ~"
	assert_contains "  ttl: 1d"
	printf '%s\n' "$output" > "$T/d.yaml"
	first=$output
	run --separate-stderr "$BATON" --config "$T/d.yaml" config show
	assert_status 0
	[ "${lines[0]}" = "# baton configuration: $T/d.yaml" ]
	[ "$(printf '%s\n' "$output" | tail -n +2)" = \
		"$(printf '%s\n' "$first" | tail -n +2)" ]
}

@test "config: usage errors exit 2" {
	run "$BATON" config check --bogus
	assert_status 2
	assert_contains "unknown option '--bogus'"
	run "$BATON" config check a.yaml b.yaml
	assert_status 2
	assert_contains "too many arguments"
	run "$BATON" config show extra
	assert_status 2
	assert_contains "unexpected argument 'extra'"
	run "$BATON" config frobnicate
	assert_status 2
	run "$BATON" config
	assert_status 2
}

@test "config: --help" {
	run "$BATON" config --help
	assert_status 0
	assert_contains "check"
	assert_contains "show"
	run "$BATON" config check --help
	assert_status 0
	assert_contains "usage: baton config check [FILE]"
}

@test "config show: a write error is not success" {
	[ -w /dev/full ] || skip "no /dev/full"
	run bash -c '"$BATON" config show > /dev/full'
	[ "$status" -ne 0 ]
	assert_contains "cannot write to standard output"
}
