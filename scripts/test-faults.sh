#!/usr/bin/env bash
# The full fault matrix (every scenario × phase, 3 times) against the real stack. Ends with
# `faults: N scenarios, N survived, N lost`, counted from Jest's own results.
set -uo pipefail
cd "$(dirname "$0")/.."
export FASTMIG_LOG_LEVEL=${FASTMIG_LOG_LEVEL:-warn}
bash scripts/install.sh || exit 1
result=$(mktemp)
FASTMIG_FAULT_MATRIX=full npx jest --runInBand test/faults --json --outputFile="$result" "$@"
rc=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const lost = r.numFailedTests + r.numRuntimeErrorTestSuites;
  const secs = Math.round((Date.now() - r.startTime) / 1000);
  console.log(`faults: ${r.numTotalTests} scenarios, ${r.numPassedTests} survived, ${lost} lost (${Math.floor(secs / 60)} min ${secs % 60} s)`);
  if (r.numPendingTests) console.log(`(${r.numPendingTests} skipped: not counted as survived)`);
' "$result" || { echo "faults: 0 scenarios, 0 survived, 1 lost"; exit 1; }
exit $rc
