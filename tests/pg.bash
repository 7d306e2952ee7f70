# A private throwaway PostgreSQL cluster for the tests: initdb + pg_ctl
# as an unprivileged user (nobody when we are root), listening only on a
# Unix socket in a temporary directory, torn down at the end.
#
#   pg_cluster_start     once (bats: setup_file); exports PG_DIR, PG_BIN
#   pg_newdb NAME        a fresh database; prints its URL
#   pg_sql DB SQL        run SQL in DB (psql, unaligned, tuples only)
#   pg_cluster_restart   pg_ctl restart -m fast
#   pg_cluster_stop      once (bats: teardown_file)
#
# PG_SKIP is set (the reason) when no server binaries can be found.

pg_find_bin() {
	local d
	for d in ${PG_BIN:-} $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null |
		sort -t/ -k5 -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# Run a server binary as the cluster's owner.
pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

pg_cluster_start() {
	PG_SKIP=
	if ! PG_BIN=$(pg_find_bin); then
		PG_SKIP="PostgreSQL server binaries not found (initdb, pg_ctl: apt-get install postgresql)"
		export PG_SKIP
		return 0
	fi
	PG_DIR=$(mktemp -d /tmp/baton-pg.XXXXXX)
	chmod 0755 "$PG_DIR"
	[ "$(id -u)" = 0 ] && chown nobody "$PG_DIR"
	pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U baton \
		-E UTF8 --locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
		{ cat "$PG_DIR/initdb.log" >&2; return 1; }
	pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
		-o "-c listen_addresses='' -k $PG_DIR -c fsync=off -c max_connections=200" \
		start >/dev/null || { cat "$PG_DIR/log" >&2; return 1; }
	export PG_BIN PG_DIR PG_SKIP
}

pg_cluster_restart() {
	pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
		-o "-c listen_addresses='' -k $PG_DIR -c fsync=off -c max_connections=200" \
		-m fast restart >/dev/null
}

pg_cluster_stop() {
	[ -n "${PG_DIR:-}" ] || return 0
	pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop \
		>/dev/null 2>&1
	rm -rf "$PG_DIR"
}

pg_sql() {
	"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -U baton \
		-d "$1" -c "$2"
}

# A database of its own for one test; prints its URL.
pg_newdb() {
	pg_sql postgres "CREATE DATABASE $1" >/dev/null || return 1
	echo "postgres:///$1?host=$PG_DIR&user=baton"
}
