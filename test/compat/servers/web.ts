// What every web server of the catalogue gets: a site (a page naming the service and a 2 MiB file),
// ab's bounded load, curl through the move, and afterwards the file byte for byte, as many processes
// as before, the access log on the target holding ab's requests, and still logging new ones.
import crypto from 'crypto';
import fs from 'fs';
import { descendantsOf } from '../../../daemon/process-tree';
import { ops } from '../../../client';
import { opLoop, sh, until, Wrong } from '../client';
import { writeFile, type CompatServer, type Ctx } from '../entry';

const BENCH = 2000;
const url = (c: Ctx, p = '/') => `http://${c.address}:${c.port}${p}`;
const curl = (u: string, ua: string) => sh('curl', ['-sS', '-f', '--max-time', '10', '-A', ua, u]);

export function writeSite(c: Ctx, hostDir: string): void {
  writeFile(`${hostDir}/www/index.html`, `<html><body>compat ${c.name}</body></html>\n`);
  const big = crypto.randomBytes(2 << 20);
  fs.writeFileSync(`${hostDir}/www/big.bin`, big);
  c.state.bigSha = crypto.createHash('sha256').update(big).digest('hex');
  fs.mkdirSync(`${hostDir}/log`, { recursive: true });
  fs.mkdirSync(`${hostDir}/tmp`, { recursive: true });
}

/** `log`: the access log, relative to the kept directory. */
export function webServer(log: string): Pick<CompatServer, 'ready' | 'load' | 'use' | 'check'> {
  const lines = (hostDir: string, ua: string) => fs.readFileSync(`${hostDir}/${log}`, 'utf8').split('\n').filter((l) => l.includes(ua)).length;
  const processes = async (c: Ctx) => descendantsOf((await ops.inspect(c.name))[0].pid!).length;
  return {
    ready: (c) => until('it answers', async () => (await curl(url(c), 'ready')).includes(c.name)),
    async load(c) {
      const out = await sh('ab', ['-n', String(BENCH), '-c', '4', '-H', 'User-Agent: compat-ab', url(c)], { timeoutMs: 120_000 });
      if (!new RegExp(`Complete requests:\\s+${BENCH}`).test(out) || !/Failed requests:\s+0/.test(out)) throw new Error(`ab: ${out.slice(-400)}`);
      c.state.processes = await processes(c);
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
      const n = await processes(c);
      if (n !== c.state.processes) throw new Error(`${n} processes after the move, ${c.state.processes} before`);
      if (lines(hostDir, 'compat-ab') !== BENCH) throw new Error(`the access log on the target has ${lines(hostDir, 'compat-ab')} lines of ab's ${BENCH} requests`);
      for (let i = 0; i < 20; i++) await curl(url(c, `/?after=${i}`), 'compat-after');
      await until('it logs the requests after the move', async () => lines(hostDir, 'compat-after') === 20, 10_000, 100);
    },
  };
}
