// The fault matrix against the real stack. With FASTMIG_FAULT_MATRIX=full (npm run test:faults)
// every scenario × phase runs FASTMIG_FAULT_REPEAT times (default 3); otherwise the quick subset
// runs once, as part of the test suite.
import { ops } from '../../client';
import { freePort, httpText } from '../../demo/probe';
import { KV_SERVICE, removeQuietly } from '../helpers';
import { FaultCluster, SOURCE, until } from './cluster';
import { expectSurvived, expectWorkflowsAlive, watchInstances } from './survival';
import { MEMORY_LIMIT_MIB, POLICY, SCENARIOS } from './scenarios';

const full = process.env.FASTMIG_FAULT_MATRIX === 'full';
const repeat = full ? Number(process.env.FASTMIG_FAULT_REPEAT || 3) : 1;
const chosen = SCENARIOS.filter((s) => full || s.quick);
const cases = chosen.flatMap((s) => Array.from({ length: repeat }, (_, i) => ({ s, rep: i + 1 })));

const cluster = new FaultCluster();
let n = 0;

beforeAll(async () => {
  await cluster.start();
}, 120_000);
afterAll(async () => {
  await cluster.stop();
}, 60_000);

test.each(cases.map((c) => [`${c.s.fault} during ${c.s.phase} #${c.rep}`, c] as const))('%s', async (_name, { s }) => {
  const service = `fm-${process.pid % 10000}-${++n}`;
  const port = await freePort();
  cluster.disarmAll();
  await removeQuietly(service);
  await ops.deploy({
    host: SOURCE,
    spec: {
      name: service,
      command: [process.execPath, KV_SERVICE, '--port', String(port)],
      cwd: '/',
      port,
      restart: POLICY,
      memoryLimitMiB: MEMORY_LIMIT_MIB,
      checkpoint: { everySeconds: 5, keep: 2 },
    },
  });
  const keys = { checkpoint: `c-${n}`, live: `l-${n}` };
  await httpText(port, 'PUT', '/kv/checkpointed', keys.checkpoint);
  // The key is in a stored checkpoint (and so on the host too) before anything goes wrong.
  const first = (await ops.inspect(service))[0].storedCheckpoint;
  await until('a stored checkpoint', async () => {
    const v = (await ops.inspect(service))[0];
    return v.storedCheckpoint && v.storedCheckpoint !== first && v.lastCheckpoint ? v : null;
  }, 30_000, 250);
  await httpText(port, 'PUT', '/kv/live', keys.live);

  const instances = watchInstances(port);
  try {
    const { since, report } = await s.run({ cluster, service, port });
    if (s.outcomes) {
      expect(report).toBeDefined();
      expect(s.outcomes).toContain(report!.outcome);
      if (!report!.ok) expect(report!.error).toBeTruthy();
    }
    await expectSurvived(service, port, keys, s.expect, since);
    await expectWorkflowsAlive(service);
    expect(instances.max()).toBeLessThanOrEqual(1);
  } finally {
    instances.stop();
    cluster.disarmAll();
    for (const h of ['faultA', 'faultB']) cluster.freeDisk(h);
    await cluster.heal();
    await removeQuietly(service);
  }
}, 400_000);
