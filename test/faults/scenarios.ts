// The fault matrix: each fault in each phase where it can strike. Normal-operation faults hit a
// running service; the others hit a warm migration from faultA to faultB at the named step, by
// pausing that step on its host (a fault point), doing the damage, and letting it go on.
import { ops } from '../../client';
import { keys } from '../../common/names';
import { httpText } from '../../demo/probe';
import type { FaultPoint } from '../../common/faults';
import type { MigrationReport } from '../../common/schemas';
import { kvProcesses } from '../helpers';
import { FaultCluster, SOURCE, TARGET, sleep, until } from './cluster';
import type { Expectation } from './survival';

export type Phase = 'normal' | 'prepare' | 'checkpoint' | 'transfer' | 'restore' | 'verify' | 'cutover';

export interface Ctx {
  cluster: FaultCluster;
  service: string;
  port: number;
}

export interface Scenario {
  fault: string;
  phase: Phase;
  expect: Expectation;
  /** Migration faults: the outcomes the workflow may end with (it must end, with a reason). */
  outcomes?: MigrationReport['outcome'][];
  /** In the quick subset that runs with the test suite. */
  quick?: boolean;
  run(ctx: Ctx): Promise<{ since: number; report?: MigrationReport }>;
}

/** The restart policy of every matrix service: SIGINT means stop; anything else, restore. */
export const POLICY = { rules: [{ signals: ['SIGINT'], action: 'standby' as const }], otherwise: 'restore' as const, backoffMs: 200, maxRestarts: 20 };
export const MEMORY_LIMIT_MIB = 160;

function signalService(port: number, sig: NodeJS.Signals): void {
  const pids = kvProcesses(port);
  if (pids.length !== 1) throw new Error(`expected one instance to signal, found ${pids.length}`);
  process.kill(pids[0], sig);
}

const grow = (port: number) => httpText(port, 'POST', '/grow', String(MEMORY_LIMIT_MIB + 64)).catch(() => null);
const exitWithError = (port: number) => httpText(port, 'POST', '/exit', '3').catch(() => null);

/** Waits until the daemon has recorded one more restart decision than `before`. */
async function decided(ctx: Ctx, before: number, timeoutMs = 30_000) {
  return until('a restart decision', async () => {
    const v = (await ops.inspect(ctx.service))[0];
    return v.lastDecision && v.restarts + (v.lastDecision.action === 'standby' ? 1 : 0) > before ? v : null;
  }, timeoutMs);
}

function serviceFault(fault: string, inject: (ctx: Ctx) => Promise<unknown> | void, expect: Expectation, quick = false): Scenario {
  return {
    fault,
    phase: 'normal',
    expect,
    quick,
    async run(ctx) {
      const before = (await ops.inspect(ctx.service))[0].restarts;
      const since = Date.now();
      await inject(ctx);
      const v = await decided(ctx, before);
      if (!v.lastDecision?.reason) throw new Error('the decision has no reason');
      return { since };
    },
  };
}

interface MigrationFault {
  fault: string;
  phase: Phase;
  /** Where the migration is held while the fault is done. */
  at: { host: typeof SOURCE | typeof TARGET; point: FaultPoint };
  /** Armed too: the peer transfer fails, so the image goes through S3 (upload, download). */
  viaStore?: boolean;
  /** Done while the step is held. */
  inject(ctx: Ctx): Promise<void> | void;
  /** Done after the step was let go (e.g. a service manager starting a killed process again). */
  recover?(ctx: Ctx): Promise<void>;
  outcomes: MigrationReport['outcome'][];
  expect: Expectation;
  quick?: boolean;
}

function migrationFault(m: MigrationFault): Scenario {
  return {
    fault: m.fault,
    phase: m.phase,
    expect: m.expect,
    outcomes: m.outcomes,
    quick: m.quick,
    async run(ctx) {
      const { cluster, service } = ctx;
      // Migrations' checkpoint ids start with "g"; periodic checkpoints ("p…") pass untouched.
      const match = m.at.point === 'prepare' ? `^${service}$` : m.at.point === 'verify' ? '' : '^g';
      cluster.arm(m.at.host, m.at.point, { action: 'pause', match });
      if (m.viaStore) cluster.arm(TARGET, 'pull', { action: 'fail', match: '^g' });
      const running = ops.migrate({ service, to: TARGET, mode: 'warm' });
      running.catch(() => undefined);
      const endedEarly = running.then((r) => {
        throw new Error(`the migration ended before it reached ${m.at.point} on ${m.at.host}: ${r.outcome}${r.error ? ` (${r.error})` : ''}`);
      });
      endedEarly.catch(() => undefined);
      await Promise.race([cluster.reached(m.at.host, m.at.point), endedEarly]);
      const since = Date.now();
      await m.inject(ctx);
      cluster.release(m.at.host, m.at.point);
      if (m.recover) await m.recover(ctx);
      const report = await cluster.migrationReport(service, running, m.expect.boundS * 1000);
      return { since, report };
    },
  };
}

