#!/bin/bash
# The daily loop of docs/screens/claude-daily.txt: the real Claude Code CLI
# (installed into .cache/ by tests/npm-agent/install.sh) against the stub of
# the Messages API that the tests use.  Needs node, jq and build/baton.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
AB=$(sh $REPO/tests/npm-agent/install.sh claude @anthropic-ai/claude-code 2.1.197 'Claude Code' 2>/dev/null)
T=$(mktemp -d /tmp/baton-daily.XXXXXX)
cd $T && git init -q work && cd work
node $REPO/tests/npm-agent/stub-server.js --api anthropic --log $T/stub.log --control $T/stub.json --ttl 300 > $T/port 2>$T/stub.err &
STUB=$!
for i in $(seq 50); do [ -s $T/port ] && break; sleep 0.1; done
mkdir -p $T/bin && ln -s $AB $T/bin/claude
export PATH=$T/bin:$REPO/build:$PATH
export BATON_DB=$T/baton.db BATON_CONFIG=/dev/null HOME=$T
export ANTHROPIC_BASE_URL=http://127.0.0.1:$(head -1 $T/port) ANTHROPIC_API_KEY=sk-ant-test-key
export CLAUDE_CODE_MAX_RETRIES=0 DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 DISABLE_ERROR_REPORTING=1
say() { printf '\n$ %s\n' "$*"; eval "$@"; echo "[exit $?]"; }
reply() { printf '{"reply": "%s"}\n' "$1" > $T/stub.json; }
# the user turns of the stub's last request (the CLI's own system text left out)
history() {
	echo "# user and assistant texts of the stub's last request:"
	jq -c 'select(.messages) | [.messages[] | .text | split("\n") | last | .[0:60]]' $T/stub.log | tail -1
}
reply "Hello from the stub."
say "baton run --agent claude 'say hi'"
reply "Again, from the stub."
say "baton run -c 'and again'"
history
reply "Hi, read from stdin."
say "echo hi | baton run --agent claude"
say "baton run --raw --agent claude 'say hi' | jq -c '{type, result, session_id}'"
reply "Trunk turn."
say "baton session init trunk --agent claude"
say "baton run --session trunk 'remember: blue'"
say "baton session fork trunk branch"
reply "Branch turn."
say "baton run --session branch 'what colour?'"
history
say "baton session show branch | sed -n '/^chain/,/^runs/p'"
kill $STUB
