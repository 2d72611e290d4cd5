#!/usr/bin/env bash
# Create .venv (if needed) and install chimeramix with the pinned CI environment into it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements/ci.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
