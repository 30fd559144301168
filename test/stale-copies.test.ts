// Which local copies a running agent removes once the registry names another one (agent/lease.ts).
// The registry and the daemons are faked here; the fault matrix drives the same rule on the real stack.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { staleInstances } from '../agent/lease';
import type { DaemonStatus, Placement } from '../common/schemas';

const HOST = 'hostA';
let home: string;

function copy(service: string, generation: number): void {
  const dir = path.join(home, 'hosts', HOST, service);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify({ spec: { name: service }, generation }));
}

const placement = (over: Partial<Placement>): Placement =>
  ({ spec: { name: 'kv' }, host: 'hostB', generation: 2, updatedAt: new Date().toISOString(), ...over }) as Placement;
const standby = { state: 'standby', decisions: [] } as unknown as DaemonStatus;

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-stale-'));
  copy('kv', 1);
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

test('an idle source copy is kept while the migration that moved the record from it may still store its image', async () => {
  const p = placement({ migratedFrom: { host: HOST, generation: 1 } });
  expect(await staleInstances(HOST, home, async () => p, false, async () => standby)).toEqual([]);
});

test('an idle copy whose record a failover moved is removed at once', async () => {
  const stale = await staleInstances(HOST, home, async () => placement({}), false, async () => standby);
  expect(stale).toEqual([{ service: 'kv', generation: 1, why: 'it now runs on hostB (generation 2)' }]);
});

test("an idle copy of an older generation than the migration's source is removed at once", async () => {
  const p = placement({ generation: 3, migratedFrom: { host: HOST, generation: 2 } });
  expect((await staleInstances(HOST, home, async () => p, false, async () => standby)).map((s) => s.generation)).toEqual([1]);
});

test("a serving source copy is removed even within the migration's grace", async () => {
  const p = placement({ migratedFrom: { host: HOST, generation: 1 } });
  const running = { ...standby, state: 'running' } as DaemonStatus;
  expect((await staleInstances(HOST, home, async () => p, false, async () => running)).length).toBe(1);
});
