// Lazy (post-copy) migration on the real stack: a 1 GiB service moves with its data intact; when
// the page transfer dies after the target served, the source is resumed (or, if the user chose
// so, held stopped until `fastmig resume`), and the report says the target had served.
import fs from 'fs';
import http from 'http';
import path from 'path';
import execa from 'execa';
import { ops } from '../client';
import { fastmigHome, paths, REPO_ROOT } from '../common/config';
import { namespaceOf } from '../stack/network';
import { freePort, httpText } from '../demo/probe';
import type { MigrationReport } from '../common/schemas';
import { fastmig, frozen, removeQuietly, serviceDirExists } from './helpers';

const BENCH_SERVICE = path.join(REPO_ROOT, 'dist', 'bench', 'service.js');
const BIG = 'test-lazy-big';
const CUT = 'test-lazy-cut';

interface Filled {
  endpoint: string;
  digest: string;
  port: number;
}

/** The bench service's processes serving `port` on any host (its command line names the port). */
function benchProcesses(port: number): number[] {
  return fs.readdirSync('/proc').filter((d) => {
    try {
      const cmd = /^\d+$/.test(d) ? fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0') : [];
      return cmd[1] === BENCH_SERVICE && cmd.includes(String(port));
    } catch {
      return false;
    }
  }).map(Number);
}

async function deployFilled(name: string, mib: number): Promise<Filled> {
  const port = await freePort();
  const command = [process.execPath, BENCH_SERVICE, '--port', String(port), '--fill-mib', String(mib)];
  const d = await ops.deploy({ host: 'hostA', spec: { name, command, cwd: '/', port } });
  const info = JSON.parse(await answerWithin(d.endpoint!, '/info', 120_000)) as { digest: string };
  return { endpoint: d.endpoint!, digest: info.digest, port };
}

/** GET `route` with time for a digest of 1 GiB (the probe's client gives up after 5 s). */
function get(endpoint: string, route: string): Promise<string> {
  const [host, port] = endpoint.split(':');
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port: Number(port), path: route, agent: false, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`${route}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${endpoint}${route}`)));
    req.on('error', reject);
  });
}

/** The body of GET `route`, asked until the service answers or `ms` pass. */
async function answerWithin(endpoint: string, route: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await get(endpoint, route);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Pids of CRIU processes of `service` on `host` whose command line holds `what` (e.g. lazy-pages). */
function criuOf(host: string, service: string, what: string): number[] {
  const folder = `${paths.serviceDir(host, service, fastmigHome())}/`;
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.endsWith('/criu')) && cmd.includes(what) && cmd.some((a) => a.startsWith(folder))) out.push(Number(d));
    } catch {
      /* exited */
    }
  }
  return out;
}

/** hostA's link slowed (tbf on its own end): the pages take a minute, while the target answers at once. */
const slowSource = (on: boolean) =>
  execa('ip', ['netns', 'exec', namespaceOf(fastmigHome(), 'hostA'), 'tc', 'qdisc', on ? 'replace' : 'del', 'dev', 'eth0', 'root', ...(on ? ['tbf', 'rate', '30mbit', 'burst', '64kb', 'latency', '100ms'] : [])], { reject: on });

/**
 * A lazy migration of CUT whose target's lazy-pages daemon is killed once the record names the
 * target (its clients were sent there): the page transfer fails after the target served.
 */
async function failAfterServing(extra: string[]): Promise<{ report: MigrationReport; code: number }> {
  await slowSource(true);
  try {
    const run = fastmig(['migrate', CUT, '--to', 'hostB', '--mode', 'lazy', ...extra, '--json']);
    const deadline = Date.now() + 60_000;
    while ((await ops.inspect(CUT))[0].host !== 'hostB') {
      if (Date.now() > deadline) throw new Error('the record never named hostB');
      await new Promise((r) => setTimeout(r, 100));
    }
    const lazyPages = criuOf('hostB', CUT, 'lazy-pages');
    expect(lazyPages).toHaveLength(1); // still fetching: the transfer is cut in the middle
    process.kill(lazyPages[0], 'SIGKILL');
    const r = await run;
    return { report: JSON.parse(r.stdout) as MigrationReport, code: r.exitCode };
  } finally {
    await slowSource(false);
  }
}

let big: Filled;
let cut: Filled;

