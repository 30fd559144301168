// Activity stubs with the timeouts and retries each kind of step gets. Host steps go to the task
// queue of the host they act on; registry steps to the orchestrator's queue.
import { proxyActivities, proxyLocalActivities, RetryPolicy } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { ServiceActivities } from '../activities/service';
import type { ImageActivities } from '../activities/image';
import type { ProbeActivities } from '../activities/probe';
import type { EngineImageActivities } from '../activities/runtime-docker';
import type { RegistryActivities } from '../activities/registry';
import type { MetricsActivities } from '../activities/metrics';
import type { TransferActivities } from '../activities/transfer';
import { hostQueue, ORCHESTRATOR_QUEUE } from '../common/names';
import { PING_ANSWER_SECONDS, PING_START_SECONDS } from '../common/quorum';

type HostActivities = ServiceActivities & ImageActivities & ProbeActivities & EngineImageActivities & TransferActivities;

const retry: RetryPolicy = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 };

export function hostSteps(host: string) {
  const queue = hostQueue(host);
  // A host whose agent is gone fails fast instead of waiting for a poller forever.
  const quick = proxyActivities<HostActivities>({ taskQueue: queue, scheduleToStartTimeout: '10s', startToCloseTimeout: '30s', retry });
  /** Long steps heartbeat; a dead agent is noticed within the heartbeat timeout, not the step's limit. */
  const long = (startToCloseTimeout: Duration, heartbeatTimeout: Duration, maximumAttempts: number) =>
    proxyActivities<HostActivities>({ taskQueue: queue, scheduleToStartTimeout: '10s', startToCloseTimeout, heartbeatTimeout, retry: { ...retry, maximumAttempts } });
  const heavy = long('10m', '30s', 3);
  // The host agent heartbeats while its daemon works: a dead agent is noticed in 10 s, not 3 min.
  const freeze = long('3m', '10s', 2);
  // The target's whole downtime path (image, restore, health check): heartbeats while bytes flow.
  const arrive = long('10m', '30s', 2);
  // A rollback to the source waits for a source cut off for a while (longer than the failover time:
  // past it the monitor fails the host over, the generation moves on and the rollback is refused).
  const patient = proxyActivities<HostActivities>({ taskQueue: queue, scheduleToStartTimeout: '45s', startToCloseTimeout: '3m', heartbeatTimeout: '10s', retry: { ...retry, maximumAttempts: 3 } });
  return {
    ping: quick.ping,
    prepareService: quick.prepareService,
    serviceStatus: quick.serviceStatus,
    serviceLogs: quick.serviceLogs,
    stopService: quick.stopService,
    removeService: quick.removeService,
    openService: quick.openService,
    pruneLocalImages: quick.pruneLocalImages,
    healthCheck: quick.healthCheck,
    checkpointService: freeze.checkpointService,
    restoreService: freeze.restoreService,
    /** The rollback's steps on the source (migration-steps.ts resume). */
    statusForRollback: patient.serviceStatus,
    restoreForRollback: patient.restoreService,
    uploadImage: heavy.uploadImage,
    downloadImage: heavy.downloadImage,
    fetchAndRestore: arrive.fetchAndRestore,
    /** A lazy target's pages: as long as they take, a dead agent noticed by its heartbeat; asked again once should its agent restart. */
    awaitPages: long('1h', '40s', 2).awaitPages,
    putImage: heavy.putImage,
    listImages: quick.listImages,
  };
}

/**
 * The host monitor's ping, which grants the host its lease: tight limits and no retry, so that a
 * round stays short and a ping that no agent took within PING_START_SECONDS surely reached none
 * (Temporal never hands out an activity past its schedule-to-start limit).
 */
export function monitorPing(host: string) {
  return proxyActivities<HostActivities>({
    taskQueue: hostQueue(host),
    scheduleToStartTimeout: `${PING_START_SECONDS}s`,
    startToCloseTimeout: `${PING_ANSWER_SECONDS}s`,
    retry: { maximumAttempts: 1 },
  }).ping;
}

// The orchestrator worker runs every workflow and holds the registry and metrics activities, so a
// workflow may call them as local activities: no task-queue round trip (~0.1 s each on a busy dev
// server), which matters on a migration's path. Only short, idempotent calls go this way.
export const metrics = proxyLocalActivities<MetricsActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 1 },
});

export const registry = proxyActivities<RegistryActivities>({
  taskQueue: ORCHESTRATOR_QUEUE,
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 5 },
});

/** The registry reads and writes of the preflight and the cut-over (see above). */
export const localRegistry = proxyLocalActivities<RegistryActivities>({
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 5 },
});
