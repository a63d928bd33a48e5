#!/usr/bin/env bash
# The main job: the local stack (alsats-backend with its Lightning simnet) and JupyterLab
# on notebooks/demo.ipynb. Options go to alsats-lab: --no-browser prints the URL instead
# of opening a browser; --port N; --help for the rest. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv ""
exec alsats-lab "$@"
