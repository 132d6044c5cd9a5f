# A PostgreSQL server of our own for the tests: Debian's postgresql
# package, a cluster made by initdb in a temporary directory, run as an
# unprivileged user (PostgreSQL refuses root: as root we run it as
# nobody), listening on 127.0.0.1 at a free port and on a socket in the
# directory.  Nothing of the machine's own clusters is touched.
#
# pg_start DIR: makes DIR/pg and starts the server; sets PG_DIR, PG_PORT,
#   PG_URL (a postgresql:// URL for database "sprov", which it creates) and
#   PG_ADMIN_URL (database "postgres").  Returns 1 with a message on stderr
#   when the server cannot be made (no PostgreSQL installed...).
# pg_stop [fast|immediate]: stops it (fast by default).
# pg_restart_after SECONDS [immediate]: stops now, starts again after
#   SECONDS (in the background); sets PG_RESTART_PID.
# pg_psql SQL...: runs SQL on database sprov, unaligned, tuples only.

pg_bin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -n "$d" ] && [ -x "$d/initdb" ] || return 1
	echo "$d"
}

# Runs a PostgreSQL program as the cluster's owner.
pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		    --reset-env "$@"
	else
		"$@"
	fi
}

pg_start() {
	local dir=$1 bin try
	if ! bin=$(pg_bin); then
		echo "pg_start: no PostgreSQL server (apt-get install" \
		    "postgresql)" >&2
		return 1
	fi
	PG_BIN=$bin
	PG_DIR=$dir/pg
	mkdir -p "$PG_DIR"
	chmod 0755 "$dir"
	[ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$PG_DIR"
	chmod 0700 "$PG_DIR"
	if ! pg_as "$bin/initdb" -D "$PG_DIR/data" -U sprov -A trust \
	    --no-sync -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1; then
		echo "pg_start: initdb failed:" >&2
		tail -5 "$PG_DIR/initdb.log" >&2
		return 1
	fi
	for try in 1 2 3 4 5; do
		PG_PORT=$((33000 + RANDOM % 20000))
		if pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
		    -t 30 -o "-p $PG_PORT -c listen_addresses=127.0.0.1 \
		    -c unix_socket_directories=$PG_DIR -c max_connections=200 \
		    -c shared_buffers=64MB -c fsync=on \
		    -c synchronous_commit=on" start >/dev/null 2>&1; then
			break
		fi
		PG_PORT=
	done
	if [ -z "$PG_PORT" ]; then
		echo "pg_start: the server did not start:" >&2
		tail -5 "$PG_DIR/log" >&2
		return 1
	fi
	PG_ADMIN_URL="postgresql://sprov@127.0.0.1:$PG_PORT/postgres"
	PG_URL="postgresql://sprov@127.0.0.1:$PG_PORT/sprov"
	psql -qAt "$PG_ADMIN_URL" -c "CREATE DATABASE sprov" >/dev/null ||
	    return 1
	export PG_DIR PG_PORT PG_URL PG_ADMIN_URL PG_BIN
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "${1:-fast}" -w stop \
	    >/dev/null 2>&1
	return 0
}

# Starts the stopped server again on the same port.
pg_start_again() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 30 \
	    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 \
	    -c unix_socket_directories=$PG_DIR -c max_connections=200 \
	    -c shared_buffers=64MB" start >/dev/null 2>&1
}

pg_restart_after() {
	pg_stop "${2:-fast}"
	( sleep "$1"; pg_start_again ) &
	PG_RESTART_PID=$!
}

pg_psql() {
	psql -qAtX "$PG_URL" -c "$*"
}
