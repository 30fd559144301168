// A service built from several processes: HAProxy in master-worker mode (-W, as Debian's systemd
// unit runs it) balancing round-robin over two busybox httpd back ends started by the same shell,
// all in one tree (Debian's haproxy.cfg without `user`/`group`/`chroot`: another user cannot be
// dumped here). curl through the move; afterwards both back ends answer, the tree has as many
// processes as before, and HAProxy's own statistics (CSV) go on from where they were.
import fs from 'fs';
import { ops } from '../../../client';
import { descendantsOf } from '../../../daemon/process-tree';
import { opLoop, sh, until, Wrong } from '../client';
import { writeFile, type CompatServer, type Ctx } from '../entry';

const url = (c: Ctx, p = '/') => `http://${c.address}:${c.port}${p}`;
const curl = (u: string) => sh('curl', ['-sS', '-f', '--max-time', '10', u]);
const processes = async (c: Ctx) => descendantsOf((await ops.inspect(c.name))[0].pid!).length;

/** Sessions served so far by each back-end server (the `stot` column of HAProxy's CSV statistics). */
async function served(c: Ctx): Promise<Record<string, number>> {
  const csv = (await curl(url(c, '/stats;csv'))).split('\n');
  const cols = csv[0].replace(/^# /, '').split(',');
  const out: Record<string, number> = {};
  for (const l of csv.slice(1)) {
    const f = l.split(',');
    if (f[0] === 'app' && (f[1] === 'a' || f[1] === 'b')) out[f[1]] = Number(f[cols.indexOf('stot')]);
  }
  return out;
}

export const haproxy: CompatServer = {
  id: 'haproxy',
  kind: 'several processes: load balancer (master, worker) and two back ends',
  pkg: 'haproxy',
  extraPorts: 2,
  async prepare(c, hostDir) {
    for (const b of ['a', 'b']) writeFile(`${hostDir}/www-${b}/index.html`, `backend ${b}\n`);
    writeFile(`${hostDir}/haproxy.cfg`, `global
  log stderr format raw local0 warning
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend web
  bind :${c.port}
  stats enable
  stats uri /stats
  default_backend app
backend app
  balance roundrobin
  server a 127.0.0.1:${c.ports[0]} check
  server b 127.0.0.1:${c.ports[1]} check
`);
    fs.mkdirSync(`${hostDir}/run`, { recursive: true });
  },
  command: (c) => ['sh', '-c', `busybox httpd -f -p 127.0.0.1:${c.ports[0]} -h ${c.dir}/www-a &
busybox httpd -f -p 127.0.0.1:${c.ports[1]} -h ${c.dir}/www-b &
exec haproxy -W -f ${c.dir}/haproxy.cfg -p ${c.dir}/run/haproxy.pid`],
  ready: (c) => until('both back ends answer through haproxy', async () => {
    const s = await served(c);
    const seen = new Set([await curl(url(c)), await curl(url(c))]);
    return seen.size === 2 && s.a !== undefined;
  }),
  async load(c) {
    const out = await sh('ab', ['-n', '2000', '-c', '4', url(c)], { timeoutMs: 120_000 });
    if (!/Complete requests:\s+2000/.test(out) || !/Failed requests:\s+0/.test(out)) throw new Error(`ab: ${out.slice(-400)}`);
    c.state.served = await served(c);
    c.state.processes = await processes(c);
  },
  use(c) {
    return opLoop(async () => {
      const body = await curl(url(c));
      if (!/^backend [ab]$/.test(body.trim())) throw new Wrong(`GET / answered ${JSON.stringify(body.slice(0, 80))}`);
    });
  },
  async check(c) {
    const n = await processes(c);
    if (n !== c.state.processes) throw new Error(`${n} processes after the move, ${c.state.processes} before`);
    const bodies = new Set<string>();
    for (let i = 0; i < 10; i++) bodies.add((await curl(url(c))).trim());
    if (bodies.size !== 2) throw new Error(`only ${[...bodies].join(', ')} answered after the move`);
    const before = c.state.served as Record<string, number>;
    const now = await served(c);
    for (const b of ['a', 'b']) if (!(now[b] >= before[b] + 5)) throw new Error(`back end ${b} served ${now[b]} sessions, ${before[b]} before the move`);
  },
};
