#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine with Node 20: npm packages always,
# and Debian packages when running as root (they are needed by benches and root-only suites).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
