// The image of a migration goes host to host (the source agent's image endpoint), and its S3 copy
// is stored after the service answers again; when the target cannot reach the source's endpoint,
// the migration goes through S3 as before and still succeeds. All against the real stack.
import net from 'net';
import { ops } from '../client';
import { loadConfig } from '../common/config';
import { s3Client, readJson, writeJson } from '../common/s3';
import { keys } from '../common/names';
import { manifestSignatureValid, type ImageManifest } from '../image/manifest';
import type { HostRecord, Placement } from '../common/schemas';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { tcpConnects } from '../activities/probe';
import { deployKv, endpointNow, removeQuietly } from './helpers';

const SERVICE = 'test-peer';
const cfg = loadConfig();
const s3 = s3Client(cfg);

/** A port nothing listens on at `address` (checked from here: the connection is refused). */
async function closedPort(address: string): Promise<number> {
  for (;;) {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const p = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    if (!(await tcpConnects(p, address))) return p;
  }
}

async function placement(): Promise<Placement> {
  return (await readJson<Placement>(s3, cfg.s3.bucket, keys.placement(SERVICE)))!;
}

async function manifestInStore(checkpointId: string): Promise<boolean> {
  const m = await readJson<ImageManifest>(s3, cfg.s3.bucket, keys.imageManifest(SERVICE, checkpointId));
  return !!m && manifestSignatureValid(m, cfg.clusterKey!);
}

beforeAll(async () => {
  await removeQuietly(SERVICE);
  await writeKeys((await deployKv(SERVICE, 'hostA')).endpoint, 500);
});
afterAll(() => removeQuietly(SERVICE));

test('a warm migration moves the image host to host and records it only once its S3 copy is stored', async () => {
  const report = await ops.migrate({ service: SERVICE, to: 'hostB', mode: 'warm' });
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostA', to: 'hostB' });
  expect(report.phases).toHaveProperty('transfer');
  expect(report.phases).not.toHaveProperty('download');
  expect(report.warnings).toBeUndefined();
  expect(await verifyKeys(await endpointNow(SERVICE), 500)).toBe(500);
  const p = await placement();
  expect(p).toMatchObject({ host: 'hostB', lastCheckpoint: report.checkpointId });
  expect(await manifestInStore(p.lastCheckpoint!)).toBe(true);
});

test('when the source endpoint cannot be reached, the image goes through S3 and the migration still succeeds', async () => {
  // The real agent keeps running; only the endpoint it advertises points at a closed port of its host.
  const record = (await readJson<HostRecord>(s3, cfg.s3.bucket, keys.host('hostB')))!;
  if (!record.address) throw new Error('hostB registered no address');
  const peerUrl = `https://${record.address}:${await closedPort(record.address)}`;
  await writeJson(s3, cfg.s3.bucket, keys.host('hostB'), { ...record, peerUrl });
  try {
    const report = await ops.migrate({ service: SERVICE, to: 'hostA', mode: 'warm' });
    expect(report).toMatchObject({ ok: true, outcome: 'migrated', from: 'hostB', to: 'hostA' });
    expect(report.phases).toHaveProperty('upload');
    expect(report.phases).toHaveProperty('download');
    expect(Object.keys(report.phases).indexOf('upload')).toBeLessThan(Object.keys(report.phases).indexOf('download'));
    expect(await verifyKeys(await endpointNow(SERVICE), 500)).toBe(500);
    const p = await placement();
    expect(p).toMatchObject({ host: 'hostA', lastCheckpoint: report.checkpointId });
    expect(await manifestInStore(p.lastCheckpoint!)).toBe(true);
  } finally {
    await writeJson(s3, cfg.s3.bucket, keys.host('hostB'), record);
  }
});

test('a cold migration also goes host to host', async () => {
  const report = await ops.migrate({ service: SERVICE, to: 'hostB', mode: 'cold' });
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', to: 'hostB' });
  expect(report.phases).toHaveProperty('transfer');
  expect(await verifyKeys(await endpointNow(SERVICE), 500)).toBe(500);
});

test('a service with encrypted images moves host to host too (the stream is encrypted under the image key)', async () => {
  const name = 'test-peer-enc';
  await removeQuietly(name);
  const enc = await deployKv(name, 'hostA', { encryptImages: true });
  try {
    await writeKeys(enc.endpoint, 200);
    const report = await ops.migrate({ service: name, to: 'hostB', mode: 'warm' });
    expect(report).toMatchObject({ ok: true, outcome: 'migrated', to: 'hostB' });
    expect(report.phases).toHaveProperty('transfer');
    expect(report.phases).not.toHaveProperty('download');
    expect(await verifyKeys(await endpointNow(name), 200)).toBe(200);
    const m = await readJson<ImageManifest>(s3, cfg.s3.bucket, keys.imageManifest(name, report.checkpointId!));
    expect(m?.encryption?.alg).toBe('aes-256-gcm');
  } finally {
    await removeQuietly(name);
  }
});
