# Helpers shared by run.bats, work.bats, signals.bats, crash.bats,
# bad-input.bats and prompts.bats (loaded after lib).

FAKE=$AGENTS/fake-agent

# A config with the fake agent as the default profile, plus the profile
# lines given as arguments (see fake_profile).
fake_config() {
	local extra
	extra=$(printf '%s\n' "$@")
	mkdir -p "$T/rec"
	config <<-EOF
	defaults: {agent: fake, kill_grace: 1s}
	runner: {heartbeat: 1s, stale_after: 3s}
	agents:
	  fake: {kind: command, command: [$FAKE, $T/rec, "{session_id}"]}
	$extra
	EOF
}

# A profile line for the fake agent doing ACTIONs: fake_profile NAME ACTION...
fake_profile() {
	local name=$1 items="" a
	shift
	for a in "$@"; do
		items="$items, \"$a\""
	done
	printf '  %s: {kind: command, command: [%s, %s, "{session_id}"%s]}\n' \
		"$name" "$FAKE" "$T/rec" "$items"
}

# One field of the task object: tj TASK FILTER (jq -r over show --json).
tj() {
	"$BATON" show "$1" --json | jq -r "$2"
}

# Is pid a live process (not gone, not a zombie)?
alive() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Every temp session is closed (or abandoned after a crash) and no
# session is leased; prints what is wrong.
no_session_left() {
	local bad
	bad=$(sql "SELECT id || ' ' || kind || ' ' || status || ' lease=' ||
		coalesce(CAST(lease_runner AS TEXT), '') FROM sessions WHERE
		(kind = 'temp' AND status = 'active') OR lease_runner IS NOT NULL")
	if [ -n "$bad" ]; then
		echo "sessions left open or leased: $bad" >&2
		return 1
	fi
}

# `baton doctor` finds nothing.
doctor_clean() {
	run "$BATON" doctor
	if [ "$status" != 0 ]; then
		echo "doctor exit $status: $output" >&2
		return 1
	fi
	assert_contains "ok: no problems found"
}

# Wait up to $2 seconds (default 30) for background job $1 to exit and
# set status to its exit status; kill it and fail if it does not.
wait_exit() {
	local i=0 n=$(( ${2:-30} * 20 ))
	while alive "$1"; do
		i=$((i + 1))
		if [ $i -ge $n ]; then
			echo "process $1 did not exit within ${2:-30}s" >&2
			kill -9 "$1" 2>/dev/null
			return 1
		fi
		sleep 0.05
	done
	status=0
	wait "$1" || status=$?
}

# Stop whatever a failed test left running in its sandbox: baton and its
# agents, found by the database in their environment.
local_teardown() {
	kill_db_procs "$T/state/baton.db" "${BATON_DB:-$T/state/baton.db}"
}
