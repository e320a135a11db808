#!/usr/bin/env bash
# Install everything, then start the station on the bundled sample content.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
# The station daemon is not built yet: for now this checks the bundled content
# and renders every announcement ahead (what the station does before it plays).
.venv/bin/broadcaster check
exec .venv/bin/broadcaster render --all
