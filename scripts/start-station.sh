#!/usr/bin/env bash
# Install everything, then start the station on the bundled sample content.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
# Check the content (problems are printed; the station still starts with the
# files that are valid), then run the station in the foreground: Ctrl-C stops it.
.venv/bin/broadcaster check || true
exec .venv/bin/broadcaster run "$@"
