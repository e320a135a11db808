#!/usr/bin/env bash
# Install everything, then start the station on the bundled sample content.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
# The station daemon is not built yet: for now this checks the bundled content.
exec .venv/bin/broadcaster check "$@"
