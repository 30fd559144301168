// The target's side of the downtime path in one activity: get the image (straight from the source
// host's agent, or from the image store), restore the service, wait until it answers. One Temporal
// round trip after the freeze instead of three. Each step is the very activity function that runs
// on its own elsewhere (downloadImage/pullImage, restoreService, healthCheck), so whatever those do
// first (checks, fault points) happens here too.
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { RestoreResult, Runtime } from '../common/schemas';
import type { ServiceActivities } from './service';
import type { ImageActivities } from './image';
import type { ProbeActivities } from './probe';

export interface FetchAndRestoreRequest {
  service: string;
  generation: number;
  checkpointId: string;
  /** Where the image comes from: the source host's image endpoint, or the image store (S3). */
  via: 'peer' | 's3';
  /** The host that took the checkpoint (peer transfer). */
  from: string;
  encrypt?: boolean;
  /** Peer: asked before the source's dump ended; its endpoint answers once the checkpoint is taken. */
  waitForCheckpoint?: boolean;
  /** The port on 127.0.0.1 where the restored service must answer; absent: no health check. */
  port?: number;
  proxied?: boolean;
  /** The service's own address, where the health check connects (absent: the host's). */
  serviceAddress?: string;
  /** A migration's target: restored held (restoreService), checked at the host's address meanwhile (a container's at its own, which lets its host through). */
  held?: boolean;
  runtime?: Runtime;
}

export interface FetchAndRestoreResult {
  bytes: number;
  restore: RestoreResult;
  healthyAt: number;
  /** Milliseconds spent in each step, so the workflow can report them as its phases. */
  fetchMs: number;
  restoreMs: number;
  verifyMs: number;
}

export function createTransferActivities(daemons: ServiceActivities, images: ImageActivities, probe: ProbeActivities) {
  /** Step 1: the image into this host's service folder, verified. */
  async function fetchImage(req: FetchAndRestoreRequest): Promise<{ bytes: number }> {
    if (req.via === 'peer') {
      return images.pullImage({ service: req.service, checkpointId: req.checkpointId, from: req.from, encrypt: req.encrypt, wait: req.waitForCheckpoint });
    }
    return images.downloadImage({ service: req.service, checkpointId: req.checkpointId });
  }
  /** Step 2: the daemon restores the tree from it. */
  async function restoreImage(req: FetchAndRestoreRequest): Promise<RestoreResult> {
    return daemons.restoreService({ service: req.service, generation: req.generation, checkpointId: req.checkpointId, held: req.held });
  }
  /** Step 3: the service answers on its port again. */
  async function verifyAnswering(req: FetchAndRestoreRequest): Promise<{ healthyAt: number }> {
    const atHost = req.held && req.runtime !== 'docker';
    return probe.healthCheck({ port: req.port, proxied: req.proxied, serviceAddress: atHost ? undefined : req.serviceAddress });
  }

  return {
    /** A post-copy target: waits, heartbeating, until its last page is across; fails once the transfer did (the daemon ended the tree). */
    async awaitPages(req: { service: string; generation: number }): Promise<{ acrossAt: number }> {
      for (;;) {
        const p = await daemons.servicePages(req);
        if (p.state === 'across') return { acrossAt: p.at };
        if (p.state === 'failed') throw ApplicationFailure.nonRetryable(p.error, 'PagesLost');
        if (p.state === 'none') throw ApplicationFailure.nonRetryable(`${req.service} here was not restored lazily: no pages to wait for`, 'PagesLost');
        heartbeat();
      }
    },

    async fetchAndRestore(req: FetchAndRestoreRequest): Promise<FetchAndRestoreResult> {
      const t0 = Date.now();
      const { bytes } = await fetchImage(req);
      const t1 = Date.now();
      const restore = await restoreImage(req);
      const t2 = Date.now();
      const { healthyAt } = await verifyAnswering(req);
      return { bytes, restore, healthyAt, fetchMs: t1 - t0, restoreMs: t2 - t1, verifyMs: Date.now() - t2 };
    },
  };
}
export type TransferActivities = ReturnType<typeof createTransferActivities>;
