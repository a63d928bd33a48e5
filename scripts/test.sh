#!/usr/bin/env bash
# The whole test suite: lint, then every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "test"
ruff check .
python -m pytest "$@"
