// Services that run as another user (`--user`) migrate, on hosts whose root lacks
// CAP_SYS_RESOURCE too (daemon/user-tree.ts): a SQLite service as nobody and PostgreSQL 15 as
// postgres, each with its files kept (`--keep`), move hostA → hostB and back, run as their user on
// each host, and are checked by their own clients: SQLite's integrity check and rows 1..n, and for
// PostgreSQL every insert its client had acknowledged, counted and summed by psql, with no gap.
import fs from 'fs';
import path from 'path';
import execa from 'execa';
import { ops } from '../client';
import { freePort } from '../demo/probe';
import { fastmigHome, REPO_ROOT } from '../common/config';
import { ServiceSpec } from '../common/schemas';
import { endpointNow, removeQuietly } from './helpers';

const SQLITE_SERVICE = path.join(REPO_ROOT, 'test', 'services', 'sqlite-service.py');
const PG_BIN = '/usr/lib/postgresql/15/bin';
const srvOf = (host: string, rel: string) => path.join(fastmigHome(), 'srv', host, rel);

/** The user a process runs as (its real uid), read from this machine's /proc. */
const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
/** Every process of a service's tree: the init and what is below it. */
function treeOf(pid: number): number[] {
  const kids = (p: number) => fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...kids(out[i]));
  return out;
}
async function runsAs(service: string, uid: number, host: string): Promise<void> {
  const view = (await ops.inspect(service))[0];
  expect(view).toMatchObject({ host, state: 'running' });
  const tree = treeOf(view.pid!);
  expect(tree.length).toBeGreaterThan(1);
  expect(tree.map(uidOf)).toEqual(tree.map(() => uid));
}

test("the spec takes a process's user named like an account, a container's as an image's USER", () => {
  const base = { name: 'u', command: ['x'] };
  expect(ServiceSpec.parse({ ...base, user: 'postgres' }).user).toBe('postgres');
  expect(ServiceSpec.safeParse({ ...base, user: 'bad name' }).success).toBe(false);
  expect(ServiceSpec.safeParse({ ...base, user: '' }).success).toBe(false);
  expect(ServiceSpec.safeParse({ ...base, user: '1000' }).success).toBe(false);
  const image = { name: 'u', runtime: 'docker', image: 'i' };
  for (const user of ['nobody', '1000', '1000:1000', 'app:staff']) expect(ServiceSpec.parse({ ...image, user }).user).toBe(user);
  expect(ServiceSpec.safeParse({ ...image, user: '1000:' }).success).toBe(false);
});

test('a user the host does not have is refused in one line, and nothing is deployed', async () => {
  const name = 'test-user-missing';
  await removeQuietly(name);
  const port = await freePort();
  await expect(ops.deploy({ host: 'hostA', spec: { name, command: ['/usr/bin/python3', '-m', 'http.server', String(port)], port, user: 'no-such-user-x' } })).rejects.toThrow(
    /^[^\n]*no user "no-such-user-x" on hostA[^\n]*$/,
  );
  await expect(ops.inspect(name)).rejects.toThrow(/unknown service "test-user-missing"/);
  expect(fs.existsSync(path.join(fastmigHome(), 'hosts', 'hostA', name))).toBe(false);
});

