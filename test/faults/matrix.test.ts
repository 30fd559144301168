// The fault matrix against the real stack. With FASTMIG_FAULT_MATRIX=full (npm run test:faults)
// every scenario × phase pair runs FASTMIG_FAULT_REPEAT times (default once); otherwise the quick
// subset runs once, as part of the test suite. FASTMIG_FAULT_ONLY (a regular expression over
// "<fault> during <phase>") narrows either to the pairs it matches.
import { ops } from '../../client';
import { freePort } from '../../demo/probe';
import { KV_SERVICE, removeQuietly } from '../helpers';
import { FaultCluster, SOURCE, until } from './cluster';
import { expectSurvived, expectWorkflowsAlive, type Observed } from './survival';
import { MEMORY_LIMIT_MIB, POLICY, SCENARIOS, scenarioName } from './scenarios';
import { CheckpointLog, InstanceWatch, Writer } from './traffic';

const full = process.env.FASTMIG_FAULT_MATRIX === 'full';
const repeat = full ? Number(process.env.FASTMIG_FAULT_REPEAT || 1) : 1;
const only = process.env.FASTMIG_FAULT_ONLY ? new RegExp(process.env.FASTMIG_FAULT_ONLY) : null;
const chosen = SCENARIOS.filter((s) => (full || s.quick) && (!only || only.test(scenarioName(s))));
const cases = chosen.flatMap((s) => Array.from({ length: repeat }, (_, i) => ({ s, rep: i + 1 })));

const cluster = new FaultCluster();
let n = 0;

beforeAll(async () => {
  await cluster.start();
}, 180_000);
afterAll(async () => {
  await cluster.stop();
}, 120_000);

test.each(cases.map((c) => [`${scenarioName(c.s)} #${c.rep}`, c] as const))('%s', async (_name, { s }) => {
  const service = `fm-${process.pid % 10000}-${++n}`;
  const port = await freePort();
  cluster.disarmAll();
  await removeQuietly(service);
  const deployed = await ops.deploy({
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
  const writer = new Writer(service, deployed.endpoint!);
  const checkpoints = new CheckpointLog(service);
  const watch = new InstanceWatch(cluster.askers, port);
  let note = '';
  let survived = false;
  const o: Observed = { service, port, askers: cluster.askers, writer, watch, atFault: { local: null, stored: null } };
  try {
    writer.start();
    checkpoints.start();
    watch.start();
    // Two checkpoints stored since the writes began, so the data tells the newest from the one before.
    const began = Date.now();
    await until('two checkpoints stored since the writes began', () => checkpoints.storedSince(began).length >= 2 && writer.acked().length > 0, 60_000, 250);
    const mark = async () => {
      checkpoints.stop();
      o.atFault = await checkpoints.poll().catch(() => checkpoints.last);
      return Date.now();
    };
    const { since, report, base } = await s.run({ cluster, service, port, mark });
    if (base) o.atFault.local = base;
    if (report) note = `${report.outcome}${report.error ? ` (${report.error.slice(0, 200)})` : ''}${report.warnings?.length ? ` [${report.warnings.join('; ').slice(0, 200)}]` : ''}; `;
    const problems: string[] = [];
    if (s.outcomes) {
      if (!report) problems.push('the migration gave no report');
      else if (!s.outcomes.includes(report.outcome)) problems.push(`outcome ${report.outcome}, expected ${s.outcomes.join(' or ')}`);
      else if (!report.ok && !report.error) problems.push(`outcome ${report.outcome} without a reason`);
    }
    await expectSurvived(o, s.expect, since).catch((err: Error) => problems.push(err.message));
    const most = watch.max();
    if (most.count > 1) problems.push(`${most.count} copies served at once (on ${most.hosts!.join(' and ')}, ${Math.round((most.at! - since) / 1000)} s after the fault)`);
    if (problems.length) throw new Error(problems.join('; '));
    await expectWorkflowsAlive(service);
    survived = true;
  } finally {
    const w = writer.writes;
    const seen = `${note}${w.filter((x) => x.ackAt).length}/${w.length} writes acknowledged, at most ${watch.max().count} serving`;
    process.stderr.write(`[faults] ${scenarioName(s)}: ${survived ? 'survived' : 'LOST'}: ${seen}\n`);
    await writer.stop();
    await watch.stop();
    checkpoints.stop();
    cluster.disarmAll();
    for (const h of ['faultA', 'faultB']) cluster.freeDisk(h);
    await cluster.heal();
    await removeQuietly(service);
  }
}, 600_000);
