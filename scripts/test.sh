#!/usr/bin/env bash
# The whole test suite: lint, then every test. Extra arguments go to pytest.
# The browser tests drive Debian's chromium: it is installed here when it is missing, and
# so are the npm packages of tests/alby (an L402 client by others) and Node to run them,
# and Debian's fortunes (a real text data set, tests/widget/test_examples.py), and Debian's
# postgresql (tests/postgres.py starts a throwaway server for the PostgreSQL ledger tests),
# and Debian's nginx (tests/nginx.py: the reverse proxy that terminates TLS).
# --quick (first): the fast lane for the edit loop: lint and the tests not marked slow,
# no notebooks and no browser (under 2 minutes on 2 cores). CI runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

# Usage: apt_install WHAT LOG PACKAGE...: Debian's packages, needed by WHAT, with apt-get
# as root or through sudo -n; on failure the log (kept in LOG) is printed.
apt_install() {
    local what="$1" log="$2" as_root=""
    shift 2
    if ! command -v apt-get >/dev/null; then
        echo "$* (for $what) cannot be installed here: there is no apt-get;" \
             "install $* and put it on PATH" >&2
        return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            as_root="sudo -n"
        else
            echo "$* (for $what) takes root to install:" \
                 "run 'sudo apt-get install $*', or this script as root" >&2
            return 1
        fi
    fi
    echo "Installing $* for $what ..." >&2
    if ! { $as_root env DEBIAN_FRONTEND=noninteractive apt-get update &&
           $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; } \
           > "$log" 2>&1; then
        cat "$log" >&2
        echo "Installing $* failed; the log above is also in $log" >&2
        return 1
    fi
}

# Install Debian's chromium unless it is there.
ensure_chromium() {
    if command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; then
        return 0
    fi
    apt_install "the browser tests" .venv/chromium-install.log chromium
}

# Debian's fortune files: the text data set of alsats_widget.examples.load_fortunes.
ensure_fortunes() {
    if [ -f /usr/share/games/fortunes/startrek ]; then
        return 0
    fi
    apt_install "the fortunes data set" .venv/fortunes-install.log fortunes
}

# Debian's PostgreSQL server (initdb, postgres): both lanes test the PostgreSQL ledger.
ensure_postgresql() {
    if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
        return 0
    fi
    apt_install "the PostgreSQL ledger tests" .venv/postgresql-install.log postgresql
}

# Debian's nginx: tests/nginx.py runs it as the TLS-terminating reverse proxy in front of
# alsats' web processes, with its own config and ports (the package's default site on port 80,
# which installing it may start, is left alone).
ensure_nginx() {
    if [ -x /usr/sbin/nginx ]; then
        return 0
    fi
    apt_install "the reverse proxy tests" .venv/nginx-install.log nginx
}

# Install the npm packages tests/alby pins (no lock file: it would name a registry)
# unless node_modules is newer than package.json; Debian's nodejs and npm if missing.
ensure_node_packages() {
    local dir="tests/alby" log=".venv/npm-install.log"
    if [ -d "$dir/node_modules" ] && [ "$dir/node_modules" -nt "$dir/package.json" ]; then
        return 0
    fi
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        apt_install "the test through Alby's client" .venv/nodejs-install.log nodejs npm \
            || return 1
    fi
    echo "Installing the npm packages of $dir ..." >&2
    if ! npm install --prefix "$dir" --no-package-lock --no-audit --no-fund \
           > "$log" 2>&1; then
        cat "$log" >&2
        echo "Installing the npm packages failed; the log above is also in $log" >&2
        return 1
    fi
    touch "$dir/node_modules"
}

quick=()
if [ "${1:-}" = "--quick" ]; then
    shift
    quick=(-m "not slow" -o "addopts=")  # addopts turns on nbval: no notebooks here
fi

ensure_venv "test"
ensure_fortunes
ensure_postgresql
ensure_nginx
[ ${#quick[@]} -gt 0 ] || ensure_chromium
[ ${#quick[@]} -gt 0 ] || ensure_node_packages
ruff check .
python -m pytest "${quick[@]}" "$@"
