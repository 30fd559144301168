// A host agent: runs the host activities (daemon, image store, probe) on its own task queue.
// Usage: node dist/workers/host-agent.js <host>
import { Worker } from '@temporalio/worker';
import { loadConfig } from '../common/config';
import { createLogger } from '../common/log';
import { hostQueue, keys } from '../common/names';
import { HostName, HostRecord, parseOrThrow } from '../common/schemas';
import { ensureBucket, s3Client, writeJson } from '../common/s3';
import { createDaemonActivities } from '../activities/daemon';
import { createImageStoreActivities } from '../activities/image-store';
import { probeActivities } from '../activities/probe';
import { createEngineImageActivities } from '../activities/runtime-docker';
import { activityLogInterceptor, connectWorker } from './connect';

async function main() {
  const host = parseOrThrow(HostName, process.argv[2], 'host name');
  const cfg = loadConfig();
  const log = createLogger({ role: 'host-agent', host });
  const s3 = s3Client(cfg);
  const taskQueue = hostQueue(host);
  const record: HostRecord = { host, taskQueue, pid: process.pid, startedAt: new Date().toISOString() };
  await ensureBucket(s3, cfg.s3.bucket);
  await writeJson(s3, cfg.s3.bucket, keys.host(host), record);
  const connection = await connectWorker(cfg);
  const worker = await Worker.create({
    connection,
    namespace: cfg.namespace,
    taskQueue,
    activities: {
      ...createDaemonActivities({ host, home: cfg.home, criuPath: cfg.criuPath }),
      ...createImageStoreActivities({ host, home: cfg.home, s3, bucket: cfg.s3.bucket }),
      ...probeActivities,
      ...createEngineImageActivities({ host, home: cfg.home, s3, bucket: cfg.s3.bucket }),
    },
    interceptors: { activity: [activityLogInterceptor(log)] },
  });
  log.info({ taskQueue }, 'host agent polling');
  await worker.run();
}

main().catch((err) => {
  process.stderr.write(`fastmig host agent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
