// Why an image could not be stored or brought in. The activities turn an ImageError into a
// non-retryable Temporal failure of the same type; any other error stays retryable.
export type ImageFailure = 'PeerTransfer' | 'NoImage' | 'BadSignature' | 'CorruptImage' | 'NoSpace' | 'NoImageKey' | 'NotPrepared';

export class ImageError extends Error {
  constructor(
    readonly type: ImageFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The first line of an error's message: enough to name a failure without a stack. */
export function firstLine(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}
