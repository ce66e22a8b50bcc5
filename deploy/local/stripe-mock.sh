#!/usr/bin/env bash
# stripe-mock (Stripe's official mock of its API) for TicketFlow, HTTP only on
# 127.0.0.1:$STRIPE_MOCK_PORT (default 12111); STRIPE_API_BASE points at it.
#
#   deploy/local/stripe-mock.sh start|stop|status
#
# Built once from the Go module proxy (`go install
# github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION`) into $TICKETFLOW_VAR/bin.
#
#   binary  $TICKETFLOW_VAR/bin/stripe-mock (+ stripe-mock.version)
#   log     $TICKETFLOW_VAR/log/stripe-mock.log
#   pid     $TICKETFLOW_VAR/run/stripe-mock.pid
set -euo pipefail

TF_SERVICE=stripe-mock
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STRIPE_MOCK_VERSION=v0.203.0
STRIPE_MOCK_BIN="$TF_BIN_DIR/stripe-mock"
STRIPE_MOCK_STAMP="$TF_BIN_DIR/stripe-mock.version"
STRIPE_MOCK_LOG="$TF_LOG_DIR/stripe-mock.log"
STRIPE_MOCK_PIDFILE="$TF_RUN_DIR/stripe-mock.pid"
STRIPE_MOCK_ADDR="127.0.0.1:$STRIPE_MOCK_PORT"
# Our binary's path is unique to this $TICKETFLOW_VAR.
STRIPE_MOCK_NEEDLE="$STRIPE_MOCK_BIN -http-addr"

our_pid() { service_pid "$STRIPE_MOCK_PIDFILE" "$STRIPE_MOCK_NEEDLE"; }

# It answers like Stripe: GET /v1/charges with a test key gives 200.
answers() {
	[[ $(curl -s -o /dev/null --max-time 3 -w '%{http_code}' \
		-H 'Authorization: Bearer sk_test_123' "http://$STRIPE_MOCK_ADDR/v1/charges") == 200 ]]
}

ensure_binary() {
	if [[ -x $STRIPE_MOCK_BIN && -f $STRIPE_MOCK_STAMP && $(<"$STRIPE_MOCK_STAMP") == "$STRIPE_MOCK_VERSION" ]]; then
		return 0
	fi
	command -v go >/dev/null || die "go not found: it is needed once to build stripe-mock $STRIPE_MOCK_VERSION"
	local tmp="$TF_BIN_DIR/.stripe-mock-build"
	rm -rf -- "$tmp"
	mkdir -p "$tmp"
	log "building stripe-mock $STRIPE_MOCK_VERSION with go install (once; output: $STRIPE_MOCK_LOG)"
	if ! GOBIN="$tmp" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" \
		>>"$STRIPE_MOCK_LOG" 2>&1; then
		show_log_tail "$STRIPE_MOCK_LOG"
		die "go install github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION failed (see $STRIPE_MOCK_LOG)"
	fi
	mv -f -- "$tmp/stripe-mock" "$STRIPE_MOCK_BIN"
	rm -rf -- "$tmp"
	printf '%s\n' "$STRIPE_MOCK_VERSION" >"$STRIPE_MOCK_STAMP"
}

svc_start() {
	local pid
	if pid=$(our_pid); then
		if wait_until 5 "$pid" answers; then
			log "already running (pid $pid) on $STRIPE_MOCK_ADDR"
			return 0
		fi
		show_log_tail "$STRIPE_MOCK_LOG"
		die "stripe-mock pid $pid is running but does not answer on $STRIPE_MOCK_ADDR; try deploy/local/down.sh stripe-mock"
	fi
	if port_open "$STRIPE_MOCK_PORT"; then
		if answers; then
			log "port $STRIPE_MOCK_PORT is served by a stripe-mock not started from $TICKETFLOW_VAR" \
				"that answers GET /v1/charges: reusing it"
			return 0
		fi
		die "port $STRIPE_MOCK_PORT (stripe-mock) is taken by another process that does not answer" \
			"like stripe-mock; stop it or set STRIPE_MOCK_PORT"
	fi

	ensure_var_dirs
	ensure_binary
	rotate_log "$STRIPE_MOCK_LOG"
	log "starting stripe-mock $STRIPE_MOCK_VERSION on $STRIPE_MOCK_ADDR (log: $STRIPE_MOCK_LOG)"
	start_detached "$STRIPE_MOCK_PIDFILE" "$STRIPE_MOCK_LOG" "$STRIPE_MOCK_BIN" -http-addr "$STRIPE_MOCK_ADDR"
	pid=$(read_pid_file "$STRIPE_MOCK_PIDFILE") || die "no pid in $STRIPE_MOCK_PIDFILE"

	local rc=0
	wait_until 30 "$pid" answers || rc=$?
	if ((rc != 0)); then
		show_log_tail "$STRIPE_MOCK_LOG"
		if ((rc == 2)); then
			die "stripe-mock (pid $pid) exited during startup (see $STRIPE_MOCK_LOG)"
		fi
		die "stripe-mock does not answer GET http://$STRIPE_MOCK_ADDR/v1/charges with 200 within 30 s (see $STRIPE_MOCK_LOG)"
	fi
	log "ready on $STRIPE_MOCK_ADDR (pid $pid)"
}

svc_stop() {
	local pid
	if ! pid=$(our_pid); then
		if port_open "$STRIPE_MOCK_PORT"; then
			warn "port $STRIPE_MOCK_PORT is served by a process these scripts did not start from $TICKETFLOW_VAR; leaving it alone"
		else
			log "not running"
		fi
		rm -f -- "$STRIPE_MOCK_PIDFILE"
		return 0
	fi
	log "stopping (pid $pid)"
	stop_pid "$pid" "$STRIPE_MOCK_NEEDLE" 10
	rm -f -- "$STRIPE_MOCK_PIDFILE"
	log "stopped"
}

svc_status() {
	local pid
	if pid=$(our_pid) && port_open "$STRIPE_MOCK_PORT"; then
		status_line stripe-mock running "$STRIPE_MOCK_ADDR (pid $pid)"
	elif port_open "$STRIPE_MOCK_PORT"; then
		status_line stripe-mock foreign "$STRIPE_MOCK_ADDR (not started from $TICKETFLOW_VAR)"
	else
		status_line stripe-mock stopped "$STRIPE_MOCK_ADDR"
		return 3
	fi
}

run_subcommand "$@"
