// CRIU-level measurements, with no daemon, orchestration or transfer: the floor (bare dump +
// restore on this host, images on tmpfs) and post-copy (dump --lazy-pages + lazy-pages daemon +
// restore --lazy-pages, pages pulled from the source on demand over a loopback page server).
import fs from 'fs';
import path from 'path';
import { spawn, ChildProcess } from 'child_process';
import execa from 'execa';
import { REPO_ROOT } from '../common/config';
import { childrenOf, signal } from '../daemon/process-tree';
import { IMAGE_FILES, imageFolder } from '../common/service-folder';
import { freePort, startProbe } from '../demo/probe';
import { answers, checkState, sleep, until } from './stats';

export const BENCH_SERVICE = path.join(REPO_ROOT, 'dist', 'bench', 'service.js');
const TMPFS = '/dev/shm';
export const TCP = ['--tcp-established'];

/** How a command starts: as it is (here), or on a host of the stack (stack/host-process.ts). */
export type Wrap = (cmd: string, args: string[]) => string[];
/** Where a bare tree or a CRIU command runs, and the address its service answers at there. */
export interface Place {
  wrap: Wrap;
  address: string;
}
/** This machine's own network, on loopback: where the floor and the lazy rows run. */
export const HERE: Place = { wrap: (cmd, args) => [cmd, ...args], address: '127.0.0.1' };

export interface CriuRun {
  downtimeMs: number; // longest gap seen by the 5 ms probe
  freezeToResumeMs: number; // dump start until the restored service answers
  dumpMs: number; // dump start until the service can be restored (floor: images written; lazy: non-memory images written)
  restoreMs: number; // criu restore start until it returned
  pagesDoneMs?: number; // lazy: dump start until the last page reached the target
  imageBytes: number;
}

/** A bare service tree, shaped like the daemon's (own PID namespace, session leader), stdio on /dev/null. */
export interface BareTree {
  init: number;
  wrapper: ChildProcess;
  /** Resolves when the whole tree is gone (unshare exits after its namespace's last process). */
  gone: Promise<void>;
}

export async function startBareTree(port: number, fillMiB: number, procs = 1, at: Place = HERE): Promise<BareTree> {
  const init = `"$@"`;
  const [cmd, ...args] = at.wrap('unshare', ['--pid', '--fork', 'setsid', 'sh', '-c', init, 'bench-init', process.execPath, BENCH_SERVICE,
    '--port', String(port), '--fill-mib', String(fillMiB), '--procs', String(procs)]);
  // nsenter (a host's network) execs unshare in place: the wrapper's pid is unshare's either way.
  const wrapper = spawn(cmd, args, { stdio: 'ignore', cwd: '/' });
  const gone = new Promise<void>((r) => wrapper.once('exit', () => r()));
  let pid = 0;
  await until('bare tree start', async () => !!(pid = childrenOf(wrapper.pid!)[0] ?? 0), 5000);
  await until('bare service answering', () => answers(`${at.address}:${port}`), 60_000, 20);
  return { init: pid, wrapper, gone };
}

export function imageBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

