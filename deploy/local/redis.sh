#!/usr/bin/env bash
# Redis for TicketFlow on 127.0.0.1:$REDIS_PORT (default 56379), password
# $REDIS_PASSWORD.
#
#   deploy/local/redis.sh start|stop|status
#
# Uses Debian's redis-server (installs the `redis-server` package when it is
# missing, without starting its system service) launched directly with a
# config file generated on every start. No persistence: stop is
# `SHUTDOWN NOSAVE`, so every start begins with an empty Redis.
#
#   config  $TICKETFLOW_VAR/redis/redis.conf (mode 0600: holds the password)
#   data    $TICKETFLOW_VAR/services/redis
#   log     $TICKETFLOW_VAR/log/redis.log
#   pid     $TICKETFLOW_VAR/run/redis.pid
set -euo pipefail

TF_SERVICE=redis
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REDIS_CONF_DIR="$TICKETFLOW_VAR/redis"
REDIS_CONF="$REDIS_CONF_DIR/redis.conf"
REDIS_DATA="$TF_SERVICES_DIR/redis"
REDIS_LOG="$TF_LOG_DIR/redis.log"
REDIS_PIDFILE="$TF_RUN_DIR/redis.pid"
# redis-server rewrites its process title to "<binary> 127.0.0.1:<port>".
REDIS_NEEDLE="redis-server 127.0.0.1:$REDIS_PORT"

# redis-cli with our password (from the environment, not the command line).
rcli() {
	REDISCLI_AUTH=$REDIS_PASSWORD timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

answers_ping() {
	command -v redis-cli >/dev/null || return 1
	[[ $(rcli ping 2>/dev/null) == PONG ]]
}

# The pid of the redis-server started from this $TICKETFLOW_VAR (it runs in
# its data directory, which tells it apart from any other Redis).
our_pid() {
	local pid
	pid=$(service_pid "$REDIS_PIDFILE" "$REDIS_NEEDLE") || return 1
	[[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$REDIS_DATA" ]] || return 1
	printf '%s\n' "$pid"
}

# Quote a value for redis.conf.
conf_quote() {
	local v=${1//\\/\\\\}
	printf '"%s"' "${v//\"/\\\"}"
}

write_config() {
	mkdir -p "$REDIS_CONF_DIR" "$REDIS_DATA"
	(
		umask 077
		cat >"$REDIS_CONF" <<EOF
# Written by deploy/local/redis.sh on every start; edits are lost.
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
requirepass $(conf_quote "$REDIS_PASSWORD")
daemonize yes
supervised no
pidfile $(conf_quote "$REDIS_PIDFILE")
logfile $(conf_quote "$REDIS_LOG")
dir $(conf_quote "$REDIS_DATA")
appendonly no
save ""
EOF
	)
}

svc_start() {
	local pid
	if pid=$(our_pid) && answers_ping; then
		log "already running (pid $pid) on 127.0.0.1:$REDIS_PORT"
		return 0
	fi
	if port_open "$REDIS_PORT"; then
		if answers_ping; then
			log "port $REDIS_PORT is served by a Redis not started from $TICKETFLOW_VAR," \
				"but it accepts \$REDIS_PASSWORD: reusing it"
			return 0
		fi
		die "port $REDIS_PORT (redis) is taken by another process that does not answer PING" \
			"with \$REDIS_PASSWORD; stop it or set REDIS_PORT"
	fi

	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		log "redis-server not found"
		apt_install redis-server redis-tools
		command -v redis-server >/dev/null || die "installed redis-server but it is not on PATH"
	fi

	ensure_var_dirs
	write_config
	rotate_log "$REDIS_LOG"
	rm -f -- "$REDIS_PIDFILE"
	log "starting $(redis-server --version | cut -d ' ' -f 1-3) on 127.0.0.1:$REDIS_PORT (log: $REDIS_LOG)"
	# daemonize yes: redis-server forks, detaches and writes the pid file.
	if ! redis-server "$REDIS_CONF" </dev/null >>"$REDIS_LOG" 2>&1; then
		show_log_tail "$REDIS_LOG"
		die "redis-server failed to start with $REDIS_CONF (see $REDIS_LOG)"
	fi
	if ! wait_until 20 "" answers_ping; then
		show_log_tail "$REDIS_LOG"
		die "Redis does not answer PING on 127.0.0.1:$REDIS_PORT within 20 s (see $REDIS_LOG)"
	fi
	pid=$(our_pid) || die "Redis answers on 127.0.0.1:$REDIS_PORT but $REDIS_PIDFILE names no live redis-server"
	log "ready on 127.0.0.1:$REDIS_PORT (pid $pid)"
}

svc_stop() {
	local pid
	if ! pid=$(our_pid); then
		if port_open "$REDIS_PORT"; then
			warn "port $REDIS_PORT is served by a Redis these scripts did not start from $TICKETFLOW_VAR; leaving it alone"
		else
			log "not running"
		fi
		return 0
	fi
	log "stopping (pid $pid; SHUTDOWN NOSAVE)"
	rcli shutdown nosave >/dev/null 2>&1 || true
	if ! wait_until 15 "" pid_gone "$pid"; then
		warn "Redis did not shut down within 15 s; signalling pid $pid"
		stop_pid "$pid" "$REDIS_NEEDLE" 10
	fi
	rm -f -- "$REDIS_PIDFILE"
	log "stopped"
}

svc_status() {
	local pid
	if pid=$(our_pid) && port_open "$REDIS_PORT"; then
		status_line redis running "127.0.0.1:$REDIS_PORT (pid $pid)"
	elif port_open "$REDIS_PORT"; then
		status_line redis foreign "127.0.0.1:$REDIS_PORT (not started from $TICKETFLOW_VAR)"
	else
		status_line redis stopped "127.0.0.1:$REDIS_PORT"
		return 3
	fi
}

run_subcommand "$@"
