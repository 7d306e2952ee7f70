#!/usr/bin/env bats
# Milestones (SPEC §1, §2 S2, S3, S6, S8, S10; §6): named groups of tasks
# that run in order and share one session unless created with
# --session per-task.  The agent is tests/agents/rec-agent, which
# records the session ids it was given and its start and end times.

bats_require_minimum_version 1.5.0

load lib

local_setup() {
	config <<-EOF
	defaults: {agent: rec}
	agents:
	  rec:
	    kind: command
	    command: [$AGENTS/rec-agent, $T/rec.log, rec, "{session_id}", "{agent_session_id}"]
	EOF
}

# rec FIELD TASK: FIELD of the (last) run of TASK in rec.log.
rec() {
	awk -v t="task=$2" -v f="$1=" '
		$2 == t { for (i = 1; i <= NF; i++)
			if (index($i, f) == 1) v = substr($i, length(f) + 1) }
		END { print v }' "$T/rec.log"
}

# mjson NAME FILTER: a jq filter over `milestone show NAME --json`.
mjson() {
	"$BATON" milestone show "$1" --json | jq -r "$2"
}

# The runs of the given tasks do not overlap and come in that order.
serialized() {
	local prev_end=0 t s e
	for t in "$@"; do
		s=$(rec start "$t") e=$(rec end "$t")
		[ -n "$s" ] || { echo "task $t did not run" >&2; return 1; }
		if awk -v a="$s" -v b="$prev_end" 'BEGIN { exit !(a < b) }'; then
			echo "task $t started at $s, before $prev_end" >&2
			return 1
		fi
		prev_end=$e
	done
}

overlap() {
	local s1 e1 s2 e2
	s1=$(rec start "$1") e1=$(rec end "$1")
	s2=$(rec start "$2") e2=$(rec end "$2")
	awk -v s1="$s1" -v e1="$e1" -v s2="$s2" -v e2="$e2" \
		'BEGIN { exit !(s1 < e2 && s2 < e1) }' || {
		echo "tasks $1 [$s1, $e1] and $2 [$s2, $e2] did not overlap" >&2
		return 1
	}
}

@test "milestone create prints created, then exists; its session mode cannot change" {
	run "$BATON" milestone create m
	assert_status 0
	[ "$output" = created ]
	run "$BATON" milestone create m
	assert_status 0
	[ "$output" = exists ]
	run "$BATON" milestone create m --session per-task
	assert_status 1
	assert_contains "milestone m exists with --session shared"
	run "$BATON" milestone create p --session per-task
	[ "$output" = created ]
	[ "$(mjson p .session_mode)" = per-task ]
	run "$BATON" milestone create q --session sometimes
	assert_status 2
	run "$BATON" milestone create 'no good'
	assert_status 2
	assert_contains "invalid milestone name"
}

@test "tasks added with --milestone share its session and run in the order added" {
	"$BATON" milestone create m
	for i in 1 2 3; do "$BATON" add -q --milestone m "tokens $i 1"; done
	run "$BATON" work -j 3 --until-empty
	assert_status 0
	sid=$(mjson m .session_id)
	[ "$sid" != null ]
	for t in 1 2 3; do [ "$(rec session $t)" = "$sid" ]; done
	serialized 1 2 3
	[ "$(mjson m .session.kind)" = milestone ]
	[ "$(mjson m .session.turns)" = 3 ]
	[ "$(mjson m .session.input_tokens)" = 6 ]
	# one conversation: the second and third task resumed it
	[ "$(rec agent_session 3)" = "$sid" ]
	[ "$("$BATON" session show "$sid" --json |
		jq -r '[.runs[].resume_outcome] | join(",")')" = new,resumed,resumed ]
	[ "$(mjson m '[.tasks[].id] | join(",")')" = 1,2,3 ]
	[ "$(mjson m '[.tasks[].status] | join(",")')" = \
		completed,completed,completed ]
}

@test "add --milestone creates a missing milestone with a shared session" {
	"$BATON" add -q --milestone auto x
	run "$BATON" milestone list
	assert_contains "auto"
	[ "$(mjson auto .session_mode)" = shared ]
}

@test "--session per-task: every task gets its own temp session, closed when it ends" {
	"$BATON" milestone create p --session per-task
	"$BATON" add -q --milestone p x
	"$BATON" add -q --milestone p y
	run "$BATON" work -j 2 --until-empty
	assert_status 0
	[ "$(rec session 1)" != "$(rec session 2)" ]
	serialized 1 2
	for t in 1 2; do
		[ "$(sql "SELECT kind || ' ' || status FROM sessions WHERE id =
			'$(rec session $t)'")" = "temp closed" ]
	done
	[ "$(mjson p .session_id)" = null ]
}

