#!/bin/sh
# Run every test: unit tests (cmocka) and CLI tests (bats), against the
# normal build and the sanitizer build, and the CLI tests once more against
# PostgreSQL (pg: the normal build, every test on a fresh database of a
# throwaway cluster of tests/pg.bash).  Ends with "N passed, N failed".
# Usage: tests/run.sh [normal|san|pg]...   (default: all three)
cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)
LOGS=$REPO/build/test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
builds=${*:-normal san pg}

export BATON_SRCDIR=$REPO
export CMOCKA_MESSAGE_OUTPUT=TAP
# Leaks are failures; the sanitizer build aborts on the first error.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87

# run_one NAME LOGFILE CMD...: run a TAP producer, record its counts.
run_one() {
	name=$1 log=$2
	shift 2
	t0=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - t0))
	p=$(grep -c '^ok ' "$log")
	s=$(grep -c '^ok .*# [Ss][Kk][Ii][Pp]' "$log")
	f=$(grep -c '^not ok ' "$log")
	p=$((p - s))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		# crashed, leaked or exited non-zero without a failing test
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	printf '%s %s %s %s\n' "$p" "$f" "$s" "$name" >>"$LOGS/counts"
	if [ "$f" != 0 ]; then
		# the names too, in case only this line of the log is seen
		printf 'FAIL %s (%s failed: %s) %ss\n' "$name" "$f" \
			"$(sed -n 's/^not ok [0-9]* *-* *//p' "$log" | head -3 |
				paste -sd';' -)" "$secs"
	else
		printf 'ok   %s (%s passed%s) %ss\n' "$name" "$p" \
			"$( [ "$s" != 0 ] && printf ', %s skipped' "$s")" "$secs"
	fi
}

# run_pg: the CLI tests against PostgreSQL, the normal build's binary, on
# a cluster started once for the run (tests/pg.bash) and stopped at exit.
# Left out: postgres.bats and fence.bats start clusters of their own and
# run in the normal and san halves; wal.bats tests SQLite's write-ahead
# log only; claude.bats and codex.bats drive the real CLIs (minutes each)
# through the same store calls as claude-fake.bats and codex-fake.bats,
# which run here; signals.bats, oom.bats, completion.bats and deps.bats
# test the agent's process and baton's signals, allocation failures, the
# shells' completion and `make deps` — nothing of them goes through the
# store but what the other files test — and would take make check past
# its ten minutes.
# No server binaries (and none installed by `make deps`): one visible
# skip, counted as skipped.
run_pg() {
	[ -x build/baton ] || { echo "missing build/baton: run make first" >&2; return 2; }
	. tests/pg.bash
	trap 'pg_cluster_stop' EXIT
	trap 'exit 130' INT TERM
	if ! pg_cluster_start >"$LOGS/pg-cluster.out" 2>&1; then
		run_one pg/cluster "$LOGS/pg-cluster.log" \
			sh -c 'cat "$1"; exit 1' sh "$LOGS/pg-cluster.out"
		return 0
	fi
	if [ -n "$PG_SKIP" ]; then
		echo "ok 1 # skip $PG_SKIP" >"$LOGS/pg-skip.log"
		printf '0 0 1 pg/cli\n' >>"$LOGS/counts"
		printf 'skip pg/cli (%s)\n' "$PG_SKIP"
		return 0
	fi
	for t in tests/cli/*.bats; do
		n=$(basename "$t" .bats)
		case $n in
		postgres | fence | wal | claude | codex) continue ;;
		signals | oom | completion | deps) continue ;;
		esac
		BATON_BIN=$REPO/build/baton BATON_TEST_PG=$PG_DIR run_one \
			"pg/cli/$n" "$LOGS/pg-cli-$n.log" bats --tap "$t"
	done
}

# run_build BUILD: every test against one build; results in $LOGS.
run_build() {
	b=$1
	if [ "$b" = pg ]; then
		(run_pg)
		return
	fi
	case $b in
	normal) dir=build ;;
	san) dir=build/san ;;
	*) echo "unknown build $b" >&2; return 2 ;;
	esac
	[ -x "$dir/baton" ] || { echo "missing $dir/baton: run make first" >&2; return 2; }
	for t in "$dir"/tests/t-*; do
		[ -x "$t" ] || continue
		n=$(basename "$t")
		run_one "$b/unit/$n" "$LOGS/$b-$n.log" "$t"
	done
	for t in tests/cli/*.bats; do
		[ -f "$t" ] || continue
		n=$(basename "$t" .bats)
		# The real Claude Code and Codex CLIs (node, a minute and
		# more each) run against the normal build only: the sanitizer
		# build parses the same results through claude-fake.bats and
		# codex-fake.bats, and make check keeps to its ten minutes.
		case $b/$n in san/claude | san/codex) continue ;; esac
		BATON_BIN=$REPO/$dir/baton run_one "$b/cli/$n" \
			"$LOGS/$b-cli-$n.log" env -u BATON_TEST_PG bats --tap "$t"
	done
}

# Checks in the CLI tests that could never fail (see tests/lint-bats.sh).
run_one lint/bats "$LOGS/lint-bats.log" sh tests/lint-bats.sh

# The builds run side by side (most tests wait on subprocesses, not the
# CPU); each prints its lines when it is done.
pids=
for b in $builds; do
	run_build "$b" >"$LOGS/$b.summary" 2>&1 &
	pids="$pids $!"
done
rc=0
for p in $pids; do
	wait "$p" || rc=$?
done
for b in $builds; do
	cat "$LOGS/$b.summary"
done
[ "$rc" = 2 ] && exit 2

passed=0 failed=0 skipped=0
while read -r p f s n; do
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done <"$LOGS/counts"
if [ "$failed" != 0 ]; then
	echo
	echo "failures (logs in $LOGS):"
	grep -h -A15 '^not ok' "$LOGS"/*.log | head -200
fi
echo
if [ "$skipped" != 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
