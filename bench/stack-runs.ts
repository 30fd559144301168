// Measurements through fastmig itself: migrations (Temporal or direct), restarts, the daemon's
// memory and CPU, throughput with and without the daemon, and concurrent migrations.
import fs from 'fs';
import execa from 'execa';
import { ops } from '../client';
import { APP_MOUNT } from '../activities/runtime-docker';
import { endpointOf } from '../common/names';
import type { MigrationProgress, Runtime } from '../common/schemas';
import { childrenOf, signal } from '../daemon/process-tree';
import { BUNDLE_NODE, DEMO_IMAGES } from '../demo/images';
import { freePort, startProbe } from '../demo/probe';
import { BENCH_SERVICE, startBareTree } from './criu-level';
import { hostPlace } from './places';
import type { DirectDriver } from './direct';
import { answers, checkState, sleep, until } from './stats';
import { cpuMeter } from './cpu';

export const HOSTS = ['hostA', 'hostB'] as const;
export const otherHost = (h: string) => (h === 'hostA' ? 'hostB' : 'hostA');

export interface Deployed {
  name: string;
  /** `address:port` where it answers: its host's address, so it changes with every move. */
  endpoint: string;
  host: string;
  runtime: Runtime;
}

/** The bench service inside a container: the image has no node and no bench code, so both come from
 *  what the docker runtime mounts into every container anyway (the node bundle and fastmig's code). */
const CONTAINER_SERVICE = `${APP_MOUNT}/dist/bench/service.js`;
const CONTAINER_PORT = 8080;

/** `keep`: directories kept with the service (process runtime). */
export async function deployBench(name: string, host: string, fillMiB: number, procs = 1, runtime: Runtime = 'process', keep: string[] = []): Promise<Deployed> {
  if ((await ops.inspect()).some((v) => v.service === name)) await ops.remove(name);
  const state = ['--fill-mib', String(fillMiB), '--procs', String(procs)];
  let endpoint: string;
  if (runtime === 'docker') {
    const command = [BUNDLE_NODE, CONTAINER_SERVICE, '--port', String(CONTAINER_PORT), '--listen', '0.0.0.0', ...state];
    const d = await ops.deploy({ host, spec: { name, runtime, image: DEMO_IMAGES.debian.name, command, port: CONTAINER_PORT } });
    endpoint = d.endpoint!;
  } else {
    const port = await freePort();
    const command = [process.execPath, BENCH_SERVICE, '--port', String(port), ...state];
    endpoint = (await ops.deploy({ host, spec: { name, runtime, command, cwd: '/', env: {}, port, hooks: {}, ...(keep.length ? { keep } : {}) } })).endpoint!;
  }
  await until(`${name} answering after deploy`, () => answers(endpoint), 120_000, 20);
  return { name, endpoint, host, runtime };
}

export interface MigRun {
  downtimeMs: number; // longest gap seen by the 5 ms probe
  freezeToResumeMs: number; // freeze on the source until the target accepted a connection
  totalMs: number; // wall time of the whole migration as the caller sees it
  restoreMs?: number;
  phases?: Record<string, number>;
  /** Bytes of the image moved (Temporal runs). */
  imageBytes?: number;
  /** CPU seconds of fastmig's processes during the migration (bench/cpu.ts). */
  cpuSeconds?: number;
  /** Lazy: freeze until the last page was on the target, and how long the target served before that. */
  pagesDoneMs?: number;
  servedWindowMs?: number;
}

/** One migration of `svc` to the other host, with a probe running; checks the data afterwards. */
export async function migrateOnce(svc: Deployed, how: 'warm' | 'cold' | 'lazy' | 'direct', direct: DirectDriver): Promise<MigRun> {
  const to = otherHost(svc.host);
  // The service answers at the target's address once moved: the probe polls that one too, learnt
  // from the progress queries.
  let target = '';
  const progress = (p: MigrationProgress) => (target = p.targetEndpoint ?? target);
  const probe = startProbe(() => (target && target !== svc.endpoint ? [svc.endpoint, target] : [svc.endpoint]), 5);
  await sleep(30);
  const t0 = Date.now();
  const cpu = cpuMeter();
  let out: Omit<MigRun, 'downtimeMs' | 'totalMs'>;
  if (how === 'direct') {
    const r = await direct.migrate(svc.name, to, (e) => (target = e));
    out = { freezeToResumeMs: r.freezeToResumeMs, restoreMs: r.restore.restoreMs };
  } else {
    const r = await ops.migrate({ service: svc.name, to, mode: how }, progress);
    if (!r.ok) throw new Error(`${how} migration of ${svc.name} ${r.outcome}: ${r.error}`);
    out = { freezeToResumeMs: r.downtimeMs, phases: r.phases as Record<string, number>, restoreMs: r.phases.restore, imageBytes: r.imageBytes };
    if (r.lazy) Object.assign(out, { pagesDoneMs: r.lazy.pagesAcrossMs, servedWindowMs: r.lazy.servedWindowMs });
  }
  const totalMs = Date.now() - t0;
  out.cpuSeconds = cpu.stop();
  svc.endpoint = endpointOf((await direct.registry.getPlacement(svc.name))!)!;
  await until(`${svc.name} answering after migration`, () => answers(svc.endpoint), 10_000, 1);
  await sleep(30);
  const p = await probe.stop();
  svc.host = to;
  await checkState(svc.endpoint, `${how} migration`);
  return { downtimeMs: p.maxGapMs, totalMs, ...out };
}

