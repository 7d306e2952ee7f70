#!/usr/bin/env bats
# The store (SPEC §7, §9): where the database lives, its modes, and every
# way of refusing to open one (exit 4, a message naming the path, and the
# file left alone).

load lib

mode() {
	stat -c %a "$1"
}

# Run a command as an unprivileged user: root ignores file modes.
as_user() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
	else
		"$@"
	fi
}

# A directory the unprivileged user owns, for the read-only tests.
user_dir() {
	mkdir -p "$1"
	if [ "$(id -u)" = 0 ]; then
		command -v setpriv >/dev/null || skip "setpriv is not installed"
		chmod 755 "$T"
		chown 65534:65534 "$1"
	fi
}

# A fast busy timeout, so the lock tests do not wait 10s.
fast_config() {
	config <<-EOF
	db:
	  busy_timeout: 300ms
	EOF
}

# Size, mtime and bytes of a file, to compare before and after.
fingerprint() {
	echo "$(stat -c '%s %Y %a' "$1") $(cksum < "$1")"
}

no_side_files() {
	[ ! -e "$1-wal" ] && [ ! -e "$1-shm" ] && [ ! -e "$1-journal" ]
}

@test "default database is \$XDG_STATE_HOME/baton/baton.db, 0600 in 0700" {
	unset BATON_DB
	umask 022
	run "$BATON" status
	assert_status 0
	[ -f "$XDG_STATE_HOME/baton/baton.db" ]
	[ "$(mode "$XDG_STATE_HOME/baton")" = 700 ]
	[ "$(mode "$XDG_STATE_HOME/baton/baton.db")" = 600 ]
	[ "$(sqlite3 "$XDG_STATE_HOME/baton/baton.db" \
		"PRAGMA user_version")" = 7 ]
}

@test "without XDG_STATE_HOME the database is under ~/.local/state" {
	unset BATON_DB XDG_STATE_HOME
	umask 000
	run "$BATON" status
	assert_status 0
	[ -f "$HOME/.local/state/baton/baton.db" ]
	[ "$(mode "$HOME/.local")" = 700 ]
	[ "$(mode "$HOME/.local/state/baton")" = 700 ]
	[ "$(mode "$HOME/.local/state/baton/baton.db")" = 600 ]
}

@test "database, -wal and -shm are 0600 whatever the umask" {
	for m in 000 022 077; do
		unset BATON_DB
		export XDG_STATE_HOME=$T/u$m/sub
		BATON_DB=$XDG_STATE_HOME/baton/baton.db
		(umask $m && "$BATON" status >/dev/null)
		[ "$(mode "$BATON_DB")" = 600 ]
		[ "$(mode "$T/u$m")" = 700 ]
		[ "$(mode "$T/u$m/sub")" = 700 ]
		[ "$(mode "$T/u$m/sub/baton")" = 700 ]
		# Keep a reader connected so -wal and -shm stay.
		(umask $m && sqlite3 "$BATON_DB" "SELECT count(*) FROM tasks" \
			".shell stat -c %a $BATON_DB-wal $BATON_DB-shm" \
			> "$T/modes")
		[ "$(grep -cx 600 "$T/modes")" = 2 ]
	done
}

@test "BATON_DB overrides the default and --db overrides BATON_DB" {
	mkdir "$T/env" "$T/flag"
	export BATON_DB=$T/env/env.db
	run "$BATON" status
	assert_status 0
	[ -f "$T/env/env.db" ]
	[ ! -e "$XDG_STATE_HOME/baton/baton.db" ]

	run "$BATON" --db "$T/flag/flag.db" status
	assert_status 0
	[ -f "$T/flag/flag.db" ]
	run "$BATON" status --db="$T/flag2.db"
	assert_status 0
	[ -f "$T/flag2.db" ]
	[ ! -e "$XDG_STATE_HOME/baton/baton.db" ]
}

@test "data survives between commands" {
	run "$BATON" add "first task"
	assert_status 0
	run "$BATON" add "second task"
	assert_status 0
	run "$BATON" status
	assert_status 0
	[ "$(sql "SELECT count(*) FROM tasks")" = 2 ]
	if ! on_pg; then
		[ "$(sql "PRAGMA journal_mode")" = wal ]
		[ "$(sql "PRAGMA integrity_check")" = ok ]
	fi
}

