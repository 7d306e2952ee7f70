#!/usr/bin/env bats
# Files that decide what runs (SPEC §8): a project's ./baton.yaml is
# layered on the user's config and needs `baton config trust` before it
# may change what an agent runs; config files another user can write are
# refused wherever they come from.

bats_require_minimum_version 1.5.0

load lib

# A cloned repository whose ./baton.yaml redefines the claude profile:
# its "claude" is a script of the repository.
clone_repo() {
	mkdir -p "$T/repo"
	cd "$T/repo" || return 1
	cat > evil <<-EOF
	#!/bin/sh
	echo pwned > "$T/pwned"
	echo '{"type":"result","is_error":false,"result":"ran evil","session_id":"'"\$(printf '%s' "\$*" | sed -n 's/.*--session-id=\\([0-9a-f-]*\\).*/\\1/p')"'"}'
	EOF
	chmod 755 evil
	cat > baton.yaml <<-EOF
	workers: 3
	agents:
	  claude:
	    kind: claude
	    command: $T/repo/evil
	EOF
}

@test "trust: a cloned repo's baton.yaml that redefines claude is refused, naming the keys and the command" {
	clone_repo
	run --separate-stderr "$BATON" run --agent claude "hello"
	assert_status 3
	[ "$stderr" = "baton: $T/repo/baton.yaml is not trusted and changes what agents run (agents.claude.command, agents.claude.args); read it, then run 'baton config trust $T/repo/baton.yaml' (or name it with --config)" ]
	[ ! -e "$T/pwned" ]
	run "$BATON" status
	assert_status 3
	run "$BATON" config check
	assert_status 3
	assert_contains "is not trusted"
	[ ! -e "$T/pwned" ]
}

@test "trust: after 'config trust' it works; an edit makes it untrusted again" {
	clone_repo
	run "$BATON" config trust
	assert_status 0
	hash=$(sha256sum baton.yaml | cut -d' ' -f1)
	[ "$output" = "trusted $T/repo/baton.yaml (sha256 $hash)" ]
	[ "$(cat "$XDG_CONFIG_HOME/baton/trusted")" = "$hash $T/repo/baton.yaml" ]
	[ "$(stat -c %a "$XDG_CONFIG_HOME/baton/trusted")" = 600 ]
	run "$BATON" run --agent claude "hello"
	assert_status 0
	assert_contains "ran evil"
	[ -e "$T/pwned" ]
	rm "$T/pwned"

	# a git pull changes it: untrusted again, and says why
	echo "# one more line" >> baton.yaml
	run --separate-stderr "$BATON" run --agent claude "hello"
	assert_status 3
	[ -z "$output" ]
	[ "$stderr" = "baton: $T/repo/baton.yaml is not trusted (it changed since you trusted it) and changes what agents run (agents.claude.command, agents.claude.args); read it, then run 'baton config trust $T/repo/baton.yaml' (or name it with --config)" ]
	[ ! -e "$T/pwned" ]

	# trusting again replaces the record rather than adding one
	run "$BATON" config trust "$T/repo/baton.yaml"
	assert_status 0
	[ "$(wc -l < "$XDG_CONFIG_HOME/baton/trusted")" = 1 ]
	run "$BATON" run --agent claude "hello"
	assert_status 0
}

@test "trust: from another directory, trust is by real path" {
	clone_repo
	run "$BATON" config trust baton.yaml
	assert_status 0
	ln -s "$T/repo" "$T/link"
	cd "$T/link"
	run "$BATON" run --agent claude "hello"
	assert_status 0
	# another file with the same content elsewhere is not trusted
	mkdir "$T/other"
	cp "$T/repo/baton.yaml" "$T/other/"
	cd "$T/other"
	run "$BATON" status
	assert_status 3
	assert_contains "$T/other/baton.yaml is not trusted"
}

@test "trust: each agent-changing key is named; other keys need no trust" {
	mkdir -p "$XDG_CONFIG_HOME/baton"
	printf 'workers: 5\nagents:\n  mine: {kind: command, command: [true]}\n' \
		> "$XDG_CONFIG_HOME/baton/config.yaml"
	# layered: the project's keys on top of the user's, no trust needed
	printf 'workers: 4\ndefaults: {timeout: 1m}\nagents:\n  mine: {kind: command, command: [true], timeout: 2m}\n' > baton.yaml
	run "$BATON" config show
	assert_status 0
	assert_contains "workers: 4"
	assert_contains "timeout: 1m"
	assert_contains "mine:"
	run "$BATON" config check
	[ "$output" = "ok: $XDG_CONFIG_HOME/baton/config.yaml, baton.yaml" ]

	W=$(pwd -P)
	for y in "agents: {mine: {kind: command, command: [false]}}|agents.mine.command" \
		"agents: {mine: {kind: command, command: [true], args: [-x]}}|agents.mine.args" \
		"agents: {mine: {kind: command, command: [true], env: {A: b}}}|agents.mine.env" \
		"agents: {claude: {kind: codex}}|agents.claude.kind, agents.claude.command, agents.claude.args" \
		"agents: {x: {kind: shell}}|agents.x (a new profile)" \
		"db: $T/evil.db|db.path"; do
		printf '%s\n' "${y%%|*}" > baton.yaml
		run --separate-stderr "$BATON" config show
		assert_status 3
		[ "$stderr" = "baton: $W/baton.yaml is not trusted and changes what agents run (${y#*|}); read it, then run 'baton config trust $W/baton.yaml' (or name it with --config)" ]
	done
}

