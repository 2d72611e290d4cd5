#!/usr/bin/env bash
# Install everything from scratch into .venv, then lint, type-check and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if [ -d ../shared/data ]; then export CHIMERAMIX_DATA="${CHIMERAMIX_DATA:-$(cd ../shared/data && pwd)}"; fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest -q -ra "$@"