@test "a directory is refused" {
	sqlite_only "a database path that is a directory"
	mkdir -p "$BATON_DB"
	run "$BATON" status
	assert_status 4
	assert_contains "baton: cannot open database $BATON_DB: is a directory"
}

@test "a symbolic link is refused and not followed" {
	sqlite_only "a database path that is a symbolic link"
	"$BATON" --db "$T/real.db" status >/dev/null
	ln -s "$T/real.db" "$BATON_DB"
	before=$(fingerprint "$T/real.db")
	run "$BATON" status
	assert_status 4
	assert_contains "baton: cannot open database $BATON_DB: is a symbolic link (refusing to follow it)"
	[ "$(fingerprint "$T/real.db")" = "$before" ]

	# A dangling link: nothing is created at its target.
	ln -s "$T/nowhere.db" "$T/dangling.db"
	run "$BATON" --db "$T/dangling.db" status
	assert_status 4
	assert_contains "is a symbolic link (refusing to follow it)"
	[ ! -e "$T/nowhere.db" ]
}

@test "a file that is not a database is refused and left alone" {
	sqlite_only "a database file that is not SQLite"
	printf 'shopping list\neggs\nmilk\n' > "$BATON_DB"
	before=$(fingerprint "$BATON_DB")
	run "$BATON" status
	assert_status 4
	assert_contains "baton: cannot open database $BATON_DB: file is not a database"
	[ "$(fingerprint "$BATON_DB")" = "$before" ]
	no_side_files "$BATON_DB"
}

@test "a corrupt database is refused" {
	sqlite_only "a corrupt database file"
	run "$BATON" add "a task"
	assert_status 0
	[ ! -e "$BATON_DB-wal" ]
	size=$(stat -c %s "$BATON_DB")
	# Keep the 100-byte header, scribble over everything after it.
	head -c $((size - 100)) /dev/zero | tr '\0' '\245' |
		dd of="$BATON_DB" bs=1 seek=100 conv=notrunc 2>/dev/null
	run "$BATON" status
	assert_status 4
	assert_contains "baton: cannot open database $BATON_DB: database disk image is malformed"
}

@test "a read-only database file is refused and left alone" {
	user_dir "$T/ro"
	export BATON_DB=$T/ro/baton.db
	as_user "$BATON" status >/dev/null
	chmod 0444 "$BATON_DB"
	before=$(fingerprint "$BATON_DB")
	run as_user "$BATON" status
	assert_status 4
	assert_contains "baton: cannot open database $BATON_DB: read-only file"
	[ "$(fingerprint "$BATON_DB")" = "$before" ]
	no_side_files "$BATON_DB"
}

@test "a database in a read-only directory is refused" {
	user_dir "$T/ro"
	export BATON_DB=$T/ro/baton.db
	as_user "$BATON" status >/dev/null
	chmod 0555 "$T/ro"
	before=$(fingerprint "$BATON_DB")
	run as_user "$BATON" status
	assert_status 4
	assert_contains "baton: cannot open database $BATON_DB: read-only directory"
	[ "$(fingerprint "$BATON_DB")" = "$before" ]
	no_side_files "$BATON_DB"

	# A new database cannot be created there either.
	run as_user "$BATON" --db "$T/ro/new.db" status
	assert_status 4
	assert_contains "baton: cannot open database $T/ro/new.db: read-only directory"
	[ ! -e "$T/ro/new.db" ]
	chmod 0755 "$T/ro"
}

@test "a database from a newer baton is refused and not modified" {
	sqlite_only "PRAGMA user_version of a newer file (postgres.bats tests a newer schema)"
	for journal in wal delete; do
		rm -f "$BATON_DB"
		sqlite3 "$BATON_DB" "PRAGMA journal_mode = $journal;" \
			"CREATE TABLE future (x); PRAGMA user_version = 8;" \
			>/dev/null
		before=$(fingerprint "$BATON_DB")
		sleep 1 # so that a write would show in the mtime
		run "$BATON" status
		assert_status 4
		assert_contains "baton: cannot open database $BATON_DB: it was written by a newer baton (schema 8, this baton knows 7)"
		[ "$(fingerprint "$BATON_DB")" = "$before" ]
		[ "$(sql "PRAGMA user_version")" = 8 ]
		[ "$(sql "PRAGMA journal_mode")" = "$journal" ]
		no_side_files "$BATON_DB"
	done
}

