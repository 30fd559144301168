// memcached as Debian's memcached.conf runs it (-m 64), but `-u root` (as root it insists on a
// user) and listening on the service's port. Loaded by memcslap, our keys written with memccp, a
// key per operation through the move; afterwards memccat reads every key acknowledged and memcstat's
// counters go on from where they were (uptime, cmd_set, total_items: a restart would zero them).
import fs from 'fs';
import os from 'os';
import path from 'path';
import { opLoop, sh, until } from '../client';
import type { CompatServer, Ctx } from '../entry';

const servers = (c: Ctx) => `--servers=${c.address}:${c.port}`;
const tmp = path.join(os.tmpdir(), `compat-memcached-${process.pid}`);

async function stats(c: Ctx): Promise<Record<string, number>> {
  const out = await sh('memcstat', [servers(c)]);
  const s: Record<string, number> = {};
  for (const m of out.matchAll(/^\s*(\w+): (\d+)$/gm)) s[m[1]] = Number(m[2]);
  return s;
}

function file(name: string, text: string): string {
  fs.mkdirSync(tmp, { recursive: true });
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

export const memcached: CompatServer = {
  id: 'memcached',
  kind: 'cache, in memory',
  pkg: 'memcached',
  command: (c) => ['memcached', '-u', 'root', '-m', '64', '-p', String(c.port), '-l', '0.0.0.0'],
  ready: (c) => until('memcached answers memcstat', async () => (await stats(c)).pid > 0),
  async load(c) {
    await sh('memcslap', [servers(c), '--test=set', '--concurrency=2', '--execute-number=5000'], { timeoutMs: 120_000 });
    const files = Array.from({ length: 200 }, (_, i) => file(`compat-k${i}`, `value ${i} ${'y'.repeat(i)}`));
    await sh('memccp', [servers(c), ...files]);
    c.state.before = await stats(c);
  },
  use(c) {
    const u = opLoop(async (i) => {
      await sh('memccp', [servers(c), file(`compat-s${i}`, `seq ${i}`)], { timeoutMs: 10_000 });
    });
    c.state.done = u.done;
    return u;
  },
  async check(c) {
    const done = c.state.done as number[];
    for (const i of [0, 1, 100, 199]) {
      const v = await sh('memccat', [servers(c), `compat-k${i}`]);
      if (v !== `value ${i} ${'y'.repeat(i)}`) throw new Error(`compat-k${i} reads ${JSON.stringify(v.slice(0, 60))}`);
    }
    // Every key the client was told was stored is there.
    const keys = done.map((i) => `compat-s${i}`);
    for (let k = 0; k < keys.length; k += 200) {
      const out = await sh('memccat', [servers(c), ...keys.slice(k, k + 200)]);
      const want = keys.slice(k, k + 200).map((key) => `seq ${key.slice(8)}`).join('\n');
      if (out.trim() !== want) throw new Error(`memccat of the keys stored through the move differs (${out.split('\n').length} values for ${keys.slice(k, k + 200).length} keys)`);
    }
    const before = c.state.before as Record<string, number>;
    await sh('memccp', [servers(c), file('compat-after', 'after')]);
    const now = await stats(c);
    if (now.uptime < before.uptime) throw new Error(`uptime ${now.uptime} after the move, ${before.uptime} before: it restarted`);
    if (now.cmd_set < before.cmd_set + done.length + 1) throw new Error(`cmd_set ${now.cmd_set}, expected at least ${before.cmd_set + done.length + 1}`);
    if (now.total_items < before.total_items + done.length + 1) throw new Error(`total_items ${now.total_items}, expected at least ${before.total_items + done.length + 1}`);
    fs.rmSync(tmp, { recursive: true, force: true });
  },
};
