// Runtime configuration of every fastmig process, from the environment and the stack file.
// Secrets (S3 keys) come from the environment or a 0600 file, never from workflow inputs.
import fs from 'fs';
import path from 'path';
import { parseKey } from './keys';
import { DEFAULT_PING_EVERY_SECONDS, leaseTiming } from './quorum';
import type { TemporalTlsSettings, TlsFiles } from './tls';

/** The checkout's root, whether this file runs compiled (dist/common) or from source (common). */
export const REPO_ROOT = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

export interface StackFile {
  temporalAddress: string;
  namespace: string;
  temporalBinary: string;
  uiUrl: string;
  s3Endpoint: string;
  s3Bucket: string;
  hosts: string[];
  /** The control plane's address on the hosts' network (Temporal, S3, the HTTP API listen there). */
  controlAddress: string;
  /** Each host's own address on the hosts' network: its agent, its image endpoint, its services. */
  hostAddresses: Record<string, string>;
  /** The hosts' links are shaped to this many bits per second (`stack up --link`); null: unshaped. */
  linkBps?: number | null;
  /** Where services' own addresses come from (a CIDR block on the hosts' network). */
  serviceAddresses?: string;
  criuPath: string;
  apiUrl: string;
  metrics: Record<string, string>;
}

export interface Config {
  home: string;
  temporalAddress: string;
  namespace: string;
  /** TLS/mTLS or an API key (which implies TLS) for the Temporal connection: a hosted service. */
  temporal: TemporalTlsSettings;
  /** `ca`: a CA file (FASTMIG_S3_CA) trusted for an https endpoint besides the system's. */
  s3: { endPoint: string; port: number; useSSL: boolean; accessKey: string; secretKey: string; bucket: string; ca?: string };
  /** The image endpoint's certificate, key and the cluster CA (files); common/tls.ts reads them. */
  peerTls: TlsFiles;
  /** FASTMIG_PEER_PLAIN=1: an agent without TLS material serves and pulls images over plain http. */
  peerPlain: boolean;
  criuPath: string;
  hosts: string[];
  /** Signs image manifests; every host of a cluster shares it. */
  clusterKey: Buffer | null;
  /** Encrypts images at rest when a service asks for it or encryptAllImages is set. */
  imageKey: Buffer | null;
  encryptAllImages: boolean;
  /**
   * A daemon stops its service when its lease is older than this: the lease runs from the host's
   * last grant (common/quorum.ts). The host monitor's lease (the one `stack up` gives it) must be
   * the longest of the cluster; an agent with a shorter one only fences sooner.
   */
  leaseSeconds: number;
  /** The host monitor fails a host over after this long without reaching it: at least lease + ping interval + margin (checked here). */
  failoverAfterSeconds: number;
  /**
   * FASTMIG_SERVICE_ADDRESSES: a block of addresses on the hosts' own network (one segment, e.g.
   * 10.0.5.128/25) from which each process service gets an address of its own that moves with it.
   * null: services answer at their host's address, which changes with every move.
   */
  serviceAddresses: string | null;
  /** Where this host's agent serves images to the others (`fastmig agent --address` wins); its certificate names it. Loopback suits one machine only. */
  peerAddress: string;
}

export function fastmigHome(): string {
  return path.resolve(process.env.FASTMIG_HOME || path.join(REPO_ROOT, '.fastmig'));
}

export const paths = {
  stackFile: (home = fastmigHome()) => path.join(home, 'stack.json'),
  secretsFile: (home = fastmigHome()) => path.join(home, 'secrets', 'secrets.env'),
  secretsDir: (home = fastmigHome()) => path.join(home, 'secrets'),
  runDir: (home = fastmigHome()) => path.join(home, 'run'),
  logDir: (home = fastmigHome()) => path.join(home, 'logs'),
  hostDir: (host: string, home = fastmigHome()) => path.join(home, 'hosts', host),
  serviceDir: (host: string, service: string, home = fastmigHome()) => path.join(home, 'hosts', host, service),
  toolsDir: () => path.resolve(process.env.FASTMIG_TOOLS || path.join(REPO_ROOT, '.tools')),
  /** One container engine per host: its socket, data root, exec root and pid file live here. */
  dockerDir: (host: string, home = fastmigHome()) => path.join(home, 'docker', host),
  dockerSocket: (host: string, home = fastmigHome()) => path.join(home, 'docker', host, 'd.sock'),
  /** The node + busybox bundle mounted into service containers (scripts/build-bundle.sh). */
  bundleDir: () => path.resolve(process.env.FASTMIG_BUNDLE || path.join(REPO_ROOT, '.tools', 'bundle')),
  /** Root file systems of the demo and test images (scripts/build-images.sh). */
  imageCacheDir: () => path.resolve(process.env.FASTMIG_IMAGE_CACHE || path.join(REPO_ROOT, '.tools', 'images')),
};

