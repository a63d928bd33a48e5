#!/usr/bin/env bash
# The whole test suite: lint, then every test. Extra arguments go to pytest.
# The browser tests drive Debian's chromium: it is installed here when it is missing.
# --quick (first): the fast lane for the edit loop: lint and the tests not marked slow,
# no notebooks and no browser (under 2 minutes on 2 cores). CI runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

# Install Debian's chromium unless it is there (apt-get, as root or through sudo -n).
ensure_chromium() {
    local as_root="" log=".venv/chromium-install.log"
    if command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null; then
        echo "The browser tests need chromium, and there is no apt-get to install it:" \
             "install chromium and put it on PATH" >&2
        return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            as_root="sudo -n"
        else
            echo "The browser tests need chromium; installing it takes root:" \
                 "run 'sudo apt-get install chromium', or this script as root" >&2
            return 1
        fi
    fi
    echo "Installing chromium for the browser tests ..." >&2
    if ! { $as_root env DEBIAN_FRONTEND=noninteractive apt-get update &&
           $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } \
           > "$log" 2>&1; then
        cat "$log" >&2
        echo "Installing chromium failed; the log above is also in $log" >&2
        return 1
    fi
}

quick=()
if [ "${1:-}" = "--quick" ]; then
    shift
    quick=(-m "not slow" -o "addopts=")  # addopts turns on nbval: no notebooks here
fi

ensure_venv "test"
[ ${#quick[@]} -gt 0 ] || ensure_chromium
ruff check .
python -m pytest "${quick[@]}" "$@"
