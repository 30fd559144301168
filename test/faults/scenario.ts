// What a scenario of the fault matrix is, and the shapes most of them take: a fault that hits a
// running service, and a fault done while a warm migration from faultA to faultB is held at a
// named step (a fault point on one host), then let go.
import { ops } from '../../client';
import type { FaultPoint } from '../../common/faults';
import type { MigrationReport } from '../../common/schemas';
import { httpText } from '../../demo/probe';
import { kvProcesses } from '../helpers';
import { FaultCluster, SOURCE, TARGET, sleep, until } from './cluster';
import type { Expectation } from './survival';

export type Phase = 'normal' | 'prepare' | 'checkpoint' | 'transfer' | 'restore' | 'verify' | 'cutover' | 'pages';
export type Outcome = MigrationReport['outcome'];

export interface Ctx {
  cluster: FaultCluster;
  service: string;
  port: number;
  /** The fault strikes now: records the moment (and the service's checkpoints then) and returns it. */
  mark(): Promise<number>;
}

export interface Scenario {
  fault: string;
  phase: Phase;
  expect: Expectation;
  /** Migration faults: the outcomes the workflow may end with (it must end, with a reason). */
  outcomes?: Outcome[];
  /** In the quick subset that runs with the test suite (scenarios.ts sets it). */
  quick?: boolean;
  /** base: the checkpoint the service had to go back to, when the scenario knows it better than the fault's moment (data: checkpoint). */
  run(ctx: Ctx): Promise<{ since: number; report?: MigrationReport; base?: { id: string; frozenAt: number } }>;
}

/** The restart policy of every matrix service: SIGINT means stop; anything else, restore. */
export const POLICY = { rules: [{ signals: ['SIGINT'], action: 'standby' as const }], otherwise: 'restore' as const, backoffMs: 200, maxRestarts: 20 };
export const MEMORY_LIMIT_MIB = 160;

export function signalService(port: number, sig: NodeJS.Signals): number {
  const pids = kvProcesses(port);
  if (pids.length !== 1) throw new Error(`expected one instance to signal, found ${pids.length}`);
  process.kill(pids[0], sig);
  return pids[0];
}

/**
 * Signals the service and waits (up to 10 s) until that process is gone: a fault meant to strike
 * before a step (the target's health check) has struck once the step is let go. On a loaded
 * machine a process may still answer a moment after its signal, which would be a fault after it.
 */
export async function signalServiceGone(port: number, sig: NodeJS.Signals): Promise<void> {
  const pid = signalService(port, sig);
  await until(`pid ${pid} gone after ${sig}`, () => !kvProcesses(port).includes(pid), 10_000, 20);
}

/** The copy on `host` (where it answers: the host's address). */
export const grow = (c: Ctx, host: string) => httpText(c.cluster.endpointOn(host, c.port), 'POST', '/grow', String(MEMORY_LIMIT_MIB + 64)).catch(() => null);
export const exitWithError = (c: Ctx, host: string) => httpText(c.cluster.endpointOn(host, c.port), 'POST', '/exit', '3').catch(() => null);

/** Waits until the daemon has recorded one more restart decision than `before`. */
async function decided(ctx: Ctx, before: number, timeoutMs = 30_000) {
  return until('a restart decision', async () => {
    const v = (await ops.inspect(ctx.service))[0];
    return v.lastDecision && v.restarts + (v.lastDecision.action === 'standby' ? 1 : 0) > before ? v : null;
  }, timeoutMs);
}

export function serviceFault(fault: string, inject: (ctx: Ctx) => Promise<unknown> | void, expect: Expectation): Scenario {
  return {
    fault,
    phase: 'normal',
    expect,
    async run(ctx) {
      const before = (await ops.inspect(ctx.service))[0].restarts;
      const since = await ctx.mark();
      await inject(ctx);
      const v = await decided(ctx, before);
      if (!v.lastDecision?.reason) throw new Error('the decision has no reason');
      return { since };
    },
  };
}

export interface MigrationFault {
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
  outcomes: Outcome[];
  expect: Expectation;
  /** More the migration's end must show (throws what is wrong). */
  check?(ctx: Ctx, report: MigrationReport): Promise<void>;
}

/** Starts a warm migration to the target, held at `at` until the caller lets it go (its report: `running`). */
export async function heldMigration(ctx: Ctx, at: MigrationFault['at'], viaStore = false): Promise<{ running: Promise<MigrationReport> }> {
  const { cluster, service } = ctx;
  // Migrations' checkpoint ids start with "g"; periodic checkpoints ("p…") pass untouched.
  const match = at.point === 'prepare' ? `^${service}$` : at.point === 'verify' ? '' : '^g';
  cluster.arm(at.host, at.point, { action: 'pause', match });
  if (viaStore) cluster.arm(TARGET, 'pull', { action: 'fail', match: '^g' });
  const running = ops.migrate({ service, to: TARGET, mode: 'warm' });
  running.catch(() => undefined);
  const endedEarly = running.then((r) => {
    throw new Error(`the migration ended before it reached ${at.point} on ${at.host}: ${r.outcome}${r.error ? ` (${r.error})` : ''}`);
  });
  endedEarly.catch(() => undefined);
  await Promise.race([cluster.reached(at.host, at.point), endedEarly]);
  return { running };
}

export function migrationFault(m: MigrationFault): Scenario {
  return {
    fault: m.fault,
    phase: m.phase,
    expect: m.expect,
    outcomes: m.outcomes,
    async run(ctx) {
      const { running } = await heldMigration(ctx, m.at, m.viaStore);
      const since = await ctx.mark();
      await m.inject(ctx);
      ctx.cluster.release(m.at.host, m.at.point);
      if (m.recover) await m.recover(ctx);
      const report = await ctx.cluster.migrationReport(ctx.service, running, m.expect.boundS * 1000);
      if (m.check) await m.check(ctx, report);
      return { since, report };
    },
  };
}

/** A step that simply fails on a host, every time it is tried. */
export function failingStep(fault: string, phase: Phase, point: FaultPoint): Scenario {
  return {
    fault,
    phase,
    expect: { state: 'running', data: 'live', boundS: 60 },
    outcomes: ['rolled-back'],
    async run(ctx) {
      ctx.cluster.arm(TARGET, point, { action: 'fail', match: point === 'verify' ? '' : '^g' });
      const since = await ctx.mark();
      const report = await ops.migrate({ service: ctx.service, to: TARGET, mode: 'warm' });
      return { since, report };
    },
  };
}

export const restartLater = (host: string, ms = 2000) => async (ctx: Ctx) => {
  await sleep(ms);
  await ctx.cluster.startAgent(host);
};
export const stackBackLater = (ms = 2000) => async (ctx: Ctx) => {
  await sleep(ms);
  await ctx.cluster.restoreStack();
};
export const freeDiskLater = (host: string, ms: number) => async (ctx: Ctx) => {
  await sleep(ms);
  ctx.cluster.freeDisk(host);
};

/** The host monitor has restored the service on a host other than `lost`. */
export const restoredElsewhere = (ctx: Ctx, ms: number, lost: string = SOURCE) =>
  until(`the service restored on a host other than ${lost}`, async () => {
    const v = (await ops.inspect(ctx.service))[0];
    return v.host !== lost && v.state === 'running';
  }, ms, 500);
