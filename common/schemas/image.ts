// Container images put into the hosts' engines.
import { z } from 'zod';
import { ImageRef } from './names';

/** An image that one host's container engine holds. */
export interface HostImage {
  host: string;
  name: string;
  id: string;
  sizeBytes: number;
}

export const ImageTransfer = z
  .object({
    /** import: a root file system tar becomes image `name`; load: a `docker save` archive. */
    kind: z.enum(['import', 'load']),
    name: ImageRef.optional(),
    /** Dockerfile instructions applied by an import (e.g. `CMD ["sh"]`), as `docker import --change`. */
    changes: z
      .array(z.string().regex(/^(CMD|ENTRYPOINT|ENV|WORKDIR|EXPOSE|LABEL|USER) \S/, 'a change is one of CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, LABEL, USER followed by its value'))
      .default([]),
    /** Key of the uploaded file in the image store. */
    key: z.string().regex(/^uploads\/[A-Za-z0-9._-]{1,128}$/),
  })
  .strict();
export type ImageTransfer = z.infer<typeof ImageTransfer>;

// What a checkpoint image holds (its manifest) is described in image/manifest.ts.
