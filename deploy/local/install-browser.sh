#!/usr/bin/env bash
# Installs Debian's chromium for the operator console's browser tests
# (internal/console, driven headless through chromedp). Playwright/Puppeteer
# download their own browsers; this uses only the Debian archive.
# Idempotent: returns at once when chromium is installed.
source "$(dirname "$0")/lib.sh"

if command -v chromium >/dev/null 2>&1; then
	exit 0
fi
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt_updated
log "installing chromium (Debian) for the console's browser tests"
as_root apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
log "chromium $(dpkg-query -W -f='${Version}' chromium) installed in $(($(date +%s) - start))s"
