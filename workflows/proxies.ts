// Activity stubs with the timeouts and retries each kind of step gets. Host steps go to the task
// queue of the host they act on; registry steps to the orchestrator's queue.
import { proxyActivities, RetryPolicy } from '@temporalio/workflow';
import type { DaemonActivities } from '../activities/daemon';
import type { ImageStoreActivities } from '../activities/image-store';
import type { ProbeActivities } from '../activities/probe';
import type { EngineImageActivities } from '../activities/runtime-docker';
import type { RegistryActivities } from '../activities/registry';
import type { MetricsActivities } from '../activities/metrics';
import type { TransferActivities } from '../activities/transfer';
import { hostQueue, ORCHESTRATOR_QUEUE } from '../common/names';

type HostActivities = DaemonActivities & ImageStoreActivities & ProbeActivities & EngineImageActivities & TransferActivities;

const retry: RetryPolicy = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 };

export function hostSteps(host: string) {
  const queue = hostQueue(host);
  // A host whose agent is gone fails fast instead of waiting for a poller forever.
  const quick = proxyActivities<HostActivities>({ taskQueue: queue, scheduleToStartTimeout: '10s', startToCloseTimeout: '30s', retry });
  const heavy = proxyActivities<HostActivities>({
    taskQueue: queue,
    scheduleToStartTimeout: '10s',
    startToCloseTimeout: '10m',
    heartbeatTimeout: '30s',
    retry,
  });
  const freeze = proxyActivities<HostActivities>({
    taskQueue: queue,
    scheduleToStartTimeout: '10s',
    startToCloseTimeout: '3m',
    // The host agent heartbeats while its daemon works: a dead agent is noticed in 10 s, not 3 min.
    heartbeatTimeout: '10s',
    retry: { ...retry, maximumAttempts: 2 },
  });
  // The target's whole downtime path (image, restore, health check): heartbeats while bytes flow.
  const arrive = proxyActivities<HostActivities>({
    taskQueue: queue,
    scheduleToStartTimeout: '10s',
    startToCloseTimeout: '10m',
    heartbeatTimeout: '30s',
    retry: { ...retry, maximumAttempts: 2 },
  });
  return {
    ping: quick.ping,
    prepareService: quick.prepareService,
    serviceStatus: quick.serviceStatus,
    serviceLogs: quick.serviceLogs,
    stopService: quick.stopService,
    removeService: quick.removeService,
    pruneLocalImages: quick.pruneLocalImages,
    healthCheck: quick.healthCheck,
    checkpointService: freeze.checkpointService,
    restoreService: freeze.restoreService,
    uploadImage: heavy.uploadImage,
    downloadImage: heavy.downloadImage,
    fetchAndRestore: arrive.fetchAndRestore,
    putImage: heavy.putImage,
    listImages: quick.listImages,
  };
}

export const metrics = proxyActivities<MetricsActivities>({
  taskQueue: ORCHESTRATOR_QUEUE,
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 1 },
});

export const registry = proxyActivities<RegistryActivities>({
  taskQueue: ORCHESTRATOR_QUEUE,
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 5 },
});
