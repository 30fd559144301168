// Every server of the compatibility catalogue (docs/compatibility.md), one file each under servers/.
import type { CompatServer } from './entry';
import { redis } from './servers/redis';
import { nginx } from './servers/nginx';
import { memcached } from './servers/memcached';
import { mariadb } from './servers/mariadb';
import { lighttpd } from './servers/lighttpd';
import { mosquitto } from './servers/mosquitto';
import { beanstalkd } from './servers/beanstalkd';
import { zookeeper } from './servers/zookeeper';
import { etcd } from './servers/etcd';
import { haproxy } from './servers/haproxy';
import { radicale } from './servers/radicale';
import { memcachedContainer, nginxContainer, redisContainer } from './servers/containers';

export const CATALOGUE: CompatServer[] = [redis, nginx, memcached, mariadb, lighttpd, mosquitto, beanstalkd, zookeeper, etcd, haproxy, radicale,
  redisContainer, memcachedContainer, nginxContainer];
