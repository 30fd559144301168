// The compatibility catalogue: real third-party servers from Debian packages, each deployed as a
// fastmig service the way its documentation runs it, loaded by its own client, migrated hostA →
// hostB while that client keeps using it, and checked by the client afterwards. With
// FASTMIG_COMPAT=full (npm run test:compat) every entry runs; otherwise the quick subset, as part of
// the test suite. FASTMIG_COMPAT_ONLY (a regular expression over "<id> [<runtime>]") narrows either.
// FASTMIG_COMPAT_RESULTS names a file that gets one JSON line per entry (scripts/compat-summary.js).
import fs from 'fs';
import execa from 'execa';
import { ops } from '../../client';
import { freePort } from '../../demo/probe';
import { removeQuietly } from '../helpers';
import { descendantsOf } from '../../daemon/process-tree';
import { clientGap, until } from './client';
import { srvOf, type CompatServer, type Ctx } from './entry';
import { CATALOGUE } from './catalogue';
import { COMPAT_IMAGE, ensureCompatImage } from './image';
import { lookupAccount } from '../../common/accounts';

const full = process.env.FASTMIG_COMPAT === 'full';
const only = process.env.FASTMIG_COMPAT_ONLY ? new RegExp(process.env.FASTMIG_COMPAT_ONLY) : null;
const label = (s: CompatServer) => `${s.id} [${s.runtime ?? 'process'}]`;
const chosen = CATALOGUE.filter((s) => (full || s.quick) && (!only || only.test(label(s))));
const results = process.env.FASTMIG_COMPAT_RESULTS;

function duBytes(dir: string): number {
  let n = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) n += duBytes(p);
    else if (e.isFile()) n += fs.statSync(p).size;
  }
  return n;
}

/** The processes of a service's tree that do not run as `uid` (their real uid, from /proc). */
function notRunningAs(pids: number[], uid: number): number[] {
  return pids.filter((p) => Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))![1]) !== uid);
}

function clean(name: string) {
  for (const h of ['hostA', 'hostB']) fs.rmSync(srvOf(h, name), { recursive: true, force: true });
}

if (!chosen.length) {
  test('the selection names a server of the catalogue', () => {
    throw new Error(`FASTMIG_COMPAT_ONLY=${process.env.FASTMIG_COMPAT_ONLY} matches none of ${CATALOGUE.map((s) => s.id).join(', ')}`);
  });
}

/** Where a service answers its clients: its own address (process), its host's address and published port (container). */
async function reach(ctx: Ctx, docker: boolean): Promise<void> {
  const view = (await ops.inspect(ctx.name))[0];
  const [address, port] = (docker ? view.endpoint! : view.address ?? view.endpoint!).split(':');
  ctx.address = address;
  if (docker) ctx.port = Number(port);
}

beforeAll(async () => {
  if (chosen.some((s) => s.runtime === 'docker')) await ensureCompatImage();
}, 600_000);

if (chosen.length) test.each(chosen.map((s) => [label(s), s] as const))('%s migrates hostA → hostB under its own client and passes its checks', async (_id, s) => {
  const name = `compat-${s.id}`;
  const docker = s.runtime === 'docker';
  // The package inside the image is the one the machine's apt installs (same release, same mirror).
  const version = (await execa('dpkg-query', ['-W', '-f', '${Version}', s.pkg])).stdout;
  const record: Record<string, unknown> = { id: s.id, kind: s.kind, pkg: s.pkg, version, runtime: s.runtime ?? 'process' };
  await removeQuietly(name);
  clean(name);
  const ctx: Ctx = { name, port: await freePort(), ports: [], address: '', dir: `/srv/${name}`, state: {} };
  for (let i = 0; i < (s.extraPorts ?? 0); i++) ctx.ports.push(await freePort());
  fs.mkdirSync(srvOf('hostA', name), { recursive: true });
  try {
    await s.prepare?.(ctx, srvOf('hostA', name));
    const account = s.user ? lookupAccount(s.user) : null;
    if (s.user && !account) throw new Error(`this machine has no user "${s.user}" (its Debian package creates it)`);
    if (account) await execa('chown', ['-R', `${account.uid}:${account.gid}`, srvOf('hostA', name)]);
    await ops.deploy({
      host: 'hostA',
      spec: docker
        ? { name, runtime: 'docker', image: COMPAT_IMAGE.name, command: s.command(ctx), port: s.containerPort, env: s.env ?? {} }
        : { name, command: s.command(ctx), cwd: ctx.dir, port: ctx.port, env: s.env ?? {}, keep: s.keep === false ? [] : [ctx.dir], ...(s.user ? { user: s.user } : {}) },
    });
    await reach(ctx, docker);
    await s.ready(ctx);
    const asUser = async (host: string) => {
      const tree = descendantsOf((await ops.inspect(name))[0].pid!);
      if (!tree.length) throw new Error(`on ${host}, no process of it was found`);
      const others = notRunningAs(tree, account!.uid);
      if (others.length) throw new Error(`on ${host}, ${others.length} of its processes do not run as ${s.user}`);
    };
    if (account) await asUser('hostA');
    await s.load(ctx);
    const usage = s.use(ctx);
    let report;
    let from = 0;
    let to = 0;
    try {
      await until('the client using it before the move', async () => usage.acks.length >= 3, 60_000, 50);
      from = Date.now();
      report = await ops.migrate({ service: name, to: 'hostB', mode: 'warm' });
      // A container answers at its new host's endpoint: its client is told as soon as the move returns.
      if (docker && report.ok) await reach(ctx, docker);
      to = Date.now();
      if (report.ok) await until('the client answered again after the move', async () => usage.acks.filter((t) => t >= to).length >= 5, 60_000, 50);
    } finally {
      await usage.stop();
    }
    Object.assign(record, { imageBytes: report.imageBytes, workflowDowntimeMs: report.downtimeMs, acks: usage.acks.length });
    if (!report.ok) throw new Error(`migration ${report.outcome}: ${report.error ?? 'no reason given'}`);
    expect(report).toMatchObject({ ok: true, outcome: 'migrated', to: 'hostB' });
    const moved = (await ops.inspect(name))[0];
    expect(moved.host).toBe('hostB');
    if (!docker) record.processes = descendantsOf(moved.pid!).length;
    if (account) await asUser('hostB');
    record.gapMs = clientGap(usage.acks, from, to);
    await s.check(ctx, srvOf('hostB', name));
    record.keptBytes = duBytes(srvOf('hostB', name));
    record.ok = true;
  } catch (err) {
    record.ok = false;
    record.reason = (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 400);
    throw err;
  } finally {
    if (results) fs.appendFileSync(results, `${JSON.stringify(record)}\n`);
    await removeQuietly(name);
    clean(name);
  }
}, 300_000);
