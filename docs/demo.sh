#!/bin/sh
# make demo: a guided tour of baton on a temporary database.
# Everything here is what you would type yourself; the comments say why.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/build
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/baton-demo.XXXXXX")
trap 'rm -rf "$DEMO"' EXIT
export PATH="$BIN:$PATH"
export BATON_DB="$DEMO/state/baton.db"
unset BATON_CONFIG
# a database named by BATON_DB goes in a directory that exists (baton
# makes only its default one, SPEC §9)
mkdir -p "$DEMO/state"
cd "$DEMO" || exit 1

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "baton keeps every task, run and session in one SQLite file"
echo "BATON_DB=$BATON_DB (a throw-away database for this tour)"

say "1. Run one task now, in the foreground (the 'shell' agent runs it as a script)"
run baton run 'echo "hello from task $BATON_TASK_ID in session $BATON_SESSION_ID"'

say "2. Queue a realistic batch"
echo "# a dozen independent build steps"
for i in $(seq 1 12); do
	baton add --title "compile unit $i" \
		"echo compiling unit $i; sleep 0.$((i % 4 + 1)); echo unit $i ok" >/dev/null
done
echo "# four steps that share a named session: they run in order and pass"
echo "# state through \$BATON_SESSION_DIR, which lives as long as the session"
baton add --session release --title "release: version" \
	'echo 1.4.2 > "$BATON_SESSION_DIR/version"; echo version set' >/dev/null
baton add --session release --title "release: changelog" \
	'echo "changes for $(cat "$BATON_SESSION_DIR/version")" > "$BATON_SESSION_DIR/notes"; cat "$BATON_SESSION_DIR/notes"' >/dev/null
baton add --session release --title "release: tag" \
	'echo "tagging v$(cat "$BATON_SESSION_DIR/version")"' >/dev/null
baton add --session release --title "release: announce" \
	'test -s "$BATON_SESSION_DIR/notes" && echo announced' >/dev/null
echo "# a quality gate: the 'agent' fixes things until the check passes"
baton add --title "fix until the check passes" --check 'test "$(cat counter)" -ge 2' \
	'n=$(cat counter 2>/dev/null || echo 0); echo $((n + 1)) > counter; echo attempt $((n + 1))' >/dev/null
echo "# some that fail, one that hangs and will time out"
baton add --title "flaky test" 'echo "FAIL: test_login (expected 200, got 500)" >&2; exit 1' >/dev/null
baton add --title "lint" 'echo "src/main.c:12: trailing whitespace" >&2; exit 2' >/dev/null
baton add --title "stuck download" --timeout 2s 'echo fetching...; sleep 60' >/dev/null
echo "# and an idempotent one: the same --key twice adds it once"
baton add --key nightly-docs --title "docs" 'echo building docs' >/dev/null
run baton add --key nightly-docs --title "docs" 'echo building docs'
run baton status --summary

say "3. Work through the queue, two at a time"
run baton work -j 2 --until-empty
echo "(exit status $? : some tasks failed, as planned)"

say "4. What happened"
run baton status

say "5. One failed task in detail, and its output"
failed=$(baton status --status failed --json | sed -n 's/^    "id": \([0-9]*\),$/\1/p' | head -n 1)
run baton show "$failed"
run baton log "$failed" --stderr

say "6. The session the release steps shared"
run baton status --json --limit 1 >/dev/null
if baton session list >/dev/null 2>&1; then
	run baton session list
fi

say "7. Numbers, a JUnit report for CI, and a health check"
run baton stats
run baton report --junit "$DEMO/report.xml"
run baton doctor

say "Done.  Try 'baton help', 'man ./docs/baton.1', or README.md's tour."
