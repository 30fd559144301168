// Faults of the machinery around a service: a full disk, corrupted images, the image store going
// away, host agents, the orchestrator worker and the Temporal server dying, whole hosts lost.
import { ops } from '../../client';
import { keys } from '../../common/names';
import { serviceFolder } from '../../common/service-folder';
import { SOURCE, TARGET, sleep, until } from './cluster';
import { freeDiskLater, heldMigration, migrationFault, restartLater, restoredElsewhere, stackBackLater, type Ctx, type Scenario } from './scenario';

export const INFRA_SCENARIOS: Scenario[] = [
  // Disk full while an image is written: on the source (dump) and on the target (unpacking).
  migrationFault({
    fault: 'disk full',
    phase: 'checkpoint',
    at: { host: SOURCE, point: 'checkpoint' },
    inject: (c) => c.cluster.fillDisk(SOURCE),
    recover: freeDiskLater(SOURCE, 3000),
    outcomes: ['failed'],
    expect: { state: 'running', data: 'live', boundS: 60 },
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
      const since = await ctx.mark();
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
  }),
  {
    // The source keeps its copy while the durable copy goes to S3, however long that takes: the
    // agents' periodic fencing (every 10 s) must not remove a replaced copy that does not serve.
    fault: 'slow S3 copy after the cut-over',
    phase: 'cutover',
    expect: { state: 'running', data: 'live', boundS: 60 },
    outcomes: ['migrated'],
    async run(ctx) {
      const { running } = await heldMigration(ctx, { host: SOURCE, point: 'upload' });
      const since = await ctx.mark();
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
    }),
  ),

  // A whole host is lost: its agent, daemons and services die together and it stays away.
  {
    fault: 'whole host lost',
    phase: 'normal',
    expect: { state: 'running', data: 'stored', boundS: 120 },
    async run(ctx) {
      const since = await ctx.mark();
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
    // The pull breaks, the upload finds no agent, the rollback no source: failed.
    outcomes: ['failed'],
    expect: { state: 'running', data: 'stored', boundS: 180 },
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
  const images = serviceFolder(paths.serviceDir(TARGET, c.service)).images;
  const id = fs.readdirSync(images).filter((n) => n.startsWith('g') && !n.endsWith('.partial')).pop();
  if (!id) throw new Error('no migration image on the target');
  const dir = path.join(images, id);
  const pages = fs.readdirSync(dir).filter((n) => n.startsWith('pages-')).map((n) => path.join(dir, n));
  for (const f of pages) fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2));
}
