// Image integrity and confidentiality: manifests are signed with the cluster key (HMAC-SHA256) and
// archives can be encrypted at rest (AES-256-GCM). A restore trusts nothing it cannot verify.
import crypto from 'crypto';
import type { ImageManifest } from './schemas';

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

/** Keys are 32 bytes given as 64 hex characters (environment or secrets file). */
export function parseKey(value: string | undefined, name: string): Buffer | null {
  if (!value) return null;
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new Error(`${name} must be 64 hex characters (32 bytes)`);
  return Buffer.from(value, 'hex');
}

export function newKeyHex(): string {
  return crypto.randomBytes(32).toString('hex');
}