@test "an older database is migrated in place" {
	sqlite_only "an older database file migrated in place"
	sqlite3 "$BATON_DB" "CREATE TABLE legacy (x); INSERT INTO legacy VALUES (42);"
	run "$BATON" status
	assert_status 0
	[ "$(sql "PRAGMA user_version")" = 7 ]
	[ "$(sql "PRAGMA journal_mode")" = wal ]
	[ "$(sql "SELECT x FROM legacy")" = 42 ]
}

@test "a database locked past the busy timeout is exit 4" {
	sqlite_only "the busy timeout of a file lock"
	fast_config
	"$BATON" status >/dev/null
	# Another process holds an exclusive lock for a few seconds.
	sqlite3 "$BATON_DB" \
		"PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;" \
		"SELECT count(*) FROM tasks;" \
		".shell touch $T/held" ".shell sleep 3" >/dev/null 3>&- &
	holder=$!
	wait_for "[ -e $T/held ]"
	run "$BATON" status
	kill "$holder" 2>/dev/null || true
	wait "$holder" || true
	assert_status 4
	assert_contains "baton: cannot open database $BATON_DB: database is locked (waited 300ms)"
}

@test "a write lock held past the busy timeout is exit 4" {
	sqlite_only "the busy timeout of a file's write lock"
	fast_config
	"$BATON" status >/dev/null
	sqlite3 "$BATON_DB" "BEGIN IMMEDIATE;" \
		"INSERT INTO events (at, kind) VALUES (0, 'hold');" \
		".shell touch $T/held" ".shell sleep 3" >/dev/null 3>&- &
	holder=$!
	wait_for "[ -e $T/held ]"
	run "$BATON" add "blocked task"
	kill "$holder" 2>/dev/null || true
	wait "$holder" || true
	assert_status 4
	assert_contains "database is locked"
	# Nothing was added.
	[ "$(sql "SELECT count(*) FROM tasks")" = 0 ]
}

@test "a full disk is exit 4 with \"disk full\"" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	command -v unshare >/dev/null || skip "unshare is not installed"
	unshare -m true 2>/dev/null || skip "no mount namespaces here"
	mkdir "$T/small"
	run unshare -m sh -c '
		mount -t tmpfs -o size=64k tmpfs "$1" || exit 99
		dd if=/dev/zero of="$1/fill" bs=4k count=12 2>/dev/null
		exec "$2" --db "$1/baton.db" status' sh "$T/small" "$BATON"
	[ "$status" != 99 ] || skip "cannot mount tmpfs"
	assert_status 4
	assert_contains "baton: cannot open database $T/small/baton.db: disk full"
}

@test "an explicit database path whose directory is missing is an error, not created" {
	for how in flag env config; do
		db=$T/missing-$how/x.db
		case $how in
		flag) run "$BATON" --db "$db" status ;;
		env) BATON_DB=$db run "$BATON" status ;;
		config)
			unset BATON_DB
			printf 'db: %s\n' "$db" > "$T/c.yaml"
			run "$BATON" --config "$T/c.yaml" status
			;;
		esac
		assert_status 4
		assert_contains "baton: cannot open database $db: directory $T/missing-$how does not exist"
		[ ! -e "$T/missing-$how" ]
	done
	# the default one is still created, 0700
	unset BATON_DB
	export XDG_STATE_HOME=$T/fresh-state
	run "$BATON" status
	assert_status 0
	[ "$(mode "$T/fresh-state/baton")" = 700 ]
}