/** A step that simply fails on a host, every time it is tried. */
function failingStep(fault: string, phase: Phase, point: FaultPoint, quick = false): Scenario {
  return {
    fault,
    phase,
    expect: { state: 'running', data: 'live', boundS: 60 },
    outcomes: ['rolled-back'],
    quick,
    async run(ctx) {
      ctx.cluster.arm(TARGET, point, { action: 'fail', match: point === 'verify' ? '' : '^g' });
      const since = Date.now();
      const report = await ops.migrate({ service: ctx.service, to: TARGET, mode: 'warm' });
      return { since, report };
    },
  };
}

const restartLater = (host: string, ms = 2000) => async (ctx: Ctx) => {
  await sleep(ms);
  await ctx.cluster.startAgent(host);
};
const stackBackLater = (ms = 2000) => async (ctx: Ctx) => {
  await sleep(ms);
  await ctx.cluster.restoreStack();
};

const freeDiskLater = (host: string, ms: number) => async (ctx: Ctx) => {
  await sleep(ms);
  ctx.cluster.freeDisk(host);
};
/** The host monitor has restored the service on a host other than the lost source. */
const restoredElsewhere = (ctx: Ctx, ms: number) =>
  until('the service restored on another host', async () => {
    const v = (await ops.inspect(ctx.service))[0];
    return v.host !== SOURCE && v.state === 'running';
  }, ms, 500);

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
const byPolicy = (sig: NodeJS.Signals): Expectation['state'] => (sig === 'SIGINT' ? 'standby' : 'running');

