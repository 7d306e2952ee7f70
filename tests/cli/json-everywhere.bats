#!/usr/bin/env bats
# --json everywhere or a refusal (SPEC §6): every command of the table
# either prints JSON on stdout or exits 2 saying it has none; work,
# retry and cancel print theirs.

bats_require_minimum_version 1.5.0

load lib

local_setup() {
	config <<-EOF
	defaults: {agent: sh}
	agents:
	  sh: {kind: shell}
	EOF
}

# The commands of `baton help`, and the subcommands of those that have
# some, as "cmd" or "cmd sub" lines.
commands() {
	local c s
	for c in $("$BATON" help | sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
		s=$("$BATON" help "$c" | sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
		if [ -z "$s" ]; then
			echo "$c"
		else
			printf "$c %s\n" $s
		fi
	done
}

@test "every command prints JSON with --json or refuses it with exit 2" {
	declare -A args=(
		[add]="echo added" [cancel]="3" [completion]="bash"
		[config check]="" [config show]="" [config trust]="$T/baton.yaml"
		[db backup]="$T/copy.db" [db copy]="$BATON_DB $T/copy2.db"
		[db vacuum]="" [doctor]="" [help]=""
		[log]="1" [milestone create]="m1" [milestone list]=""
		[milestone show]="m1" [prune]="--older-than 30d"
		[report]="--github" [retry]="2"
		[run]="echo ran" [session close]="s1" [session gc]=""
		[session fork]="s1 s3" [session init]="s2" [session list]="--all" [session reset]="s2"
		[session show]="s2" [show]="1" [stats]="" [status]=""
		[work]="--until-empty"
	)
	local cmd n=0 refused=
	"$BATON" add 'echo one' >/dev/null
	"$BATON" add 'exit 3' >/dev/null
	"$BATON" add 'echo three' >/dev/null
	"$BATON" session init s1 >/dev/null
	"$BATON" work --until-empty --max-tasks 2 >/dev/null 2>&1 || true
	while read -r cmd; do
		if [ -z "${args[$cmd]+set}" ]; then
			echo "a new command '$cmd': give it arguments here" >&2
			return 1
		fi
		# shellcheck disable=SC2086
		run --separate-stderr "$BATON" --json $cmd ${args[$cmd]}
		n=$((n + 1))
		if [ "$cmd" = "session fork" ]; then
			# s1 runs the shell agent, which cannot branch: the
			# refusal is not the --json one
			assert_status 1
			[[ "$stderr" == *"cannot branch a conversation"* ]] || { echo "fork: $stderr" >&2; return 1; }
			continue
		fi
		if [ "$status" = 2 ]; then
			if [[ "$stderr" != *"'baton $cmd' has no JSON output"* ]]; then
				echo "$cmd: exit 2 but no refusal: $stderr" >&2
				return 1
			fi
			if [ -n "$output" ]; then
				echo "$cmd: refused but printed: $output" >&2
				return 1
			fi
			refused="$refused${refused:+,}$cmd"
			continue
		fi
		if [ -z "$output" ] || ! jq -e . <<<"$output" >/dev/null; then
			echo "$cmd (exit $status): not JSON: $output $stderr" >&2
			return 1
		fi
	done < <(commands)
	[ "$n" -ge 20 ]
	[ "$refused" = "completion,config check,config show,config trust,db backup,db copy,help,log,report" ]
}

@test "--json refused before anything happens" {
	run --separate-stderr "$BATON" log --json 1
	assert_status 2
	[ -z "$output" ]
	[[ "$stderr" == *"baton: 'baton log' has no JSON output"* ]]
	[[ "$stderr" == *"usage: baton log"* ]]
	run --separate-stderr "$BATON" config show --json
	assert_status 2
	[[ "$stderr" == *"'baton config show' has no JSON output"* ]]
	# --help still helps
	run "$BATON" log --json --help
	assert_status 0
	assert_contains "usage: baton log"
}

@test "work --json: one object a line per finished task, as each ends" {
	"$BATON" add --title first --key k1 'echo one' >/dev/null
	"$BATON" add 'exit 3' >/dev/null
	"$BATON" add 'sleep 3' >/dev/null
	"$BATON" work --json --until-empty -j 1 >"$T/out" 2>"$T/err" &
	local pid=$!
	# a live feed: the first lines are there while the third task runs
	wait_for '[ "$(wc -l <"$T/out")" -ge 2 ]' 10
	kill -0 "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 1 ]
	[ "$(wc -l <"$T/out")" = 3 ]
	run jq -c 'select(.id == 1) | [.key, .title, .status, .exit_code,
		.signal, .attempts, .input_tokens, .output_tokens, .cost_usd,
		(.session_id | length), (.host | length > 0),
		(.started_at | test("Z$")), (.duration_ms >= 0)]' "$T/out"
	assert_status 0
	[ "$output" = '["k1","first","completed",0,null,1,0,0,0,36,true,true,true]' ]
	run jq -r 'select(.id == 2) | "\(.status) \(.exit_code)"' "$T/out"
	[ "$output" = "failed 3" ]
	run jq -r 'select(.id == 3) | .status' "$T/out"
	[ "$output" = "completed" ]
	# the closing summary on stderr, as without --json
	run cat "$T/err"
	assert_contains "baton: 2 completed, 1 failed, 0 other"
}

@test "retry --json and cancel --json: an array of per-task results" {
	"$BATON" add 'exit 3' >/dev/null
	"$BATON" add 'echo two' >/dev/null
	"$BATON" work --until-empty --max-tasks 2 >/dev/null 2>&1 || true
	"$BATON" add 'echo three' >/dev/null
	run --separate-stderr "$BATON" retry --json 1 2 9
	assert_status 2
	[ "$(jq -c '.[] | [.id, .was, .status, .error != null]' <<<"$output" | paste -sd' ')" = \
		'[1,"failed","pending",false] [2,"completed","completed",true] [9,null,null,true]' ]
	[[ "$stderr" == *"no task 9"* ]]
	[ "$(sql "SELECT status FROM tasks WHERE id = 1")" = pending ]
	run --separate-stderr "$BATON" cancel --json 3 2
	assert_status 1
	[ "$(jq -c '.[] | [.id, .was, .status, .error != null]' <<<"$output" | paste -sd' ')" = \
		'[3,"pending","cancelled",false] [2,"completed","completed",true]' ]
	run "$BATON" retry --json 3
	assert_status 0
	[ "$(jq -r '.[0].status' <<<"$output")" = pending ]
}
