#!/usr/bin/env bash
# The full fault matrix (every scenario × phase pair, FASTMIG_FAULT_REPEAT times, default once)
# against the real stack. Ends with `faults: N scenarios, N survived, N lost`, N counting distinct
# fault × phase pairs (a pair is lost when any of its runs failed), counted from Jest's own results
# by scripts/faults-summary.js; repeated runs are reported on a line of their own.
set -uo pipefail
cd "$(dirname "$0")/.."
export FASTMIG_LOG_LEVEL=${FASTMIG_LOG_LEVEL:-warn}
bash scripts/install.sh || exit 1
result=$(mktemp)
FASTMIG_FAULT_MATRIX=full npx jest --runInBand test/faults --json --outputFile="$result" "$@"
rc=$?
node scripts/faults-summary.js "$result" || { echo "faults: 0 scenarios, 0 survived, 1 lost"; exit 1; }
rm -f "$result"
exit $rc
