#!/usr/bin/env bats
# Sessions as first-class objects (SPEC §2 S2, S6, S8–S13, §6, §6.1):
# named, idempotent, sticky, expiring, bounded, isolated, audited.  The
# agents are tests/agents/rec-agent, which records what it was given
# (session ids, times) in $T/rec.log, one line per run.

bats_require_minimum_version 1.5.0

load lib

# Two recording agents pinned to different models, and one that cannot
# start.  BATON_SESSION_TTL and other limits are set per test.
write_config() {
	config <<-EOF
	defaults: {agent: rec}
	sessions: {resume_failure_limit: ${LIMIT:-3}, max_active: ${MAX:-1000}, retention: ${RETENTION:-30d}}
	agents:
	  rec:
	    kind: command
	    command: [$AGENTS/rec-agent, $T/rec.log, rec, "{session_id}", "{agent_session_id}"]
	    model: m1
	    env: {REC_FORGET: $T/forget}
	  rec2:
	    kind: command
	    command: [$AGENTS/rec-agent, $T/rec.log, rec2, "{session_id}", "{agent_session_id}"]
	    model: m2
	  broken:
	    kind: command
	    command: [$T/no-such-agent]
	  fresh:
	    kind: command
	    command: [$AGENTS/rec-agent, $T/rec.log, fresh, "{session_id}", "{agent_session_id}"]
	    use_session_persistence: false
	EOF
}

local_setup() {
	write_config
}

# rec FIELD TASK: FIELD of the (last) run of TASK in rec.log.
rec() {
	awk -v t="task=$2" -v f="$1=" '
		$2 == t { for (i = 1; i <= NF; i++)
			if (index($i, f) == 1) v = substr($i, length(f) + 1) }
		END { print v }' "$T/rec.log"
}

# runs_of TASK: number of agent runs TASK made.
runs_of() {
	awk -v t="task=$1" '$2 == t' "$T/rec.log" 2>/dev/null | wc -l
}

# sjson REF FILTER: a jq filter over `session show REF --json`.
sjson() {
	"$BATON" session show "$1" --json | jq -r "$2"
}

# Intervals [start, end] of the runs of the given tasks do not overlap
# and come in the order given.
serialized() {
	local prev_end=0 t s e
	for t in "$@"; do
		s=$(rec start "$t") e=$(rec end "$t")
		[ -n "$s" ] || { echo "task $t did not run" >&2; return 1; }
		if awk -v a="$s" -v b="$prev_end" 'BEGIN { exit !(a < b) }'; then
			echo "task $t started at $s before $prev_end" >&2
			return 1
		fi
		prev_end=$e
	done
}

# Two tasks ran at the same time.
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

# ---- named sessions (S2) ----

@test "use_session_persistence: false never resumes, even in a named session; each run is a new conversation chained with reset" {
	run "$BATON" run -q --agent fresh --session s1 one
	assert_status 0
	run "$BATON" run -q --agent fresh --session s1 two
	assert_status 0
	run "$BATON" run -q --agent fresh --session s1 --check false --max-iterations 2 three
	assert_status 1
	sid=$(sjson s1 .id)
	# the first conversation has the session's own id (S4), later ones
	# fresh ids: four runs, four different conversations
	[ "$(rec arg_agent_session 1)" = "$sid" ]
	[ "$(grep -o 'arg_agent_session=[^ ]*' "$T/rec.log" | sort -u | wc -l)" = 4 ]
	[ "$(sql "SELECT group_concat(resume_outcome) FROM runs")" = "new,new,new,new" ]
	[ "$(sql "SELECT count(*) FROM runs WHERE agent_session_in IN (SELECT agent_session_in FROM runs r2 WHERE r2.id < runs.id)")" = 0 ]
	# the session records every conversation: first, then reset; usage adds up
	[ "$(sjson s1 '[.chain[].edge] | join(",")')" = "first,reset,reset,reset" ]
	[ "$(sjson s1 .head)" = "$(sql "SELECT agent_session_out FROM runs WHERE id = 4")" ]
	[ "$(sjson s1 .turns)" = 4 ]
	# the same named session with a persistent profile resumes its head
	run "$BATON" run -q --agent rec --force-agent --session s1 four
	assert_status 0
	[ "$(sql "SELECT resume_outcome FROM runs WHERE id = 5")" = resumed ]
	[ "$(rec arg_agent_session 4)" = "$(sql "SELECT agent_session_out FROM runs WHERE id = 4")" ]
}

