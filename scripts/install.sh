#!/usr/bin/env bash
# Everything fastmig needs on a fresh Debian machine, idempotent: node modules, the build, and the
# stack's tools (scripts/install-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[install] %s\n' "$*" >&2; }
command -v node >/dev/null || { log "Node.js 20 or newer is required"; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { log "Node.js $major found, 20 or newer is required"; exit 1; }
# Reinstalled when the lock file's content changed (not its time stamp: a fresh checkout is newer).
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat node_modules/.fastmig-lock 2>/dev/null)" != "$lock" ]; then
  log "installing node modules…"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock" > node_modules/.fastmig-lock
fi
log "building TypeScript…"
npx tsc -p tsconfig.json
# tsc never deletes an output whose source moved or went: a stale dist/x.js would shadow dist/x/index.js.
node -e '
  const fs = require("fs"), path = require("path");
  const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
  for (const f of fs.existsSync("dist") ? walk("dist") : []) {
    const m = /^dist\/(.*)\.js(\.map)?$/.exec(f);
    if (m && !fs.existsSync(m[1] + ".ts")) { fs.rmSync(f); console.error("[install] removed stale " + f); }
  }'
bash scripts/install-tools.sh
