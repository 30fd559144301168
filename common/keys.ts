// The cluster's 32-byte keys (manifest signing, peer requests, images at rest), as configured.
import crypto from 'crypto';

/** Keys are 32 bytes given as 64 hex characters (environment or secrets file). */
export function parseKey(value: string | undefined, name: string): Buffer | null {
  if (!value) return null;
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new Error(`${name} must be 64 hex characters (32 bytes)`);
  return Buffer.from(value, 'hex');
}

export function newKeyHex(): string {
  return crypto.randomBytes(32).toString('hex');
}
