// The same servers in the container runtime, from the catalogue's image (Debian packages, built by
// scripts/build-compat-image.sh), each listening on its documented port inside the container. A
// container's files do not travel (only its memory and kernel state), so these keep their state in
// memory: redis without persistence, memcached, nginx serving files of the image and logging to its
// output. Their clients reach them at the host's endpoint, which changes with the move: the client
// reconnects there once the move returns.
import crypto from 'crypto';
import { opLoop, sh, until, Wrong } from '../client';
import type { CompatServer, Ctx } from '../entry';
import { memcached } from './memcached';
import { redis, runId } from './redis';

const cli = (c: Ctx, ...args: string[]) => sh('redis-cli', ['-h', c.address, '-p', String(c.port), ...args], { timeoutMs: 10_000 });

export const redisContainer: CompatServer = {
  id: 'redis',
  kind: 'key-value store, in memory',
  pkg: 'redis-server',
  runtime: 'docker',
  containerPort: 6379,
  command: () => ['redis-server', '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', ''],
  ready: redis.ready,
  load: redis.load,
  use(c) {
    let last = 0;
    let unsure = 0;
    const u = opLoop(async () => {
      let v: number;
      try {
        v = Number(await cli(c, 'INCR', 'compat:counter'));
      } catch (err) {
        unsure++; // refused or timed out: it may have counted or not
        throw err;
      }
      if (!(v > last && v <= last + 1 + unsure)) throw new Wrong(`INCR answered ${v} after ${last} (${unsure} unanswered)`);
      last = v;
      c.state.counter = v;
    });
    c.state.unsure = () => unsure;
    return u;
  },
  async check(c) {
    const counter = c.state.counter as number;
    const unsure = (c.state.unsure as () => number)();
    const got = Number(await cli(c, 'GET', 'compat:counter'));
    if (got < counter || got > counter + unsure) throw new Error(`the counter reads ${got}, its client last saw ${counter} (${unsure} unanswered)`);
    const dbsize = Number(await cli(c, 'DBSIZE'));
    if (dbsize !== (c.state.dbsize as number) + 1) throw new Error(`DBSIZE ${dbsize}, expected ${(c.state.dbsize as number) + 1}`);
    if ((await cli(c, 'GET', 'compat:k999')) !== `v999-${'x'.repeat(999 % 50)}`) throw new Error('compat:k999 does not read back');
    if ((await runId(c)) !== c.state.runId) throw new Error('its run_id changed: it restarted');
    if (Number(await cli(c, 'INCR', 'compat:counter')) !== got + 1) throw new Error('INCR after the move did not continue the counter');
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
