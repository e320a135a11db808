#!/usr/bin/env bash
# Install everything (with the test tools), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
.venv/bin/ruff check broadcaster tests
exec .venv/bin/python -m pytest "$@"
