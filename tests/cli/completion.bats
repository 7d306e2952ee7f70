#!/usr/bin/env bats
# baton completion bash|zsh|fish: scripts generated from the command
# table, tried in the real shells; their dynamic parts ask baton for
# agent, session and milestone names.

bats_require_minimum_version 1.5.0

load lib

local_setup() {
	config <<-EOF
	agents:
	  mybot: {kind: shell}
	EOF
	# the scripts call `baton` at completion time
	PATH=$(dirname "$BATON"):$PATH
	export PATH
	"$BATON" session init alpha >/dev/null
	"$BATON" session init beta >/dev/null
	"$BATON" milestone create m-one >/dev/null
	"$BATON" completion bash >"$T/baton.bash"
	mkdir -p "$T/zfunc"
	"$BATON" completion zsh >"$T/zfunc/_baton"
	"$BATON" completion fish >"$T/baton.fish"
}

# bash: source the script, complete the words given, print COMPREPLY.
bash_complete() {
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
		_baton; printf "%s\n" "${COMPREPLY[@]}"' - "$T/baton.bash" "$@"
}

# zsh: the completion function with compadd and friends stubbed to
# print what they are given.
zsh_complete() {
	zsh -f -c 'compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@"; }
		_files() { print -r -- "<files>"; }
		_call_program() { shift; "$@"; }
		fpath=("$1" $fpath); autoload -U _baton; shift
		words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}; _baton' \
		- "$T/zfunc" "$@"
}

@test "--list: commands, agents, sessions and milestones" {
	run "$BATON" completion --list commands
	assert_status 0
	assert_contains "completion"
	assert_contains "status"
	run "$BATON" completion --list agents
	assert_status 0
	assert_contains "mybot"
	assert_contains "shell"
	run "$BATON" completion --list sessions
	assert_status 0
	[ "$output" = "$(printf 'alpha\nbeta')" ]
	run "$BATON" completion --list milestones
	[ "$output" = m-one ]
	run "$BATON" completion --list tasks
	assert_status 2
	# no database: nothing listed, and none created
	BATON_DB=$T/none.db run "$BATON" completion --list sessions
	assert_status 0
	[ -z "$output" ]
	[ ! -e "$T/none.db" ]
	run "$BATON" completion tcsh
	assert_status 2
	assert_contains "give one of bash, zsh, fish"
}

@test "the scripts come from the command table" {
	# every command and every long option of `run` is in each script
	local c
	for c in $("$BATON" completion --list commands); do
		grep -q "$c" "$T/baton.bash"
		grep -q "$c" "$T/zfunc/_baton"
		grep -q -- "-a '$c'" "$T/baton.fish"
	done
	for c in timeout max-iterations allow-foreign-session; do
		grep -q -- "--$c" "$T/baton.bash"
		grep -q -- "-l $c" "$T/baton.fish"
	done
}

@test "bash: commands, subcommands, options and names" {
	bash -c 'source "$1" && complete -p baton' - "$T/baton.bash" >"$T/out"
	grep -q '^complete -F _baton baton$' "$T/out"
	run bash_complete baton sta
	[ "$output" = "$(printf 'stats\nstatus')" ]
	run bash_complete baton session l
	[ "$output" = list ]
	run bash_complete baton run --time
	[ "$output" = --timeout ]
	run bash_complete baton session list --
	assert_contains "--all"
	run bash_complete baton run --session ''
	[ "$output" = "$(printf 'alpha\nbeta')" ]
	run bash_complete baton session show b
	[ "$output" = beta ]
	run bash_complete baton --json add --agent my
	[ "$output" = mybot ]
	run bash_complete baton work --milestone ''
	[ "$output" = m-one ]
	run bash_complete baton completion ''
	[ "$output" = "$(printf 'bash\nzsh\nfish')" ]
}

@test "zsh: compinit registers it; commands, options and names" {
	zsh -n "$T/zfunc/_baton"
	run zsh -f -c 'fpath=("$1" $fpath); autoload -U compinit;
		compinit -u -D; print -r -- $_comps[baton]' - "$T/zfunc"
	[ "$output" = _baton ]
	run zsh_complete baton sta
	assert_contains status
	run zsh_complete baton session show ''
	[ "$output" = "$(printf 'alpha\nbeta')" ]
	run zsh_complete baton run --agent ''
	assert_contains mybot
	run zsh_complete baton session ''
	assert_contains reset
	run zsh_complete baton status --l
	assert_contains --limit
	run zsh_complete baton run --workdir ''
	[ "$output" = "<files>" ]
}

@test "fish: commands, subcommands, options and names" {
	fish -n "$T/baton.fish"
	run fish -c "source $T/baton.fish; complete -C 'baton sta'"
	assert_status 0
	[ "$(cut -f1 <<<"$output" | paste -sd' ')" = "stats status" ]
	run fish -c "source $T/baton.fish; complete -C 'baton session '"
	assert_contains "list"
	assert_contains "reset"
	run fish -c "source $T/baton.fish; complete -C 'baton session show '"
	[ "$(cut -f1 <<<"$output" | paste -sd' ')" = "alpha beta" ]
	run fish -c "source $T/baton.fish; complete -C 'baton run --ti'"
	assert_contains "--timeout"
	run fish -c "source $T/baton.fish; complete -C 'baton run --agent '"
	assert_contains "mybot"
	run fish -c "source $T/baton.fish; complete -C 'baton work --milestone '"
	[ "$output" = m-one ]
}

@test "make install puts the scripts where each shell looks" {
	[ -f "$BATON_SRCDIR/Makefile" ] || skip "no source tree"
	[ "$BATON" = "$BATON_SRCDIR/build/baton" ] || skip "not the normal build"
	make -s -C "$BATON_SRCDIR" install PREFIX=/usr DESTDIR="$T/dest" >/dev/null
	cmp "$T/dest/usr/share/bash-completion/completions/baton" "$T/baton.bash"
	cmp "$T/dest/usr/share/zsh/site-functions/_baton" "$T/zfunc/_baton"
	cmp "$T/dest/usr/share/fish/vendor_completions.d/baton.fish" "$T/baton.fish"
}
