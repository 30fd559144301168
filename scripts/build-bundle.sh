#!/usr/bin/env bash
# Builds the runtime bundle mounted read-only into every service container at /fastmig/bundle:
#   node/  the node binary, the libraries ldd lists for it and their loader (runs in any image,
#          glibc, musl or none, because it never uses the image's C library)
#   bin/   a static busybox as sh, unshare, setsid, cat, tar, mkfifo, ip, sysctl, arping, mount, umount,
#          pivot_root, mkdir; wrappers `node`, `criu`, `criu-notify`, `iptables`, `setpriv` (this
#          machine's, with its libraries beside node's: busybox's cannot change user ids) and the
#          scripts of a service that runs as another user, `user-root` and `user-restore`
#   gnu/   this machine's GNU tar and busybox's gzip, first in CRIU's PATH for such a service (its /dev/shm)
# The CRIU bundle itself (scripts/install-criu.sh) is mounted beside it at /fastmig/criu.
# Rebuilt only when the node binary, this script or the action script changed. Usage: build-bundle.sh <out dir>
set -euo pipefail
OUT=${1:?usage: build-bundle.sh <out dir>}
HERE=$(cd "$(dirname "$0")/.." && pwd)
NOTIFY=$HERE/daemon/criu-notify.sh
NODE=$(readlink -f "$(command -v node)")
log() { printf '[bundle] %s\n' "$*" >&2; }
USER_SCRIPTS="$HERE/daemon/user-root.sh $HERE/daemon/user-restore.sh"
SETPRIV=$(readlink -f "$(command -v setpriv || echo /nonexistent)") || { log "setpriv (util-linux) is required"; exit 1; }
GNUTAR=$(readlink -f "$(command -v tar || echo /nonexistent)") || { log "GNU tar is required"; exit 1; }
# shellcheck disable=SC2086
stamp="$NODE $(stat -c %Y "$NODE") $(cat "$0" "$NOTIFY" $USER_SCRIPTS | md5sum | cut -c1-12)"
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$stamp" ]; then log "present"; exit 0; fi
[ -x /bin/busybox ] || { log "a static busybox is required (busybox-static)"; exit 1; }
rm -rf "$OUT.tmp"; mkdir -p "$OUT.tmp/node/lib" "$OUT.tmp/bin"
cp "$NODE" "$OUT.tmp/node/node"
# Every library ldd resolves, plus the loader (the line without "=>").
ldd "$NODE" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' | while read -r lib; do
  cp -L "$lib" "$OUT.tmp/node/lib/"
done
[ -f "$OUT.tmp/node/lib/ld-linux-x86-64.so.2" ] || { log "no loader found for $NODE"; exit 1; }
cp "$SETPRIV" "$OUT.tmp/node/setpriv"
cp "$GNUTAR" "$OUT.tmp/node/tar"
ldd "$SETPRIV" "$GNUTAR" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
  [ -f "$OUT.tmp/node/lib/$(basename "$lib")" ] || cp -L "$lib" "$OUT.tmp/node/lib/"
done
cp /bin/busybox "$OUT.tmp/bin/busybox"
for a in sh unshare setsid cat tar sleep kill ls mkfifo ip sysctl arping mount umount pivot_root mkdir; do ln -s busybox "$OUT.tmp/bin/$a"; done
# iptables from the CRIU bundle (nft back end, like the host's): CRIU's connection lock and the
# daemon's hold on a service address that lives in the host's network (scripts/install-criu.sh).
for a in iptables iptables-restore ip6tables ip6tables-restore; do
  cat > "$OUT.tmp/bin/$a" <<W
#!/fastmig/bundle/bin/sh
L=/fastmig/criu/usr/lib/x86_64-linux-gnu
XTABLES_LIBDIR=\$L/xtables exec \$L/ld-linux-x86-64.so.2 --library-path \$L:/fastmig/criu/lib/x86_64-linux-gnu /fastmig/criu/usr/sbin/xtables-nft-multi $a "\$@"
W
  chmod 755 "$OUT.tmp/bin/$a"
done
cat > "$OUT.tmp/bin/node" <<'W'
#!/fastmig/bundle/bin/sh
exec /fastmig/bundle/node/lib/ld-linux-x86-64.so.2 --library-path /fastmig/bundle/node/lib /fastmig/bundle/node/node "$@"
W
cat > "$OUT.tmp/bin/setpriv" <<'W'
#!/fastmig/bundle/bin/sh
exec /fastmig/bundle/node/lib/ld-linux-x86-64.so.2 --library-path /fastmig/bundle/node/lib /fastmig/bundle/node/setpriv "$@"
W
# GNU tar (with busybox's gzip) for CRIU alone: it archives a tmpfs with options busybox's tar lacks.
mkdir "$OUT.tmp/gnu"
ln -s ../bin/busybox "$OUT.tmp/gnu/gzip"
cat > "$OUT.tmp/gnu/tar" <<'W'
#!/fastmig/bundle/bin/sh
exec /fastmig/bundle/node/lib/ld-linux-x86-64.so.2 --library-path /fastmig/bundle/node/lib /fastmig/bundle/node/tar "$@"
W
chmod 755 "$OUT.tmp/gnu/tar"
cat > "$OUT.tmp/bin/criu" <<'W'
#!/fastmig/bundle/bin/sh
L=/fastmig/criu/usr/lib/x86_64-linux-gnu
exec $L/ld-linux-x86-64.so.2 --library-path $L:/fastmig/criu/lib/x86_64-linux-gnu /fastmig/criu/usr/sbin/criu "$@"
W
# The daemon's CRIU action script (restored tree resumed; files copied inside the freeze), run by the bundle's sh.
sed '1s|^#!.*|#!/fastmig/bundle/bin/sh|' "$NOTIFY" > "$OUT.tmp/bin/criu-notify"
for f in user-root user-restore; do sed '1s|^#!.*|#!/fastmig/bundle/bin/sh|' "$HERE/daemon/$f.sh" > "$OUT.tmp/bin/$f"; done
chmod 755 "$OUT.tmp/bin/node" "$OUT.tmp/bin/criu" "$OUT.tmp/bin/criu-notify" "$OUT.tmp/bin/setpriv" "$OUT.tmp/bin/user-root" "$OUT.tmp/bin/user-restore"
echo "$stamp" > "$OUT.tmp/stamp"
rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
log "built $(du -sh "$OUT" | cut -f1) in $OUT"