describe('SQLite service as nobody', () => {
  const name = 'test-user-sqlite';
  const dir = `/srv/${name}`;
  const get = async (endpoint: string, route: string) => (await fetch(`http://${endpoint}${route}`, { signal: AbortSignal.timeout(5000) })).text();
  async function countAtLeast(endpoint: string, n: number): Promise<number> {
    const until = Date.now() + 30_000;
    for (;;) {
      const c = Number(await get(endpoint, '/count').catch(() => '0'));
      if (c >= n) return c;
      if (Date.now() > until) throw new Error(`${endpoint} counted ${c} within 30 s, expected ${n}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  beforeAll(async () => {
    await removeQuietly(name);
    for (const h of ['hostA', 'hostB']) fs.rmSync(srvOf(h, name), { recursive: true, force: true });
    fs.mkdirSync(srvOf('hostA', name), { recursive: true });
    fs.chownSync(srvOf('hostA', name), 65534, 65534);
  });
  afterAll(async () => {
    await removeQuietly(name);
    for (const h of ['hostA', 'hostB']) fs.rmSync(srvOf(h, name), { recursive: true, force: true });
  });

  test('runs as nobody, migrates hostA → hostB and back with its database, and checks it itself', async () => {
    const port = await freePort();
    await ops.deploy({ host: 'hostA', spec: { name, command: ['/usr/bin/python3', SQLITE_SERVICE, String(port), `${dir}/rows.db`], cwd: dir, port, keep: [dir], user: 'nobody' } });
    const endpoint = await endpointNow(name);
    await runsAs(name, 65534, 'hostA');
    await countAtLeast(endpoint, 50);
    for (const to of ['hostB', 'hostA']) {
      expect(await ops.migrate({ service: name, to, mode: 'warm' })).toMatchObject({ ok: true, outcome: 'migrated', to });
      await runsAs(name, 65534, to);
      const arrived = Number(await get(endpoint, '/count'));
      await countAtLeast(endpoint, arrived + 50);
      expect(await get(endpoint, '/verify')).toMatch(/^\d+$/);
    }
    // Post-copy runs CRIU's lazy-pages daemon beside a restore as root only: refused before anything happens.
    const lazy = await ops.migrate({ service: name, to: 'hostB', mode: 'lazy' });
    expect(lazy).toMatchObject({ ok: false, outcome: 'refused' });
    expect(lazy.error).toMatch(/runs as nobody: mode lazy needs a process-runtime service running as root \(choose --mode warm\)/);
    expect((await ops.inspect(name))[0]).toMatchObject({ host: 'hostA', state: 'running' });
    // The database file on hostB belongs to nobody, as written by it.
    expect(fs.statSync(srvOf('hostB', `${name}/rows.db`)).uid).toBe(65534);
  });
});

describe('PostgreSQL 15 as postgres', () => {
  const name = 'test-user-pg';
  const data = `/srv/${name}/data`;
  const pgUid = () => fs.statSync(srvOf('hostA', name)).uid;
  beforeAll(async () => {
    await removeQuietly(name);
    for (const h of ['hostA', 'hostB']) fs.rmSync(srvOf(h, name), { recursive: true, force: true });
    // initdb as postgres in a folder it may reach, then moved to hostA's /srv with its owners.
    const tmp = fs.mkdtempSync('/tmp/fastmig-pg-');
    fs.chmodSync(tmp, 0o755);
    await execa('chown', ['postgres:postgres', tmp]);
    await execa('su', ['postgres', '-s', '/bin/sh', '-c', `${PG_BIN}/initdb -D ${tmp}/data -A trust -U postgres`]);
    await execa('cp', ['-a', tmp, srvOf('hostA', name)]);
    fs.rmSync(tmp, { recursive: true, force: true });
    // Its clients come over the stack's bridge.
    fs.appendFileSync(srvOf('hostA', `${name}/data/pg_hba.conf`), 'host all all 0.0.0.0/0 trust\n');
  }, 60_000);
  afterAll(async () => {
    await removeQuietly(name);
    for (const h of ['hostA', 'hostB']) fs.rmSync(srvOf(h, name), { recursive: true, force: true });
  });

  test('migrates hostA → hostB and back while psql inserts; every acknowledged row is there, no gap', async () => {
    const port = await freePort();
    const command = [`${PG_BIN}/postgres`, '-D', data, '-p', String(port), '-c', 'listen_addresses=*', '-c', 'unix_socket_directories='];
    await ops.deploy({ host: 'hostA', spec: { name, command, port, keep: [`/srv/${name}`], user: 'postgres' } });
    const [address] = (await endpointNow(name)).split(':');
    const psql = (sql: string) => execa('psql', ['-h', address, '-p', String(port), '-U', 'postgres', '-Atc', sql], { timeout: 10_000 });
    await runsAs(name, pgUid(), 'hostA');
    await psql('CREATE TABLE acked (v integer PRIMARY KEY)');
    // The client: one insert at a time, each retried until acknowledged, through both migrations.
    let acked = 0;
    let stop = false;
    const client = (async () => {
      while (!stop) {
        const v = acked + 1;
        const r = await psql(`INSERT INTO acked VALUES (${v}) ON CONFLICT DO NOTHING`).catch(() => null);
        if (r?.exitCode === 0) acked = v;
        else await new Promise((res) => setTimeout(res, 100));
      }
    })();
    const until = async (n: number) => {
      const deadline = Date.now() + 30_000;
      while (acked < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(acked).toBeGreaterThanOrEqual(n);
    };
    try {
      await until(20);
      for (const to of ['hostB', 'hostA']) {
        expect(await ops.migrate({ service: name, to, mode: 'warm' })).toMatchObject({ ok: true, outcome: 'migrated', to });
        await runsAs(name, pgUid(), to);
        await until(acked + 20);
      }
    } finally {
      stop = true;
      await client;
    }
    const { stdout } = await psql('SELECT count(*), sum(v), max(v) FROM acked');
    const n = acked;
    expect(stdout.trim()).toBe(`${n}|${(n * (n + 1)) / 2}|${n}`);
    // Its data directory on hostB is the postgres user's, as it insists.
    expect(fs.statSync(srvOf('hostB', `${name}/data`)).uid).toBe(pgUid());
  }, 180_000);
});
