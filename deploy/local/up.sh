#!/usr/bin/env bash
# Start the local TicketFlow services (installing/building what is missing).
#
#   deploy/local/up.sh [service ...]     # default: postgres redis kafka stripe-mock
#
# Services start in parallel (TICKETFLOW_UP_PARALLEL=0 starts them one by one);
# each is idempotent: one that is already running is only checked. Exits
# non-zero, naming the services that failed, if any did not come up.
# Then: source deploy/local/env.sh for the connection settings.
set -euo pipefail

TF_SERVICE=up
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

services=("$@")
((${#services[@]} > 0)) || services=("${TF_ALL_SERVICES[@]}")
for svc in "${services[@]}"; do
	is_service "$svc" || die "unknown service '$svc' (known: ${TF_ALL_SERVICES[*]})"
done

ensure_var_dirs
started=$SECONDS

# start_one SERVICE: run <service>.sh start, prefixing any line of output that
# is not already prefixed (apt, mvn, go) with the service's name.
start_one() {
	local svc=$1
	"$TF_LOCAL_DIR/$svc.sh" start 2>&1 | sed -u "/^\[ticketflow:/!s/^/[ticketflow:$svc] /" >&2
	return "${PIPESTATUS[0]}"
}

failed=()
if [[ ${TICKETFLOW_UP_PARALLEL:-1} == 0 ]]; then
	for svc in "${services[@]}"; do
		start_one "$svc" || failed+=("$svc")
	done
else
	declare -A pids=()
	for svc in "${services[@]}"; do
		start_one "$svc" &
		pids[$svc]=$!
	done
	for svc in "${services[@]}"; do
		wait "${pids[$svc]}" || failed+=("$svc")
	done
fi

if ((${#failed[@]} > 0)); then
	die "failed to start: ${failed[*]} (see the messages above and $TF_LOG_DIR)"
fi
log "up: ${services[*]} ($((SECONDS - started)) s). Connection settings: source deploy/local/env.sh"
