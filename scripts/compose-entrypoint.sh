#!/usr/bin/env bash
# Entry point of the fastmig image in docker-compose.yml: `orchestrator`, `host-agent <host>` or
# `api`; `healthy <url>` is the services' health check (the image has node, not curl or wget).
# A host agent that runs containers talks to the Docker engine of the machine through a socket
# mounted at $FASTMIG_HOME/docker/<host>/d.sock. That engine resolves bind mounts on the machine,
# not in this container, so the daemon's code and bundles are copied into FASTMIG_HOME, which
# compose mounts at the same path on both sides (no node_modules: the daemon loads no package).
set -euo pipefail
cd "$(dirname "$0")/.."
role=${1:-orchestrator}
case "$role" in
  orchestrator) exec node dist/workers/orchestrator.js ;;
  host-agent)
    host=${2:?usage: host-agent <host>}
    app=$FASTMIG_HOME/app-$host   # one copy per agent: two agents may start at once
    if [ "$(cat "$app/.stamp" 2>/dev/null)" != "$(md5sum dist/.tsbuildinfo | cut -c1-32)" ]; then
      mkdir -p "$app.tmp" && rm -rf "$app.tmp"/* && cp -a dist package.json .tools "$app.tmp/"
      md5sum dist/.tsbuildinfo | cut -c1-32 > "$app.tmp/.stamp"
      rm -rf "$app" && mv "$app.tmp" "$app"
    fi
    export FASTMIG_APP_DIR=$app FASTMIG_BUNDLE=$app/.tools/bundle FASTMIG_CRIU=$app/.tools/criu/criu
    # The command that adds a machine to a cluster (README, "Run on several machines").
    exec node dist/cli/main.js agent --host "$host" ;;
  api) exec node dist/api/main.js ;;
  healthy)
    exec node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "${2:?usage: healthy <url>}" ;;
  *) echo "unknown role \"$role\": use orchestrator, host-agent <host> or api" >&2; exit 2 ;;
esac