@test "--session NAME is created on first use and reused after" {
	run "$BATON" run -q --session foo 'one'
	assert_status 0
	run "$BATON" run -q --session foo 'two'
	assert_status 0
	id=$(sjson foo .id)
	[ "$(sjson foo .kind)" = named ]
	[ "$(sjson foo .name)" = foo ]
	# both tasks got the session; the first run's agent session is the
	# session's own id (S4), the second resumed it
	[ "$(rec session 1)" = "$id" ]
	[ "$(rec session 2)" = "$id" ]
	[ "$(rec arg_session 2)" = "$id" ]
	[ "$(rec agent_session 1)" = "$id" ]
	[ "$(rec agent_session 2)" = "$id" ]
	[ "$(sjson foo '.chain[0].agent_session_id')" = "$id" ]
	[ "$(sjson foo '[.runs[].resume_outcome] | join(",")')" = new,resumed ]
	[ "$(sjson foo .turns)" = 2 ]
	[ "$(sql "SELECT count(*) FROM sessions")" = 1 ]
}

@test "--session UUID: an unknown UUID becomes the session's id" {
	run "$BATON" run -q --session 0E9C7A9A-1B2C-4D3E-8F40-123456789ABC x
	assert_status 0
	[ "$(rec session 1)" = 0e9c7a9a-1b2c-4d3e-8f40-123456789abc ]
	s=0e9c7a9a-1b2c-4d3e-8f40-123456789abc
	[ "$(sjson $s .kind)" = named ]
	[ "$(sjson $s .name)" = null ]
	run "$BATON" run -q --session $s y
	assert_status 0
	[ "$(rec session 2)" = $s ]
	[ "$(sql "SELECT count(*) FROM sessions")" = 1 ]
}

@test "an invalid session name is a usage error" {
	run "$BATON" add --session 'a b' x
	assert_status 2
	assert_contains "invalid session 'a b'"
	run "$BATON" session init 'bad/name'
	assert_status 2
	assert_contains "invalid session"
}

@test "work -j 4: one session's tasks run in order, never overlapping; other sessions run in parallel" {
	for i in 1 2 3; do "$BATON" add -q --session a 'sleep 0.6'; done
	for i in 1 2 3; do "$BATON" add -q --session b 'sleep 0.6'; done
	run "$BATON" work -j 4 --until-empty
	assert_status 0
	serialized 1 2 3
	serialized 4 5 6
	overlap 1 4
	[ "$(rec session 1)" = "$(rec session 3)" ]
	[ "$(rec session 4)" = "$(rec session 6)" ]
	[ "$(rec session 1)" != "$(rec session 4)" ]
}

# ---- idempotent init (S8) ----

@test "session init prints created, then exists; a UUID is used as the id" {
	run "$BATON" session init foo
	assert_status 0
	[ "$output" = created ]
	run "$BATON" session init foo
	assert_status 0
	[ "$output" = exists ]
	run "$BATON" session init 7d3c1f9e-0000-4000-8000-00000000abcd
	[ "$output" = created ]
	run "$BATON" session init 7D3C1F9E-0000-4000-8000-00000000ABCD
	[ "$output" = exists ]
	[ "$(sql "SELECT count(*) FROM sessions")" = 2 ]
	[ "$(sql "SELECT kind FROM sessions WHERE id =
		'7d3c1f9e-0000-4000-8000-00000000abcd'")" = named ]
	run "$BATON" session init foo --json
	[ "$(echo "$output" | jq -r .result)" = exists ]
	[ "$(echo "$output" | jq -r .name)" = foo ]
}

