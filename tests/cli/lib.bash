# Shared setup for the CLI tests: each test runs the real binary in its
# own sandbox.  Loaded with `load lib` from tests/cli/*.bats.

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BATON=${BATON_BIN:-$REPO/build/baton}
# Helper programs compiled from tests/agents/*.c, next to the binary.
HELPERS=${BATON_HELPERS:-$(dirname "$BATON")/tests}
AGENTS=$REPO/tests/agents
export REPO BATON HELPERS AGENTS

# SQLite's group_concat(X [, SEP]) and round(REAL, N) for the tests' queries, in each test's
# PostgreSQL database (its own string_agg takes only text and needs SEP).
PG_GROUP_CONCAT='
CREATE FUNCTION gc_step(acc text, v anyelement, sep text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN v IS NULL THEN acc
	WHEN acc IS NULL THEN v::text ELSE acc || sep || v::text END $$;
CREATE FUNCTION gc_step(acc text, v anyelement) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT gc_step(acc, v, $s$,$s$) $$;
CREATE AGGREGATE group_concat(anyelement, text) (SFUNC = gc_step, STYPE = text);
CREATE AGGREGATE group_concat(anyelement) (SFUNC = gc_step, STYPE = text);
CREATE FUNCTION round(v double precision, n integer) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$ SELECT round(v::numeric, n)::double precision $$;'

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
		sql "$PG_GROUP_CONCAT" >/dev/null || return 1
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

# kill_db_procs DB...: kill -9 what a test left running — baton and its
# agents, found by BATON_DB=DB in their environment — but never this
# shell or a PostgreSQL server (a pg_cluster_restart inherits that
# environment too).  One grep over every process's environment: a fork
# a process cost a third of a second a test.
kill_db_procs() {
	local f p v args=()
	for v in "$@"; do
		args+=(-e "BATON_DB=$v")
	done
	for f in $(grep -lsxzF "${args[@]}" /proc/[0-9]*/environ); do
		p=${f#/proc/}
		p=${p%/environ}
		[ "$p" = $$ ] && continue
		case "$(readlink "/proc/$p/exe" 2>/dev/null)" in
		*/postgres | */pg_ctl) continue ;;
		esac
		kill -9 "$p" 2>/dev/null
	done
	return 0
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
	if is_url "$db"; then
		id=$(BATON_DB=$db sql "SELECT value FROM meta WHERE key = 'id'" \
			2>/dev/null) || true
		printf '%s/pg.files-%s\n' "$(url_state_dir "$db")" "$id"
		return
	fi
	# (a database of an older release: its directory, shared)
	id=$(sqlite3 -batch -noheader -cmd '.timeout 5000' "$db" \
		"SELECT value FROM meta WHERE key = 'id'" 2>/dev/null) || true
	if [ -z "$id" ]; then
		dirname "$db"
		return
	fi
	printf '%s.files-%s\n' "$db" "$id"
}

is_url() {
	case $1 in
	postgres://* | postgresql://*) return 0 ;;
	esac
	return 1
}

# The state directory baton gives a URL with no password (cmd/cmd.c:
# $XDG_STATE_HOME/baton/pg-<FNV-1a 64 of the URL>).
url_state_dir() {
	local url=$1 base=${XDG_STATE_HOME:-} i c
	local -i h=0xcbf29ce484222325
	case $base in /*) ;; *) base=$HOME/.local/state ;; esac
	for ((i = 0; i < ${#url}; i++)); do
		printf -v c '%d' "'${url:i:1}"
		h=$(( (h ^ c) * 0x100000001b3 ))
	done
	printf '%s/baton/pg-%016x\n' "$base" "$h"
}

# Remove the database (SQLite: its file; PostgreSQL: drop it), to be made
# anew, empty, by the next command.
db_remove() {
	if is_url "$BATON_DB"; then
		local name=${BATON_DB#*:///} admin
		name=${name%%\?*}
		admin=${BATON_DB/:\/\/\/$name/:\/\/\/postgres}
		BATON_DB=$admin sql "DROP DATABASE $name WITH (FORCE)" >/dev/null ||
			return 1
		BATON_DB=$admin sql "CREATE DATABASE $name" >/dev/null || return 1
		sql "$PG_GROUP_CONCAT" >/dev/null || return 1
		return
	fi
	rm -f "$BATON_DB" "$BATON_DB"-wal "$BATON_DB"-shm
}

# Under the PostgreSQL half of the suite (BATON_TEST_PG): true.
on_pg() {
	[ -n "${BATON_TEST_PG:-}" ]
}

# sqlite_only WHAT: a test of SQLite-only behaviour (the database file, WAL,
# PRAGMAs…) is skipped under PostgreSQL, saying what it tests.
sqlite_only() {
	if on_pg; then
		skip "SQLite: $*"
	fi
}
