// nginx as Debian configures it (worker_processes auto: a master and one worker per core), but
// `user root;`: workers running as www-data cannot be dumped here (docs/compatibility.md). Loaded
// by ab, then curl fetches a page and a 2 MiB file through the move; afterwards both again, the
// access log (its writes from both hosts, one line per request answered) and still logging.
import crypto from 'crypto';
import fs from 'fs';
import { descendantsOf } from '../../../daemon/process-tree';
import { ops } from '../../../client';
import { opLoop, sh, until, Wrong } from '../client';
import { writeFile, type CompatServer, type Ctx } from '../entry';

const BENCH = 2000;
const url = (c: Ctx, p = '/') => `http://${c.address}:${c.port}${p}`;
const curl = (u: string, ua: string) => sh('curl', ['-sS', '-f', '--max-time', '10', '-A', ua, u]);
const logLines = (hostDir: string, ua: string) => fs.readFileSync(`${hostDir}/log/access.log`, 'utf8').split('\n').filter((l) => l.includes(ua)).length;

export function configure(c: Ctx, hostDir: string): void {
  const d = c.dir;
  writeFile(`${hostDir}/nginx.conf`, `user root;
worker_processes auto;
pid ${d}/nginx.pid;
error_log stderr;
events { worker_connections 768; }
http {
  sendfile on;
  tcp_nopush on;
  types_hash_max_size 2048;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log ${d}/log/access.log;
  client_body_temp_path ${d}/tmp/body;
  proxy_temp_path ${d}/tmp/proxy;
  fastcgi_temp_path ${d}/tmp/fastcgi;
  uwsgi_temp_path ${d}/tmp/uwsgi;
  scgi_temp_path ${d}/tmp/scgi;
  server {
    listen ${c.port} default_server;
    root ${d}/www;
    index index.html;
  }
}
`);
  fs.mkdirSync(`${hostDir}/tmp`, { recursive: true });
  fs.mkdirSync(`${hostDir}/log`, { recursive: true });
  writeFile(`${hostDir}/www/index.html`, `<html><body>compat ${c.name}</body></html>\n`);
  const big = crypto.randomBytes(2 << 20);
  writeFile(`${hostDir}/www/big.bin`, '');
  fs.writeFileSync(`${hostDir}/www/big.bin`, big);
  c.state.bigSha = crypto.createHash('sha256').update(big).digest('hex');
}

export const nginx: CompatServer = {
  id: 'nginx',
  kind: 'web server, master and workers',
  pkg: 'nginx',
  quick: true,
  prepare: async (c, hostDir) => configure(c, hostDir),
  command: (c) => ['nginx', '-e', 'stderr', '-c', `${c.dir}/nginx.conf`, '-g', 'daemon off;'],
  ready: (c) => until('nginx answers', async () => (await curl(url(c), 'ready')).includes(c.name)),
  async load(c) {
    const out = await sh('ab', ['-n', String(BENCH), '-c', '4', '-H', 'User-Agent: compat-ab', url(c)], { timeoutMs: 120_000 });
    if (!new RegExp(`Complete requests:\\s+${BENCH}`).test(out) || !/Failed requests:\s+0/.test(out)) throw new Error(`ab: ${out.slice(-400)}`);
    const pid = (await ops.inspect(c.name))[0].pid!;
    c.state.processes = descendantsOf(pid).length;
  },
  use(c) {
    return opLoop(async (i) => {
      const body = await curl(url(c, `/?n=${i}`), 'compat-probe');
      if (!body.includes(c.name)) throw new Wrong(`GET / answered ${JSON.stringify(body.slice(0, 80))}`);
    });
  },
  async check(c, hostDir) {
    const big = await sh('sh', ['-c', `curl -sS -f --max-time 20 -A compat-check ${url(c, '/big.bin')} | sha256sum`]);
    if (!big.startsWith(c.state.bigSha as string)) throw new Error('big.bin came back different');
    const pid = (await ops.inspect(c.name))[0].pid!;
    const n = descendantsOf(pid).length;
    if (n !== c.state.processes) throw new Error(`${n} processes after the move, ${c.state.processes} before (master and workers)`);
    if (logLines(hostDir, 'compat-ab') !== BENCH) throw new Error(`the access log on the target has ${logLines(hostDir, 'compat-ab')} lines of ab's ${BENCH} requests`);
    const before = logLines(hostDir, 'compat-after');
    for (let i = 0; i < 20; i++) await curl(url(c, `/?after=${i}`), 'compat-after');
    await until('nginx logs the requests after the move', async () => logLines(hostDir, 'compat-after') === before + 20, 10_000, 100);
  },
};
