#!/usr/bin/env bats
# System calls per task (issue 12, docs/performance.md section 2): what
# `work -j1` costs the baton process for a trivial task, counted with
# strace over two queue sizes so that start-up and shut-down cancel out.
# A count, not a time: the same on a busy machine as on an idle one.
# SQLite's page I/O (pwrite64, pread64, syncs, which follow the pages a
# task dirties and the checkpoints) and memory management (which the
# sanitizer build adds to) are left out; what is counted is what baton
# itself asks of the kernel around a task.

bats_require_minimum_version 1.5.0

load lib

local_setup() {
	command -v strace >/dev/null || skip "strace is not installed"
	sqlite_only "the counts are of the SQLite store"
	# strace may not trace in a container without ptrace
	strace -f -qq -o /dev/null true 2>/dev/null ||
		skip "strace cannot trace here"
	config <<-EOF
	defaults: {agent: true}
	agents:
	  true: {kind: command, command: [/bin/true]}
	EOF
}

# traced N DIR STRACE_OPTION...: `work -j1 --until-empty` over N trivial
# tasks in a database of its own in DIR, under strace with those options
# (its output in DIR/t or DIR/t.PID).
traced() {
	local n=$1 d=$2
	shift 2
	mkdir -p "$d"
	seq 1 "$n" | sed 's/^/- prompt: t/' >"$d/tasks.yaml"
	BATON_DB=$d/baton.db "$BATON" add --from "$d/tasks.yaml" >/dev/null ||
		return 1
	# (LeakSanitizer cannot run under a tracer: the sanitizer build
	# checks leaks in every other test)
	BATON_DB=$d/baton.db \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -qq "$@" -o "$d/t" "$BATON" work -j1 --until-empty \
		>/dev/null 2>&1
}

# tally N: strace `work -j1 --until-empty` over N trivial tasks on a
# database of its own; prints "NAME COUNT" lines for the baton process
# and its threads (not the agents: the processes that call execve other
# than as their first system call).
tally() {
	local n=$1 d=$T/st-$1 f
	traced "$n" "$d" -ff || return 1
	for f in "$d"/t.*; do
		if [ "$(head -c 6 "$f")" != execve ] && grep -q '^execve(' "$f"
		then
			continue
		fi
		cat "$f"
	done | awk '/^[a-z_0-9]+\(/ { sub(/\(.*/, ""); c[$0]++ }
		END { for (k in c) print k, c[k] }' | sort
}

# per_task A B: per-task counts, "NAME COUNT" from tallies over A and B
# tasks.
per_task() {
	tally "$1" >"$T/tally-$1" || return 1
	tally "$2" >"$T/tally-$2" || return 1
	# each traced work ran its tasks (an empty tally would count 0)
	[ "$(BATON_DB=$T/st-$2/baton.db "$BATON" status --summary --json |
		jq .completed)" = "$2" ] || return 1
	join -a1 -a2 -e0 -o 0,1.2,2.2 "$T/tally-$1" "$T/tally-$2" |
		awk -v d=$(($2 - $1)) '{ printf "%s %.2f\n", $1, ($3 - $2) / d }'
}

@test "perf-count: a trivial task costs the baton process few system calls" {
	per_task 40 140 >"$T/per-task"
	cat "$T/per-task"
	# what the task asks for, SQLite's page I/O and memory aside
	awk '$1 !~ /^(pwrite64|pread64|fdatasync|fsync|ftruncate|mmap|munmap|mprotect|madvise|brk|futex)$/ { s += $2 }
		END { printf "counted %.2f\n", s }' "$T/per-task" >"$T/counted"
	cat "$T/counted"
	# 83 before issue 12's last round (mkdir, lstat and geteuid of the
	# parent directories, glibc's getrlimit per spawn file action, the
	# workdir's stat and access, the walk of an empty directory,
	# /proc/PID/stat read to EOF); 56 after it, 6 of them libuuid's
	# (getrandom, getpid, getuid, getppid, gettid: SPEC §1 names it);
	# 4 more since the temp session's directory is reused rather than
	# made and removed (open, getdents64, fchmod and close to check it,
	# and two renames, for a mkdir and an rmdir: no inode made or freed
	# a task, docs/design.md); SQLite's fcntl locks vary by one or two
	awk '{ exit !($2 <= 64) }' "$T/counted"
	# and something was counted: a spawn and a wait at least
	awk '{ exit !($2 >= 10) }' "$T/counted"
	# none of these per task any more
	for name in prlimit64 geteuid faccessat2; do
		awk -v n="$name" '$1 == n { exit !($2 < 0.05) }' "$T/per-task" || {
			echo "$name per task: $(awk -v n="$name" '$1 == n { print $2 }' "$T/per-task")"
			return 1
		}
	done
	# one getdents64 a task: the reused directory found empty, no walk
	awk '$1 == "getdents64" { exit !($2 < 1.05) }' "$T/per-task"
}

# wal_locks N: the WAL write locks (byte 120 of the -shm file: one a
# write transaction) taken by `work -j1` over N trivial tasks.
wal_locks() {
	local d=$T/wl-$1
	traced "$1" "$d" -f -e trace=fcntl || return 1
	grep -c 'F_SETLK.*F_WRLCK, l_whence=SEEK_SET, l_start=120, l_len=1}' "$d/t"
}

@test "perf-count: a trivial task is one write transaction, its pid in it" {
	local a b
	a=$(wal_locks 40)
	b=$(wal_locks 140)
	echo "write transactions: $a for 40 tasks, $b for 140"
	# the end of a task and the claim of the next (docs/design.md); its
	# pid with its end, for an agent that ends within 50 ms
	# (core/orchestrator.c): 2 a task before.  (Under strace on a busy
	# machine a few agents may pass the 50 ms and write their pid.)
	awk -v a="$a" -v b="$b" 'BEGIN { d = (b - a) / 100; exit !(d >= 0.95 && d <= 1.5) }'
	[ "$(BATON_DB=$T/wl-140/baton.db sql "SELECT count(*) FROM runs WHERE pid > 0 AND proc_start > 0")" = 140 ]
}
