#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the browser tests (tests/browser/).
# Playwright's own browser download cannot reach its host here, so the tests drive
# /usr/bin/chromium through executable_path. Safe to run repeatedly; never fails the
# build: without a browser the browser tests skip with a message saying why.
set -u

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: apt-get not found; browser tests will be skipped" >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install_browser: not root and no passwordless sudo; browser tests will be skipped" >&2
        exit 0
    fi
fi

echo "install_browser: installing Debian's chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation; } >&2; then
    echo "install_browser: apt-get could not install chromium; browser tests will be skipped" >&2
    exit 0
fi
[ -x /usr/bin/chromium ] && echo "install_browser: $(/usr/bin/chromium --version 2>/dev/null)" >&2
exit 0
