#!/usr/bin/env bash
# Builds a self-contained CRIU >= 4.2 bundle (criu + its own loader and libraries) under
# TOOLS/criu from Debian packages, without touching the system's libc or apt sources.
# Why: Debian 12's criu 3.17 and Debian 13's 4.1 fail on this kernel; 4.2.1 from unstable works.
set -euo pipefail
TOOLS=${FASTMIG_TOOLS:-$(cd "$(dirname "$0")/.." && pwd)/.tools}
ROOT=$TOOLS/criu/root
WANT_MIN=4.2
log() { printf '[criu] %s\n' "$*" >&2; }

criu_version() { "$TOOLS/criu/criu" --version 2>/dev/null | sed -n 's/^Version: //p'; }
# iptables (nft back end) comes along for services in containers that keep their own address:
# CRIU locks their connections with it, and the daemon holds their traffic (scripts/build-bundle.sh).
if [ -x "$TOOLS/criu/criu" ] && [ -n "$(criu_version)" ] && [ -x "$ROOT/usr/sbin/xtables-nft-multi" ]; then
  log "bundle present: $(criu_version)"; exit 0
fi

# Mirror address taken from the machine's own apt configuration.
MIRROR=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
[ -n "$MIRROR" ] || MIRROR=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -1)
[ -n "$MIRROR" ] || { log "no Debian mirror found in /etc/apt"; exit 1; }

APT=$TOOLS/criu/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs" "$APT/parts"
cat > "$APT/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-trixie-automatic.gpg] $MIRROR trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-trixie-automatic.gpg] $MIRROR sid main
SRC
: > "$APT/status"
OPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=$APT/parts"
      -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "Dir::State::status=$APT/status"
      -o "APT::Default-Release=trixie" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
log "updating private package lists (trixie, sid)"
apt-get "${OPTS[@]}" -qq update
PKGS=(criu/sid libcompel1/sid libnet9 libnl-3-200/sid libnl-route-3-200/sid libprotobuf-c1 libbsd0 libmd0
      libc6 libgcc-s1 libgnutls30t64 libnftables1 libnftnl11 libmnl0 libjansson4 libxtables12 libgmp10
      libp11-kit0 libidn2-0 libunistring5 libtasn1-6 libnettle8t64 libhogweed6t64 libffi8 libuuid1
      libdrm2 libcap2 libedit2 libtinfo6 libzstd1 liblzma5 zlib1g libuuid1 libselinux1 libpcre2-8-0
      iptables libip4tc2 libip6tc2 libnetfilter-conntrack3 libnfnetlink0)
cd "$APT/debs"
log "downloading ${#PKGS[@]} packages"
for p in "${PKGS[@]}"; do
  name=${p%/*}; ls "$name"_*.deb >/dev/null 2>&1 || apt-get "${OPTS[@]}" -qq download "$p" || log "skip $p"
done
rm -rf "$ROOT"; mkdir -p "$ROOT"
for d in *.deb; do dpkg -x "$d" "$ROOT"; done
cat > "$TOOLS/criu/criu" <<'WRAP'
#!/bin/sh
# Runs the bundled criu through its own loader and libraries.
R=$(dirname "$(readlink -f "$0")")/root
L=$R/usr/lib/x86_64-linux-gnu
exec "$L/ld-linux-x86-64.so.2" --library-path "$L:$R/lib/x86_64-linux-gnu" "$R/usr/sbin/criu" "$@"
WRAP
chmod +x "$TOOLS/criu/criu"
missing=$("$ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$ROOT/usr/lib/x86_64-linux-gnu" --list "$ROOT/usr/sbin/criu" | grep 'not found' || true)
[ -z "$missing" ] || { log "missing libraries: $missing"; exit 1; }
log "bundle ready: $(criu_version)"