@test "turns, usage, chain and metadata survive init by name, by UUID and by a task naming it" {
	fork=11111111-2222-4333-8444-555555555555
	"$BATON" run -q --session foo 'tokens 5 7'
	printf 'tokens 1 2\nreport %s\n' $fork | "$BATON" run -q \
		--session foo --prompt-file -
	id=$(sjson foo .id)
	sql "UPDATE sessions SET metadata = '{\"k\": 1}' WHERE id = '$id'"
	state() {
		sql "SELECT turns, input_tokens, output_tokens, cost_usd, head,
			resume_failures, metadata FROM sessions WHERE id = '$id'"
		sql "SELECT agent_session_id, edge FROM session_chain
			WHERE session_id = '$id' ORDER BY id"
	}
	before=$(state)
	# a resumed conversation that comes back under a new id (as Claude
	# does) extends the chain with edge "resume"
	[ "$(sjson foo '[.chain[].edge] | join(",")')" = first,resume ]
	[ "$(sjson foo .head)" = $fork ]

	run "$BATON" session init foo
	[ "$output" = exists ]
	[ "$(state)" = "$before" ]
	run --separate-stderr "$BATON" session init "$id" --agent rec2 --model m9
	[ "$output" = exists ]
	[[ "$stderr" == *"pinned to agent rec, model m1; --agent/--model ignored"* ]]
	[ "$(state)" = "$before" ]
	[ "$(sjson foo .agent)" = rec ]

	# a task naming it continues the conversation, adding to it
	"$BATON" run -q --session foo 'tokens 10 20'
	[ "$(rec agent_session 3)" = $fork ]
	[ "$(sjson foo .turns)" = 3 ]
	[ "$(sjson foo .input_tokens)" = 16 ]
	[ "$(sjson foo .output_tokens)" = 29 ]
	[ "$(sjson foo '[.chain[].edge] | join(",")')" = first,resume ]
	[ "$(sql "SELECT metadata FROM sessions WHERE id = '$id'")" = '{"k": 1}' ]
	[ "$(sjson foo .id)" = "$id" ]
}

@test "session reset wipes the conversation state, keeps the id, name and pins, and records an event" {
	"$BATON" session init foo --agent rec2 --model m7
	"$BATON" run -q --session foo 'tokens 5 7'
	"$BATON" run -q --session foo 'report 11111111-2222-4333-8444-555555555555'
	id=$(sjson foo .id)
	sql "UPDATE sessions SET metadata = '{\"k\": 1}', resume_failures = 2
		WHERE id = '$id'"
	run "$BATON" session reset foo
	assert_status 0
	assert_contains "reset foo ($id)"
	[ "$(sjson foo .id)" = "$id" ]
	[ "$(sjson foo .name)" = foo ]
	[ "$(sjson foo .status)" = active ]
	[ "$(sjson foo .agent)/$(sjson foo .model)" = rec2/m7 ]
	[ "$(sjson foo .head)" = null ]
	[ "$(sjson foo '.chain | length')" = 0 ]
	[ "$(sjson foo .turns)" = 0 ]
	[ "$(sjson foo .input_tokens)" = 0 ]
	[ "$(sjson foo .cost_usd)" = 0 ]
	[ "$(sjson foo .resume_failures)" = 0 ]
	[ "$(sql "SELECT metadata FROM sessions WHERE id = '$id'")" = '{}' ]
	[ "$(sjson foo '[.events[] | select(.kind == "reset")] | length')" = 1 ]
	sjson foo '.events[] | select(.kind == "reset") | .detail' |
		grep -q 'wiped head 11111111-2222-4333-8444-555555555555, 2 chain links, 2 turns'
	# the next task starts a new conversation in the same session
	"$BATON" run -q --session foo x
	[ "$(rec session 3)" = "$id" ]
	[ "$(rec agent_session 3)" = "$id" ]
	[ "$(sjson foo '[.runs[].resume_outcome] | join(",")')" = new,resumed,new ]
	run "$BATON" session reset nosuch
	assert_status 2
	assert_contains "no session 'nosuch'"
}

