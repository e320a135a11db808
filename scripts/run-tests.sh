#!/usr/bin/env bash
# Install everything (with the test tools), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
.venv/bin/ruff check broadcaster tests bench scripts
.venv/bin/mypy  # the settings are in pyproject.toml; 0 errors, every remaining ignore says why
exec .venv/bin/python -m pytest "$@"
