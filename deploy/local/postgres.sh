#!/usr/bin/env bash
# PostgreSQL for TicketFlow on 127.0.0.1:$POSTGRES_PORT (default 55432).
#
#   deploy/local/postgres.sh start|stop|status
#
# Uses Debian's server binaries (/usr/lib/postgresql/<highest>/bin; installs the
# `postgresql` package when there are none). PostgreSQL refuses to run as root,
# so as root everything runs as the `postgres` system user.
#
#   data    $TICKETFLOW_VAR/services/postgres
#   log     $TICKETFLOW_VAR/log/postgres.log
#   socket  $TICKETFLOW_VAR/run/postgres (or /tmp/ticketflow-postgres-<port>
#           when that path is too long for a unix socket)
#
# start creates the role $POSTGRES_USER (LOGIN CREATEDB, password
# $POSTGRES_PASSWORD) and the databases $POSTGRES_DB and $POSTGRES_DOCUMENTS_DB
# owned by it, idempotently. TCP connections use scram-sha-256 passwords.
set -euo pipefail

TF_SERVICE=postgres
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_DATA="$TF_SERVICES_DIR/postgres"
PG_LOG="$TF_LOG_DIR/postgres.log"
PG_SOCKET_DIR="$TF_RUN_DIR/postgres"
# A unix socket path (<dir>/.s.PGSQL.<port>) must fit in 107 bytes.
if ((${#PG_SOCKET_DIR} + 20 > 107)); then
	PG_SOCKET_DIR="/tmp/ticketflow-postgres-$POSTGRES_PORT"
fi

# PostgreSQL will not run as root: use the postgres system user then.
if [[ $EUID -eq 0 ]]; then
	PG_OS_USER=postgres
else
	PG_OS_USER=$(id -un)
fi

# as_pg CMD...: run CMD as $PG_OS_USER, from / (the caller's working directory
# may not be readable by that user).
as_pg() {
	if [[ $EUID -eq 0 ]]; then
		(cd / && runuser -u "$PG_OS_USER" -- "$@")
	else
		(cd / && "$@")
	fi
}

# The highest installed major version's bin directory, or nothing.
find_pg_bin() {
	local dir best=""
	for dir in /usr/lib/postgresql/*/bin; do
		[[ -x $dir/postgres && -x $dir/initdb && -x $dir/pg_ctl ]] || continue
		best=$(printf '%s\n%s\n' "$best" "$dir" | sed '/^$/d' | sort -V | tail -n 1)
	done
	printf '%s' "$best"
}

# Sets PG_BIN, installing PostgreSQL when needed. A data directory that exists
# already needs the major version that created it.
resolve_pg_bin() {
	PG_BIN=$(find_pg_bin)
	if [[ -z $PG_BIN ]]; then
		log "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin"
		install_postgres
		PG_BIN=$(find_pg_bin)
		[[ -n $PG_BIN ]] || die "installed the postgresql package but found no server binaries in /usr/lib/postgresql/*/bin"
	fi
	if [[ -s $PG_DATA/PG_VERSION ]]; then
		local data_version
		data_version=$(<"$PG_DATA/PG_VERSION")
		if [[ -x /usr/lib/postgresql/$data_version/bin/postgres ]]; then
			PG_BIN="/usr/lib/postgresql/$data_version/bin"
		else
			die "$PG_DATA was created by PostgreSQL $data_version, which is not installed" \
				"(found $PG_BIN). Reset it: deploy/local/down.sh postgres && rm -rf $PG_DATA"
		fi
	fi
}

install_postgres() {
	# postgresql-common creates and starts a "main" cluster on port 5432 for
	# every server version it installs unless told not to; we want none.
	if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
		apt_install postgresql-common
	fi
	if grep -Eq '^[[:space:]]*#?[[:space:]]*create_main_cluster[[:space:]]*=[[:space:]]*true' \
		/etc/postgresql-common/createcluster.conf; then
		sed -i -E 's/^[[:space:]]*#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
			/etc/postgresql-common/createcluster.conf
		log "set create_main_cluster = false in /etc/postgresql-common/createcluster.conf"
	fi
	apt_install postgresql
}

ensure_os_user() {
	[[ $EUID -eq 0 ]] || return 0
	if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
		log "creating system user $PG_OS_USER"
		useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER" ||
			die "could not create the $PG_OS_USER system user"
	fi
}

# Our cluster is running (postmaster.pid names a live postmaster).
ours_running() {
	[[ -s $PG_DATA/postmaster.pid ]] || return 1
	local pid
	pid=$(head -n 1 "$PG_DATA/postmaster.pid")
	pid_matches "$pid" "$PG_DATA"
}

postmaster_pid() { head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null; }

# Our credentials work over TCP (password auth) for database $1.
credentials_work() {
	local db=$1 psql_bin
	if [[ -n ${PG_BIN:-} && -x $PG_BIN/psql ]]; then
		psql_bin=$PG_BIN/psql
	else
		psql_bin=$(command -v psql) || return 1
	fi
	PGPASSWORD=$POSTGRES_PASSWORD PGCONNECT_TIMEOUT=3 "$psql_bin" -X -q -A -t -w \
		-h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d "$db" -c 'select 1' >/dev/null 2>&1
}

accepting() {
	PGCONNECT_TIMEOUT=2 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"
}

prepare_dirs() {
	ensure_var_dirs
	mkdir -p "$PG_SOCKET_DIR"
	rotate_log "$PG_LOG"
	touch "$PG_LOG"
	if [[ $EUID -eq 0 ]]; then
		chown "$PG_OS_USER:" "$PG_SOCKET_DIR" "$PG_LOG"
		[[ -d $PG_DATA ]] && chown "$PG_OS_USER:" "$PG_DATA"
		ensure_traversable "$PG_OS_USER" "$TF_SERVICES_DIR"
		ensure_traversable "$PG_OS_USER" "$PG_SOCKET_DIR"
		ensure_traversable "$PG_OS_USER" "$PG_LOG"
	fi
	chmod 0755 "$PG_SOCKET_DIR"
}

init_cluster() {
	[[ -s $PG_DATA/PG_VERSION ]] && return 0
	local tmp="$PG_DATA.initdb"
	rm -rf -- "$tmp"
	if [[ -d $PG_DATA ]]; then
		# Left behind by an interrupted run: initdb needs an empty directory.
		[[ -z $(ls -A "$PG_DATA") ]] || die "$PG_DATA exists but is not a PostgreSQL data directory; remove it"
		rmdir "$PG_DATA"
	fi
	mkdir -m 0700 "$tmp"
	[[ $EUID -eq 0 ]] && chown "$PG_OS_USER:" "$tmp"
	log "initdb $PG_DATA ($("$PG_BIN/postgres" --version))"
	if ! as_pg "$PG_BIN/initdb" -D "$tmp" -U "$PG_OS_USER" --encoding=UTF8 --locale=C.UTF-8 \
		--auth-local=peer --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1; then
		show_log_tail "$PG_LOG"
		die "initdb failed (see $PG_LOG)"
	fi
	mv -- "$tmp" "$PG_DATA"
}

write_config() {
	local conf="$PG_DATA/ticketflow.conf"
	cat >"$conf" <<EOF
# Written by deploy/local/postgres.sh on every start; edits are lost.
listen_addresses = '127.0.0.1'
port = $POSTGRES_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 400
shared_buffers = 256MB
password_encryption = 'scram-sha-256'
EOF
	[[ $EUID -eq 0 ]] && chown "$PG_OS_USER:" "$conf"
	if ! grep -q "^include_if_exists = 'ticketflow.conf'" "$PG_DATA/postgresql.conf"; then
		printf "\n# TicketFlow local settings (deploy/local/postgres.sh)\ninclude_if_exists = 'ticketflow.conf'\n" \
			>>"$PG_DATA/postgresql.conf"
	fi
}

# Create the role and databases (as the superuser, over the unix socket).
provision() {
	if ! as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$POSTGRES_PORT" \
		-U "$PG_OS_USER" -d postgres \
		-v role="$POSTGRES_USER" -v password="$POSTGRES_PASSWORD" \
		-v db1="$POSTGRES_DB" -v db2="$POSTGRES_DOCUMENTS_DB" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', d, :'role')
  FROM unnest(ARRAY[:'db1', :'db2']) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
SQL
	then
		die "could not create role $POSTGRES_USER / databases $POSTGRES_DB, $POSTGRES_DOCUMENTS_DB (see $PG_LOG)"
	fi
}

verify() {
	local db
	for db in "$POSTGRES_DB" "$POSTGRES_DOCUMENTS_DB"; do
		credentials_work "$db" ||
			die "PostgreSQL on 127.0.0.1:$POSTGRES_PORT runs but user $POSTGRES_USER cannot log in to database $db with \$POSTGRES_PASSWORD (see $PG_LOG)"
	done
}

svc_start() {
	PG_BIN=$(find_pg_bin)
	if [[ -n $PG_BIN ]] && ours_running; then
		resolve_pg_bin
		provision
		verify
		log "already running (pid $(postmaster_pid)) on 127.0.0.1:$POSTGRES_PORT"
		return 0
	fi
	if port_open "$POSTGRES_PORT"; then
		if credentials_work "$POSTGRES_DB" && credentials_work "$POSTGRES_DOCUMENTS_DB"; then
			log "port $POSTGRES_PORT is served by a PostgreSQL not started from $TICKETFLOW_VAR," \
				"but it accepts $POSTGRES_USER's credentials for $POSTGRES_DB and $POSTGRES_DOCUMENTS_DB: reusing it"
			return 0
		fi
		die "port $POSTGRES_PORT (postgres) is taken by another process that does not accept" \
			"$POSTGRES_USER's credentials; stop it or set POSTGRES_PORT"
	fi

	resolve_pg_bin
	ensure_os_user
	prepare_dirs
	init_cluster
	prepare_dirs # chown/traversal of the new data directory
	write_config

	log "starting PostgreSQL on 127.0.0.1:$POSTGRES_PORT (log: $PG_LOG)"
	if ! as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 >/dev/null; then
		show_log_tail "$PG_LOG"
		die "pg_ctl start failed for $PG_DATA (see $PG_LOG)"
	fi
	if ! wait_until 30 "" accepting; then
		show_log_tail "$PG_LOG"
		die "PostgreSQL started but does not accept connections on 127.0.0.1:$POSTGRES_PORT within 30 s (see $PG_LOG)"
	fi
	provision
	verify
	log "ready on 127.0.0.1:$POSTGRES_PORT (pid $(postmaster_pid); databases $POSTGRES_DB, $POSTGRES_DOCUMENTS_DB)"
}

svc_stop() {
	PG_BIN=$(find_pg_bin)
	if [[ -n $PG_BIN ]] && ours_running; then
		resolve_pg_bin
		log "stopping (pg_ctl stop -m fast)"
		as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null ||
			die "pg_ctl stop failed for $PG_DATA (see $PG_LOG)"
		log "stopped"
	elif port_open "$POSTGRES_PORT"; then
		warn "port $POSTGRES_PORT is served by a PostgreSQL these scripts did not start from $TICKETFLOW_VAR; leaving it alone"
	else
		log "not running"
	fi
}

svc_status() {
	PG_BIN=$(find_pg_bin)
	if [[ -n $PG_BIN ]] && ours_running && port_open "$POSTGRES_PORT"; then
		status_line postgres running "127.0.0.1:$POSTGRES_PORT (pid $(postmaster_pid))"
	elif port_open "$POSTGRES_PORT"; then
		status_line postgres foreign "127.0.0.1:$POSTGRES_PORT (not started from $TICKETFLOW_VAR)"
	else
		status_line postgres stopped "127.0.0.1:$POSTGRES_PORT"
		return 3
	fi
}

run_subcommand "$@"
