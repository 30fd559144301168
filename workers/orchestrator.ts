// The orchestrator worker: runs every workflow and the placement-registry activities on task queue `fastmig`.
import { Worker } from '@temporalio/worker';
import { loadConfig } from '../common/config';
import { createLogger } from '../common/log';
import { ORCHESTRATOR_QUEUE } from '../common/names';
import { s3Client } from '../common/s3';
import { createRegistryActivities } from '../activities/registry';
import { activityLogInterceptor, connectWorker } from './connect';
import { tracingPlugins } from './tracing';
import { createMetricsActivities } from '../activities/metrics';
import { Registry, serveMetrics } from '../common/metrics';
import { poolAddresses } from '../common/address-pool';

async function main() {
  const cfg = loadConfig();
  // A malformed block stops the worker with a one-line error, not the first deployment.
  if (cfg.serviceAddresses) poolAddresses(cfg.serviceAddresses);
  const log = createLogger({ role: 'orchestrator', host: 'orchestrator' });
  const metrics = new Registry();
  serveMetrics(metrics, Number(process.env.FASTMIG_METRICS_PORT || 9464));
  const connection = await connectWorker(cfg);
  const worker = await Worker.create({
    connection,
    namespace: cfg.namespace,
    taskQueue: ORCHESTRATOR_QUEUE,
    workflowsPath: require.resolve('../workflows'),
    activities: { ...createRegistryActivities(s3Client(cfg), cfg.s3.bucket, cfg.leaseSeconds, cfg.serviceAddresses), ...createMetricsActivities(metrics) },
    interceptors: { activity: [activityLogInterceptor(log, metrics)] },
    plugins: tracingPlugins('orchestrator'),
  });
  log.info({ taskQueue: ORCHESTRATOR_QUEUE }, 'orchestrator worker polling');
  await worker.run();
}

main().catch((err) => {
  process.stderr.write(`fastmig orchestrator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
