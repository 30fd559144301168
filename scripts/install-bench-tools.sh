#!/usr/bin/env bash
# Tools the benchmark needs besides the stack, from Debian packages, idempotent:
# wrk (HTTP load generator) and gnuplot (the plot in docs/benchmarks.md).
set -euo pipefail
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)
[ ${#missing[@]} -eq 0 ] && exit 0
printf '[bench-tools] installing %s…\n' "${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
