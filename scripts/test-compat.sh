#!/usr/bin/env bash
# `npm run test:compat`: the whole compatibility catalogue (test/compat) against the real stack:
# every server installed from Debian packages (scripts/install-compat-tools.sh), deployed as a
# fastmig service, migrated hostA → hostB under its own client, checked by that client. Ends with
# `compat: N servers, N migrated, N lost`, counted by scripts/compat-summary.js from Jest's own
# results (a server lost is printed with its reason), then the figures for docs/compatibility.md.
set -uo pipefail
cd "$(dirname "$0")/.."
export FASTMIG_LOG_LEVEL=${FASTMIG_LOG_LEVEL:-warn}
bash scripts/install.sh || exit 1
bash scripts/install-compat-tools.sh || exit 1
npx tsc -p tsconfig.test.json || exit 1
result=$(mktemp)
records=$(mktemp)
FASTMIG_COMPAT=full FASTMIG_COMPAT_RESULTS="$records" npx jest --runInBand test/compat --json --outputFile="$result" "$@"
rc=$?
node scripts/compat-summary.js "$result" "$records" || { echo "compat: 0 servers, 0 migrated, 1 lost"; exit 1; }
rm -f "$result" "$records"
exit $rc