@test "session reset and close are refused while a task uses the session" {
	"$BATON" run -q --session foo 'sleep 3' &
	wait_for "[ \"\$(sql 'SELECT count(*) FROM sessions WHERE lease_task IS NOT NULL')\" = 1 ]"
	run "$BATON" session reset foo
	assert_status 1
	assert_contains "cannot reset session foo"
	assert_contains "task 1 is using it"
	run "$BATON" session close foo
	assert_status 1
	assert_contains "task 1 is using it"
	run "$BATON" session show foo
	assert_contains "in use by task 1"
	wait
	[ "$(sjson foo .status)" = active ]
	[ "$(sjson foo .turns)" = 1 ]
}

# ---- sticky agent and model (S9) ----

@test "a task asking for another agent or model runs on the pinned ones, with a warning naming them" {
	"$BATON" session init foo --agent rec --model m5
	run --separate-stderr "$BATON" run --session foo --agent rec2 x
	assert_status 0
	[ "$(rec name 1)" = rec ]
	[[ "$stderr" == *"pinned to agent rec, model m5"* ]]
	[[ "$stderr" == *"asked for agent rec2"* ]]
	[ "$("$BATON" show 1 --json | jq -r '.agent + "/" + .model')" = rec/m5 ]
	run --separate-stderr "$BATON" run --session foo --model m6 y
	assert_status 0
	[[ "$stderr" == *"pinned to agent rec, model m5"* ]]
	[[ "$stderr" == *"asked for agent rec, model m6"* ]]
	[ "$("$BATON" show 2 --json | jq -r .model)" = m5 ]
	# init with other pins keeps them, and says so
	run --separate-stderr "$BATON" session init foo --agent rec2
	[ "$output" = exists ]
	[[ "$stderr" == *"pinned to agent rec, model m5"* ]]
	[ "$(sjson foo .agent)/$(sjson foo .model)" = rec/m5 ]
}

@test "--force-agent re-pins the session and records an event" {
	"$BATON" run -q --session foo x
	run --separate-stderr "$BATON" run --session foo --agent rec2 --force-agent y
	assert_status 0
	[ "$(rec name 2)" = rec2 ]
	[[ "$stderr" == *"re-pinned from agent rec, model m1 to agent rec2, model m2"* ]]
	[ "$(sjson foo .agent)/$(sjson foo .model)" = rec2/m2 ]
	[ "$(sjson foo '.events[] | select(.kind == "repin") | .task_id')" = 2 ]
	[ "$(sjson foo '.events[] | select(.kind == "repin") | .detail')" = \
		"agent rec, model m1 -> agent rec2, model m2" ]
	# the next task without --agent stays on the new pins, same session
	"$BATON" run -q --session foo z
	[ "$(rec name 3)" = rec2 ]
	[ "$(rec session 3)" = "$(rec session 1)" ]
}

# ---- expiry (S10) ----

@test "a session idle past BATON_SESSION_TTL is expired on its next use and a new one takes over its name" {
	export BATON_SESSION_TTL=2s
	"$BATON" run -q --session foo x
	old=$(sjson foo .id)
	sleep 3
	run --separate-stderr "$BATON" run --session foo y
	assert_status 0
	new=$(sjson foo .id)
	[ "$new" != "$old" ]
	[ "$(rec session 2)" = "$new" ]
	[[ "$stderr" == *"session foo ($old) expired"* ]]
	[[ "$stderr" == *"longer than sessions.ttl 2s"* ]]
	[[ "$stderr" == *"continuing in new session $new"* ]]
	[ "$(sjson "$old" .status)" = expired ]
	[ "$(sjson "$new" .predecessor)" = "$old" ]
	[ "$(sjson "$new" .name)" = foo ]
	[ "$(sjson "$old" '[.events[].kind] | join(",")')" = create,expire ]
	sjson "$new" '.events[0].detail' | grep -q "successor of $old"
	# the new session starts its own conversation
	[ "$(rec agent_session 2)" = "$new" ]
}

