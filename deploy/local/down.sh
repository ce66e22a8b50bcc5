#!/usr/bin/env bash
# Stop the local TicketFlow services started by up.sh (data is kept).
#
#   deploy/local/down.sh [service ...]   # default: all, in reverse start order
#
# Only stops what these scripts started from this checkout's var/ directory;
# a foreign process on one of the ports is left alone (with a warning).
set -euo pipefail

TF_SERVICE=down
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

services=("$@")
if ((${#services[@]} == 0)); then
	for ((i = ${#TF_ALL_SERVICES[@]} - 1; i >= 0; i--)); do
		services+=("${TF_ALL_SERVICES[i]}")
	done
fi
for svc in "${services[@]}"; do
	is_service "$svc" || die "unknown service '$svc' (known: ${TF_ALL_SERVICES[*]})"
done

failed=()
for svc in "${services[@]}"; do
	"$TF_LOCAL_DIR/$svc.sh" stop || failed+=("$svc")
done
((${#failed[@]} == 0)) || die "failed to stop: ${failed[*]}"