/** Restart: stop the service and start its command from scratch under the same daemon; state is lost. */
export async function restartOnce(svc: Deployed, direct: DirectDriver): Promise<MigRun> {
  const placement = await direct.registry.getPlacement(svc.name);
  const h = direct.host(svc.host);
  const probe = startProbe(svc.endpoint, 5);
  await sleep(30);
  const t0 = Date.now();
  await h.stopService({ service: svc.name, generation: placement!.generation });
  await h.prepareService({ spec: placement!.spec, generation: placement!.generation, start: true });
  await until(`${svc.name} answering after restart`, () => answers(svc.endpoint), 120_000, 1);
  const t1 = Date.now();
  await sleep(30);
  const p = await probe.stop();
  return { downtimeMs: p.maxGapMs, freezeToResumeMs: t1 - t0, totalMs: t1 - t0 };
}

function privateKiB(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return kb('Private_Clean') + kb('Private_Dirty');
}

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14 and 15)
}

const comm = (pid: number) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

export interface DaemonCost {
  daemonPrivateMiB: number;
  /** The wrapper sh, unshare and the cat that relays output: per-service processes outside the tree. */
  helpersPrivateMiB: number;
  idleCpuPct: number;
  idleWindowMs: number;
}

export async function daemonCost(svc: Deployed, direct: DirectDriver, windowMs: number): Promise<DaemonCost> {
  const st = await direct.host(svc.host).serviceStatus({ service: svc.name });
  if (!st) throw new Error(`no daemon for ${svc.name}`);
  const daemon = st.daemonPid;
  const helpers: number[] = [];
  for (const w of childrenOf(daemon).filter((p) => comm(p) === 'sh')) {
    helpers.push(w);
    for (const c of childrenOf(w)) if (['unshare', 'cat'].includes(comm(c))) helpers.push(c);
  }
  const c0 = cpuTicks(daemon);
  await sleep(windowMs);
  const c1 = cpuTicks(daemon);
  const hz = 100;
  return {
    daemonPrivateMiB: privateKiB(daemon) / 1024,
    helpersPrivateMiB: helpers.reduce((n, p) => n + privateKiB(p), 0) / 1024,
    idleCpuPct: ((c1 - c0) / hz / (windowMs / 1000)) * 100,
    idleWindowMs: windowMs,
  };
}

async function wrk(endpoint: string, seconds: number): Promise<number> {
  const r = await execa('wrk', ['-t1', '-c8', `-d${seconds}s`, `http://${endpoint}/health`], { timeout: (seconds + 30) * 1000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`wrk printed no rate: ${r.stdout.slice(0, 200)}`);
  return Number(m[1]);
}

/**
 * Requests/s of the same service bare and under its daemon, alternated. The bare one is started in
 * the same shape as a managed one (own PID namespace, own session: see startBareTree) and on the
 * same host (its network namespace, reached at its address like the service's endpoint), so the two
 * differ by the daemon alone; a plain child of the benchmark shared its session, and so its CPU
 * group under autogroup scheduling, with wrk, which moved the figure by as much as ±30 %.
 */
export async function throughput(svc: Deployed, fillMiB: number, rounds: number, seconds: number): Promise<{ bare: number[]; daemon: number[] }> {
  const port = await freePort();
  const at = hostPlace(svc.host);
  const bare = await startBareTree(port, fillMiB, 1, at);
  try {
    const out = { bare: [] as number[], daemon: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first, so neither always gets the machine in the same state.
      if (i % 2 === 0) out.bare.push(await wrk(`${at.address}:${port}`, seconds));
      out.daemon.push(await wrk(svc.endpoint, seconds));
      if (i % 2 === 1) out.bare.push(await wrk(`${at.address}:${port}`, seconds));
    }
    return out;
  } finally {
    signal(bare.init, 'SIGKILL');
    await bare.gone;
  }
}

/** Wall time of one warm migration vs 20 at once, each service holding `fillMiB`. */
export async function concurrency(count: number, fillMiB: number, singles: number): Promise<{ oneMs: number[]; allMs: number; count: number }> {
  const names = Array.from({ length: count }, (_, i) => `bench-c${String(i).padStart(2, '0')}`);
  const svcs = await Promise.all(names.map((n) => deployBench(n, 'hostA', fillMiB)));
  try {
    const oneMs: number[] = [];
    for (let i = 0; i < singles; i++) {
      const s = svcs[0];
      const t0 = Date.now();
      const r = await ops.migrate({ service: s.name, to: otherHost(s.host), mode: 'warm' });
      if (!r.ok) throw new Error(`single migration ${r.outcome}: ${r.error}`);
      oneMs.push(Date.now() - t0);
      s.host = otherHost(s.host);
    }
    const t0 = Date.now();
    const reports = await Promise.all(svcs.map((s) => ops.migrate({ service: s.name, to: otherHost(s.host), mode: 'warm' })));
    const allMs = Date.now() - t0;
    const bad = reports.filter((r) => !r.ok);
    if (bad.length) throw new Error(`${bad.length} of ${count} concurrent migrations failed: ${bad[0].error}`);
    // Each answers at its new host's address now.
    const now = new Map((await ops.inspect()).map((v) => [v.service, v.endpoint]));
    for (const s of svcs) await checkState(now.get(s.name) ?? s.endpoint, 'concurrent migration');
    return { oneMs, allMs, count };
  } finally {
    await Promise.all(names.map((n) => ops.remove(n).catch(() => undefined)));
  }
}
