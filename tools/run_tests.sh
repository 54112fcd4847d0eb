#!/usr/bin/env bash
# Installs the environment if needed (idempotent), then lints and runs the test suite.
# Usage: tools/run_tests.sh [pytest args...]
set -euo pipefail
repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo_dir/tools/install.sh"
venv=${CFFMA_VENV:-$repo_dir/tools/venv}
cd "$repo_dir"
"$venv/bin/ruff" check espnet_cffma test tools
"$venv/bin/ruff" format --check espnet_cffma test tools
exec "$venv/bin/python" -m pytest test "$@"