@test "a database readable by others is made 0600, and so are -wal and -shm" {
	sqlite_only "the modes of the database file, -wal and -shm"
	"$BATON" status >/dev/null
	chmod 644 "$BATON_DB"
	run "$BATON" add "x"
	assert_status 0
	[ "$(mode "$BATON_DB")" = 600 ]
	# keep a reader connected so -wal and -shm stay, then look
	sqlite3 "$BATON_DB" "SELECT count(*) FROM tasks" \
		".shell stat -c %a $BATON_DB-wal $BATON_DB-shm" > "$T/modes"
	[ "$(grep -cx 600 "$T/modes")" = 2 ]
	# -wal and -shm left 0644 by an old baton are tightened too
	sqlite3 "$BATON_DB" "PRAGMA journal_mode" \
		".shell chmod 644 $BATON_DB-wal $BATON_DB-shm" \
		".shell $BATON status >/dev/null" \
		".shell stat -c %a $BATON_DB-wal $BATON_DB-shm" > "$T/modes"
	[ "$(grep -cx 600 "$T/modes")" = 2 ]
}

@test "a database others can write is refused, naming owner and mode, and left alone" {
	sqlite_only "the mode of the database file"
	"$BATON" add "first" >/dev/null
	chmod 666 "$BATON_DB"
	before=$(fingerprint "$BATON_DB")
	run "$BATON" work --until-empty
	assert_status 4
	assert_contains "baton: cannot open database $BATON_DB: $BATON_DB is owned by $(id -un) (uid $(id -u)), mode 0666: writable by group and others; another user could add tasks that run as you"
	assert_contains "db.shared_group: true"
	[ "$(fingerprint "$BATON_DB")" = "$before" ]
	[ "$(sql "SELECT status FROM tasks WHERE id = 1")" = pending ]
	chmod 620 "$BATON_DB"
	run "$BATON" status
	assert_status 4
	assert_contains "mode 0620: writable by its group"
}

@test "a database owned by another user is refused" {
	sqlite_only "the owner of the database file"
	[ "$(id -u)" = 0 ] || skip "needs root to chown"
	"$BATON" add "id > $T/pwned" >/dev/null
	chown 65534 "$BATON_DB"
	run "$BATON" work --until-empty
	assert_status 4
	assert_contains "baton: cannot open database $BATON_DB: $BATON_DB is owned by another user, nobody (uid 65534), mode 0600"
	[ ! -e "$T/pwned" ]
	# -wal owned by another user: refused too
	chown 0 "$BATON_DB"
	sqlite3 "$BATON_DB" "PRAGMA journal_mode" \
		".shell chown 65534 $BATON_DB-wal" \
		".shell $BATON work --until-empty > $T/out 2>&1; echo \$? >> $T/out" \
		".shell chown 0 $BATON_DB-wal"
	run cat "$T/out"
	assert_contains "$BATON_DB-wal is owned by another user, nobody (uid 65534)"
	assert_contains "4"
	[ ! -e "$T/pwned" ]
}

@test "db.shared_group: a group-writable database is accepted, new files are 0660" {
	sqlite_only "db.shared_group: the group of the database file"
	config <<-EOF
	db: {shared_group: true}
	EOF
	run "$BATON" status
	assert_status 0
	[ "$(mode "$BATON_DB")" = 660 ]
	sqlite3 "$BATON_DB" "SELECT count(*) FROM tasks" \
		".shell stat -c %a $BATON_DB-wal $BATON_DB-shm" > "$T/modes"
	[ "$(grep -cx 660 "$T/modes")" = 2 ]
	# others may still not write it; their read bits are removed
	chmod 664 "$BATON_DB"
	run "$BATON" status
	assert_status 0
	[ "$(mode "$BATON_DB")" = 660 ]
	chmod 666 "$BATON_DB"
	run "$BATON" status
	assert_status 4
	assert_contains "mode 0666: writable by others"
}

@test "a database on tmpfs is accepted (local file systems are)" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount"
	mkdir "$T/mnt"
	mount -t tmpfs -o size=16m none "$T/mnt" 2>/dev/null ||
		skip "cannot mount tmpfs here"
	run "$BATON" --db "$T/mnt/x.db" add "x"
	st=$status
	umount "$T/mnt"
	[ "$st" = 0 ]
}