export function freshDir(name: string): string {
  const dir = path.join(TMPFS, `fastmig-bench-${process.pid}`, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export function cleanTmpfs(): void {
  fs.rmSync(path.join(TMPFS, `fastmig-bench-${process.pid}`), { recursive: true, force: true });
}

export async function criu(bin: string, args: string[], dir: string, log: string, wrap = HERE.wrap): Promise<void> {
  const [cmd, ...argv] = wrap(bin, [...args, '-D', dir, '-o', log]);
  const r = await execa(cmd, argv, { reject: false, timeout: 120_000, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`criu ${args[0]} failed: ${errorLines(path.join(dir, log))}`);
}

export function errorLines(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => /Error|FAILED/.test(l) && !/RLIMIT_NOFILE/.test(l)).slice(-3).join(' | ');
  } catch {
    return 'no log';
  }
}

/** Destroys every TCP socket bound to the local port (listening and accepted ones). */
export async function freePortOf(port: number, wrap = HERE.wrap): Promise<void> {
  const ss = (args: string[]) => {
    const [cmd, ...argv] = wrap('ss', args);
    return execa(cmd, argv, { reject: false });
  };
  const filter = `sport = :${port}`;
  await ss(['-K', '-t', '-a', filter]);
  await until('lazy: source sockets closed', async () => (await ss(['-H', '-t', '-a', filter])).stdout.trim() === '', 5000, 2);
}

/** Kills whatever a run left: the source tree (if a dump failed) and the restored tree. */
export function cleanup(tree: BareTree, pidfile: string, dirs: string[]): void {
  signal(tree.init, 'SIGKILL');
  const restored = fs.existsSync(pidfile) ? Number(fs.readFileSync(pidfile, 'utf8').trim()) : 0;
  if (restored) signal(restored, 'SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
}

/** Floor: criu dump, then criu restore of the same images, same host, tmpfs. */
export async function floorRun(bin: string, fillMiB: number, procs = 1): Promise<CriuRun> {
  const port = await freePort();
  const tree = await startBareTree(port, fillMiB, procs);
  const dir = freshDir(`floor-${port}`);
  const pidfile = imageFolder(dir).restorePid;
  const probe = startProbe(`127.0.0.1:${port}`, 5);
  try {
    await sleep(30);
    const t0 = Date.now();
    await criu(bin, ['dump', '-t', String(tree.init), ...TCP, '--skip-in-flight'], dir, IMAGE_FILES.dumpLog);
    const t1 = Date.now();
    await criu(bin, ['restore', '-d', ...TCP, '--pidfile', pidfile], dir, IMAGE_FILES.restoreLog);
    const t2 = Date.now();
    await until('floor: restored service answering', () => answers(`127.0.0.1:${port}`), 10_000, 1);
    const t3 = Date.now();
    await sleep(30);
    const p = await probe.stop();
    await checkState(`127.0.0.1:${port}`, 'floor');
    return { downtimeMs: p.maxGapMs, freezeToResumeMs: t3 - t0, dumpMs: t1 - t0, restoreMs: t2 - t1, imageBytes: imageBytes(dir) };
  } finally {
    await probe.stop();
    cleanup(tree, pidfile, [dir]);
  }
}

/** Starts a criu command that reports readiness on fd 3 (--status-fd 3); resolves when it is ready. */
export function startReady(bin: string, args: string[], dir: string, log: string, wrap = HERE.wrap): Promise<{ child: ChildProcess; exited: Promise<number> }> {
  const [cmd, ...argv] = wrap(bin, [...args, '-D', dir, '-o', log, '--status-fd', '3']);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`criu ${args[0]} not ready in 60 s: ${errorLines(path.join(dir, log))}`)), 60_000);
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    fd3.once('data', () => {
      clearTimeout(timer);
      resolve({ child, exited });
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`criu ${args[0]} exited (${code}) before it was ready: ${errorLines(path.join(dir, log))}`));
    });
  });
}

/**
 * Post-copy at the CRIU level: the source dumps everything but memory and serves pages; the
 * non-memory images are copied to a second folder (the "target"); a lazy-pages daemon there pulls
 * pages over TCP from the source while `restore --lazy-pages` resumes the tree at once.
 */
export async function lazyRun(bin: string, fillMiB: number): Promise<CriuRun> {
  const port = await freePort();
  const pagePort = await freePort();
  const tree = await startBareTree(port, fillMiB);
  const src = freshDir(`lazy-src-${port}`);
  const dst = freshDir(`lazy-dst-${port}`);
  const pidfile = imageFolder(dst).restorePid;
  const probe = startProbe(`127.0.0.1:${port}`, 5);
  const started: ChildProcess[] = [];
  try {
    await sleep(30);
    const t0 = Date.now();
    const dump = await startReady(bin, ['dump', '-t', String(tree.init), ...TCP, '--skip-in-flight', '--lazy-pages', '--address', '127.0.0.1', '--port', String(pagePort)], src, IMAGE_FILES.dumpLog);
    started.push(dump.child);
    const t1 = Date.now();
    // The dumped tree stays frozen (and so holds the service's port) until its last page was
    // served. Between two hosts that is harmless; on one host the restore must bind the same
    // port, so the source's TCP sockets on it are destroyed (ss -K) while it stays frozen.
    await freePortOf(port);
    for (const f of fs.readdirSync(src)) if (!f.endsWith('.log')) fs.copyFileSync(path.join(src, f), path.join(dst, f));
    const lazy = await startReady(bin, ['lazy-pages', '--page-server', '--address', '127.0.0.1', '--port', String(pagePort)], dst, 'lazy.log');
    started.push(lazy.child);
    const t2 = Date.now();
    await criu(bin, ['restore', '-d', ...TCP, '--lazy-pages', '--pidfile', pidfile], dst, IMAGE_FILES.restoreLog);
    const t3 = Date.now();
    await until('lazy: restored service answering', () => answers(`127.0.0.1:${port}`), 20_000, 1);
    const t4 = Date.now();
    const code = await Promise.race([dump.exited, sleep(120_000).then(() => -2)]);
    const t5 = Date.now();
    await Promise.race([lazy.exited, sleep(10_000)]);
    await sleep(30);
    const p = await probe.stop();
    if (code !== 0) throw new Error(`lazy dump ended with ${code}: ${errorLines(imageFolder(src).dumpLog)}`);
    await checkState(`127.0.0.1:${port}`, 'lazy');
    return { downtimeMs: p.maxGapMs, freezeToResumeMs: t4 - t0, dumpMs: t1 - t0, restoreMs: t3 - t2, pagesDoneMs: t5 - t0, imageBytes: imageBytes(dst) };
  } finally {
    await probe.stop();
    for (const c of started) if (c.exitCode === null) signal(c.pid!, 'SIGKILL');
    cleanup(tree, pidfile, [src, dst]);
  }
}
