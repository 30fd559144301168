// MariaDB as its documentation starts it by hand: mariadb-install-db on first start, then
// mariadbd in the foreground, `--user=root` (it refuses root otherwise, and its own user cannot be
// dumped here), and `--innodb-use-native-aio=0`: CRIU cannot dump an io_uring instance, which
// InnoDB uses for its I/O by default ("Unknown shit 600 (anon_inode:[io_uring])"). Loaded by mariadb-slap and a table of 5,000 rows; its client INSERTs a row per
// operation through the move; afterwards CHECK TABLE, the table's checksum, every acknowledged row,
// a write, and the server's Uptime and Questions going on.
import { opLoop, sh, until, Wrong } from '../client';
import { writeFile, type CompatServer, type Ctx } from '../entry';

const auth = (c: Ctx) => ['-h', c.address, '-P', String(c.port), '-ucompat', '-pcompat'];
const sql = (c: Ctx, q: string, timeoutMs = 30_000) => sh('mariadb', [...auth(c), '-N', '-B', 'compat', '-e', q], { timeoutMs });
const status = async (c: Ctx, v: string) => Number((await sql(c, `SHOW GLOBAL STATUS LIKE '${v}'`)).split('\t')[1]);

export const mariadb: CompatServer = {
  id: 'mariadb',
  kind: 'relational database (InnoDB)',
  pkg: 'mariadb-server',
  async prepare(c, hostDir) {
    writeFile(`${hostDir}/init.sql`, "CREATE USER IF NOT EXISTS compat@'%' IDENTIFIED BY 'compat';\nGRANT ALL ON *.* TO compat@'%';\nCREATE DATABASE IF NOT EXISTS compat;\n");
  },
  command: (c) => ['sh', '-c', `[ -d data/mysql ] || mariadb-install-db --user=root --datadir=${c.dir}/data --skip-test-db >/dev/null || exit 1
exec mariadbd --user=root --datadir=${c.dir}/data --port=${c.port} --bind-address=0.0.0.0 --socket=${c.dir}/mariadbd.sock \
  --pid-file=${c.dir}/mariadbd.pid --init-file=${c.dir}/init.sql --skip-name-resolve --innodb-use-native-aio=0`],
  ready: (c) => until('mariadb answers', async () => (await sql(c, 'SELECT 1')) === '1', 90_000, 500),
  async load(c) {
    await sh('mariadb-slap', [...auth(c), '--auto-generate-sql', '--number-of-queries=2000', '--concurrency=4', '--create-schema=slap'], { timeoutMs: 120_000 });
    await sql(c, 'CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB; INSERT INTO t SELECT seq, REPEAT(CHAR(65 + seq % 26), seq % 100) FROM seq_1_to_5000; CREATE TABLE s (n INT PRIMARY KEY) ENGINE=InnoDB');
    c.state.checksum = (await sql(c, 'CHECKSUM TABLE t')).split('\t')[1];
    c.state.uptime = await status(c, 'Uptime');
    c.state.questions = await status(c, 'Questions');
  },
  use(c) {
    const u = opLoop(async (i) => {
      const out = await sql(c, `INSERT INTO s VALUES (${i}); SELECT COUNT(*) FROM s WHERE n = ${i}`, 10_000);
      if (out !== '1') throw new Wrong(`row ${i} reads back ${JSON.stringify(out)}`);
    });
    c.state.done = u.done;
    c.state.tried = () => u.done[u.done.length - 1];
    return u;
  },
  async check(c) {
    const check = await sql(c, 'CHECK TABLE t, s');
    if (check.split('\n').some((l) => !/\tOK$/.test(l))) throw new Error(`CHECK TABLE: ${check}`);
    const sum = (await sql(c, 'CHECKSUM TABLE t')).split('\t')[1];
    if (sum !== c.state.checksum) throw new Error(`table t's checksum is ${sum}, was ${c.state.checksum}`);
    const rows = new Set((await sql(c, 'SELECT n FROM s')).split('\n').filter(Boolean).map(Number));
    const done = c.state.done as number[];
    const lostRows = done.filter((i) => !rows.has(i));
    if (lostRows.length) throw new Error(`${lostRows.length} acknowledged rows missing (first ${lostRows[0]})`);
    await sql(c, 'INSERT INTO s VALUES (100000)');
    if ((await sql(c, 'SELECT COUNT(*) FROM s WHERE n = 100000')) !== '1') throw new Error('a write after the move did not read back');
    const uptime = await status(c, 'Uptime');
    if (uptime < (c.state.uptime as number)) throw new Error(`Uptime ${uptime} after the move, ${c.state.uptime} before: it restarted`);
    const questions = await status(c, 'Questions');
    if (questions < (c.state.questions as number) + done.length) throw new Error(`Questions ${questions}, expected at least ${(c.state.questions as number) + done.length}`);
  },
};
