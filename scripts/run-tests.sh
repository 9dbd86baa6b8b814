#!/usr/bin/env bash
# Runs the whole suite (every layer of DESIGN.md) and closes with one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "the suite needs root: kernel, lab and end-to-end tests create namespaces, BPF objects and sshd instances" >&2; exit 1; }
report=$(mktemp /tmp/hvnet-jest-XXXXXX.json)
trap 'rm -f "$report"' EXIT
status=0
npx jest --ci --json --outputFile="$report" "$@" || status=$?
node -e '
  const r = require(process.argv[1]);
  const failedSuites = r.numFailedTestSuites - 0;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests + r.numRuntimeErrorTestSuites} failed` +
    (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
  if (r.numPendingTests > 0 || r.numTodoTests > 0) { console.error("skipped tests are not allowed"); process.exit(1); }
' "$report" || status=1
exit $status
