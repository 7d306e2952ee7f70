# Shared setup for the CLI tests: each test runs the real binary in its
# own sandbox.  Loaded with `load lib` from tests/cli/*.bats.

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BATON=${BATON_BIN:-$REPO/build/baton}
# Helper programs compiled from tests/agents/*.c, next to the binary.
HELPERS=${BATON_HELPERS:-$(dirname "$BATON")/tests}
AGENTS=$REPO/tests/agents
export REPO BATON HELPERS AGENTS

setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/baton-test.XXXXXX")
	export T
	mkdir -p "$T/work" "$T/home" "$T/config" "$T/state"
	export HOME=$T/home
	export XDG_CONFIG_HOME=$T/config
	export XDG_STATE_HOME=$T/state
	export BATON_DB=$T/state/baton.db
	# BATON_TEST_PG=DIR: every test on a fresh database of the running
	# cluster of tests/pg.bash in DIR (to try a suite against PostgreSQL)
	if [ -n "${BATON_TEST_PG:-}" ]; then
		BATON_DB=$(PG_DIR=$BATON_TEST_PG PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin} \
			bash -c ". '$REPO/tests/pg.bash'; pg_newdb t_\$\$_\$RANDOM") ||
			return 1
	fi
	unset BATON_CONFIG BATON_SESSION_TTL BATON_WORKERS NO_COLOR
	cd "$T/work" || return 1
	if declare -F local_setup >/dev/null; then
		local_setup
	fi
}

teardown() {
	if declare -F local_teardown >/dev/null; then
		local_teardown
	fi
	# Kill anything a test left running in the sandbox before removing it.
	cd /
	rm -rf "$T"
}

# Write a config file and point BATON_CONFIG at it.
config() {
	cat > "$T/baton.yaml"
	export BATON_CONFIG=$T/baton.yaml
}

# Assert helpers that print what they saw on failure.
assert_status() {
	if [ "$status" != "$1" ]; then
		echo "expected exit $1, got $status; output:" >&2
		echo "$output" >&2
		return 1
	fi
}

assert_contains() {
	case "$output" in
	*"$1"*) return 0 ;;
	esac
	echo "expected output to contain: $1" >&2
	echo "got: $output" >&2
	return 1
}

# refute CMD...: fail, saying so, if CMD succeeds.  Use it instead of
# `! CMD`: bats runs tests under `set -e`, which ignores a negated command,
# so `! CMD` anywhere but last in a test can never fail it.
refute() {
	if "$@"; then
		echo "expected to fail: $*" >&2
		return 1
	fi
}

assert_not_contains() {
	case "$output" in
	*"$1"*)
		echo "expected output not to contain: $1" >&2
		echo "got: $output" >&2
		return 1
		;;
	esac
	return 0
}

# One value from the database.
sql() {
	case $BATON_DB in
	postgres://* | postgresql://*)
		"${PG_BIN:-/usr/lib/postgresql/15/bin}/psql" -X -q -A -t \
			-v ON_ERROR_STOP=1 -d "$BATON_DB" -c "$@"
		;;
	*) sqlite3 -batch -noheader -cmd '.timeout 5000' "$BATON_DB" "$@" ;;
	esac
}

# Wait up to $2 seconds (default 10) for a shell condition $1.
wait_for() {
	local i=0 n=$(( ${2:-10} * 20 ))
	while ! eval "$1"; do
		i=$((i + 1))
		if [ $i -ge $n ]; then
			echo "timed out waiting for: $1" >&2
			return 1
		fi
		sleep 0.05
	done
}

# The database's own directory of files (SPEC §9): files_dir [DB].
files_dir() {
	local db=${1:-$BATON_DB} id
	# (a database of an older release: its directory, shared)
	id=$(sqlite3 -batch -noheader -cmd '.timeout 5000' "$db" \
		"SELECT value FROM meta WHERE key = 'id'" 2>/dev/null) || true
	if [ -z "$id" ]; then
		dirname "$db"
		return
	fi
	printf '%s.files-%s\n' "$db" "$id"
}
