// The cluster's secrets, generated once into the stack home's secrets file (0600).
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import { paths, readEnvFile } from '../common/config';
import { newKeyHex } from '../common/integrity';

/** Generates what is missing of the cluster's secrets (S3 credentials, signing and image keys). */
export function ensureSecrets(): Record<string, string> {
  const file = paths.secretsFile();
  const have = readEnvFile(file);
  const wanted: Record<string, () => string> = {
    FASTMIG_S3_ACCESS_KEY: () => `fm${crypto.randomBytes(8).toString('hex')}`,
    FASTMIG_S3_SECRET_KEY: () => crypto.randomBytes(24).toString('base64url'),
    FASTMIG_CLUSTER_KEY: newKeyHex,
    FASTMIG_IMAGE_KEY: newKeyHex,
    FASTMIG_API_TOKEN: newKeyHex,
  };
  const missing = Object.keys(wanted).filter((k) => !have[k]);
  if (!missing.length) return have;
  for (const k of missing) have[k] = wanted[k]();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, Object.entries(have).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  return have;
}