export const SCENARIOS: Scenario[] = [
  // The service itself misbehaves while it runs: the restart policy decides, the daemon stays.
  serviceFault('memory limit exceeded', (c) => grow(c.port), { state: 'running', data: 'checkpoint', boundS: 30 }, true),
  serviceFault('service exits with an error', (c) => exitWithError(c.port), { state: 'running', data: 'checkpoint', boundS: 30 }),
  ...SIGNALS.map((sig) => serviceFault(`${sig} to the service`, (c) => signalService(c.port, sig), { state: byPolicy(sig), data: 'checkpoint', boundS: 30 }, sig === 'SIGKILL')),

  // Signals while the checkpoint is about to be taken: the dump fails or takes the restored tree.
  ...SIGNALS.map((sig) =>
    migrationFault({
      fault: `${sig} to the service`,
      phase: 'checkpoint',
      at: { host: SOURCE, point: 'checkpoint' },
      inject: async (c) => {
        signalService(c.port, sig);
        await sleep(1000); // the restart policy acts before the dump is let go
      },
      outcomes: ['migrated', 'failed'],
      expect: { state: byPolicy(sig), data: 'checkpoint', boundS: 60 },
    }),
  ),
  // The restored service dies on the target before it is verified: its policy restores it from
  // the migration image, or (SIGINT: standby) the check fails and the migration rolls back.
  ...(
    [
      ...SIGNALS.map((sig) => [`${sig} to the service`, (c: Ctx) => signalService(c.port, sig), sig === 'SIGINT' ? 'rolled-back' : 'migrated'] as const),
      ['memory limit exceeded', (c: Ctx) => grow(c.port), 'migrated'] as const,
      ['service exits with an error', (c: Ctx) => exitWithError(c.port), 'migrated'] as const,
    ] as const
  ).map(([fault, hurt, outcome]) =>
    migrationFault({
      fault,
      phase: 'verify',
      at: { host: TARGET, point: 'verify' },
      inject: async (c) => void (await hurt(c)),
      outcomes: [outcome],
      expect: { state: 'running', data: 'live', boundS: 90 },
    }),
  ),

  // Disk full while an image is written: on the source (dump) and on the target (unpacking).
  migrationFault({
    fault: 'disk full',
    phase: 'checkpoint',
    at: { host: SOURCE, point: 'checkpoint' },
    inject: (c) => c.cluster.fillDisk(SOURCE),
    recover: freeDiskLater(SOURCE, 3000),
    outcomes: ['failed'],
    expect: { state: 'running', data: 'live', boundS: 60 },
    quick: true,
  }),
  migrationFault({
    fault: 'disk full',
    phase: 'transfer',
    at: { host: TARGET, point: 'pull' },
    inject: (c) => c.cluster.fillDisk(TARGET),
    recover: freeDiskLater(TARGET, 1500),
    // The pull fails, the image goes through S3; its download fails too unless space is back by then.
    outcomes: ['rolled-back', 'migrated'],
    expect: { state: 'running', data: 'live', boundS: 60 },
  }),

  // Corrupted images: in the store (transfer) and on the target's disk (restore).
  migrationFault({
    fault: 'corrupted image',
    phase: 'transfer',
    at: { host: TARGET, point: 'download' },
    viaStore: true,
    inject: (c) => corruptStoredImage(c),
    outcomes: ['rolled-back'],
    expect: { state: 'running', data: 'live', boundS: 60 },
    quick: true,
  }),
  migrationFault({
    fault: 'corrupted image',
    phase: 'restore',
    at: { host: TARGET, point: 'restore' },
    inject: (c) => corruptLocalImage(c),
    outcomes: ['rolled-back'],
    expect: { state: 'running', data: 'live', boundS: 60 },
  }),

  // The image store goes away: while the service runs, while the image goes through it (the peer
  // transfer failed), and while the durable copy is written after the cut-over.
  {
    fault: 'S3 unreachable',
    phase: 'normal',
    expect: { state: 'running', data: 'live', boundS: 90 },
    async run(ctx) {
      const since = Date.now();
      await ctx.cluster.stopS3();
      await sleep(8000); // at least one periodic checkpoint fails meanwhile
      await ctx.cluster.restoreStack();
      const before = (await ops.inspect(ctx.service))[0].storedCheckpoint;
      await until('a periodic checkpoint stored after S3 returned', async () => (await ops.inspect(ctx.service))[0].storedCheckpoint !== before, 30_000, 500);
      return { since };
    },
  },
  migrationFault({
    fault: 'S3 unreachable',
    phase: 'cutover',
    at: { host: SOURCE, point: 'upload' },
    inject: (c) => c.cluster.stopS3(),
    recover: stackBackLater(3000),
    // The durable copy starts as the record moves: rolled back when the record cannot be written,
    // migrated with a warning (the registry keeps the previous stored checkpoint) when it was.
    outcomes: ['migrated', 'rolled-back'],
    expect: { state: 'running', data: 'live', boundS: 90 },
    quick: true,
  }),
  {
    // The source keeps its copy while the durable copy goes to S3, however long that takes: the
    // agents' periodic fencing (every 10 s) must not remove a replaced copy that does not serve.
    fault: 'slow S3 copy after the cut-over',
    phase: 'cutover',
    expect: { state: 'running', data: 'live', boundS: 60 },
    outcomes: ['migrated'],
    quick: true,
    async run(ctx) {
      ctx.cluster.arm(SOURCE, 'upload', { action: 'pause', match: '^g' });
      const running = ops.migrate({ service: ctx.service, to: TARGET, mode: 'warm' });
      running.catch(() => undefined);
      await ctx.cluster.reached(SOURCE, 'upload');
      const since = Date.now();
      await sleep(15_000); // longer than the agents' fencing period
      ctx.cluster.release(SOURCE, 'upload');
      const report = await ctx.cluster.migrationReport(ctx.service, running, 60_000);
      if (report.warnings?.length) throw new Error(`the migration warned: ${report.warnings.join('; ')}`);
      const stored = (await ops.inspect(ctx.service))[0].storedCheckpoint;
      if (stored !== report.checkpointId) throw new Error(`the registry's stored checkpoint is ${stored}, not the migration's ${report.checkpointId}`);
      return { since, report };
    },
  },
  migrationFault({
    fault: 'S3 unreachable',
    phase: 'transfer',
    at: { host: TARGET, point: 'download' },
    viaStore: true,
    inject: (c) => c.cluster.stopS3(),
    recover: stackBackLater(3000),
    outcomes: ['rolled-back', 'migrated'],
    expect: { state: 'running', data: 'live', boundS: 90 },
  }),

  // Host agents die (their daemons and services live on) and are started again.
  ...(
    [
      ['checkpoint', SOURCE, 'checkpoint'],
      ['transfer', TARGET, 'pull'],
      ['restore', TARGET, 'restore'],
    ] as const
  ).map(([phase, host, point]) =>
    migrationFault({
      fault: 'source host agent killed',
      phase,
      at: { host, point },
      inject: (c) => c.cluster.killAgent(SOURCE),
      recover: restartLater(SOURCE),
      outcomes: ['migrated', 'rolled-back'],
      expect: { state: 'running', data: 'live', boundS: 120 },
      quick: phase === 'checkpoint',
    }),
  ),
  ...(
    [
      ['prepare', 'prepare'],
      ['transfer', 'pull'],
      ['restore', 'restore'],
      ['verify', 'verify'],
    ] as const
  ).map(([phase, point]) =>
    migrationFault({
      fault: 'target host agent killed',
      phase,
      at: { host: TARGET, point },
      inject: (c) => c.cluster.killAgent(TARGET),
      recover: restartLater(TARGET),
      outcomes: ['migrated', 'rolled-back'],
      expect: { state: 'running', data: 'live', boundS: 120 },
      quick: phase === 'restore',
    }),
  ),

  // The orchestrator worker dies; Temporal carries the migration on when it is back.
  ...(
    [
      ['checkpoint', SOURCE, 'checkpoint'],
      ['transfer', TARGET, 'pull'],
      ['restore', TARGET, 'restore'],
      ['verify', TARGET, 'verify'],
    ] as const
  ).map(([phase, host, point]) =>
    migrationFault({
      fault: 'orchestrator worker killed',
      phase,
      at: { host, point },
      inject: (c) => c.cluster.killOrchestrator(),
      recover: stackBackLater(),
      outcomes: ['migrated'],
      expect: { state: 'running', data: 'live', boundS: 120 },
      quick: phase === 'transfer',
    }),
  ),

  // The Temporal server itself is restarted (its state is in a SQLite file).
  ...(
    [
      ['checkpoint', SOURCE, 'checkpoint'],
      ['transfer', TARGET, 'pull'],
      ['restore', TARGET, 'restore'],
    ] as const
  ).map(([phase, host, point]) =>
    migrationFault({
      fault: 'Temporal server restarted',
      phase,
      at: { host, point },
      inject: (c) => c.cluster.killTemporal(),
      recover: stackBackLater(1000),
      outcomes: ['migrated', 'rolled-back'],
      expect: { state: 'running', data: 'live', boundS: 150 },
      quick: phase === 'restore',
    }),
  ),

  failingStep('target restore fails', 'restore', 'restore', true),
  failingStep('verification fails', 'verify', 'verify'),

  // A whole host is lost: its agent, daemons and services die together and it stays away.
  {
    fault: 'whole host lost',
    phase: 'normal',
    expect: { state: 'running', data: 'checkpoint', boundS: 120 },
    async run(ctx) {
      const since = Date.now();
      await ctx.cluster.killHost(SOURCE);
      await restoredElsewhere(ctx, 120_000);
      await ctx.cluster.startAgent(SOURCE); // it comes back and removes its stale copy
      return { since };
    },
  },
  migrationFault({
    fault: 'whole host lost',
    phase: 'transfer',
    at: { host: TARGET, point: 'pull' },
    inject: (c) => c.cluster.killHost(SOURCE),
    recover: async (c) => {
      // Whatever the migration concludes, the host monitor restores the service elsewhere.
      await restoredElsewhere(c, 180_000);
      await c.cluster.startAgent(SOURCE);
    },
    outcomes: ['failed', 'rolled-back', 'migrated'],
    expect: { state: 'running', data: 'checkpoint', boundS: 180 },
  }),
  migrationFault({
    fault: 'whole host lost',
    phase: 'restore',
    at: { host: TARGET, point: 'restore' },
    inject: (c) => c.cluster.killHost(TARGET),
    recover: async (c) => {
      await sleep(2000);
      await c.cluster.startAgent(TARGET);
    },
    outcomes: ['rolled-back', 'migrated'],
    expect: { state: 'running', data: 'live', boundS: 150 },
  }),
];

