// The host activities of the image module (image/): store a checkpoint in the image store, fetch
// one from it, pull one from the agent of the host that took it. A thin adapter: heartbeats, fault
// points, and the module's ImageErrors as non-retryable Temporal failures of the same type
// ('PeerTransfer', 'NoImage', 'BadSignature', 'CorruptImage', 'NoSpace', 'NoImageKey', 'NotPrepared').
import { heartbeat, ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from 'minio';
import { keys } from '../common/names';
import type { HostRecord } from '../common/schemas';
import { readJson } from '../common/s3';
import { faultPoint } from '../common/faults';
import { ImageError } from '../image/errors';
import { ImageFolders } from '../image/folder';
import { PeerClient } from '../image/peer-client';
import type { PeerTls } from '../common/tls';
import { S3Store } from '../image/s3-store';
import type { StoredImage, TransferHooks } from '../image/transport';

export interface ImageContext {
  host: string;
  home: string;
  s3: Client;
  bucket: string;
  clusterKey: Buffer;
  imageKey: Buffer | null;
  encryptAll: boolean;
  /** Pulls from other agents' image endpoints over mutual TLS with this (image/peer-client.ts). */
  tls?: PeerTls | null;
  allowPlain?: boolean;
}

async function adapt<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof ImageError ? ApplicationFailure.nonRetryable(err.message, err.type) : err;
  }
}

/** Heartbeats with the bytes moved so far while they flow, bare while waiting for them. */
const hooks: TransferHooks = { alive: (bytes) => heartbeat(bytes === undefined ? undefined : { bytes }) };

function workflowId(): string {
  try {
    return Context.current().info.workflowExecution?.workflowId ?? '';
  } catch {
    return ''; // not inside an activity
  }
}

export function createImageActivities(ctx: ImageContext) {
  const folders = new ImageFolders(ctx.host, ctx.home);
  const store = new S3Store(ctx);
  const peers = new PeerClient({
    ...ctx,
    tls: ctx.tls ?? null,
    allowPlain: !!ctx.allowPlain,
    peerUrl: async (host) => (await readJson<HostRecord>(ctx.s3, ctx.bucket, keys.host(host)))?.peerUrl,
  });
  const encrypt = (asked?: boolean) => !!(asked || ctx.encryptAll);

  return {
    /** Stores a checkpoint of this host in the image store: the archive, then its signed manifest. */
    async uploadImage(req: { service: string; checkpointId: string; encrypt?: boolean }): Promise<StoredImage> {
      await faultPoint('upload', req.checkpointId);
      return adapt(() => store.store({ ...req, encrypt: encrypt(req.encrypt) }, folders.requireImage(req), hooks));
    },

    /** Fetches an image into this host's service directory; refuses one whose digest does not match. */
    async downloadImage(req: { service: string; checkpointId: string }): Promise<{ bytes: number }> {
      await faultPoint('download', req.checkpointId);
      return adapt(() => folders.receive(store, req, hooks));
    },

    /**
     * Fetches an image straight from the agent of the host that took it (its image endpoint,
     * image/peer-server.ts) into this host's service directory. Any failure to reach or read the
     * peer is a `PeerTransfer` failure, after which a caller falls back to the image store.
     */
    async pullImage(req: { service: string; checkpointId: string; from: string; encrypt?: boolean; wait?: boolean }): Promise<{ bytes: number }> {
      return adapt(async () => {
        folders.requirePrepared(req.service);
        if (folders.has(req)) return { bytes: 0 }; // a retry after the image arrived complete
        const pull = { ...req, encrypt: encrypt(req.encrypt), workflowId: workflowId() };
        return folders.receive(peers, pull, { ...hooks, flowing: () => faultPoint('pull', req.checkpointId) });
      });
    },
  };
}
export type ImageActivities = ReturnType<typeof createImageActivities>;
