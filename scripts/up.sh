#!/usr/bin/env bash
# README command 1: installs what is needed, then `tendril up` on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec npx tendril up --config examples/quickstart "$@"
