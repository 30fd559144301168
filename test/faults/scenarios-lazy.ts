// Lazy (post-copy) migrations whose target host dies while the pages still stream: the source's
// link is slowed so that they take a minute or more. Before the target served (held before its
// health check) nothing may be lost; after it served (the record named it), the source runs on
// from its freeze (--on-lazy-failure resume-source, the default): every write acknowledged before
// that freeze and every one since the source serves again must be there; what the target
// acknowledged in between is what that choice gives up.
import { ops } from '../../client';
import { SOURCE, TARGET, sleep, until } from './cluster';
import type { Scenario } from './scenario';

/** Slow enough that a kv service's pages (tens of MB) take a minute, fast enough for its health check. */
const SLOW = '8mbit';

function lazyTargetLost(phase: 'verify' | 'pages'): Scenario {
  return {
    fault: 'target host killed mid-transfer (lazy)',
    phase,
    expect: { state: 'running', data: phase === 'verify' ? 'live' : 'checkpoint', boundS: 150 },
    outcomes: ['rolled-back'],
    async run(ctx) {
      const { cluster, service } = ctx;
      await cluster.slow(SOURCE, SLOW);
      try {
        if (phase === 'verify') cluster.arm(TARGET, 'verify', { action: 'pause', match: '' });
        const running = ops.migrate({ service, to: TARGET, mode: 'lazy' });
        running.catch(() => undefined);
        if (phase === 'verify') await cluster.reached(TARGET, 'verify', 120_000);
        else await until('the record naming the target', async () => (await ops.inspect(service))[0].host === TARGET, 120_000, 100);
        const since = await ctx.mark();
        await cluster.killHost(TARGET);
        await cluster.unslow(SOURCE);
        await sleep(2000);
        await cluster.startAgent(TARGET); // it comes back and removes what is left of the target
        const report = await cluster.migrationReport(service, running, 150_000);
        if (report.lazy?.pagesAcrossMs !== undefined) throw new Error(`every page reached ${TARGET} before it was killed: not mid-transfer`);
        // The data the source runs on: as of the migration's freeze (its checkpoint on the source).
        const held = (await ops.inspect(service))[0].lastCheckpoint;
        const base = held && held.id === report.checkpointId ? { id: held.id, frozenAt: Date.parse(held.at) } : undefined;
        return { since, report, ...(phase === 'pages' ? { base } : {}) };
      } finally {
        await cluster.unslow(SOURCE);
      }
    },
  };
}

export const LAZY_SCENARIOS: Scenario[] = [lazyTargetLost('verify'), lazyTargetLost('pages')];
