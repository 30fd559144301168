#!/usr/bin/env bash
# The third-party servers of the compatibility catalogue (test/compat) and their own clients, from
# Debian packages, idempotent: only what is missing is installed. `--quick` installs what the quick
# subset in `npm test` needs (redis and nginx). Packages' own init scripts are kept from starting
# their servers: the catalogue deploys each server itself, as a fastmig service.
set -euo pipefail
quick=0
[ "${1:-}" = "--quick" ] && quick=1
# package:program that proves it is installed
want=(redis-server:redis-server redis-tools:redis-check-aof nginx:nginx curl:curl apache2-utils:ab)
if [ $quick = 0 ]; then
  want+=(memcached:memcached libmemcached-tools:memcstat mariadb-server:mariadbd mariadb-client:mariadb
    lighttpd:lighttpd mosquitto:mosquitto mosquitto-clients:mosquitto_pub beanstalkd:beanstalkd
    zookeeper:/usr/share/zookeeper/bin/zkCli.sh etcd-server:etcd etcd-client:etcdctl haproxy:haproxy
    radicale:radicale openjdk-17-jre-headless:java
    # not yet dumped here (they run as their own user): the catalogue shows why
    postgresql:'/usr/lib/postgresql/*/bin/postgres' postgresql-client:psql apache2:apache2)
fi
missing=()
for w in "${want[@]}"; do
  prog=${w#*:}
  prog=${prog//\'/}
  # shellcheck disable=SC2086 # a path may be a pattern
  if [ "${prog#/}" != "$prog" ]; then ls $prog >/dev/null 2>&1 && continue; else command -v "$prog" >/dev/null 2>&1 && continue; fi
  [ -x "/usr/sbin/$prog" ] && continue
  missing+=("${w%%:*}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
printf '[compat-tools] installing %s…\n' "${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# No package starts its server on this machine (101: "action forbidden" to invoke-rc.d).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e $policy ]; then
  printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && made_policy=1
fi
trap 'if [ $made_policy = 1 ]; then rm -f $policy; fi' EXIT
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
  { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
