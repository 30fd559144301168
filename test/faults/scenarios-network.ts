// Faults of the hosts' network, on the real links between their namespaces: a host cut off (its
// link down; its agent, daemons and services run on behind the cut) in each phase, a link that
// drops for a moment, a link slowed to a crawl while an image crosses it, and a host that comes
// back after the monitor failed its services over (its stale copy must go).
import { ops } from '../../client';
import type { FaultPoint } from '../../common/faults';
import { SOURCE, TARGET, sleep, until } from './cluster';
import { migrationFault, restoredElsewhere, type Ctx, type Outcome, type Phase, type Scenario } from './scenario';
import type { Expectation } from './survival';

/** Longer than a step waits for its agent (10 s) and than the fault hosts' lease (20 s); shorter than the monitor's failover (30 s at least). */
const CUT_MS = 25_000;
/** Shorter than every heartbeat timeout and than the lease. */
const FLAP_MS = 3_000;
/** A crawl: the image takes minutes at this rate; the link is whole again after CRAWL_MS. */
const CRAWL = '1mbit';
const CRAWL_MS = 20_000;

type Host = typeof SOURCE | typeof TARGET;
// pages: lazy migrations only (scenarios-lazy.ts).
type MigrationPhase = Exclude<Phase, 'normal' | 'pages'>;

/** Where a migration is held for each phase. */
const HELD: Record<MigrationPhase, { host: Host; point: FaultPoint }> = {
  prepare: { host: TARGET, point: 'prepare' },
  checkpoint: { host: SOURCE, point: 'checkpoint' },
  transfer: { host: TARGET, point: 'pull' },
  restore: { host: TARGET, point: 'restore' },
  verify: { host: TARGET, point: 'verify' },
  // The durable copy to S3 starts as the record moves; held there, the record names the target.
  cutover: { host: SOURCE, point: 'upload' },
};

/** After the cut-over the record names the target: wait for it before cutting a host. */
async function recordMoved(c: Ctx, phase: MigrationPhase): Promise<void> {
  if (phase === 'cutover') await until('the record naming the target', async () => (await ops.inspect(c.service))[0].host === TARGET, 30_000, 200);
}

function cutOff(who: 'source' | 'target', phase: MigrationPhase, outcomes: Outcome[], data: Expectation['data']): Scenario {
  const host = who === 'source' ? SOURCE : TARGET;
  return migrationFault({
    fault: `${who} cut off`,
    phase,
    at: HELD[phase],
    inject: async (c) => {
      await recordMoved(c, phase);
      await c.cluster.cut(host);
    },
    recover: async (c) => {
      await sleep(CUT_MS);
      await c.cluster.reconnect(host);
    },
    outcomes,
    expect: { state: 'running', data, boundS: 150 },
  });
}

function flap(who: 'source' | 'target', phase: MigrationPhase): Scenario {
  const host = who === 'source' ? SOURCE : TARGET;
  return migrationFault({
    fault: `${who} link drops for ${FLAP_MS / 1000} s`,
    phase,
    at: HELD[phase],
    inject: (c) => c.cluster.cut(host),
    recover: async (c) => {
      await sleep(FLAP_MS);
      await c.cluster.reconnect(host);
    },
    outcomes: ['migrated'],
    expect: { state: 'running', data: 'live', boundS: 90 },
  });
}

function crawl(who: 'source' | 'target', phase: MigrationPhase): Scenario {
  const host = who === 'source' ? SOURCE : TARGET;
  return migrationFault({
    fault: `${who} link slowed to a crawl`,
    phase,
    at: HELD[phase],
    inject: (c) => c.cluster.slow(host, CRAWL),
    recover: async (c) => {
      await sleep(CRAWL_MS);
      await c.cluster.unslow(host);
    },
    outcomes: ['migrated'],
    expect: { state: 'running', data: 'live', boundS: 120 },
    // A slow durable copy is no reason for a warning: it is stored, and recorded, once through.
    check:
      phase === 'cutover'
        ? async (c, report) => {
            if (report.warnings?.length) throw new Error(`the migration warned: ${report.warnings.join('; ')}`);
            const stored = (await ops.inspect(c.service))[0].storedCheckpoint;
            if (stored !== report.checkpointId) throw new Error(`the registry's stored checkpoint is ${stored}, not the migration's ${report.checkpointId}`);
          }
        : undefined,
  });
}