@test "every use touches a session: used within the TTL it stays" {
	export BATON_SESSION_TTL=3s
	"$BATON" session init foo
	id=$(sjson foo .id)
	sleep 1.2
	"$BATON" session init foo
	sleep 1.2
	"$BATON" run -q --session foo x
	sleep 1.2
	run --separate-stderr "$BATON" run --session foo y
	assert_status 0
	[[ "$stderr" != *expired* ]]
	[ "$(rec session 1)" = "$id" ]
	[ "$(rec session 2)" = "$id" ]
}

@test "session init of an expired session creates a new one and says so" {
	export BATON_SESSION_TTL=2s
	"$BATON" session init foo
	old=$(sjson foo .id)
	sleep 3
	run --separate-stderr "$BATON" session init foo
	assert_status 0
	[ "$output" = created ]
	[[ "$stderr" == *"session foo ($old) expired"* ]]
	[ "$(sjson foo .predecessor)" = "$old" ]
}

@test "session gc expires idle sessions and prunes ended ones past retention; --dry-run changes nothing" {
	RETENTION=0s write_config
	export BATON_SESSION_TTL=2s
	"$BATON" session init idle
	"$BATON" session init ended
	"$BATON" run -q --session ended x
	ended=$(sjson ended .id)
	[ -d "$(files_dir)/sessions/$ended" ]
	"$BATON" session close ended
	sleep 3
	"$BATON" session init fresh
	before=$(sql "SELECT id, status FROM sessions ORDER BY id")

	run "$BATON" session gc --dry-run
	assert_status 0
	assert_contains "would expire idle ("
	assert_contains "would prune ended ($ended)"
	assert_contains "dry run: 1 expired, 1 pruned"
	[ "$(sql "SELECT id, status FROM sessions ORDER BY id")" = "$before" ]

	run "$BATON" session gc
	assert_status 0
	assert_contains "expired idle ("
	assert_contains "pruned ended ($ended)"
	[ "$(sjson idle .status)" = expired ]
	[ "$(sjson fresh .status)" = active ]
	[ "$(sql "SELECT count(*) FROM sessions WHERE id = '$ended'")" = 0 ]
	[ "$(sql "SELECT count(*) FROM session_chain WHERE session_id = '$ended'")" = 0 ]
	[ ! -e "$(files_dir)/sessions/$ended" ]
	# the task and its run are kept
	[ "$("$BATON" show 1 --json | jq -r .status)" = completed ]
	[ "$(sql "SELECT count(*) FROM events WHERE kind = 'prune' AND session_id = '$ended'")" = 1 ]
	[ "$(sql "SELECT count(*) FROM events WHERE kind = 'expire'")" = 1 ]
	# active ones only by default; --all lists the expired one too
	run "$BATON" session list
	assert_not_contains "idle"
	assert_contains "fresh"
	run "$BATON" session list --all
	assert_contains "expired"
	# with retention 0s the session gc expired is pruned by the next gc
	idle=$(sjson idle .id)
	# fresh stays fresh however slow the commands above were (TTL 2s)
	sql "UPDATE sessions SET last_used_at = $(date +%s%3N) WHERE name = 'fresh'"
	run "$BATON" session gc --json
	[ "$(echo "$output" | jq -c '[.expired, .pruned]')" = "[[],[\"$idle\"]]" ]
}

