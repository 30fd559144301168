#!/usr/bin/env bash
# Builds the compatibility catalogue's container image from Debian packages only (no registry),
# into the image cache (default .tools/images): compat-debian.tar, Debian 12 (mmdebstrap, variant
# essential) with redis-server, memcached and nginx, plus /etc/compat/nginx.conf (nginx's Debian
# settings with `user root;`, logging to its output) and a site in /var/www/compat. The packages
# layer is cached; the configuration layer is refreshed on every run (seconds). test/compat imports
# it with `fastmig image import`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${FASTMIG_IMAGE_CACHE:-$HERE/.tools/images}
log() { printf '[compat-image] %s\n' "$*" >&2; }
mkdir -p "$CACHE"
if [ ! -s "$CACHE/compat-debian-base.tar" ]; then
  command -v mmdebstrap >/dev/null || { log "mmdebstrap missing: run scripts/install-docker.sh"; exit 1; }
  # The machine's own apt sources (deb822 or one-line) name the mirror; nothing is hard-coded here.
  src=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 || true)
  [ -n "$src" ] || src=/etc/apt/sources.list
  log "building Debian 12 with redis-server, memcached and nginx (about 30 s)…"
  mmdebstrap --quiet --variant=essential --include=redis-server,memcached,nginx --format=tar bookworm "$CACHE/compat-debian-base.tar.tmp" "$src"
  mv "$CACHE/compat-debian-base.tar.tmp" "$CACHE/compat-debian-base.tar"
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/etc/compat" "$work/var/www/compat"
cat > "$work/etc/compat/nginx.conf" <<'CONF'
user root;
worker_processes auto;
pid /run/nginx.pid;
error_log stderr;
events { worker_connections 768; }
http {
  sendfile on;
  tcp_nopush on;
  types_hash_max_size 2048;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log /dev/stdout;
  server {
    listen 80 default_server;
    root /var/www/compat;
    index index.html;
  }
}
CONF
echo '<html><body>compat compat-nginx</body></html>' > "$work/var/www/compat/index.html"
head -c 2097152 /dev/urandom > "$work/var/www/compat/big.bin"
cp "$CACHE/compat-debian-base.tar" "$work/compat-debian.tar"
tar -rf "$work/compat-debian.tar" -C "$work" --owner=0 --group=0 ./etc/compat ./var/www/compat
mv "$work/compat-debian.tar" "$CACHE/compat-debian.tar"
log "ready: $CACHE/compat-debian.tar ($(du -h "$CACHE/compat-debian.tar" | cut -f1))"
