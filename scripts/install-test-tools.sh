#!/usr/bin/env bash
# What the test suite's own services need besides the stack, from Debian packages, idempotent:
# Python 3 with its sqlite3 module (test/services/sqlite-service.py, a service backed by SQLite),
# and the servers and clients of the compatibility catalogue's quick subset (redis, nginx).
set -euo pipefail
if ! /usr/bin/python3 -c 'import sqlite3' 2>/dev/null; then
  printf '[test-tools] installing python3…\n' >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends python3 >/dev/null || { apt-get update >/dev/null && apt-get install -y --no-install-recommends python3 >/dev/null; }
fi
bash "$(dirname "$0")/install-compat-tools.sh" --quick
