// Redis with append-only persistence fsynced on every write (appendonly yes, appendfsync always),
// snapshots off the documented way (`--save ""`). Its client keeps one connection INCRementing a
// counter through the move: every answer must be the one before plus one. Afterwards the counter,
// the benchmark's and our keys, a write, the same run id (a restart from the AOF would keep the data,
// not the run id), and redis-check-aof on the target's copy of the AOF.
import { sh, streamUse, until, Wrong } from '../client';
import type { CompatServer, Ctx } from '../entry';

const KEYS = 1000;
const cli = (c: Ctx, ...args: string[]) => sh('redis-cli', ['-h', c.address, '-p', String(c.port), ...args]);
/** Random at every start of the server. */
export const runId = async (c: Ctx) => /run_id:(\w+)/.exec(await cli(c, 'INFO', 'server'))?.[1];

export const redis: CompatServer = {
  id: 'redis',
  kind: 'key-value store, append-only file fsynced always',
  pkg: 'redis-server',
  quick: true,
  command: (c) => ['redis-server', '--port', String(c.port), '--bind', '0.0.0.0', '--protected-mode', 'no', '--dir', c.dir,
    '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no', '--logfile', ''],
  ready: (c) => until('redis answers PING', async () => (await cli(c, 'PING')) === 'PONG'),
  async load(c) {
    await sh('redis-benchmark', ['-h', c.address, '-p', String(c.port), '-n', '5000', '-c', '4', '-r', '2000', '-t', 'set,lpush', '-q'], { timeoutMs: 120_000 });
    const lines = Array.from({ length: KEYS }, (_, i) => `SET compat:k${i} v${i}-${'x'.repeat(i % 50)}`).join('\n');
    await sh('redis-cli', ['-h', c.address, '-p', String(c.port)], { input: `${lines}\n` });
    c.state.dbsize = Number(await cli(c, 'DBSIZE'));
    c.state.runId = await runId(c);
  },
  use(c) {
    let last: number | null = null;
    const u = streamUse('redis-cli', ['-h', c.address, '-p', String(c.port), '-r', '4000', '-i', '0.02', 'INCR', 'compat:counter'], (line) => {
      const v = Number(line);
      if (!Number.isInteger(v)) throw new Wrong(`INCR answered ${JSON.stringify(line)}`);
      if (last !== null && v !== last + 1) throw new Wrong(`the counter went from ${last} to ${v}`);
      last = v;
      c.state.counter = v;
      return true;
    });
    return u;
  },
  async check(c, hostDir) {
    await checkServer(c);
    const counter = c.state.counter as number;
    const verdict = await sh('redis-check-aof', [`${hostDir}/appendonlydir/appendonly.aof.manifest`]);
    if (!/All AOF files and manifest are valid/.test(verdict)) throw new Error(`redis-check-aof: ${verdict.slice(-300)}`);
    // The target's AOF holds the counter's last value: replayed alone, it gives what the client saw.
    const aof = await sh('sh', ['-c', `cat ${hostDir}/appendonlydir/*.incr.aof | grep -c '^compat:counter'`]).catch(() => '0');
    if (Number(aof) < counter + 1) throw new Error(`the target's AOF logs ${aof} INCRs of the counter, expected ${counter + 1}`);
  },
};

/** What the server answers after the move: the counter, the keys, a write, the same run and a healthy AOF. */
export async function checkServer(c: Ctx): Promise<void> {
  const counter = c.state.counter as number;
  const got = Number(await cli(c, 'GET', 'compat:counter'));
  // The client is stopped by a signal: one INCR may have been sent and counted, its answer unread.
  if (got !== counter && got !== counter + 1) throw new Error(`the counter reads ${got}, its client last saw ${counter}`);
  const dbsize = Number(await cli(c, 'DBSIZE'));
  if (dbsize !== (c.state.dbsize as number) + 1) throw new Error(`DBSIZE ${dbsize}, expected ${(c.state.dbsize as number) + 1}`);
  for (const i of [0, 1, KEYS / 2, KEYS - 1]) {
    const v = await cli(c, 'GET', `compat:k${i}`);
    if (v !== `v${i}-${'x'.repeat(i % 50)}`) throw new Error(`compat:k${i} reads ${JSON.stringify(v)}`);
  }
  if (Number(await cli(c, 'INCR', 'compat:counter')) !== got + 1) throw new Error('INCR after the move did not continue the counter');
  // A restart from the AOF would keep the data; it would not keep the server's run id.
  if ((await runId(c)) !== c.state.runId) throw new Error(`run_id ${await runId(c)}, ${c.state.runId} before: it restarted`);
  const info = await cli(c, 'INFO', 'persistence');
  if (!/aof_enabled:1/.test(info) || !/aof_last_write_status:ok/.test(info)) throw new Error(`AOF not healthy after the move: ${info.replace(/\s+/g, ' ').slice(0, 200)}`);
}