beforeAll(async () => {
  await Promise.all([removeQuietly(BIG), removeQuietly(CUT)]);
  big = await deployFilled(BIG, 1024);
  cut = await deployFilled(CUT, 192);
}, 240_000);
afterAll(async () => {
  await slowSource(false);
  await Promise.all([removeQuietly(BIG), removeQuietly(CUT)]);
});

test('lazy: a 1 GiB service moves to hostB and its data is intact once every page is across', async () => {
  const r = await fastmig(['migrate', BIG, '--to', 'hostB', '--mode', 'lazy', '--json']);
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(r.exitCode).toBe(0);
  const report = JSON.parse(r.stdout) as MigrationReport;
  expect(report).toMatchObject({ ok: true, outcome: 'migrated', mode: 'lazy', from: 'hostA', to: 'hostB' });
  expect(report.lazy).toMatchObject({ onFailure: 'resume-source', targetServed: true });
  // Every page reached the target after it began to run, and only the small images went as a file.
  expect(report.lazy!.pagesAcrossMs).toBeGreaterThan(report.downtimeMs);
  expect(report.imageBytes).toBeLessThan(64 * 1024 * 1024);
  expect(await answerWithin(big.endpoint, '/digest', 60_000)).toBe(big.digest);
  expect((await ops.inspect(BIG))[0]).toMatchObject({ host: 'hostB', state: 'running', generation: 2 });
  expect(serviceDirExists('hostA', BIG)).toBe(false);
  expect(criuOf('hostA', BIG, 'dump')).toEqual([]);
}, 240_000);

test('lazy: the page transfer dies after the target served → the source runs on, the report names the lost window', async () => {
  const { report, code } = await failAfterServing([]);
  expect(code).toBe(1);
  expect(report).toMatchObject({ ok: false, outcome: 'rolled-back', mode: 'lazy' });
  expect(report.error).toMatch(/memory pages did not all reach hostB/);
  expect(report.lazy).toMatchObject({ onFailure: 'resume-source', targetServed: true });
  expect(report.lazy!.pagesAcrossMs).toBeUndefined();
  expect(report.lazy!.servedWindowMs).toBeGreaterThan(0);
  expect((await ops.inspect(CUT))[0]).toMatchObject({ host: 'hostA', state: 'running', generation: 1 });
  expect(await answerWithin(cut.endpoint, '/digest', 30_000)).toBe(cut.digest);
  expect(serviceDirExists('hostB', CUT)).toBe(false);
  expect(benchProcesses(cut.port)).toHaveLength(1);
  expect(criuOf('hostA', CUT, 'dump')).toEqual([]);
}, 240_000);

test('lazy with --on-lazy-failure stop: neither copy runs after such a failure until `fastmig resume`', async () => {
  const { report, code } = await failAfterServing(['--on-lazy-failure', 'stop']);
  expect(code).toBe(1);
  expect(report).toMatchObject({ ok: false, outcome: 'failed', mode: 'lazy', lazy: { onFailure: 'stop', targetServed: true } });
  expect(report.error).toMatch(/the service is stopped: its copy on hostA is held as it was at the freeze/);
  expect((await ops.inspect(CUT))[0]).toMatchObject({ host: 'hostA', state: 'checkpointed', generation: 1 });
  await expect(httpText(cut.endpoint, 'GET', '/health')).rejects.toThrow();
  expect(serviceDirExists('hostB', CUT)).toBe(false);
  // The one copy left is the source's, stopped (not ended): it can still be resumed.
  const held = benchProcesses(cut.port);
  expect(held).toHaveLength(1);
  expect(frozen(held[0])).toBe(true);

  const resumed = await fastmig(['resume', CUT, '--json']);
  expect(resumed.exitCode).toBe(0);
  expect(JSON.parse(resumed.stdout)).toMatchObject({ service: CUT, host: 'hostA', checkpointId: report.checkpointId });
  expect(await answerWithin(cut.endpoint, '/digest', 30_000)).toBe(cut.digest);
  expect((await ops.inspect(CUT))[0]).toMatchObject({ host: 'hostA', state: 'running' });

  const again = await fastmig(['resume', CUT]);
  expect(again.exitCode).not.toBe(0);
  expect(again.stderr.trim()).toMatch(/^fastmig: .*is running: only a copy a lazy migration left stopped can be resumed$/);
}, 240_000);
