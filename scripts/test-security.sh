#!/usr/bin/env bash
# `npm run test:security`: every attack and fuzzer in test/security against the real stack, then the tally.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh >/dev/null || exit 1
attempts=$(node -e 'console.log(require("./dist/common/config").fastmigHome())')/security-attempts.jsonl
rm -f "$attempts"
npx jest --runInBand test/security
rc=$?
node scripts/security-summary.js "$attempts" "$rc"
