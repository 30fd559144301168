// TLS material of a fastmig process, read from the files its configuration names (never from
// workflow inputs), and the Temporal connection options built from it.
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * Reads the files named under `<prefix>_CA`, `<prefix>_CERT`, `<prefix>_KEY`. A certificate without
 * its key (or the reverse) or a file that cannot be read is a one-line error naming the setting.
 */
export function readTls(prefix: string, files: TlsFiles): TlsMaterial {
  if (!!files.cert !== !!files.key) {
    const [has, lacks] = files.cert ? ['CERT', 'KEY'] : ['KEY', 'CERT'];
    throw new Error(`${prefix}_${has} is set but ${prefix}_${lacks} is not: a certificate needs its key`);
  }
  const out: TlsMaterial = {};
  for (const part of ['ca', 'cert', 'key'] as const) {
    const file = files[part];
    if (!file) continue;
    try {
      out[part] = fs.readFileSync(file);
    } catch (err) {
      throw new Error(`${prefix}_${part.toUpperCase()}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
  }
  return out;
}

/** Where `fastmig stack up` keeps the cluster CA and one certificate per host (0600 files). */
export const tlsFiles = {
  dir: (secretsDir: string) => path.join(secretsDir, 'tls'),
  ca: (secretsDir: string) => path.join(secretsDir, 'tls', 'ca.crt'),
  caKey: (secretsDir: string) => path.join(secretsDir, 'tls', 'ca.key'),
  cert: (secretsDir: string, host: string) => path.join(secretsDir, 'tls', `${host}.crt`),
  key: (secretsDir: string, host: string) => path.join(secretsDir, 'tls', `${host}.key`),
};

export interface PeerTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Where the image endpoint's TLS files are (the configured ones, else the stack's for `host` when they exist); CRIU's page server takes the same. */
export function peerTlsPaths(files: TlsFiles, secretsDir: string, host: string): TlsFiles {
  const own = (file: string) => (fs.existsSync(file) ? file : undefined);
  const configured = !!(files.cert || files.key);
  const cert = configured ? files.cert : own(tlsFiles.cert(secretsDir, host));
  const key = configured ? files.key : own(tlsFiles.key(secretsDir, host));
  return { ca: files.ca ?? own(tlsFiles.ca(secretsDir)), cert, key };
}

/**
 * The image endpoint's TLS material for `host`: the configured files, else the host's files in the
 * stack's secrets folder when they exist. Null when there is none at all; half of it is an error.
 */
export function peerTls(files: TlsFiles, secretsDir: string, host: string): PeerTls | null {
  const { ca, cert, key } = peerTlsPaths(files, secretsDir, host);
  if (!cert && !key && !ca) return null;
  const m = readTls('FASTMIG_TLS', { ca, cert, key });
  if (!m.cert || !m.key) throw new Error(`FASTMIG_TLS_CERT is not set: the image endpoint of ${host} needs a certificate of the cluster CA`);
  if (!m.ca) throw new Error('FASTMIG_TLS_CA is not set: peers could not be verified');
  return { ca: m.ca, cert: m.cert, key: m.key };
}

/**
 * What an agent serves and pulls images with: its TLS material, else plain HTTP if allowed. Its
 * certificate must name the address the endpoint listens on, or every peer would refuse it.
 */
export function peerTransport(c: { peerTls: TlsFiles; peerPlain: boolean; peerAddress: string }, secretsDir: string, host: string, address = c.peerAddress): { tls: PeerTls | null; allowPlain: boolean } {
  const tls = peerTls(c.peerTls, secretsDir, host);
  if (tls && !new crypto.X509Certificate(tls.cert).checkIP(address)) {
    throw new Error(`FASTMIG_TLS_CERT of ${host} does not carry ${address} (the endpoint's address) as an IP SAN: peers would refuse it`);
  }
  if (!tls && !c.peerPlain) {
    throw new Error('no TLS material for the image endpoint: set FASTMIG_TLS_CERT, FASTMIG_TLS_KEY and FASTMIG_TLS_CA (`fastmig stack up` makes them), or FASTMIG_PEER_PLAIN=1 to move images in the clear');
  }
  return { tls, allowPlain: c.peerPlain };
}

export interface TemporalTlsSettings {
  tls: TlsFiles;
  serverName?: string;
  apiKey?: string;
}

/** NativeConnection / Connection options: TLS when any TLS setting or an API key is given. */
export function temporalConnectionOptions(address: string, s: TemporalTlsSettings) {
  const m = readTls('FASTMIG_TEMPORAL_TLS', s.tls);
  const wanted = !!(m.ca || m.cert || s.serverName || s.apiKey);
  const tls = wanted
    ? {
        ...(m.ca ? { serverRootCACertificate: m.ca } : {}),
        ...(m.cert ? { clientCertPair: { crt: m.cert, key: m.key! } } : {}),
        ...(s.serverName ? { serverNameOverride: s.serverName } : {}),
      }
    : undefined;
  return { address, ...(tls ? { tls } : {}), ...(s.apiKey ? { apiKey: s.apiKey } : {}) };
}
