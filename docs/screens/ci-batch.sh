#!/bin/bash
# The batch of docs/screens/ci-batch.txt (issue 11's evidence): 20 agent
# tasks, some flaky, some broken, each reporting a cost, run as a CI job
# would: --retries 2, --halt soon,fail=3, --max-cost; then the JUnit file
# read by a real JUnit consumer (python3-junitparser, from Debian) and the
# GitHub summary.  Needs build/baton, jq and python3-junitparser.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/baton-ci.XXXXXX)
cd "$T"
export PATH=$REPO/build:$PATH BATON_DB=$T/baton.db HOME=$T
# A command agent: "flaky" tasks fail their first attempt, "broken" ones
# every attempt; every turn reports 5 cents and some tokens.
cat >agent <<'AGENT'
#!/bin/sh
prompt=$(cat)
# a milestone's tasks share its session: count this task's attempts
n=$(cat "$BATON_SESSION_DIR/n-$BATON_TASK_ID" 2>/dev/null || echo 0)
echo $((n + 1)) >"$BATON_SESSION_DIR/n-$BATON_TASK_ID"
printf '{"cost_usd": 0.05, "input_tokens": 1200, "output_tokens": 80, "result": "did: %s"}' \
	"$prompt" >"$BATON_RESULT_FILE"
case $prompt in
flaky*) [ "$n" -ge 1 ] || { echo "error: flaky on attempt 1" >&2; exit 1; } ;;
broken*) echo "error: cannot build $prompt" >&2; exit 2 ;;
esac
echo "working on $prompt"
AGENT
chmod +x agent
cat >baton.yaml <<YAML
retry: {attempts: 1, base: 10ms, max: 20ms}
agents:
  ci: {kind: command, command: [$T/agent]}
defaults: {agent: ci}
YAML
say() { printf '\n$ %s\n' "$*"; eval "$@"; echo "[exit $?]"; }
tasks() { # N PREFIX MILESTONE
	for i in $(seq "$1"); do
		printf '{"key": "%s-%s-%d", "prompt": "%s %d", "milestone": "%s"}\n' \
			"$3" "$2" "$i" "$2" "$i" "$3"
	done
}
{ tasks 14 ok nightly; tasks 4 flaky nightly; tasks 2 broken nightly; } >batch.jsonl
# a project's baton.yaml that adds an agent runs only once trusted
say "baton config trust baton.yaml"
say "baton add --from batch.jsonl"
say "baton work -j 2 --until-empty --retries 2 --halt soon,fail=3 --max-cost 5 --joblog joblog.tsv -q"
say "baton status --milestone nightly --status failed"
say "baton stats --milestone nightly"
say "cut -f 1-9 joblog.tsv | column -t -s \$'\\t' | head -6"
say "baton report --milestone nightly --junit report.xml"
say "/usr/bin/python3 -c 'import junitparser, sys
x = junitparser.JUnitXml.fromfile(\"report.xml\")
for s in x:
    print(s.name, \"tests\", s.tests, \"failures\", s.failures, \"errors\", s.errors, \"time\", s.time)
    for c in s:
        if c.result:
            print(\" \", c.classname, c.name, [r.message for r in c.result])'"
say "GITHUB_STEP_SUMMARY=summary.md baton report --milestone nightly --github"
say "cat summary.md"
# Failing fast: five broken tasks, halted after the third failure.
tasks 5 broken halting >halt.jsonl
say "baton add --from halt.jsonl >/dev/null"
say "baton work -j 1 --until-empty --halt soon,fail=3 -q"
say "baton status --milestone halting"
# A budget: stop claiming once the batch has cost 30 cents.
tasks 10 ok budget >budget.jsonl
say "baton add --from budget.jsonl >/dev/null"
say "baton cancel --milestone halting"
say "baton work -j 1 --until-empty --max-cost 0.30 -q"
say "baton stats --milestone budget | head -4"
# A backup taken while `work -j 2` runs 300 more tasks.
seq 300 | sed 's/.*/{"prompt": "ok &", "milestone": "load"}/' >load.jsonl
say "baton add --from load.jsonl"
baton work -j 2 --until-empty -q &
sleep 0.5
say "baton status --milestone load --json | jq -c '[.[] | .status] | group_by(.) | map({(.[0]): length}) | add'"
say "baton db backup copy.db"
wait
say "sqlite3 copy.db 'PRAGMA integrity_check; SELECT count(*) FROM tasks'"
say "BATON_DB=copy.db baton doctor | tail -1"
rm -rf "$T"