async function corruptStoredImage(c: Ctx): Promise<void> {
  const s3 = c.cluster.s3();
  const { bucket } = (await import('../../common/config')).loadConfig().s3;
  const prefix = keys.imagePrefix(c.service);
  const objects: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const st = s3.listObjectsV2(bucket, prefix, true);
    st.on('data', (o) => o.name && objects.push(o.name));
    st.on('end', () => resolve());
    st.on('error', reject);
  });
  const archive = objects.filter((k) => /\/g[^/]*\//.test(k) && !k.endsWith('.json')).sort().pop();
  if (!archive) throw new Error(`no migration image of ${c.service} in the store (found ${objects.join(', ')})`);
  const chunks: Buffer[] = [];
  for await (const chunk of await s3.getObject(bucket, archive)) chunks.push(chunk as Buffer);
  const data = Buffer.concat(chunks);
  for (let i = Math.floor(data.length / 2); i < Math.floor(data.length / 2) + 64 && i < data.length; i++) data[i] ^= 0xff;
  await s3.putObject(bucket, archive, data);
}

async function corruptLocalImage(c: Ctx): Promise<void> {
  const fs = await import('fs');
  const path = await import('path');
  const { paths } = await import('../../common/config');
  const images = path.join(paths.serviceDir(TARGET, c.service), 'images');
  const id = fs.readdirSync(images).filter((n) => n.startsWith('g') && !n.endsWith('.partial')).pop();
  if (!id) throw new Error('no migration image on the target');
  const dir = path.join(images, id);
  const pages = fs.readdirSync(dir).filter((n) => n.startsWith('pages-')).map((n) => path.join(dir, n));
  for (const f of pages) fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2));
}
