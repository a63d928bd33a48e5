#!/usr/bin/env bash
# The main job. For now: start the local Lightning simnet (alice, bob, carol) and show
# each node's identity, balances and how to reach it; Ctrl-C stops it, state is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv ""
exec alsats-simnet --network polar-network.json --data-dir .alsats/simnet "$@"
