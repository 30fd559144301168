// How an image moves between a host and somewhere else: one interface, one back end per place
// (image/s3-store.ts: the durable image store; image/peer-client.ts: straight from the agent of the
// host that took the checkpoint). A transport checks what it can before a byte moves (`open`), then
// brings the image into a staging folder that image/folder.ts renames into place once everything
// passed. A back end that writes image files itself (CRIU's page server) fits the same shape: its
// `into` fills the staging folder and verifies what arrived.

/** One checkpoint image of one service. */
export interface ImageRef {
  service: string;
  checkpointId: string;
}

export interface TransferHooks {
  /** Proof of life: a few times a second while bytes flow (with the count so far), every few seconds while waiting. */
  alive?(bytes?: number): void;
  /** Runs once the image is about to flow (the checkpoint is taken); fault points hook in here. */
  flowing?(): Promise<void>;
}

export interface FetchRequest extends ImageRef {
  /** The host that took the checkpoint (a peer back end pulls from it). */
  from?: string;
  /** Encrypted on its way (peer); an image at rest says so in its manifest. */
  encrypt?: boolean;
  /** The source may still be dumping: its endpoint answers once the checkpoint ended. */
  wait?: boolean;
  /** Shown in the source's log only. */
  workflowId?: string;
}

export interface IncomingImage {
  /** Brings the image into `staging` (an empty folder) and verifies it there; resolves with the bytes that moved. */
  into(staging: string): Promise<{ bytes: number }>;
}

export interface StoredImage {
  /** Bytes of the archive as stored. */
  bytes: number;
  /** Sum of the image's file sizes. */
  rawBytes: number;
  encrypted: boolean;
}

export interface ImageTransport {
  /** Finds the image and checks what can be checked before a byte moves; throws an ImageError when it cannot come. */
  open(req: FetchRequest, hooks: TransferHooks): Promise<IncomingImage>;
  /** Stores the local image in `dir` with the back end; absent where the other side pulls (the peer endpoint serves on request). */
  store?(ref: ImageRef & { encrypt: boolean }, dir: string, hooks: TransferHooks): Promise<StoredImage>;
}
