// The same servers in the container runtime, from the catalogue's image (Debian packages, built by
// scripts/build-compat-image.sh), each listening on its documented port inside the container, at
// the service's own address (it moves with the container). A container's own file system travels
// with it: redis keeps its append-only file in the container's /var/lib/redis (not in a kept
// directory), checked on the target by redis-check-aof inside the container; memcached keeps its
// state in memory; nginx serves files of the image and logs to its output.
import crypto from 'crypto';
import execa from 'execa';
import { paths } from '../../../common/config';
import { containerName } from '../../../activities/runtime-docker';
import { opLoop, sh, until, Wrong } from '../client';
import type { CompatServer, Ctx } from '../entry';
import { memcached } from './memcached';
import { checkServer, redis } from './redis';

const AOF_DIR = '/var/lib/redis';

export const redisContainer: CompatServer = {
  id: 'redis',
  kind: 'key-value store, append-only file fsynced always, in the container\'s own file system',
  pkg: 'redis-server',
  runtime: 'docker',
  containerPort: 6379,
  command: () => ['redis-server', '--bind', '0.0.0.0', '--protected-mode', 'no', '--dir', AOF_DIR, '--appendonly', 'yes', '--appendfsync', 'always',
    '--save', '', '--daemonize', 'no', '--logfile', ''],
  ready: redis.ready,
  load: redis.load,
  // One connection INCRementing through the move, every answer the one before plus one (as for a process).
  use: redis.use,
  async check(c) {
    // The process entry's checks, its AOF read inside the target's container instead of a kept directory.
    const inTarget = (cmd: string) =>
      execa('docker', ['-H', `unix://${paths.dockerSocket('hostB')}`, 'exec', containerName('hostB', c.name), 'sh', '-c', cmd], { reject: false });
    const verdict = await inTarget(`redis-check-aof ${AOF_DIR}/appendonlydir/appendonly.aof.manifest`);
    if (!/All AOF files and manifest are valid/.test(verdict.stdout)) throw new Error(`redis-check-aof in the container: ${(verdict.stdout + verdict.stderr).slice(-300)}`);
    const logged = Number((await inTarget(`cat ${AOF_DIR}/appendonlydir/*.incr.aof | grep -c '^compat:counter'`)).stdout.trim());
    const counter = c.state.counter as number;
    if (!(logged >= counter)) throw new Error(`the container's AOF logs ${logged} INCRs of the counter, expected at least ${counter}`);
    await checkServer(c);
  },
};

export const memcachedContainer: CompatServer = {
  ...memcached,
  runtime: 'docker',
  containerPort: 11211,
  command: () => ['memcached', '-u', 'root', '-m', '64', '-p', '11211'],
};

const url = (c: Ctx, p = '/') => `http://${c.address}:${c.port}${p}`;
const curl = (u: string) => sh('curl', ['-sS', '-f', '--max-time', '10', u]);
const bigSha = async (c: Ctx) => crypto.createHash('sha256').update(await sh('sh', ['-c', `curl -sS -f --max-time 20 ${url(c, '/big.bin')} | base64 -w0`])).digest('hex');

export const nginxContainer: CompatServer = {
  id: 'nginx',
  kind: 'web server, master and workers',
  pkg: 'nginx',
  runtime: 'docker',
  containerPort: 80,
  command: () => ['nginx', '-e', 'stderr', '-c', '/etc/compat/nginx.conf', '-g', 'daemon off;'],
  ready: (c) => until('nginx answers', async () => (await curl(url(c))).includes(c.name)),
  async load(c) {
    const out = await sh('ab', ['-n', '2000', '-c', '4', url(c)], { timeoutMs: 120_000 });
    if (!/Complete requests:\s+2000/.test(out) || !/Failed requests:\s+0/.test(out)) throw new Error(`ab: ${out.slice(-400)}`);
    c.state.big = await bigSha(c);
  },
  use: (c) =>
    opLoop(async () => {
      const body = await curl(url(c));
      if (!body.includes(c.name)) throw new Wrong(`GET / answered ${JSON.stringify(body.slice(0, 80))}`);
    }),
  async check(c) {
    if ((await bigSha(c)) !== c.state.big) throw new Error('big.bin came back different');
    const out = await sh('ab', ['-n', '500', '-c', '4', url(c)], { timeoutMs: 60_000 });
    if (!/Complete requests:\s+500/.test(out) || !/Failed requests:\s+0/.test(out)) throw new Error(`ab after the move: ${out.slice(-400)}`);
  },
};
