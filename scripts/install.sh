#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine with Node 20: npm packages always,
# and the Debian packages the tests use when running as root (curl, for the README's commands).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "install.sh: not root, cannot install ${missing[*]}; the tests that run curl will fail" >&2
  fi
fi
