#!/bin/sh
# Run every test: unit tests (cmocka) and CLI tests (bats), against the
# normal build and the sanitizer build, and the CLI tests once more against
# PostgreSQL (pg: the normal build, every test on a fresh database of a
# throwaway cluster of tests/pg.bash).  Ends with "N passed, N failed".
# Usage: tests/run.sh [normal|san|pg]...   (default: all three)
#
# Every test file of every build is one job; BATON_TEST_JOBS (3) of them
# run at a time, the slowest first, so that the builds finish together
# rather than one after another.  Each job prints one line when it ends,
# with its seconds.  Most tests wait on subprocesses, not the CPU.
cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)
LOGS=$REPO/build/test-logs
export REPO LOGS
builds=${*:-normal san pg}
jobs=${BATON_TEST_JOBS:-3}

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

# One job (a line of the job list): BUILD KIND NAME, KIND unit or cli.
if [ "${1:-}" = --one ]; then
	b=$2 kind=$3 n=$4
	case $b in
	normal | pg) dir=build ;;
	san) dir=build/san ;;
	esac
	if [ "$kind" = unit ]; then
		run_one "$b/unit/$n" "$LOGS/$b-$n.log" "$dir/tests/$n"
	elif [ "$b" = pg ]; then
		BATON_BIN=$REPO/$dir/baton BATON_TEST_PG=$PG_DIR run_one \
			"pg/cli/$n" "$LOGS/pg-cli-$n.log" bats --tap "tests/cli/$n.bats"
	else
		BATON_BIN=$REPO/$dir/baton run_one "$b/cli/$n" \
			"$LOGS/$b-cli-$n.log" env -u BATON_TEST_PG \
			bats --tap "tests/cli/$n.bats"
	fi
	exit 0
fi

rm -rf "$LOGS"
mkdir -p "$LOGS"

# The slowest files first (seconds of each on a 2-core machine, most
# first), so that no long one starts last; the rest in name order.
SLOW="postgres claude taskfile crash signals codex sessions oom work
	report run display fence bad-input config prompts"

# The CLI files of the pg build leave out: postgres.bats and fence.bats
# (they start clusters of their own and run in the normal and san
# builds); wal.bats (SQLite's write-ahead log only); claude.bats and
# codex.bats (the real CLIs, minutes each, through the same store calls
# as claude-fake.bats and codex-fake.bats, which run here); signals.bats,
# oom.bats, completion.bats and deps.bats (the agent's process and
# baton's signals, allocation failures, the shells' completion and `make
# deps` — nothing of them goes through the store but what the other
# files test — and would take make check past its ten minutes).  The san
# build leaves out claude.bats and codex.bats: it parses the same results
# through claude-fake.bats and codex-fake.bats.
skipped_cli() {
	case $1/$2 in
	pg/postgres | pg/fence | pg/wal | pg/claude | pg/codex) return 0 ;;
	pg/signals | pg/oom | pg/completion | pg/deps) return 0 ;;
	san/claude | san/codex) return 0 ;;
	esac
	return 1
}

# The job list, slowest first: "BUILD KIND NAME" lines.
list_jobs() {
	for n in $SLOW; do
		for b in $builds; do
			[ -f "tests/cli/$n.bats" ] && ! skipped_cli "$b" "$n" &&
				echo "$b cli $n"
		done
	done
	for t in tests/cli/*.bats; do
		n=$(basename "$t" .bats)
		case " $(echo $SLOW) " in *" $n "*) continue ;; esac
		for b in $builds; do
			skipped_cli "$b" "$n" || echo "$b cli $n"
		done
	done
	for b in $builds; do
		case $b in
		normal) dir=build ;;
		san) dir=build/san ;;
		*) continue ;;
		esac
		for t in "$dir"/tests/t-*; do
			[ -x "$t" ] && echo "$b unit $(basename "$t")"
		done
	done
}

for b in $builds; do
	case $b in
	normal | pg) dir=build ;;
	san) dir=build/san ;;
	*) echo "unknown build $b" >&2; exit 2 ;;
	esac
	[ -x "$dir/baton" ] || { echo "missing $dir/baton: run make first" >&2; exit 2; }
done

# The pg build's cluster, started once for the run (tests/pg.bash) and
# stopped at exit.  No server binaries (and none installed by `make
# deps`): one visible skip, counted as skipped.
run_pg=0
case " $builds " in *" pg "*) run_pg=1 ;; esac
if [ "$run_pg" = 1 ]; then
	. tests/pg.bash
	trap 'pg_cluster_stop' EXIT
	trap 'exit 130' INT TERM
	if ! pg_cluster_start >"$LOGS/pg-cluster.out" 2>&1; then
		run_one pg/cluster "$LOGS/pg-cluster.log" \
			sh -c 'cat "$1"; exit 1' sh "$LOGS/pg-cluster.out"
		run_pg=0
	elif [ -n "$PG_SKIP" ]; then
		echo "ok 1 # skip $PG_SKIP" >"$LOGS/pg-skip.log"
		printf '0 0 1 pg/cli\n' >>"$LOGS/counts"
		printf 'skip pg/cli (%s)\n' "$PG_SKIP"
		run_pg=0
	fi
	export PG_DIR
fi

# Checks in the CLI tests that could never fail (see tests/lint-bats.sh).
run_one lint/bats "$LOGS/lint-bats.log" sh tests/lint-bats.sh

list_jobs | if [ "$run_pg" = 1 ]; then cat; else grep -v '^pg '; fi \
	>"$LOGS/jobs"
xargs -P "$jobs" -L 1 sh tests/run.sh --one <"$LOGS/jobs"

passed=0 failed=0 skipped=0
while read -r p f s n; do
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done <"$LOGS/counts"
# every job must have said how it went
want=$(($(wc -l <"$LOGS/jobs") + 1))
got=$(wc -l <"$LOGS/counts")
[ "$run_pg" = 0 ] && case " $builds " in *" pg "*) want=$((want + 1)) ;; esac
if [ "$got" -lt "$want" ]; then
	echo "tests/run.sh: only $got of $want jobs reported" >&2
	failed=$((failed + want - got))
fi
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
