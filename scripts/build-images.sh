#!/usr/bin/env bash
# Builds the root file systems of the demo and test images, from Debian packages only (no
# registry), into the image cache (default .tools/images):
#   kv-debian.tar  Debian 12 (mmdebstrap, variant essential: glibc, dash, coreutils) + /app
#   kv-musl.tar    musl libc as the only C library (Debian's musl package) + a static busybox + /app,
#                  plus /app/counter: demo/musl/counter.c linked against musl (musl-gcc)
#   py-debian.tar  the Debian 12 one + /opt/python: this machine's Python 3 with its own loader and the
#                  libraries ldd lists (as the runtime bundle carries node)
# /app holds the demo services (dist/demo/*-service.js) and the test services (test/services/*.py).
# No image contains node: services run it from the runtime bundle mounted at /fastmig/bundle, like
# any image would. The Debian base is cached; the app layer is refreshed on every run (seconds). Import them with `fastmig image import`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${FASTMIG_IMAGE_CACHE:-$HERE/.tools/images}
log() { printf '[images] %s\n' "$*" >&2; }
mkdir -p "$CACHE"
for f in kv-service workers-service journal-service; do
  [ -f "$HERE/dist/demo/$f.js" ] || { log "dist/demo/$f.js missing: run npx tsc first"; exit 1; }
done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app/app"
cp "$HERE/dist/demo/kv-service.js" "$HERE/dist/demo/workers-service.js" "$HERE/dist/demo/journal-service.js" "$work/app/app/"
cp "$HERE"/test/services/*.py "$work/app/app/"

if [ ! -s "$CACHE/base-debian.tar" ]; then
  command -v mmdebstrap >/dev/null || { log "mmdebstrap missing: run scripts/install-docker.sh"; exit 1; }
  # The machine's own apt sources (deb822 or one-line) name the mirror; nothing is hard-coded here.
  src=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 || true)
  [ -n "$src" ] || src=/etc/apt/sources.list
  log "building the Debian 12 base with mmdebstrap (about 20 s)…"
  mmdebstrap --quiet --variant=essential --format=tar bookworm "$CACHE/base-debian.tar.tmp" "$src"
  mv "$CACHE/base-debian.tar.tmp" "$CACHE/base-debian.tar"
fi
cp "$CACHE/base-debian.tar" "$work/kv-debian.tar"
tar -rf "$work/kv-debian.tar" -C "$work/app" --owner=0 --group=0 ./app
cp "$work/kv-debian.tar" "$work/py-debian.tar"
mv "$work/kv-debian.tar" "$CACHE/kv-debian.tar"

# Python as the bundle carries node: the binary, every library ldd lists for it and its extension
# modules (loader included), and its standard library, started through that loader.
# The system's own (a version manager's shim on PATH is a script, not the binary).
PY=$(readlink -f /usr/bin/python3 || true)
[ -x "$PY" ] || { log "/usr/bin/python3 missing: the Python test image needs one (apt-get install python3)"; exit 1; }
stdlib=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
ver=$(basename "$stdlib")
p=$work/py
mkdir -p "$p/opt/python/bin" "$p/opt/python/lib"
cp "$PY" "$p/opt/python/bin/$ver"
(ldd "$PY"; ldd "$stdlib"/lib-dynload/*.so) | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | sort -u | while read -r lib; do
  cp -L "$lib" "$p/opt/python/lib/"
done
tar -C "$(dirname "$stdlib")" --exclude=__pycache__ --exclude="./$ver/test" --exclude="./$ver/idlelib" --exclude="./$ver/tkinter" --exclude="./$ver/ensurepip" -cf - "./$ver" | tar -C "$p/opt/python/lib" -xf -
cat > "$p/opt/python/bin/python3" <<W
#!/bin/sh
PYTHONHOME=/opt/python exec /opt/python/lib/ld-linux-x86-64.so.2 --library-path /opt/python/lib /opt/python/bin/$ver "\$@"
W
chmod 755 "$p/opt/python/bin/python3"
tar -rf "$work/py-debian.tar" -C "$p" --owner=0 --group=0 ./opt/python
mv "$work/py-debian.tar" "$CACHE/py-debian.tar"

if ! ls "$CACHE"/musl_*.deb >/dev/null 2>&1; then
  log "downloading Debian's musl package…"
  (cd "$CACHE" && apt-get download -qq musl)
fi
m=$work/musl
mkdir -p "$m"/{bin,etc,tmp,root,proc,sys,dev,lib}
dpkg -x "$CACHE"/musl_*.deb "$m"
# musl's own loader name, as on Alpine.
ln -sf /lib/x86_64-linux-musl/libc.so "$m/lib/ld-musl-x86_64.so.1"
cp /bin/busybox "$m/bin/busybox"
for a in sh ash cat echo ls ps sleep env httpd; do ln -sf busybox "$m/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$m/etc/passwd"
printf 'root:x:0:\n' > "$m/etc/group"
cp -r "$work/app/app" "$m/app"
command -v musl-gcc >/dev/null || { log "musl-gcc missing: run scripts/install-docker.sh"; exit 1; }
musl-gcc -O2 -s -o "$m/app/counter" "$HERE/demo/musl/counter.c"
tar -cf "$CACHE/kv-musl.tar" -C "$m" --owner=0 --group=0 .
log "ready: $CACHE/kv-debian.tar ($(du -h "$CACHE/kv-debian.tar" | cut -f1)), $CACHE/kv-musl.tar ($(du -h "$CACHE/kv-musl.tar" | cut -f1)), $CACHE/py-debian.tar ($(du -h "$CACHE/py-debian.tar" | cut -f1))"
