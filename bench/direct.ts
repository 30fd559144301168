// The warm migration's steps driven directly from the benchmark process, without Temporal: the same
// activity functions the host agents run, called in order inside a mock activity context.
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadConfig, paths } from '../common/config';
import { peerTransport } from '../common/tls';
import { s3Client } from '../common/s3';
import { createServiceActivities } from '../activities/service';
import { createImageActivities } from '../activities/image';
import { createRegistryActivities } from '../activities/registry';
import { createProbeActivities } from '../activities/probe';
import { createTransferActivities } from '../activities/transfer';
import type { RestoreResult } from '../common/schemas';

export function directDriver() {
  const cfg = loadConfig();
  const s3 = s3Client(cfg);
  const env = new MockActivityEnvironment();
  const registry = createRegistryActivities(s3, cfg.s3.bucket);
  const host = (h: string) => {
    // This process runs on the machine's own network, not in a host's: its services answer on loopback.
    const daemons = createServiceActivities({ host: h, home: cfg.home, criuPath: cfg.criuPath, address: '127.0.0.1' });
    const probeActivities = createProbeActivities('127.0.0.1');
    const images = createImageActivities({ host: h, home: cfg.home, s3, bucket: cfg.s3.bucket, clusterKey: cfg.clusterKey!, imageKey: cfg.imageKey, encryptAll: cfg.encryptAllImages, ...peerTransport(cfg, paths.secretsDir(cfg.home), h) });
    return { ...daemons, ...images, ...probeActivities, ...createTransferActivities(daemons, images, probeActivities) };
  };
  const run = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A) => env.run(fn as any, ...args) as Promise<R>;

  return {
    host: (h: string) => {
      const acts = host(h);
      return new Proxy(acts, { get: (t, k: string) => (...a: unknown[]) => run((t as any)[k], ...a) }) as typeof acts;
    },
    registry,
    /** Migrations whose image did not reach S3 (the figures stand: the service had moved by then). */
    uploadsFailed: 0,
    /**
     * Warm migration, step for step like workflows/migrate.ts (no rollback: a failure throws), except
     * that the transfer is asked for after the checkpoint returned: the early request of the workflow
     * relies on the source agent hearing of its own checkpoint, and here no agent runs it.
     */
    async migrate(service: string, to: string): Promise<{ freezeToResumeMs: number; restore: RestoreResult }> {
      const target = this.host(to);
      const [p, hosts] = await Promise.all([registry.getPlacement(service), registry.listHosts(), target.ping()]);
      if (!p) throw new Error(`unknown service ${service}`);
      if (!hosts.some((h) => h.host === to)) throw new Error(`unknown host ${to}`);
      const source = this.host(p.host);
      const generation = p.generation + 1;
      const checkpointId = `g${generation}-direct${Date.now().toString(36)}`;
      const step = (s: string) => process.env.BENCH_TRACE && process.stderr.write(`direct: ${s}\n`);
      step("prepare");
      await target.prepareService({ spec: p.spec, generation, start: false });
      const { frozenAt } = await source.checkpointService({ service, generation: p.generation, checkpointId });
      step("transfer");
      // The image from the source agent's endpoint (the agents run it), restore, health check.
      const arrived = await target.fetchAndRestore({ service, generation, checkpointId, via: 'peer', from: p.host, port: p.spec.port });
      const restore = arrived.restore;
      const { healthyAt } = arrived;
      const moved = { ...p, host: to, generation };
      step("cutover + upload");
      // As in the workflow, a failed upload leaves the service on the target and the record on the
      // previous checkpoint (the figures stand: the service had moved by then).
      const [, stored] = await Promise.all([
        registry.putPlacement({ ...moved, updatedAt: new Date().toISOString() }),
        source.uploadImage({ service, checkpointId }).then(() => true, () => false),
      ]);
      if (!stored) this.uploadsFailed++;
      await Promise.all([
        ...(stored ? [registry.putPlacement({ ...moved, lastCheckpoint: checkpointId, updatedAt: new Date().toISOString() })] : []),
        source.removeService({ service, generation: p.generation }),
      ]);
      return { freezeToResumeMs: healthyAt - frozenAt, restore };
    },
  };
}
export type DirectDriver = ReturnType<typeof directDriver>;
