#!/usr/bin/env bash
# Install everything from scratch into .venv, then lint, type-check and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements/ci.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
if [ -d ../shared/data ]; then export CHIMERAMIX_DATA="${CHIMERAMIX_DATA:-$(cd ../shared/data && pwd)}"; fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest -q -ra "$@"
