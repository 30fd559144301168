// Images: container images put into the hosts' engines, and checkpoint images with their manifest.
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
      .array(z.string().regex(/^(CMD|ENTRYPOINT|ENV|WORKDIR|EXPOSE|LABEL) \S/, 'a change is one of CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, LABEL followed by its value'))
      .default([]),
    /** Key of the uploaded file in the image store. */
    key: z.string().regex(/^uploads\/[A-Za-z0-9._-]{1,128}$/),
  })
  .strict();
export type ImageTransfer = z.infer<typeof ImageTransfer>;

/** One file of a checkpoint image, as recorded in the manifest. */
export interface ManifestFile {
  name: string;
  size: number;
  /** Written by older versions only; the archive's sha256 covers every file. */
  sha256?: string;
}

export interface ImageManifest {
  format: 'fastmig-image/1';
  service: string;
  checkpointId: string;
  sourceHost: string;
  createdAt: string;
  /** none by default (gzip costs far more CPU time than it saves on a fast link); gzip on request. */
  compression: 'gzip' | 'none';
  files: ManifestFile[];
  /** Sum of file sizes before packing. */
  rawBytes: number;
  archive: { key: string; bytes: number; sha256: string };
  /** Set when the archive is encrypted at rest; the tag authenticates the ciphertext. */
  encryption: { alg: 'aes-256-gcm'; iv: string; tag: string } | null;
  /** HMAC-SHA256 over the canonical JSON of every other field, with the cluster key. */
  signature: string;
}
