#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, then lint, typecheck and every
# project's tests. Suites that need root (netns, BPF) skip with a visible reason when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false FORCE_COLOR=0
results=tmp/test-results
rm -rf "$results" && mkdir -p "$results"
export TENDRIL_TEST_RESULTS="$PWD/$results"
status=0
npx nx run-many -t lint typecheck --output-style=stream || status=$?
# Tests run one project at a time: end-to-end suites start real processes and must not
# compete for the 2 cores with another project's suite.
npx nx run-many -t test --parallel=1 --output-style=stream || status=$?
node scripts/summarize-tests.js "$results" || status=$?
exit $status
