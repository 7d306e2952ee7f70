# Helpers of the fenced-lease tests (fence.bats, postgres.bats): runners
# on separate "machines" (their own UTS and PID namespaces and host
# names) sharing one database, and the session agent's records of which
# agent ran when.

SAGENT=$AGENTS/session-agent

# The session agent as the default profile; runner timings of issue 10.
fence_config() {
	mkdir -p "$T/rec"
	config <<-EOF
	defaults: {agent: sess, kill_grace: 1s}
	runner: {heartbeat: 1s, stale_after: 3s$1}
	agents:
	  sess: {kind: command, command: [$SAGENT, $T/rec]}
	EOF
}

# The machines need namespaces (root, or user namespaces): say so
# visibly where they cannot be made.
need_machines() {
	if ! unshare --uts --pid --fork --mount-proc true 2>/dev/null; then
		skip "cannot make UTS and PID namespaces here (unshare needs root)"
	fi
}

# machine NAME OUT ARGS...: `baton ARGS` in the background on a machine
# of its own: new UTS and PID namespaces with host name NAME (and /proc
# of its own).  Output to OUT; MACHINE is the unshare process, whose exit
# status is baton's.
machine() {
	local name=$1 out=$2
	shift 2
	unshare --uts --pid --fork --kill-child --mount-proc \
		sh -c 'hostname "$1" || exit 99; shift; "$@"; exit $?' \
		sh "$name" "$BATON" "$@" >"$out" 2>&1 &
	MACHINE=$!
}

# The pid (as seen here) of the baton process of machine $1.
baton_of() {
	local p kids
	kids=$(pgrep -P "$1")
	while [ -n "$kids" ]; do
		for p in $kids; do
			if [ "$(readlink "/proc/$p/exe")" = "$(readlink -f "$BATON")" ]; then
				echo "$p"
				return 0
			fi
		done
		kids=$(for p in $kids; do pgrep -P "$p"; done)
	done
	return 1
}

# How many runs of task $1 the session agent started / saw $2 of.
seen() {
	grep -c " $1\.[0-9]* ${2:-start} " "$T/rec/sessions" 2>/dev/null
}

# No two agents were ever running at once in one session, and every one
# that started ended or was stopped (session-agent's records).
# With $1 (ms since the epoch, when a machine was killed -9 whole), a run
# that never ended counts as ended then, if it started before.
no_overlap() {
	awk -v killed="${1:-}" '
	{ key = $2; sess[key] = $1 }
	$3 == "start" { start[key] = $4 }
	$3 == "end" || $3 == "term" { stop[key] = $4 }
	END {
		for (k in start)
			if (!(k in stop)) {
				if (killed != "" && start[k] < killed + 0) {
					stop[k] = killed + 0
					continue
				}
				print "run " k " never ended"
				bad = 1
			}
		for (a in start)
			for (b in start)
				if (a < b && sess[a] == sess[b] &&
				    start[a] < stop[b] && start[b] < stop[a]) {
					print "runs " a " and " b " overlap in " sess[a]
					bad = 1
				}
		exit bad
	}' "$T/rec/sessions"
}

# stale_runner ARGS...: machine-a runs `work ARGS` on task 1 (session
# s1), is stopped while the agent ends, reaped by machine-b (which then
# runs task 2 in s1), and continued: it lost task 1's lease at its end.
# Its output is in $T/a.out, its exit status in $status.
stale_runner() {
	"$BATON" add -q --session s1 1 # a: ends while a is stopped
	"$BATON" add -q --session s1 1 # b, once it took over s1
	machine machine-a "$T/a.out" work -j 1 --until-empty "$@"
	local a=$MACHINE runner
	wait_for '[ "$(seen 1)" = 1 ]' 20
	runner=$(baton_of "$a")
	kill -STOP "$runner"
	wait_for '[ "$(seen 1 end)" = 1 ]' 20
	machine machine-b "$T/b.out" work -j 1 --until-empty
	local b=$MACHINE
	# b reaps a once its heartbeat is stale_after old, and runs task 2
	wait_for '[ "$(seen 2 end)" = 1 ]' 30
	wait_exit "$b" 30
	[ "$status" = 0 ] || { cat "$T/b.out" >&2; return 1; }
	kill -CONT "$runner"
	wait_exit "$a" 30
}
