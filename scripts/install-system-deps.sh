#!/usr/bin/env bash
# System packages that the tests need beyond Python: Debian's Chromium for the browser
# test (`make test-browser`). CI (.ci/run) calls this; on your machine run it with sudo.
# Node.js >= 20 with npm must be there too (the browser test installs playwright-core with npm).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    echo "chromium: $(chromium --version 2>/dev/null || echo present)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Install Chromium with your system's package manager (e.g. 'brew install --cask chromium'), then run make test-browser." >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "Run as root: sudo $0" >&2
    exit 1
fi
echo "installing Debian's chromium (for the browser test)"
apt-get update -qq
apt-get install -y -qq chromium
