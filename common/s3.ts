// The one place that builds an S3 client (the `minio` package speaks to any S3-compatible server).
import https from 'https';
import tls from 'tls';
import { Client } from 'minio';
import { readTls } from './tls';
import type { Config } from './config';

export function s3Client(cfg: Config): Client {
  if (!cfg.s3.accessKey || !cfg.s3.secretKey) {
    throw new Error('S3 credentials are missing: set FASTMIG_S3_ACCESS_KEY and FASTMIG_S3_SECRET_KEY or run `fastmig stack up`');
  }
  return new Client({
    endPoint: cfg.s3.endPoint,
    port: cfg.s3.port,
    useSSL: cfg.s3.useSSL,
    accessKey: cfg.s3.accessKey,
    secretKey: cfg.s3.secretKey,
    region: 'us-east-1',
    // A private CA for an https endpoint, added to the system's roots (not replacing them).
    ...(cfg.s3.useSSL && cfg.s3.ca ? { transportAgent: new https.Agent({ keepAlive: true, ca: [...tls.rootCertificates, String(readTls('FASTMIG_S3', { ca: cfg.s3.ca }).ca)] }) } : {}),
  });
}

export async function readJson<T>(client: Client, bucket: string, key: string): Promise<T | null> {
  try {
    const stream = await client.getObject(bucket, key);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
  } catch (err: any) {
    if (err?.code === 'NoSuchKey' || err?.code === 'NotFound') return null;
    throw err;
  }
}

export async function writeJson(client: Client, bucket: string, key: string, value: unknown): Promise<void> {
  const body = Buffer.from(JSON.stringify(value, null, 2));
  await client.putObject(bucket, key, body, body.length, { 'Content-Type': 'application/json' });
}

export async function listKeys(client: Client, bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  const stream = client.listObjectsV2(bucket, prefix, true);
  for await (const obj of stream) if ((obj as any).name) out.push((obj as any).name);
  return out;
}

/** Creates the bucket when missing (docker-compose starts an empty S3 server; `stack up` does the same). */
export async function ensureBucket(client: Client, bucket: string): Promise<void> {
  if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket, 'us-east-1');
}