@test "session gc never expires a session in use" {
	export BATON_SESSION_TTL=1s
	"$BATON" run -q --session busy 'sleep 3' &
	wait_for "[ \"\$(sql 'SELECT count(*) FROM sessions WHERE lease_task IS NOT NULL')\" = 1 ]"
	sleep 1.5
	run "$BATON" session gc
	assert_status 0
	assert_contains "0 expired"
	wait
	[ "$(sjson busy .status)" = active ]
}

# ---- capacity (S11) ----

@test "sessions.max_active: one more fails naming the limit; reuse never counts; closing makes room" {
	MAX=2 write_config
	run "$BATON" session init a
	[ "$output" = created ]
	run "$BATON" session init b
	[ "$output" = created ]
	run "$BATON" session init c
	assert_status 1
	assert_contains "sessions.max_active is 2"
	# re-init and reuse of existing sessions do not count
	run "$BATON" session init a
	assert_status 0
	[ "$output" = exists ]
	run "$BATON" run -q --session a x
	assert_status 0
	# a temp session counts too: the task fails before its agent starts
	run "$BATON" run y
	assert_status 1
	assert_contains "sessions.max_active is 2"
	[ "$(runs_of 2)" = 0 ]
	[ "$("$BATON" show 2 --json | jq -r .status)" = failed ]
	# closing one makes room
	"$BATON" session close b
	run "$BATON" run -q z
	assert_status 0
	[ "$(runs_of 3)" = 1 ]
	run "$BATON" session init c
	[ "$output" = created ]
	[ "$(sql "SELECT count(*) FROM sessions WHERE status = 'active'")" = 2 ]
}

# ---- isolation (S12) ----

@test "a session from another project is refused before any agent starts, naming both projects" {
	mkdir -p "$T/p1/sub" "$T/p2"
	git -C "$T/p1" init -q
	p1=$(cd "$T/p1" && pwd -P) p2=$(cd "$T/p2" && pwd -P)
	run "$BATON" run -q --workdir "$T/p1" --session foo x
	assert_status 0
	# a subdirectory of the same git repository is the same project
	run "$BATON" run -q --workdir "$T/p1/sub" --session foo y
	assert_status 0
	run --separate-stderr "$BATON" run --workdir "$T/p2" --session foo z
	assert_status 1
	[[ "$stderr" == *"belongs to project $p1, not to project $p2"* ]]
	[[ "$stderr" == *"--allow-foreign-session"* ]]
	[ "$(runs_of 3)" = 0 ]
	[ "$("$BATON" show 3 --json | jq -r .status)" = failed ]
	# session init from there is refused too
	cd "$T/p2"
	run "$BATON" session init foo
	assert_status 1
	assert_contains "belongs to project $p1"
}

@test "--allow-foreign-session overrides the isolation and is recorded" {
	mkdir -p "$T/p1" "$T/p2"
	git -C "$T/p1" init -q
	"$BATON" run -q --workdir "$T/p1" --session foo x
	run --separate-stderr "$BATON" run --workdir "$T/p2" --session foo \
		--allow-foreign-session y
	assert_status 0
	[[ "$stderr" == *"used anyway (--allow-foreign-session)"* ]]
	[ "$(rec session 2)" = "$(sjson foo .id)" ]
	[ "$(sjson foo '.events[] | select(.kind == "foreign") | .task_id')" = 2 ]
}

@test "a session of another OS user is refused" {
	"$BATON" run -q --session foo x
	sql "UPDATE sessions SET os_user = 'mallory'"
	run "$BATON" run --session foo y
	assert_status 1
	assert_contains "belongs to user mallory"
	[ "$(runs_of 2)" = 0 ]
}

# ---- resume bookkeeping (S13) ----

