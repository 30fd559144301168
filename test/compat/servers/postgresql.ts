// PostgreSQL as its documentation runs it: `initdb` on first start, then `postgres -D` in the
// foreground, both as the `postgres` account (it refuses root), which fastmig's `--user postgres`
// gives it; its data directory under /srv is kept. TCP only (no socket in the host's shared
// /var/run/postgresql). Loaded by pgbench (its TPC-B-like transactions, a bounded count); its
// client psql INSERTs the next number per operation through the move, retrying the same number
// until acknowledged, so the table must hold 1..n with no gap. Afterwards: the numbers' count and
// sum, pgbench's balances still adding up, amcheck on its indexes, the same postmaster start time
// (a restart would change it), commits going on, and pgbench and psql writes after the move.
import fs from 'fs';
import { opLoop, sh, until, Wrong } from '../client';
import type { CompatServer, Ctx } from '../entry';

/** Debian's PostgreSQL server programs, of whichever major version the release ships. */
const bin = () => `/usr/lib/postgresql/${fs.readdirSync('/usr/lib/postgresql').sort().pop()}/bin`;
const conn = (c: Ctx) => ['-h', c.address, '-p', String(c.port), '-U', 'postgres'];
const psql = (c: Ctx, q: string, timeoutMs = 30_000) => sh('psql', [...conn(c), '-v', 'ON_ERROR_STOP=1', '-Atc', q, 'postgres'], { timeoutMs });
const TRANSACTIONS = 250;
const CLIENTS = 4;

async function pgbench(c: Ctx, transactions: number): Promise<void> {
  const out = await sh('pgbench', [...conn(c), '-c', String(CLIENTS), '-t', String(transactions), '-n', 'postgres'], { timeoutMs: 120_000 });
  const want = CLIENTS * transactions;
  if (!new RegExp(`number of transactions actually processed: ${want}/${want}`).test(out) || !/number of failed transactions: 0 /.test(out)) throw new Error(`pgbench: ${out.slice(-300)}`);
}

/** pgbench's invariant: every balance change went to an account, a teller, a branch and the history. */
async function balances(c: Ctx): Promise<string> {
  const q = 'SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers), (SELECT sum(bbalance) FROM pgbench_branches), (SELECT sum(delta) FROM pgbench_history), (SELECT count(*) FROM pgbench_history)';
  const [a, t, b, h, n] = (await psql(c, q)).split('|');
  if (!(a === t && t === b && b === h)) throw new Error(`pgbench's balances disagree: accounts ${a}, tellers ${t}, branches ${b}, history ${h}`);
  return `${a}|${n}`;
}

const started = (c: Ctx) => psql(c, 'SELECT pg_postmaster_start_time()');
const commits = async (c: Ctx) => Number(await psql(c, "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'"));

export const postgresql: CompatServer = {
  id: 'postgresql',
  kind: 'relational database, runs as `postgres`',
  pkg: 'postgresql',
  user: 'postgres',
  command: (c) => ['sh', '-c', `[ -d data ] || { ${bin()}/initdb -D ${c.dir}/data -A trust -U postgres >/dev/null &&
  echo 'host all all 0.0.0.0/0 trust' >> data/pg_hba.conf; } || exit 1
exec ${bin()}/postgres -D ${c.dir}/data -p ${c.port} -c listen_addresses=* -c unix_socket_directories=`],
  ready: (c) => until('psql answers', async () => (await psql(c, 'SELECT 40 + 2')) === '42', 90_000, 500),
  async load(c) {
    await sh('pgbench', [...conn(c), '-i', '-s', '2', '-q', 'postgres'], { timeoutMs: 120_000 });
    await pgbench(c, TRANSACTIONS);
    await psql(c, 'CREATE EXTENSION amcheck; CREATE TABLE s (n integer PRIMARY KEY)');
    c.state.balances = await balances(c);
    c.state.started = await started(c);
    c.state.commits = await commits(c);
  },
  use(c) {
    let acked = 0;
    const u = opLoop(async () => {
      const out = await psql(c, `INSERT INTO s VALUES (${acked + 1}) ON CONFLICT DO NOTHING; SELECT count(*) FROM s WHERE n = ${acked + 1}`, 10_000);
      if (out.split('\n').pop() !== '1') throw new Wrong(`row ${acked + 1} reads back ${JSON.stringify(out)}`);
      acked++;
      c.state.acked = acked;
    });
    return u;
  },
  async check(c) {
    const acked = c.state.acked as number;
    // The number after the last acknowledged one may have committed with its answer lost.
    const [n, max, sum] = (await psql(c, 'SELECT count(*), max(n), sum(n) FROM s')).split('|').map(Number);
    if (n !== max || sum !== (max * (max + 1)) / 2 || (max !== acked && max !== acked + 1)) {
      throw new Error(`table s holds ${n} rows up to ${max} summing to ${sum}; its client had ${acked} acknowledged, 1..${acked} expected`);
    }
    const now = await balances(c);
    if (now !== c.state.balances) throw new Error(`pgbench's tables after the move: ${now} (sum|history rows), before: ${c.state.balances}`);
    await psql(c, "SELECT bt_index_check(oid) FROM pg_class WHERE relname IN ('pgbench_accounts_pkey', 'pgbench_branches_pkey', 'pgbench_tellers_pkey', 's_pkey')");
    if ((await started(c)) !== c.state.started) throw new Error(`postmaster started at ${await started(c)}, ${c.state.started} before: it restarted`);
    const after = await commits(c);
    if (after < (c.state.commits as number) + acked) throw new Error(`xact_commit ${after}, expected at least ${(c.state.commits as number) + acked}`);
    await pgbench(c, 50);
    await balances(c);
    await psql(c, `INSERT INTO s VALUES (${max + 1})`);
    if ((await psql(c, 'SELECT count(*), sum(n) FROM s')) !== `${max + 1}|${((max + 1) * (max + 2)) / 2}`) throw new Error('a write after the move did not read back');
  },
};
