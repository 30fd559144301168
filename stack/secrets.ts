// The cluster's secrets, generated once into the stack home's secrets file (0600), and its TLS
// material (stack/certs.ts) in the same folder.
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import { paths, readEnvFile } from '../common/config';
import { newKeyHex } from '../common/keys';
import { certifyHosts } from './certs';

/**
 * Generates what is missing of the cluster's secrets (S3 credentials, signing and image keys, TLS
 * for each host at its address: host → address).
 */
export function ensureSecrets(addresses: Record<string, string>): Record<string, string> {
  const file = paths.secretsFile();
  const have = readEnvFile(file);
  const wanted: Record<string, () => string> = {
    FASTMIG_S3_ACCESS_KEY: () => `fm${crypto.randomBytes(8).toString('hex')}`,
    FASTMIG_S3_SECRET_KEY: () => crypto.randomBytes(24).toString('base64url'),
    FASTMIG_CLUSTER_KEY: newKeyHex,
    FASTMIG_IMAGE_KEY: newKeyHex,
    FASTMIG_API_TOKEN: newKeyHex,
  };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const ca = certifyHosts(addresses);
  const missing = Object.keys(wanted).filter((k) => !have[k]);
  if (!missing.length && have.FASTMIG_TLS_CA === ca) return have;
  for (const k of missing) have[k] = wanted[k]();
  have.FASTMIG_TLS_CA = ca; // each agent finds its own certificate and key beside it (common/tls.ts)
  fs.writeFileSync(file, Object.entries(have).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  return have;
}