@test "work -j 4: a milestone's tasks are serialized while other tasks overlap" {
	"$BATON" milestone create m
	for i in 1 2 3; do "$BATON" add -q --milestone m 'sleep 0.6'; done
	for i in 1 2 3; do "$BATON" add -q 'sleep 0.6'; done
	run "$BATON" work -j 4 --until-empty
	assert_status 0
	# start/end times as the agent saw them
	for t in 1 2 3 4 5 6; do
		echo "# task $t: $(rec start $t) - $(rec end $t)" >&3
	done
	serialized 1 2 3
	overlap 4 5
	overlap 5 6
	overlap 1 4
	[ "$(rec session 1)" = "$(rec session 3)" ]
	[ "$(rec session 4)" != "$(rec session 5)" ]
}

@test "work --milestone holds the milestone session as the prior: --new-session runs in a temp session, the next task is back on the milestone's (S3)" {
	"$BATON" run -q --milestone m first
	sid=$(mjson m .session_id)
	"$BATON" add -q --milestone m --new-session second
	"$BATON" add -q --milestone m third
	"$BATON" add -q elsewhere
	run "$BATON" work --milestone m -j 2 --until-empty
	assert_status 0
	[ "$(rec session 1)" = "$sid" ]
	tmp=$(rec session 2)
	[ "$tmp" != "$sid" ]
	[ "$(sql "SELECT kind || ' ' || status FROM sessions WHERE id = '$tmp'")" = "temp closed" ]
	# the temp session started its own conversation ...
	[ "$(rec agent_session 2)" = "$tmp" ]
	# ... and the next task is back on the milestone's, resuming it
	[ "$(rec session 3)" = "$sid" ]
	[ "$(rec agent_session 3)" = "$sid" ]
	serialized 1 2 3
	# work --milestone ran only the milestone's tasks
	[ "$("$BATON" show 4 --json | jq -r .status)" = pending ]
	[ "$(mjson m .session.turns)" = 2 ]
}

@test "reusing a milestone's session keeps its state (S8)" {
	"$BATON" run -q --milestone m 'tokens 2 3'
	sid=$(mjson m .session_id)
	sql "UPDATE sessions SET metadata = '{\"k\": 1}' WHERE id = '$sid'"
	"$BATON" milestone create m
	"$BATON" run -q --milestone m 'tokens 1 1'
	[ "$(mjson m .session_id)" = "$sid" ]
	[ "$(mjson m .session.turns)" = 2 ]
	[ "$(mjson m .session.input_tokens)" = 3 ]
	[ "$(sql "SELECT metadata FROM sessions WHERE id = '$sid'")" = '{"k": 1}' ]
	[ "$(sql "SELECT count(*) FROM session_chain WHERE session_id = '$sid'")" = 1 ]
}

@test "an expired milestone session is replaced and the milestone takes the new one" {
	export BATON_SESSION_TTL=2s
	"$BATON" run -q --milestone m x
	old=$(mjson m .session_id)
	sleep 3
	run --separate-stderr "$BATON" run --milestone m y
	assert_status 0
	new=$(mjson m .session_id)
	[ "$new" != "$old" ]
	[ "$(rec session 2)" = "$new" ]
	[[ "$stderr" == *"session $old expired"* ]]
	[ "$(mjson m .session.predecessor)" = "$old" ]
	[ "$(sql "SELECT status FROM sessions WHERE id = '$old'")" = expired ]
}

@test "a closed milestone session is replaced by a new one on the next task" {
	"$BATON" run -q --milestone m x
	old=$(mjson m .session_id)
	"$BATON" session close "$old"
	run --separate-stderr "$BATON" run --milestone m y
	assert_status 0
	new=$(mjson m .session_id)
	[ "$new" != "$old" ]
	[ "$(rec session 2)" = "$new" ]
	[[ "$stderr" == *"session $old is closed; starting new session $new"* ]]
}

@test "milestone list and show, as text and JSON" {
	"$BATON" milestone create m
	"$BATON" milestone create p --session per-task
	"$BATON" run -q --milestone m --title 'first step' x
	"$BATON" add -q --milestone m --title 'second step' y
	run "$BATON" milestone list
	assert_status 0
	assert_contains "MILESTONE"
	assert_contains "(one per task)"
	[ "$(echo "$output" | grep '^m ' | awk '{print $5, $6, $7}')" = "1 0 1" ]
	run "$BATON" milestone list --json
	[ "$(echo "$output" | jq -r '.[0].name + " " + (.[0].tasks.pending |
		tostring) + " " + (.[0].tasks.completed | tostring)')" = "m 1 1" ]
	run "$BATON" milestone show m
	assert_status 0
	assert_contains "shared (one session for all its tasks)"
	assert_contains "$(mjson m .session_id) (active"
	assert_contains "first step"
	assert_contains "second step"
	[ "$(echo "$output" | grep -n 'first step' | cut -d: -f1)" -lt \
		"$(echo "$output" | grep -n 'second step' | cut -d: -f1)" ]
	[ "$(mjson m '[.tasks[].status] | join(",")')" = completed,pending ]
	[ "$(mjson m '.task_counts.pending')" = 1 ]
	run "$BATON" milestone show p
	assert_contains "per-task"
	run "$BATON" milestone show nosuch
	assert_status 2
	assert_contains "no milestone 'nosuch'"
	run "$BATON" work --milestone nosuch
	assert_status 2
}
