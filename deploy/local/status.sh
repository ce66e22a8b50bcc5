#!/usr/bin/env bash
# One line per local TicketFlow service: name, state, address (pid).
#
#   deploy/local/status.sh [service ...]
#
# States: running, stopped, foreign (the port answers but the process was not
# started from this checkout), starting. Exits 0 when every service listed is
# running (or foreign), 3 otherwise.
set -euo pipefail

TF_SERVICE=status
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

services=("$@")
((${#services[@]} > 0)) || services=("${TF_ALL_SERVICES[@]}")

rc=0
for svc in "${services[@]}"; do
	if is_service "$svc"; then
		"$TF_LOCAL_DIR/$svc.sh" status || rc=3
	else
		status_line "$svc" unknown "(known: ${TF_ALL_SERVICES[*]})"
		rc=3
	fi
done
exit "$rc"