@test "a failed resume is recorded, chained with fresh_after_failed_resume and the turn repeated once" {
	"$BATON" run -q --session foo x
	id=$(sjson foo .id)
	# the agent forgets the conversation
	echo "$id" > "$T/forget"
	run "$BATON" run -q --session foo y
	assert_status 0
	[ "$(runs_of 2)" = 2 ]
	[ "$(sjson foo .resume_failures)" = 1 ]
	[ "$(sjson foo .resumable)" = true ]
	[ "$(sjson foo '[.chain[].edge] | join(",")')" = first,fresh_after_failed_resume ]
	[ "$(sjson foo '[.runs[].resume_outcome] | join(",")')" = \
		new,resumed,fresh_after_failed_resume ]
	[ "$(sjson foo '[.runs[].outcome] | join(",")')" = \
		success,resume_failed,success ]
	head=$(sjson foo .head)
	[ "$head" != "$id" ]
	[ "$(rec agent_session 2)" = "$head" ]
	[ "$(sjson foo '[.events[] | select(.kind == "fallback")] | length')" = 1 ]
	run "$BATON" session show foo
	assert_contains "fresh_after_failed_resume"
	assert_contains "(head)"
	assert_contains "resumable    yes (1 resume failure)"
}

@test "after sessions.resume_failure_limit failures a session is not resumable" {
	LIMIT=1 write_config
	"$BATON" run -q --session foo x
	sjson foo .id > "$T/forget"
	"$BATON" run -q --session foo y
	[ "$(sjson foo .resumable)" = false ]
	"$BATON" run -q --session foo z
	[ "$(sjson foo '.runs[-1].resume_outcome')" = fresh_after_failed_resume ]
	run "$BATON" session show foo
	assert_contains "resumable    no (1 resume failure)"
}

@test "a startup failure is not a resume failure: the session keeps its id" {
	"$BATON" session init foo --agent broken
	id=$(sjson foo .id)
	run -127 "$BATON" run -q --session foo x
	[ "$(sjson foo .id)" = "$id" ]
	[ "$(sjson foo .resume_failures)" = 0 ]
	[ "$(sjson foo '.chain | length')" = 0 ]
}

# ---- audit and the commands ----

@test "create, resume, fallback, expire, reset, close and repin are event rows session show lists" {
	export BATON_SESSION_TTL=2s
	"$BATON" run -q --session foo x
	sjson foo .id > "$T/forget"
	"$BATON" run -q --session foo y
	"$BATON" run -q --session foo --agent rec2 --force-agent z
	"$BATON" session reset foo
	old=$(sjson foo .id)
	sleep 3
	"$BATON" run -q --session foo w
	"$BATON" session close foo
	[ "$(sjson "$old" '[.events[].kind] | join(",")')" = \
		create,resume,fallback,repin,resume,reset,expire ]
	[ "$(sjson foo '[.events[].kind] | join(",")')" = create,close ]
	run "$BATON" session show "$old"
	for k in create resume fallback repin reset expire; do
		assert_contains "  $k "
	done
}

@test "session list --json and show --json have the SPEC 6.1 fields" {
	"$BATON" run -q --session foo 'tokens 3 4'
	"$BATON" session init bar
	"$BATON" session close bar
	run "$BATON" session list --json
	assert_status 0
	[ "$(echo "$output" | jq length)" = 1 ]
	for k in id kind name agent model project status head turns \
		input_tokens output_tokens cost_usd resume_failures resumable \
		created_at last_used_at expires_at; do
		echo "$output" | jq -e ".[0] | has(\"$k\")" >/dev/null ||
			{ echo "list item lacks $k" >&2; return 1; }
	done
	echo "$output" | jq -e '.[0] | has("chain") | not' >/dev/null
	[ "$(echo "$output" | jq -r '.[0].input_tokens')" = 3 ]
	echo "$output" | jq -r '.[0].created_at' |
		grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$'
	run "$BATON" session list --all --json
	[ "$(echo "$output" | jq length)" = 2 ]
	[ "$(echo "$output" | jq -r '.[1].status + " " + (.[1].expires_at | tostring)')" = "closed null" ]
	run "$BATON" session show foo --json
	for k in agent_session_id edge created_at; do
		echo "$output" | jq -e ".chain[0] | has(\"$k\")" >/dev/null
	done
	[ "$(echo "$output" | jq -r '.runs[0].task_id')" = 1 ]
}

