// A container's memory limit is the engine's (`docker run --memory`): going over is an OOM kill in
// the container's cgroup, which its daemon (PID 1, in the same cgroup) records as the limit; the
// restart policy then restores the service from its last local checkpoint.
import { ops } from '../client';
import { httpText } from '../demo/probe';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { removeQuietly } from './helpers';
import { DEBIAN_IMAGE, KV_CMD, deployContainer, endpointOf, ensureImages } from './docker-helpers';
import { until } from './daemon-harness';

const SERVICE = 'test-docker-mem';
const policy = JSON.stringify({ rules: [{ signals: ['SIGKILL'], action: 'restore' }], backoffMs: 0 });

beforeAll(async () => {
  await removeQuietly(SERVICE);
  await ensureImages();
});
afterAll(() => removeQuietly(SERVICE));

test('over its memory limit a container\'s service is OOM-killed, recorded as the limit, and restored by its policy', async () => {
  const endpoint = await deployContainer(SERVICE, 'hostA', DEBIAN_IMAGE, ['--memory-limit', '96', '--restart', policy, '--checkpoint-every', '5'], KV_CMD);
  await writeKeys(endpoint, 200);
  // A periodic checkpoint with the keys in it, on this host.
  const first = (await ops.inspect(SERVICE))[0].lastCheckpoint?.id;
  await until(async () => {
    const id = (await ops.inspect(SERVICE))[0].lastCheckpoint?.id;
    return !!id && id !== first;
  }, 30_000);
  await httpText(endpoint, 'POST', '/grow', '200').catch(() => null);
  await until(async () => (await ops.inspect(SERVICE))[0].restarts === 1 && (await ops.inspect(SERVICE))[0].state === 'running', 30_000);
  const [view] = await ops.inspect(SERVICE);
  expect(view.lastDecision).toMatchObject({ action: 'restore', exit: { signal: 'SIGKILL', reason: expect.stringMatching(/^memory limit of 96 MiB exceeded/) } });
  expect(await verifyKeys(await endpointOf(SERVICE), 200)).toBe(200);
});
