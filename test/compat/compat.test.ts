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
import { LIMITS } from './limits';

const full = process.env.FASTMIG_COMPAT === 'full';
const only = process.env.FASTMIG_COMPAT_ONLY ? new RegExp(process.env.FASTMIG_COMPAT_ONLY) : null;
const label = (s: CompatServer) => `${s.id} [${s.runtime ?? 'process'}]`;
const chosen = CATALOGUE.filter((s) => (full || s.quick) && (!only || only.test(label(s))));
const results = process.env.FASTMIG_COMPAT_RESULTS;
const limits = full ? LIMITS.filter((l) => !only || only.test(l.id)) : [];

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

function clean(name: string) {
  for (const h of ['hostA', 'hostB']) fs.rmSync(srvOf(h, name), { recursive: true, force: true });
}

if (!chosen.length && !limits.length) {
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
    await ops.deploy({
      host: 'hostA',
      spec: docker
        ? { name, runtime: 'docker', image: COMPAT_IMAGE.name, command: s.command(ctx), port: s.containerPort, env: s.env ?? {} }
        : { name, command: s.command(ctx), cwd: ctx.dir, port: ctx.port, env: s.env ?? {}, keep: s.keep === false ? [] : [ctx.dir] },
    });
    await reach(ctx, docker);
    await s.ready(ctx);
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

// Not counted as servers: each shows why it cannot move yet, and that trying harms nothing.
if (limits.length) {
  test.each(limits.map((l) => [l.id, l] as const))('%s is not yet dumped here: the migration fails with CRIU\'s reason and it keeps serving on hostA', async (_id, l) => {
    const name = `compat-${l.id}`;
    const version = (await execa('dpkg-query', ['-W', '-f', '${Version}', l.pkg])).stdout;
    const record: Record<string, unknown> = { id: l.id, kind: l.kind, pkg: l.pkg, version, runtime: 'process', notYet: true };
    await removeQuietly(name);
    clean(name);
    const ctx: Ctx = { name, port: l.port ?? (await freePort()), ports: [], address: '', dir: `/srv/${name}`, state: {} };
    fs.mkdirSync(srvOf('hostA', name), { recursive: true });
    try {
      await ops.deploy({ host: 'hostA', spec: { name, command: l.command(ctx), cwd: ctx.dir, port: ctx.port, keep: [ctx.dir] } });
      ctx.address = (await ops.inspect(name))[0].address!.replace(/:\d+$/, '');
      await l.answers(ctx);
      const report = await ops.migrate({ service: name, to: 'hostB', mode: 'warm' });
      record.reason = report.error?.replace(/^.*criu dump failed: /, '');
      expect(report).toMatchObject({ ok: false, outcome: 'failed' });
      expect(report.error).toMatch(l.why);
      const view = (await ops.inspect(name))[0];
      expect(view).toMatchObject({ host: 'hostA', state: 'running' });
      await l.answers(ctx);
      record.ok = true;
    } finally {
      if (results) fs.appendFileSync(results, `${JSON.stringify(record)}\n`);
      await removeQuietly(name);
      clean(name);
    }
  }, 180_000);
}