@test "session show finds a session by name, UUID or unique id prefix" {
	"$BATON" session init foo
	id=$(sjson foo .id)
	run "$BATON" session show "$id"
	assert_status 0
	assert_contains "session $id"
	run "$BATON" session show "${id:0:8}"
	assert_status 0
	assert_contains "name         foo"
	# a prefix in upper case too (a UUID copied from elsewhere)
	pre=${id:0:13}
	run "$BATON" session show "${pre^^}"
	assert_status 0
	assert_contains "name         foo"
	run "$BATON" session show nosuch
	assert_status 2
	assert_contains "no session 'nosuch'"
	run "$BATON" session show
	assert_status 2
}

@test "a closed session's name is free again; its id is not; closing twice is fine" {
	"$BATON" run -q --session foo x
	old=$(sjson foo .id)
	run "$BATON" session close foo
	assert_status 0
	assert_contains "closed foo ($old)"
	run "$BATON" session close "$old"
	assert_status 0
	assert_contains "already closed"
	run "$BATON" session list
	assert_not_contains "$old"
	run --separate-stderr "$BATON" run --session foo y
	assert_status 0
	[[ "$stderr" == *"session foo ($old) is closed"* ]]
	new=$(sjson foo .id)
	[ "$new" != "$old" ]
	[ "$(rec session 2)" = "$new" ]
	run "$BATON" run --session "$old" z
	assert_status 1
	assert_contains "is closed"
	[ "$(runs_of 3)" = 0 ]
}

@test "session help and unknown subcommands" {
	run "$BATON" session --help
	assert_status 0
	for c in close gc init list reset show; do
		assert_contains "  $c "
	done
	run "$BATON" session frob
	assert_status 2
	run "$BATON" session list --bogus
	assert_status 2
	assert_contains "unknown option '--bogus'"
}

@test "session fork: refused for the shell agent and for a session with no conversation" {
	run "$BATON" run --agent shell --session sh 'true'
	assert_status 0
	id=$(sql "select id from sessions where name = 'sh'")
	run "$BATON" session fork sh branch
	assert_status 1
	assert_contains "baton: cannot fork session sh ($id): the shell agent cannot branch a conversation"
	run "$BATON" session fork sh 'bad name'
	assert_status 2
	assert_contains "invalid session 'bad name'"
	[ "$(sql "select count(*) from sessions")" = 1 ]
}

@test "run -c: continues the project's last conversation; none is a usage error" {
	mkdir -p a b
	run "$BATON" run -c --workdir a 'true'
	assert_status 2
	assert_contains "baton: no conversation found to continue in project $(cd a && pwd -P): start one without --continue"
	"$BATON" run -q --agent shell --workdir a 'echo "$BATON_AGENT_SESSION_ID"' >/dev/null
	first=$(sql "select id from sessions")
	run "$BATON" run --workdir a -c 'echo "in=$BATON_AGENT_SESSION_ID"'
	assert_status 0
	assert_contains "in=$first"
	second=$(sql "select id from sessions where predecessor = '$first'")
	[ "$(sql "select kind, status from sessions where id = '$second'")" = "temp|closed" ]
	# another project has no conversation of its own
	run "$BATON" run -c --workdir b 'true'
	assert_status 2
	# an active named session is continued in place
	"$BATON" run -q --workdir a --session named 'true' >/dev/null
	run "$BATON" run -q --workdir a --continue 'true'
	assert_status 0
	[ "$(sql "select session_id from tasks order by id desc limit 1")" = \
		"$(sql "select id from sessions where name = 'named'")" ]
	run "$BATON" run -c --session named 'true'
	assert_status 2
	assert_contains "--continue and --session exclude each other"
	run "$BATON" add -c 'true'
	assert_status 2
	assert_contains "option '-c' is unknown"
}