/** Cut off until the monitor has restored the service elsewhere, then back: it must drop its copy. */
function backAfterFailover(who: 'source' | 'target', phase: Exclude<Phase, 'pages'>, outcomes: Outcome[]): Scenario {
  const host = who === 'source' ? SOURCE : TARGET;
  const fault = `${who} back after its services were failed over`;
  const expect: Expectation = { state: 'running', data: 'stored', boundS: 240 };
  const away = async (c: Ctx) => {
    await restoredElsewhere(c, 180_000, host);
    await c.cluster.reconnect(host);
  };
  if (phase === 'normal') {
    return {
      fault,
      phase,
      expect,
      async run(ctx) {
        const since = await ctx.mark();
        await ctx.cluster.cut(host);
        await away(ctx);
        return { since };
      },
    };
  }
  return migrationFault({
    fault,
    phase,
    at: HELD[phase],
    inject: async (c) => {
      await recordMoved(c, phase);
      await c.cluster.cut(host);
    },
    recover: away,
    outcomes,
    expect,
  });
}

export const NETWORK_SCENARIOS: Scenario[] = [
  // Cut off for 25 s. A source cut off past its lease may have to go back to its stored checkpoint
  // (its daemons fence the service when the lease is not renewed); no write is lost otherwise.
  {
    fault: 'source cut off',
    phase: 'normal',
    expect: { state: 'running', data: 'stored', boundS: 150 },
    async run(ctx) {
      const since = await ctx.mark();
      await ctx.cluster.cut(SOURCE);
      await sleep(CUT_MS);
      await ctx.cluster.reconnect(SOURCE);
      return { since };
    },
  },
  // Before the freeze the source cannot take its step: failed. A dump the source took behind the
  // cut is either reported once it is back (migrated) or not (failed; the service must still serve).
  cutOff('source', 'prepare', ['failed'], 'stored'),
  cutOff('source', 'checkpoint', ['failed', 'migrated'], 'stored'),
  // The image was on its way: the stream stalls behind the cut and goes on when the link is back,
  // within the target's 30 s without a heartbeat.
  cutOff('source', 'transfer', ['migrated'], 'live'),
  // The target has the image: the migration completes without the source.
  cutOff('source', 'restore', ['migrated'], 'live'),
  cutOff('source', 'verify', ['migrated'], 'live'),
  cutOff('source', 'cutover', ['migrated'], 'live'),
  // A target cut off: its step is reported once it is back, or the migration goes back to the source.
  cutOff('target', 'prepare', ['failed', 'migrated'], 'live'),
  cutOff('target', 'checkpoint', ['rolled-back', 'migrated'], 'live'),
  cutOff('target', 'transfer', ['rolled-back', 'migrated'], 'live'),
  cutOff('target', 'restore', ['rolled-back', 'migrated'], 'live'),
  cutOff('target', 'verify', ['rolled-back', 'migrated'], 'live'),
  // The service lives on the target when it is cut off: its lease may fence it.
  cutOff('target', 'cutover', ['migrated'], 'stored'),

  // A moment without the link: every step carries on.
  flap('source', 'checkpoint'),
  flap('source', 'transfer'),
  flap('target', 'transfer'),
  flap('target', 'restore'),

  // The image crawls over one host's link for 20 s, then the link is whole again.
  crawl('source', 'transfer'),
  crawl('target', 'transfer'),
  crawl('source', 'cutover'),

  // Away past the monitor's patience: the service is restored elsewhere; back, the host removes
  // its copy, and never did two copies serve.
  backAfterFailover('source', 'normal', []),
  // The image never left the source and its rollback cannot reach it: failed, then failed over.
  backAfterFailover('source', 'transfer', ['failed']),
  backAfterFailover('target', 'cutover', ['migrated']),
];
