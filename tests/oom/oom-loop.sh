#!/bin/sh
# Run a baton command with its Nth allocation failing, for each N in a
# range, and check what it left behind (issue 13, item 11).
#
#   tests/oom/oom-loop.sh CASE FROM TO [STEP]
#   CASE: add | run | work   (add --title T --key K --model M PROMPT;
#         run true; work -j 2 --until-empty of two pending tasks)
#   FROM, TO: allocation numbers; TO "all" counts the command's calls first
#
# For each N, run under the shim (BATON_OOM_FAIL_AT=N, tests/oom/oom-shim.c)
# against a fresh copy of a small database, then, without the shim:
#   - the command exited 0, or 4 with "baton: out of memory" on stderr
#     (never 2, 3, a signal or another message)
#   - PRAGMA integrity_check is "ok" and `baton doctor` exits 0
#   - add: a task carrying the prompt has its title, key and model
#     (none NULL), and exit 0 means it is there
#   - run, work: exit 0 means the tasks completed; a "task N completed"
#     line on stdout means the database says task N completed; no temp
#     session is left active
#
# The normal build only: the shim replaces malloc, as ASan does.
# BATON (default build/baton) and OOM_SHIM (build/tests/oom-shim.so).
# Prints one line per failure and "oom CASE: N runs, N failed".
cd "$(dirname "$0")/../.." || exit 2
REPO=$(pwd)
BATON=${BATON:-$REPO/build/baton}
SHIM=${OOM_SHIM:-$REPO/build/tests/oom-shim.so}
case=$1 from=$2 to=$3 step=${4:-1}
case $case in add | run | work) ;; *)
	echo "usage: $0 add|run|work FROM TO|all [STEP]" >&2
	exit 2
	;;
esac
case $from$to$step in *[!0-9all]*) echo "$0: bad range" >&2; exit 2 ;; esac
[ "$step" -ge 1 ] || { echo "$0: STEP must be at least 1" >&2; exit 2; }
[ -x "$BATON" ] && [ -f "$SHIM" ] || {
	echo "$0: need $BATON and $SHIM (make)" >&2
	exit 2
}

T=$(mktemp -d "${TMPDIR:-/tmp}/baton-oom.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
unset BATON_CONFIG BATON_SESSION_TTL BATON_WORKERS BATON_DB
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config
mkdir -p "$T/home" "$T/tmpl/work" "$T/tmpl/state"
printf 'defaults:\n  agent: shell\n' >"$T/tmpl/baton.yaml"
DB=state/baton.db

# The template: a database with one task and one finished run in it.
(cd "$T/tmpl/work" && BATON_CONFIG=../baton.yaml "$BATON" --db ../$DB \
	-q run true >/dev/null) || {
	echo "$0: cannot make the template database" >&2
	exit 2
}

sqlite3 "$T/tmpl/$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null

# sq SQL: one value from the copy's database.
sq() {
	sqlite3 -batch -noheader "$T/w/$DB" "$1"
}

# under_shim N: run the case with the Nth allocation failing.
under_shim() {
	failat=$1
	rm -rf "$T/w"
	cp -a "$T/tmpl" "$T/w"
	(
		cd "$T/w/work" || exit 2
		export BATON_CONFIG=../baton.yaml
		# work: its two tasks added here, in the copy's directory
		if [ "$case" = work ]; then
			"$BATON" --db ../$DB -q add true >/dev/null &&
				"$BATON" --db ../$DB -q add true >/dev/null ||
				exit 2
		fi
		case $case in
		add) set -- add --title T --key K --model M oom-prompt ;;
		run) set -- run true ;;
		work) set -- work -j 2 --until-empty ;;
		esac
		BATON_OOM_FAIL_AT=$failat BATON_OOM_COUNT=$T/count \
			LD_PRELOAD=$SHIM "$BATON" --db ../$DB "$@" \
			>"$T/out" 2>"$T/err" </dev/null
	)
}

if [ "$to" = all ]; then
	rm -f "$T/count"
	under_shim 0
	to=$(cat "$T/count")
fi

# check N RC: what the run under the shim left; prints the failures.
check() {
	n=$1 rc=$2 bad=
	case $rc in
	0) ;;
	4) grep -qx 'baton: out of memory' "$T/err" ||
		bad="$bad; exit 4 without 'baton: out of memory'" ;;
	*) bad="$bad; exit $rc" ;;
	esac
	# work says which batch it started on stderr first
	[ "$case" = work ] && sed -i '/^baton: batch [0-9a-f-]*$/d' "$T/err"
	if [ "$(wc -l <"$T/err")" -gt 1 ]; then
		bad="$bad; more than one line on stderr"
	fi
	ic=$(sq 'PRAGMA integrity_check' 2>&1)
	[ "$ic" = ok ] || bad="$bad; integrity_check: $ic"
	(cd "$T/w/work" && BATON_CONFIG=../baton.yaml "$BATON" --db ../$DB \
		doctor >"$T/doctor" 2>&1) || bad="$bad; doctor: $(tr '\n' ' ' <"$T/doctor")"
	if [ "$case" = add ]; then
		half=$(sq "SELECT count(*) FROM tasks WHERE prompt = 'oom-prompt'
			AND (title IS NOT 'T' OR key IS NOT 'K' OR model IS NOT 'M')")
		[ "$half" = 0 ] || bad="$bad; $half task(s) half-written"
		got=$(sq "SELECT count(*) FROM tasks WHERE prompt = 'oom-prompt'")
		[ "$rc" != 0 ] || [ "$got" = 1 ] || bad="$bad; exit 0 but no task"
	else
		want=2
		[ "$case" = work ] && want='2 3'
		for id in $want; do
			st=$(sq "SELECT status FROM tasks WHERE id = $id")
			[ "$rc" != 0 ] || [ "$st" = completed ] ||
				bad="$bad; exit 0 but task $id is '$st'"
			if grep -q "task $id completed" "$T/out" &&
				[ "$st" != completed ]; then
				bad="$bad; said task $id completed but it is '$st'"
			fi
		done
		act=$(sq "SELECT count(*) FROM sessions WHERE status = 'active'
			AND kind = 'temp'")
		[ "$act" = 0 ] || bad="$bad; $act temp session(s) left active"
	fi
	[ -z "$bad" ] && return 0
	echo "N=$n${bad}"
	sed 's/^/  stderr: /' "$T/err" | head -5
	return 1
}

runs=0 failed=0
n=$from
while [ "$n" -le "$to" ]; do
	under_shim "$n"
	rc=$?
	runs=$((runs + 1))
	check "$n" "$rc" || failed=$((failed + 1))
	n=$((n + step))
done
echo "oom $case: $runs runs, $failed failed"
[ "$failed" = 0 ]
