// A multi-process service in a container: a master and 8 worker processes, each with its own
// counter, checkpointed and restored whole (same PIDs in their namespace, counters carried on).
import { ops } from '../client';
import { httpText } from '../demo/probe';
import { removeQuietly } from './helpers';
import { DEBIAN_IMAGE, NODE, deployContainer, endpointOf, ensureImages } from './docker-helpers';

const SERVICE = 'test-docker-workers';
const WORKERS = 8;
type Worker = { pid: number; count: number };

const tick = (endpoint: string) => httpText(endpoint, 'POST', '/tick');
const workers = async (endpoint: string): Promise<Worker[]> => JSON.parse((await httpText(endpoint, 'GET', '/workers')).text);

beforeAll(async () => {
  await removeQuietly(SERVICE);
  await ensureImages();
});
afterAll(() => removeQuietly(SERVICE));

test('master + 8 workers migrate hostA → hostB with every worker and its counter', async () => {
  const endpoint = await deployContainer(SERVICE, 'hostA', DEBIAN_IMAGE, [], [NODE, '/app/workers-service.js', '--port', '8080', '--workers', String(WORKERS), '--listen', '0.0.0.0']);
  for (let i = 0; i < 3; i++) expect((await tick(endpoint)).status).toBe(200);
  const before = await workers(endpoint);
  expect(before).toHaveLength(WORKERS);
  expect(new Set(before.map((w) => w.pid)).size).toBe(WORKERS);
  expect(before.every((w) => w.count === 3)).toBe(true);

  const report = await ops.migrate({ service: SERVICE, to: 'hostB', mode: 'warm' });
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', to: 'hostB' });

  const moved = await endpointOf(SERVICE);
  expect((await tick(moved)).status).toBe(200);
  const after = await workers(moved);
  // The same worker processes answer, each counting on from where it was.
  expect(after.map((w) => w.pid)).toEqual(before.map((w) => w.pid));
  expect(after.every((w) => w.count === 4)).toBe(true);
});
