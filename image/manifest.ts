// What an image holds, in one signed document: its files and their sizes, how the archive was
// compressed and encrypted, and the archive's digest. Signed with the cluster key (HMAC-SHA256 over
// canonical JSON), so a restore trusts nothing it cannot verify. Stored beside an archive at rest.
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';

export const MANIFEST_FORMAT = 'fastmig-image/1';

/** One file of a checkpoint image, as recorded in the manifest. */
export interface ManifestFile {
  name: string;
  size: number;
  /** Written by older versions only; the archive's sha256 covers every file. */
  sha256?: string;
}

export interface ImageManifest {
  format: typeof MANIFEST_FORMAT;
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

/** JSON with sorted keys, so a signature does not depend on property order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function signManifest(manifest: Omit<ImageManifest, 'signature'>, key: Buffer): ImageManifest {
  const signature = crypto.createHmac('sha256', key).update(canonicalJson(manifest)).digest('hex');
  return { ...manifest, signature };
}

export function manifestSignatureValid(manifest: ImageManifest, key: Buffer): boolean {
  const { signature, ...rest } = manifest;
  if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return false;
  const expected = crypto.createHmac('sha256', key).update(canonicalJson(rest)).digest();
  return crypto.timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/**
 * The files of an image folder. Sizes only: the archive's sha256 (computed as it streams) already
 * covers every byte, and a separate hashing pass read the whole image once more while the service
 * was frozen.
 */
export function describeFiles(dir: string, names: string[]): ManifestFile[] {
  return names.map((name) => ({ name, size: fs.statSync(path.join(dir, name)).size }));
}

/** Why the unpacked folder is not what the manifest lists (exactly its files, at their sizes), or null. */
export function filesMismatch(dir: string, files: ManifestFile[]): string | null {
  for (const f of files) {
    if (!/^[A-Za-z0-9._-]+$/.test(f.name)) return `file name ${JSON.stringify(f.name)} is not allowed`;
    // The archive digest already binds every byte; sizes catch a packing mismatch cheaply.
    const size = fs.statSync(path.join(dir, f.name), { throwIfNoEntry: false })?.size;
    if (size !== f.size) return `file ${f.name} has ${size ?? 'no'} bytes, its manifest entry says ${f.size}`;
  }
  const extra = fs.readdirSync(dir).filter((n) => !files.some((f) => f.name === n));
  return extra.length ? `unexpected files ${extra.join(', ')}` : null;
}
