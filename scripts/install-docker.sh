#!/usr/bin/env bash
# Installs what the container runtime needs from the system's own apt sources, idempotently:
# dockerd (Debian's docker.io), a static busybox (sh, unshare, setsid, cat inside any image),
# mmdebstrap (builds the Debian demo image) and musl-tools (builds the musl demo image's service).
# Nothing is installed when all are present.
set -euo pipefail
log() { printf '[docker] %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
if have dockerd && [ -x /bin/busybox ] && have mmdebstrap && have musl-gcc; then
  log "dockerd $(dockerd --version | awk '{print $3}' | tr -d ,) present"; exit 0
fi
have apt-get || { log "apt-get not found: install dockerd, busybox-static and mmdebstrap by hand"; exit 1; }
log "installing docker.io, busybox-static, mmdebstrap and musl-tools with apt-get…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends docker.io busybox-static mmdebstrap musl-tools >/dev/null
have dockerd || { log "docker.io installed but dockerd is missing"; exit 1; }
log "dockerd $(dockerd --version | awk '{print $3}' | tr -d ,) installed"
