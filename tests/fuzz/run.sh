#!/bin/sh
# Run every libFuzzer harness of tests/fuzz/ (built by `make FUZZ=1
# fuzz-build` into build/fuzz/fuzz/) for SECONDS each, two at a time
# (BATON_FUZZ_JOBS), starting from its seed corpus tests/fuzz/corpus/NAME.
# New inputs go to build/fuzz/corpus/NAME (not the repository); a crash,
# leak or UB report leaves its input in build/fuzz/artifacts/ and fails
# the run.
# Prints "NAME: SECONDS s, N executions, crash|ok" per harness.
# Usage: tests/fuzz/run.sh [SECONDS]   (default 60)
cd "$(dirname "$0")/../.." || exit 2
secs=${1:-60}
bin=build/fuzz/fuzz
work=build/fuzz/corpus
art=build/fuzz/artifacts
mkdir -p "$work" "$art"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Two at a time (the machine has two CPUs or more), reported in order.
jobs=${BATON_FUZZ_JOBS:-2}
case $jobs in
'' | *[!0-9]* | 0)
	echo "BATON_FUZZ_JOBS must be a number of 1 or more, not '$jobs'" >&2
	exit 2
	;;
esac
run_one() {
	name=$1
	rm -f "build/fuzz/$name.rc"
	mkdir -p "$work/$name"
	"$bin/fuzz-$name" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$art/$name-" \
		"$work/$name" "tests/fuzz/corpus/$name" >"build/fuzz/$name.log" 2>&1
	echo $? >"build/fuzz/$name.rc"
}
names=
for src in tests/fuzz/fuzz-*.c; do
	name=$(basename "$src" .c)
	name=${name#fuzz-}
	[ -x "$bin/fuzz-$name" ] || {
		echo "missing $bin/fuzz-$name: make FUZZ=1 fuzz-build" >&2
		exit 2
	}
	names="$names $name"
done
n=0
for name in $names; do
	run_one "$name" &
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then
		wait
		n=0
	fi
done
wait
failed=0 ran=0
for name in $names; do
	log=build/fuzz/$name.log
	rc=$(cat "build/fuzz/$name.rc" 2>/dev/null || echo 2)
	ran=$((ran + 1))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ "$rc" = 0 ]; then
		echo "$name: $secs s, ${execs:-?} executions, ok"
	else
		failed=$((failed + 1))
		echo "$name: $secs s, ${execs:-?} executions, crash (exit $rc, log $log):"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" |
			head -5 | sed 's/^/  /'
	fi
done
echo "fuzz: $ran harnesses, $failed failed"
[ "$failed" = 0 ]
