// Periodic checkpoints: taken while the service keeps running, recorded as its latest, the newest
// `keep` kept in S3 and only the latest on the host.
import fs from 'fs';
import { ops } from '../client';
import { loadConfig, paths } from '../common/config';
import { serviceFolder } from '../common/service-folder';
import { keys } from '../common/names';
import { s3Client, listKeys } from '../common/s3';
import { startProbe } from '../demo/probe';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { deployKv, endpointNow, removeQuietly } from './helpers';

const SERVICE = 'test-periodic';
const cfg = loadConfig();
const s3 = s3Client(cfg);
let port: number;

afterAll(() => removeQuietly(SERVICE));

async function imageIds(): Promise<string[]> {
  const names = await listKeys(s3, cfg.s3.bucket, keys.imagePrefix(SERVICE));
  return [...new Set(names.map((n) => n.split('/')[2]))];
}

test('every 5 s a checkpoint is taken without stopping the service; 2 kept in S3, 1 on the host', async () => {
  await removeQuietly(SERVICE);
  ({ port } = await deployKv(SERVICE, 'hostA', { checkpoint: { everySeconds: 5, keep: 2 } }));
  await writeKeys(await endpointNow(SERVICE), 300);
  const probe = startProbe(await endpointNow(SERVICE), 5);
  const seen = new Set<string>();
  const deadline = Date.now() + 40_000;
  while (Date.now() < deadline && seen.size < 3) {
    const id = (await ops.inspect(SERVICE))[0].lastCheckpoint?.id;
    if (id) seen.add(id);
    await new Promise((r) => setTimeout(r, 500));
  }
  const probed = await probe.stop();
  expect(seen.size).toBeGreaterThanOrEqual(3);
  // the service kept answering: the probe saw no gap anywhere near a stop-and-restart
  expect(probed.ok).toBeGreaterThan(probed.requests * 0.9);
  const view = (await ops.inspect(SERVICE))[0];
  expect(view).toMatchObject({ host: 'hostA', state: 'running' });
  expect(await verifyKeys(await endpointNow(SERVICE), 300)).toBe(300);
  const ids = await imageIds();
  expect(ids.length).toBeLessThanOrEqual(2);
  expect(ids.length).toBeGreaterThanOrEqual(1);
  const local = fs.readdirSync(serviceFolder(paths.serviceDir('hostA', SERVICE)).images);
  expect(local).toHaveLength(1);
});