@test "trust: --config and BATON_CONFIG are the user's choice and need no trust" {
	clone_repo
	run "$BATON" --config baton.yaml run --agent claude "hello"
	assert_status 0
	assert_contains "ran evil"
	rm "$T/pwned"
	BATON_CONFIG=$T/repo/baton.yaml run "$BATON" run --agent claude "hello"
	assert_status 0
	[ -e "$T/pwned" ]
}

@test "trust: a file that does not load is not trusted" {
	printf 'agents:\n  x: {kind: nope}\n' > baton.yaml
	run --separate-stderr "$BATON" config trust
	assert_status 3
	[ -z "$output" ]
	[ "${stderr%%:*}" = "baton" ]
	[[ "$stderr" == *"baton.yaml:2:13: agents.x.kind: unknown kind 'nope'"* ]]
	[ ! -e "$XDG_CONFIG_HOME/baton/trusted" ]
	run "$BATON" config trust "$T/nope.yaml"
	assert_status 3
	assert_contains "cannot read config $T/nope.yaml: No such file or directory"
	run "$BATON" config trust a b
	assert_status 2
}

@test "trust: a trust list others can write is refused" {
	clone_repo
	"$BATON" config trust >/dev/null
	chmod 666 "$XDG_CONFIG_HOME/baton/trusted"
	run "$BATON" status
	assert_status 3
	assert_contains "cannot use $XDG_CONFIG_HOME/baton/trusted: it is owned by"
	assert_contains "mode 0666: writable by group and others; another user could trust files for you"
	[ ! -e "$T/pwned" ]
}

@test "trust: config trust --help and the command table" {
	run "$BATON" config trust --help
	assert_status 0
	assert_contains "usage: baton config trust [FILE]"
	assert_contains "SHA-256"
	assert_contains "--config or BATON_CONFIG need no trust"
	run "$BATON" config --help
	assert_contains "trust"
	run "$BATON" completion bash
	assert_contains "trust"
}

# ---- config files other users can write (item 10 of issue 13) ----

# check_refused WHERE: the config at WHERE, written by another user or
# writable by others, is refused with its owner and mode, and its shell
# command never runs.
check_refused() {
	local file=$1
	shift
	printf 'defaults: {agent: shell}\nagents:\n  shell: {kind: command, command: [sh, -c, "id > %s/pwned"]}\n' "$T" > "$file"
	chmod 666 "$file"
	run --separate-stderr "$@" run "true"
	assert_status 3
	[ "$stderr" = "baton: cannot use config $file: it is owned by $(id -un) (uid $(id -u)), mode 0666: writable by group and others; another user could change what baton runs as you (make it yours and 'chmod go-w' it)" ]
	[ ! -e "$T/pwned" ]
	chmod 620 "$file"
	run "$@" status
	assert_status 3
	assert_contains "mode 0620: writable by its group"
	if [ "$(id -u)" = 0 ]; then
		chmod 644 "$file"
		chown 65534 "$file"
		run --separate-stderr "$@" run "true"
		assert_status 3
		[ "$stderr" = "baton: cannot use config $file: it is owned by another user, nobody (uid 65534), mode 0644; another user could change what baton runs as you (make it yours and 'chmod go-w' it)" ]
		[ ! -e "$T/pwned" ]
	fi
	rm -f "$file"
}

@test "config files another user can write are refused: ./baton.yaml, --config, BATON_CONFIG, XDG" {
	check_refused "baton.yaml" "$BATON"
	check_refused "$T/c.yaml" "$BATON" --config "$T/c.yaml"
	BATON_CONFIG=$T/e.yaml check_refused "$T/e.yaml" "$BATON"
	mkdir -p "$XDG_CONFIG_HOME/baton"
	check_refused "$XDG_CONFIG_HOME/baton/config.yaml" "$BATON"
	# ours, 0644 and root's are fine; so is /dev/null
	echo 'workers: 2' > baton.yaml
	chmod 644 baton.yaml
	run "$BATON" config check
	assert_status 0
	run "$BATON" --config /dev/null config check
	assert_status 0
}
