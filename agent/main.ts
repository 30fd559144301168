// A host agent: runs the host activities (service daemons, image store, probe) on its own task
// queue, keeps its services' leases (agent/grants.ts) and applies their restart policies. Started by
// `fastmig agent --host <name> [--address <ip>]` (cli/agent.ts), on any machine, from configuration
// alone; the embedded stack starts its agents with that very command.
import { Worker } from '@temporalio/worker';
import { loadConfig, paths } from '../common/config';
import { peerTlsPaths, peerTransport, type TlsFiles } from '../common/tls';
import { createLogger } from '../common/log';
import { hostQueue, keys } from '../common/names';
import { HostName, HostRecord, parseOrThrow } from '../common/schemas';
import { ensureBucket, s3Client, writeJson } from '../common/s3';
import { createServiceActivities } from '../activities/service';
import { createRegistryActivities } from '../activities/registry';
import { fenceStaleInstances, resumeOwnCopies } from './lease';
import { LeaseKeeper } from './grants';
import { voteClient } from './peer-votes';
import { watchRestarts } from './restarts';
import { createImageActivities } from '../activities/image';
import { createProbeActivities } from '../activities/probe';
import { createEngineImageActivities } from '../activities/runtime-docker';
import { activityLogInterceptor, connectWorker } from '../workers/connect';
import { tracingPlugins } from '../workers/tracing';
import { Registry, serveMetrics } from '../common/metrics';
import { createTransferActivities } from '../activities/transfer';
import { serveImages } from '../image/peer-server';

export interface AgentOptions {
  host: string;
  /** The address other agents reach this host on; its image endpoint listens there (default: the configured peerAddress). */
  address?: string;
}

/** Runs the agent until its worker stops. */
export async function runAgent(o: AgentOptions): Promise<void> {
  const host = parseOrThrow(HostName, o.host, 'host name');
  const cfg = loadConfig();
  if (!cfg.clusterKey) throw new Error('FASTMIG_CLUSTER_KEY is not configured: images could not be signed or verified (run `fastmig stack up`)');
  const address = o.address ?? cfg.peerAddress;
  const transport = peerTransport(cfg, paths.secretsDir(cfg.home), host, address);
  const log = createLogger({ role: 'host-agent', host });
  const s3 = s3Client(cfg);
  const taskQueue = hostQueue(host);
  await ensureBucket(s3, cfg.s3.bucket);
  const ask = voteClient({ host, clusterKey: cfg.clusterKey, ...transport });
  const lease = new LeaseKeeper({ host, home: cfg.home, leaseSeconds: cfg.leaseSeconds, log, ask });
  // Fencing first: nothing stale may serve once this agent is back.
  // CRIU's page server (lazy migrations) authenticates hosts as the image endpoint does: with the cluster's certificates.
  const pageServerTls = transport.tls ? (peerTlsPaths(cfg.peerTls, paths.secretsDir(cfg.home), host) as Required<TlsFiles>) : undefined;
  const services = createServiceActivities({ host, home: cfg.home, criuPath: cfg.criuPath, address, leaseSeconds: cfg.leaseSeconds, lease, pageServerTls });
  const registry = createRegistryActivities(s3, cfg.s3.bucket);
  await fenceStaleInstances(host, cfg.home, registry.getPlacement, services.removeService, log);
  lease.setVoters((await registry.listHosts()).map((h) => ({ host: h.host, peerUrl: h.peerUrl })));
  watchRestarts(host, cfg.home, log);
  // Not only at start: an agent cut off from the cluster for a while may find, once it can read the
  // registry again, that its services were failed over meanwhile.
  let fencing = false;
  const statusOf = (service: string) => services.serviceStatus({ service });
  setInterval(() => {
    if (fencing) return;
    fencing = true;
    fenceStaleInstances(host, cfg.home, registry.getPlacement, services.removeService, log, false, statusOf)
      .then(() => resumeOwnCopies(host, cfg.home, { granted: () => lease.grantedByCluster(), downMark: () => registry.hostDownMark(host), placementOf: registry.getPlacement, log }))
      .catch(() => undefined)
      .finally(() => (fencing = false));
  }, 10_000);
  // Other agents fetch this host's checkpoint images here during a migration (signed requests only).
  // ... and they ask this host's vote there when they lack grants (common/quorum.ts).
  const peer = await serveImages({ host, home: cfg.home, clusterKey: cfg.clusterKey, imageKey: cfg.imageKey, log, address, tls: transport.tls, vote: (p) => lease.vote(p) });
  log.info({ peerUrl: peer.url }, 'image endpoint listening');
  const registeredAt = Date.now();
  const record: HostRecord = { host, taskQueue, pid: process.pid, startedAt: new Date(registeredAt).toISOString(), address, peerUrl: peer.url };
  // Registered only now: a host that is listed has no stale instance left.
  await writeJson(s3, cfg.s3.bucket, keys.host(host), record);
  const images = createImageActivities({
    host,
    home: cfg.home,
    s3,
    bucket: cfg.s3.bucket,
    clusterKey: cfg.clusterKey,
    imageKey: cfg.imageKey,
    encryptAll: cfg.encryptAllImages,
    ...transport,
  });
  const metrics = new Registry();
  if (process.env.FASTMIG_METRICS_PORT) serveMetrics(metrics, Number(process.env.FASTMIG_METRICS_PORT), address);
  const probe = createProbeActivities(address);
  const connection = await connectWorker(cfg);
  // Registration (record written, Temporal reached) is a grant, dated before the write, unless the
  // monitor marked this host down: then it may be failing it over, and only its ping grants.
  const down = await registry.hostDownMark(host);
  if (down) log.warn({ markedDownAt: down.at }, 'the host monitor marked this host down: waiting for its ping before renewing leases');
  else lease.registered(registeredAt);
  lease.start();
  const worker = await Worker.create({
    connection,
    namespace: cfg.namespace,
    taskQueue,
    activities: {
      ...services,
      ...images,
      ...probe,
      ...createTransferActivities(services, images, probe),
      ...createEngineImageActivities({ host, home: cfg.home, s3, bucket: cfg.s3.bucket }),
    },
    interceptors: { activity: [activityLogInterceptor(log, metrics)] },
    plugins: tracingPlugins(`host-agent-${host}`),
  });
  log.info({ taskQueue }, 'host agent polling');
  await worker.run();
}

if (require.main === module) {
  runAgent({ host: process.argv[2] }).catch((err) => {
    process.stderr.write(`fastmig host agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
