#!/bin/bash
# The fleet of docs/screens/fleet.txt (issue 10's evidence): three
# "machines" — UTS and PID namespaces of their own, each with its host
# name — share one PostgreSQL queue of 300 tasks in 30 sessions.  One
# machine's runner is stopped past stale_after and continued; another
# machine is killed -9 whole (its PID namespace); the server restarts
# mid-batch.  After each, `baton status --summary --json` and `doctor`.
# Needs root (unshare), build/baton, jq and the postgresql package; the
# cluster is a private one in a temp directory (tests/pg.bash).
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/baton-fleet.XXXXXX)
chmod 0755 "$T"
. "$REPO/tests/pg.bash"
pg_cluster_start || exit 1
trap 'pkill -9 -f "$T/rec" 2>/dev/null; pg_cluster_stop; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
cd "$T" || exit 1
mkdir rec
export PATH=$REPO/build:$PATH HOME=$T
BATON_DB=$(pg_newdb fleet) || exit 1
export BATON_DB
cat >baton.yaml <<YAML
defaults: {agent: sess, kill_grace: 1s}
runner: {heartbeat: 1s, stale_after: 3s}
agents:
  sess: {kind: command, command: [$REPO/tests/agents/session-agent, $T/rec]}
YAML
export BATON_CONFIG=$T/baton.yaml

say() { printf '\n$ %s\n' "$*"; eval "$@"; echo "[exit $?]"; }
q() { pg_sql fleet "$1"; }
counts() {
	say "baton status --summary --json | jq -c ."
	say "baton doctor"
}
# machine NAME: `baton work -j 4 --until-empty` in namespaces of its own.
machine() {
	unshare --uts --pid --fork --kill-child --mount-proc \
		sh -c 'hostname "$1" && shift && "$@"' sh "$1" \
		baton work -j 4 --until-empty >"$1.out" 2>&1 &
	eval "ns_${1#machine-}=\$!"
}
# The baton process of machine $1 (as seen here), under its namespace's
# init (sh).
baton_in() { pgrep -P "$(pgrep -P "$1")"; }
until_() {
	local i=0
	while ! eval "$1"; do
		sleep 0.1
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "fleet.sh: timed out waiting for: $1" >&2; exit 1; }
	done
}

for i in $(seq 0 299); do
	printf '{"prompt": "0.1", "session": "s%d"}\n' $((i % 30))
done >tasks.jsonl
say "baton add --from tasks.jsonl"
echo
echo "# three machines, each: unshare --uts --pid --fork --mount-proc," \
	"hostname machine-X, baton work -j 4 --until-empty"
machine machine-a
machine machine-b
machine machine-c
until_ '[ "$(q "SELECT count(*) FROM tasks WHERE status = '"'"'completed'"'"'")" -ge 30 ]'
say "q 'SELECT id, host, status FROM runners ORDER BY id'"
counts

echo
echo "# machine-a's baton stopped (SIGSTOP) past stale_after (3 s), then continued"
a=$(baton_in "$ns_a")
kill -STOP "$a"
until_ '[ "$(q "SELECT status FROM runners WHERE host = '"'"'machine-a'"'"'")" = dead ]'
kill -CONT "$a"
wait "$ns_a"
echo "machine-a exited $?; its last lines:"
tail -n 4 machine-a.out
counts

echo
echo "# machine-c killed -9 whole: SIGKILL to its PID namespace's init"
until_ '[ "$(q "SELECT count(*) FROM runs r JOIN runners n ON n.id = r.runner_id
	WHERE n.host = '"'"'machine-c'"'"' AND r.ended_at IS NULL")" -ge 2 ]'
kill -9 "$(pgrep -P "$ns_c")"
# no agent of machine-c runs past this (they died with its namespace)
killed=$(date +%s%3N)
wait "$ns_c"
echo "machine-c: exit $? (killed); machine-b reaps it after stale_after"
until_ '[ "$(q "SELECT status FROM runners WHERE host = '"'"'machine-c'"'"'")" = dead ]'
counts

echo
echo "# the server restarts (pg_ctl restart -m fast) mid-batch"
say "pg_cluster_restart"
wait "$ns_b"
echo "machine-b exited $?; its last line: $(tail -n 1 machine-b.out)"
counts
say "q 'SELECT id, host, status FROM runners ORDER BY id'"
echo
echo "# every task ran once; the runs of each machine; no session left leased"
say "q 'SELECT count(*) AS tasks, sum(attempts) AS attempts FROM tasks'"
say "q 'SELECT n.host, r.outcome, count(*) FROM runs r JOIN runners n ON n.id = r.runner_id GROUP BY 1, 2 ORDER BY 1, 2'"
say "q 'SELECT count(*) AS leased_sessions FROM sessions WHERE lease_task IS NOT NULL'"
echo
echo "# never two agents at once in one session (the agents' own records)"
say "awk -v k=$killed '{ s[\$2] = \$1 } \$3 == \"start\" { b[\$2] = \$4 } \$3 != \"start\" { e[\$2] = \$4 }
END { for (x in b) if (!(x in e) && b[x] < k) e[x] = k;
      for (x in b) for (y in b) if (x < y && s[x] == s[y] && b[x] < e[y] && b[y] < e[x]) n++;
      print n + 0, \"overlapping pairs of runs in\", length(b), \"runs\" }' rec/sessions"