export function readStackFile(home = fastmigHome()): StackFile | null {
  try {
    return JSON.parse(fs.readFileSync(paths.stackFile(home), 'utf8')) as StackFile;
  } catch {
    return null;
  }
}

/** Reads KEY=VALUE lines (the secrets file written by `fastmig stack up`). */
export function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** The lease and failover settings, checked against each other (common/quorum.ts). */
function fencingSettings(env: (k: string) => string | undefined): { leaseSeconds: number; failoverAfterSeconds: number } {
  const leaseSeconds = Number(env('FASTMIG_LEASE_SECONDS') || 20);
  const failoverAfterSeconds = Number(env('FASTMIG_FAILOVER_AFTER_SECONDS') || 30);
  if (!(leaseSeconds >= 1 && leaseSeconds <= 3600)) throw new Error(`FASTMIG_LEASE_SECONDS must be a number of seconds from 1 to 3600, not ${JSON.stringify(env('FASTMIG_LEASE_SECONDS'))}`);
  const least = leaseTiming(leaseSeconds, DEFAULT_PING_EVERY_SECONDS).minFailoverSeconds;
  if (!(failoverAfterSeconds >= least && failoverAfterSeconds <= 3600)) {
    throw new Error(
      `FASTMIG_FAILOVER_AFTER_SECONDS must be at least the lease (${leaseSeconds} s) + the ping interval (${DEFAULT_PING_EVERY_SECONDS} s) + the fencing margin, i.e. ${least} s, and at most 3600: a failover before the lease surely ran out could start a second copy`,
    );
  }
  return { leaseSeconds, failoverAfterSeconds };
}

export function loadConfig(): Config {
  const home = fastmigHome();
  const stack = readStackFile(home);
  const secrets = readEnvFile(paths.secretsFile(home));
  const env = (k: string) => process.env[k] || secrets[k];
  const endpoint = new URL(env('FASTMIG_S3_ENDPOINT') || stack?.s3Endpoint || 'http://127.0.0.1:7070');
  return {
    home,
    temporalAddress: env('FASTMIG_TEMPORAL_ADDRESS') || stack?.temporalAddress || '127.0.0.1:7233',
    namespace: env('FASTMIG_NAMESPACE') || stack?.namespace || 'default',
    temporal: {
      tls: { ca: env('FASTMIG_TEMPORAL_TLS_CA'), cert: env('FASTMIG_TEMPORAL_TLS_CERT'), key: env('FASTMIG_TEMPORAL_TLS_KEY') },
      serverName: env('FASTMIG_TEMPORAL_TLS_SERVER_NAME'),
      apiKey: env('FASTMIG_TEMPORAL_API_KEY'),
    },
    s3: {
      endPoint: endpoint.hostname,
      port: Number(endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80)),
      useSSL: endpoint.protocol === 'https:',
      accessKey: env('FASTMIG_S3_ACCESS_KEY') || '',
      secretKey: env('FASTMIG_S3_SECRET_KEY') || '',
      bucket: env('FASTMIG_S3_BUCKET') || stack?.s3Bucket || 'fastmig',
      ca: env('FASTMIG_S3_CA'),
    },
    peerTls: { ca: env('FASTMIG_TLS_CA'), cert: env('FASTMIG_TLS_CERT'), key: env('FASTMIG_TLS_KEY') },
    peerPlain: env('FASTMIG_PEER_PLAIN') === '1',
    criuPath: env('FASTMIG_CRIU') || stack?.criuPath || path.join(paths.toolsDir(), 'criu', 'criu'),
    clusterKey: parseKey(env('FASTMIG_CLUSTER_KEY'), 'FASTMIG_CLUSTER_KEY'),
    imageKey: parseKey(env('FASTMIG_IMAGE_KEY'), 'FASTMIG_IMAGE_KEY'),
    encryptAllImages: env('FASTMIG_ENCRYPT_IMAGES') === '1',
    ...fencingSettings(env),
    peerAddress: env('FASTMIG_PEER_ADDRESS') || '127.0.0.1',
    serviceAddresses: env('FASTMIG_SERVICE_ADDRESSES') || stack?.serviceAddresses || null,
    hosts: (env('FASTMIG_HOSTS') || stack?.hosts?.join(',') || 'hostA,hostB').split(',').filter(Boolean),
  };
}
