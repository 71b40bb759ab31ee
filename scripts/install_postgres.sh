#!/usr/bin/env bash
# Makes sure PostgreSQL's server programs (initdb, pg_ctl, postgres) are on this machine for
# the integration tests against a real PostgreSQL (tests/integration/engines/). The tests
# start their own throwaway server on 127.0.0.1 and never use a system-wide cluster, so only
# the binaries are needed. Safe to run repeatedly; never fails the build: without them the
# PostgreSQL tests skip with a message saying why.
set -u

found_initdb() {
    command -v initdb >/dev/null 2>&1 && return 0
    for candidate in /usr/lib/postgresql/*/bin/initdb; do
        [ -x "$candidate" ] && return 0
    done
    return 1
}

if found_initdb; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_postgres: initdb not found and apt-get is missing; PostgreSQL tests will be skipped" >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install_postgres: initdb not found, not root and no passwordless sudo;" \
             "PostgreSQL tests will be skipped (install the 'postgresql' package to run them)" >&2
        exit 0
    fi
fi

echo "install_postgres: installing PostgreSQL with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends postgresql; } >&2; then
    echo "install_postgres: apt-get could not install postgresql; PostgreSQL tests will be skipped" >&2
    exit 0
fi
if found_initdb; then
    echo "install_postgres: installed $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1)" >&2
else
    echo "install_postgres: apt-get finished but initdb is still missing; PostgreSQL tests will be skipped" >&2
fi
exit 0
