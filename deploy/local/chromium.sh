#!/usr/bin/env bash
# Headless Chromium for the storefront's browser tests (apps/storefront/tests).
#
#   deploy/local/chromium.sh
#
# Installs Debian's `chromium` package (apt-get update, then install, through
# lib.sh's apt_install: serialised with the other deploy/local scripts, output
# in $TICKETFLOW_VAR/log/apt.log) when /usr/bin/chromium is missing, then checks
# that the binary starts. Idempotent: when Chromium is there it only prints its
# version. Playwright drives this binary (executable_path=/usr/bin/chromium);
# Playwright's own browser download is never used.
set -euo pipefail

TF_SERVICE=chromium
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHROMIUM=/usr/bin/chromium

if [[ ! -x $CHROMIUM ]]; then
	apt_install chromium
	[[ -x $CHROMIUM ]] || die "the chromium package installed no $CHROMIUM"
fi

version=$(timeout 30 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --version 2>/dev/null) ||
	die "$CHROMIUM is installed but does not start (try: $CHROMIUM --headless=new --no-sandbox --version)"
log "$version at $CHROMIUM"
