# Sourced by main.sh and test.sh: make .venv (Python 3.10+) and install alsats into it.
# Usage: ensure_venv EXTRAS   (e.g. "" or "test")
ensure_venv() {
    local extras="$1" python="${PYTHON:-python3}" stamp
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        echo "alsats needs Python 3.10 or newer (set PYTHON=/path/to/python3.x)" >&2
        return 1
    fi
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    stamp=".venv/.installed-${extras:-base}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "Installing alsats${extras:+[$extras]} into .venv ..." >&2
        if ! { .venv/bin/python -m pip install --upgrade pip &&
               .venv/bin/python -m pip install -e ".${extras:+[$extras]}"; } \
               > .venv/install.log 2>&1; then
            cat .venv/install.log >&2
            echo "Installing failed; the log above is also in .venv/install.log" >&2
            return 1
        fi
        touch "$stamp"
    fi
    export PATH="$PWD/.venv/bin:$PATH"
}
