# The harness of the CLI tests of the agents that are npm packages
# (claude, codex): the real CLI installed into .cache/ by
# tests/npm-agent/install.sh, a stub of the provider's API
# (tests/npm-agent/stub-server.js) and, for the suites with a fake CLI
# from tests/agents/, its modes and call log.  Loaded with
# `load npm-agent` after `load lib`.

# jq -e FILTER on $output, showing both when it does not hold.
check() {
	if ! jq -e "$@" >/dev/null <<<"$output"; then
		echo "does not hold: $*" >&2
		echo "on: $output" >&2
		return 1
	fi
}

# ---- the real CLI against a stub of its API ----

# In setup_file: install the CLI (install.sh NAME PACKAGE VERSION
# SIGNATURE) or note why every test must skip (LABEL names it).
npm_agent_install() {
	local label=$1 out rc=0

	shift
	out=$(sh "$REPO/tests/npm-agent/install.sh" "$@" 2>/dev/null) || rc=$?
	if [ "$rc" = 0 ]; then
		export AGENT_BIN=$out
		export AGENT_VERSION=$("$AGENT_BIN" --version 2>/dev/null)
		echo "# real CLI: $AGENT_VERSION ($AGENT_BIN)" >&3
	elif [ "$rc" = 77 ]; then
		export AGENT_SKIP="real $label CLI unavailable: $out"
		echo "# $AGENT_SKIP" >&3
	else
		export AGENT_FAIL="tests/npm-agent/install.sh failed ($rc): $out"
	fi
}

# In local_setup: skip or fail as setup_file found; clear the caller's
# variables of the prefixes given (ANTHROPIC_ ...) so that nothing of
# their own setup leaks in; start the stub of API (anthropic, openai)
# on $PORT; put the CLI on PATH as NAME (the built-in profile runs it).
npm_agent_start() {
	local name=$1 api=$2 prefix v

	[ -z "${AGENT_FAIL:-}" ] || { echo "$AGENT_FAIL" >&2; return 1; }
	[ -z "${AGENT_SKIP:-}" ] || skip "$AGENT_SKIP"
	shift 2
	for prefix in "$@"; do
		for v in $(env | sed -n "s/^\(${prefix}[A-Z0-9_]*\)=.*/\1/p"); do
			unset "$v"
		done
	done
	node "$REPO/tests/npm-agent/stub-server.js" --api "$api" \
		--log "$T/stub.log" --control "$T/stub.json" --ttl 150 \
		>"$T/stub.port" 2>"$T/stub.err" &
	STUB_PID=$!
	wait_for '[ -s "$T/stub.port" ]' 10
	PORT=$(head -n 1 "$T/stub.port")
	mkdir -p "$T/bin"
	ln -s "$AGENT_BIN" "$T/bin/$name"
	export PATH=$T/bin:$PATH
}

local_teardown() {
	[ -z "${STUB_PID:-}" ] || kill "$STUB_PID" 2>/dev/null || true
}

# Tell the stub how to answer from now on.
stub() {
	printf '%s\n' "$1" >"$T/stub.json"
}

# The requests the stub answered on the API, one JSON a line.
requests() {
	jq -c 'select(.messages)' "$T/stub.log" 2>/dev/null
}

posts() {
	requests | wc -l
}

# ---- a fake CLI from tests/agents/ ----

# In local_setup: the fake NAME (claude, codex) logs its calls to
# $T/calls.log and takes its modes from $T/modes, none yet.
fake_agent_setup() {
	local var
	var=FAKE_$(printf '%s' "$1" | tr 'a-z' 'A-Z')

	export "${var}_LOG=$T/calls.log" "${var}_MODES=$T/modes"
	unset "${var}_MODE" "${var}_STATE"
	: >"$T/modes"
}

# The modes of the next calls, in order.
modes() {
	printf '%s\n' "$@" >"$T/modes"
}

# Arguments of call N (1-based) of the fake, one a line.
args_of() {
	awk -v n="$1" '/^--- call/ { c++ } c == n && /^arg=/ {
		sub(/^arg=/, ""); print }' "$T/calls.log"
}

# The working directory of call N.
cwd_of() {
	awk -v n="$1" '/^--- call/ { c++ } c == n && /^cwd=/ {
		sub(/^cwd=/, ""); print }' "$T/calls.log"
}
