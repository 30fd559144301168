// A process service's own address moves with it: clients reach it at one address before, during
// and after a move (warm there, cold back), an established connection carries requests across
// without reconnecting, no client sees a refused or reset request, and the address is on exactly
// the host that runs the service (and on none once it is removed).
import execa from 'execa';
import { ops } from '../client';
import { fastmigHome, loadConfig } from '../common/config';
import { poolAddresses } from '../common/address-pool';
import { namespaceOf } from '../stack/network';
import { keys } from '../common/names';
import { readJson, s3Client } from '../common/s3';
import { startHeldConnection, startProbe } from '../demo/probe';
import { verifyKeys, writeKeys } from '../demo/kv-client';
import { addressOf, deployKv, removeQuietly } from './helpers';

const SERVICE = 'test-own-address';

/** The /32 addresses on a host's interface, read in its namespace. */
async function extraAddresses(host: string): Promise<string[]> {
  const r = await execa('ip', ['-n', namespaceOf(fastmigHome(), host), '-4', '-o', 'addr', 'show']);
  return [...r.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/32/g)].map((m) => m[1]);
}

/** Rules that drop traffic to or from `address` in a host's firewall (CRIU's lock, fastmig's hold). */
async function dropRules(host: string, address: string): Promise<string[]> {
  const r = await execa('ip', ['netns', 'exec', namespaceOf(fastmigHome(), host), 'iptables', '-w', '-S']);
  return r.stdout.split('\n').filter((l) => l.includes(`${address}/32`) && l.includes('DROP'));
}

let address: string;
let own: string;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  const { endpoint, port } = await deployKv(SERVICE, 'hostA');
  address = endpoint;
  own = endpoint.slice(0, endpoint.lastIndexOf(':'));
  expect(endpoint).toBe(`${own}:${port}`);
  await writeKeys(address, 300);
});
afterAll(() => removeQuietly(SERVICE));

test('a deployed process service answers at an address of its own from the block, carried by its host only', async () => {
  const block = loadConfig().serviceAddresses!;
  expect(poolAddresses(block)).toContain(own);
  expect(own).not.toBe(addressOf('hostA'));
  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: 'hostA', address, endpoint: address });
  expect(await extraAddresses('hostA')).toContain(own);
  expect(await extraAddresses('hostB')).not.toContain(own);
});

test.each([
  ['warm', 'hostB', 'hostA'],
  ['cold', 'hostA', 'hostB'],
] as const)('a %s move to %s keeps its address, its held connection and every client request', async (mode, to, from) => {
  const probe = startProbe(address, 5);
  const held = startHeldConnection(address, 20);
  await new Promise((r) => setTimeout(r, 300));
  const report = await ops.migrate({ service: SERVICE, to, mode });
  held.markMoved();
  await new Promise((r) => setTimeout(r, 500));
  const [probed, kept] = await Promise.all([probe.stop(), held.stop()]);

  expect(report).toMatchObject({ ok: true, outcome: 'migrated', to, mode });
  // One connection carried requests from before the freeze to after the move, none failed.
  expect(kept).toMatchObject({ connections: 1, errors: 0 });
  expect(kept.okAfterMove).toBeGreaterThan(0);
  // New connections during the move were held, not refused or reset.
  expect(probed.errors).toBe(0);
  expect(probed.ok).toBeGreaterThan(0);

  const [view] = await ops.inspect(SERVICE);
  expect(view).toMatchObject({ host: to, state: 'running', address, endpoint: address });
  expect(await verifyKeys(address, 300)).toBe(300);
  expect(await extraAddresses(to)).toContain(own);
  expect(await extraAddresses(from)).not.toContain(own);
  // The freeze's rules are gone on both hosts (left behind they would drop its connections later).
  expect(await dropRules(from, own)).toEqual([]);
  expect(await dropRules(to, own)).toEqual([]);
}, 120_000);

test('a removed service gives its address back: no host carries it, the registry holds it for no one', async () => {
  await ops.remove(SERVICE);
  for (const host of ['hostA', 'hostB']) expect(await extraAddresses(host)).not.toContain(own);
  const cfg = loadConfig();
  const claims = (await readJson<Record<string, string>>(s3Client(cfg), cfg.s3.bucket, keys.serviceAddresses)) ?? {};
  expect(Object.values(claims)).not.toContain(SERVICE);
  expect(claims[own]).toBeUndefined();
});
