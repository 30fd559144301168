// The daemon's adapter to CRIU: the exact command lines for dump and restore, and their logs.
import fs from 'fs';
import path from 'path';
import { spawn, type ChildProcess } from 'child_process';
import { run } from './run';
import { joinCgroup } from './process-tree';
import { BASE_PATH } from './tools';
import { isAlive } from '../common/pid-file';
import type { LineLogger as Logger } from '../common/log-lite';
import { IMAGE_FILES, imageFolder, type Tools } from '../common/service-folder';

/** Written next to the CRIU images: what a restore needs to reconnect the service. */
export interface ImageSidecar {
  /** The pipe (e.g. "pipe:[1234]") that carried the service's stdout and stderr at dump time. */
  stdioPipe: string;
  service: string;
  sourceHost: string;
  /** Sizes of CRIU's image files right after the dump: a restore refuses an image that differs. */
  files?: Record<string, number>;
  /** A user's tree (daemon/user-tree.ts): the mount points CRIU binds back from the restoring host. */
  mounts?: string[];
  /** A post-copy dump: where its CRIU serves the memory pages, which are not in the folder. */
  pageServer?: { address: string; port: number };
}

export function imageFileSizes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of fs.readdirSync(dir)) if (n.endsWith('.img')) out[n] = fs.statSync(path.join(dir, n)).size;
  return out;
}

/** What is wrong with an image folder compared with its dump, or null when nothing is. */
export function imageDamage(dir: string, files: Record<string, number>): string | null {
  const now = imageFileSizes(dir);
  for (const [n, size] of Object.entries(files)) {
    if (now[n] !== size) return `${n} has ${now[n] ?? 'no'} bytes, the dump wrote ${size}`;
  }
  const extra = Object.keys(now).filter((n) => !(n in files));
  return extra.length ? `unexpected image files ${extra.join(', ')}` : null;
}

/** The sidecar of an image folder, refusing an image that is missing or not as dumped (`what` names it). */
export function readSidecar(dir: string, what: string): ImageSidecar {
  const f = imageFolder(dir);
  if (!fs.existsSync(f.sidecar)) throw new Error(`no ${what}`);
  const sidecar = JSON.parse(fs.readFileSync(f.sidecar, 'utf8')) as ImageSidecar;
  // CRIU may hang on a truncated image instead of failing: refuse one that is not as dumped.
  const damage = sidecar.files ? imageDamage(dir, sidecar.files) : null;
  if (damage) throw new Error(`${what} is damaged: ${damage}`);
  return sidecar;
}

/** Established TCP connections are dumped whole (CRIU refuses to dump them otherwise)... */
const TCP_FLAGS = ['--tcp-established'];
/** Locks held on files (SQLite holds one on its database for as long as it is open) are dumped and taken again on restore. */
const LOCK_FLAGS = ['--file-locks'];
/**
 * ...and restored open when the service's own address came along (daemon/service-address.ts):
 * TCP repair needs the same addresses on both ends. Without one the restore runs on another host,
 * with another address, where a connection to the old one could not be rebuilt (CRIU would refuse
 * the whole restore): they are restored closed, and their clients reconnect to the new endpoint.
 */
const PROCESS_RESTORE_FLAGS = { keep: ['--tcp-established'], close: ['--tcp-close'] };
/** Connections not yet accepted are dropped; their clients retry. */
const DUMP_ONLY_FLAGS = ['--skip-in-flight'];
/**
 * In a container on the engine's network: the network lock goes through libnftables, and a restore
 * closes established connections, because the new container has another IP address. A container
 * that keeps the service's own address (in its host's network) is treated as a process: the
 * bundle's iptables locks, and the connections come along.
 */
const CONTAINER_DUMP_FLAGS = ['--network-lock', 'nftables'];
const CONTAINER_RESTORE_FLAGS = ['--tcp-close', '--network-lock', 'nftables'];
/**
 * CRIU records the cgroups of the dumped tree and, by default ("soft"), a restore moves the tree
 * back into the cgroups of those names, creating them if need be: on another host that would be
 * the source's group (on one machine, the source's very own). With "ignore" on both sides (as
 * runc documents for restoring into another cgroup) CRIU leaves cgroups alone, and the restored
 * tree is born where `criu restore` runs: the daemon starts it inside the service's own memory
 * cgroup (criuRestoreArgs), so the target's limit holds from the first restored page on.
 */
const CGROUP_FLAGS = ['--manage-cgroups=ignore'];

export interface CriuTarget {
  criu: string;
  tools: Tools;
  /** In a container (see the flags above). */
  container?: boolean;
  /** The service's own address lives in the network CRIU runs in (daemon/service-address.ts). */
  ownAddress?: boolean;
  /** A user's tree in a container: CRIU archives its /dev/shm with GNU tar's options (the bundle's `gnu/tar`). */
  gnuTar?: boolean;
}

/** A container on the engine's own network, whose restore cannot keep connections. */
const engineNetwork = (t: CriuTarget) => !!t.container && !t.ownAddress;

/** The PATH for CRIU and the tools around it: in a container the bundle's come first. */
export const toolsPath = (t: { container?: boolean; tools: Tools; gnuTar?: boolean }) =>
  t.container ? `${t.gnuTar ? `${path.dirname(path.dirname(t.tools.sh))}/gnu:` : ''}${path.dirname(t.tools.sh)}:${BASE_PATH}` : BASE_PATH;

const DUMP_ATTEMPTS = 3;

/** The command line of a dump; `frozenEnv`: the action script's environment for a copy made while the tree is frozen (daemon/kept-dirs.ts, daemon/layer.ts). */
function dumpCommand(t: CriuTarget, pid: number, dir: string, leaveRunning: boolean, frozenEnv: Record<string, string> | undefined, extra: string[]) {
  const args = ['dump', '-t', String(pid), '-D', dir, '-o', IMAGE_FILES.dumpLog, ...TCP_FLAGS, ...LOCK_FLAGS, ...DUMP_ONLY_FLAGS, ...CGROUP_FLAGS, ...extra];
  if (engineNetwork(t)) args.push(...CONTAINER_DUMP_FLAGS);
  if (leaveRunning) args.push('--leave-running');
  if (frozenEnv) args.push('--action-script', t.tools.notify);
  return { args, env: { ...process.env, ...frozenEnv, PATH: toolsPath(t) } as Record<string, string> };
}

async function criuDump(t: CriuTarget, pid: number, dir: string, leaveRunning: boolean, frozenEnv: Record<string, string> | undefined, extra: string[]): Promise<void> {
  const { args, env } = dumpCommand(t, pid, dir, leaveRunning, frozenEnv, extra);
  const r = await run(t.criu, args, { timeoutMs: 120_000, env });
  if (r.exitCode !== 0) throw new Error(`criu dump failed: ${criuErrors(imageFolder(dir).dumpLog)}`);
}

/**
 * Starts a post-copy dump (daemon/post-copy.ts): CRIU writes every image but the memory pages,
 * tells its action script so (`dumpedFile`), then serves the pages at `address:port` while the
 * tree stays frozen, and leaves the tree stopped once the last page is across (SIGCONT resumes it).
 */
export function spawnLazyDump(t: CriuTarget, pid: number, dir: string, frozenEnv: Record<string, string> | undefined, server: { address: string; port: number; dumpedFile: string; tls?: PageServerTls }): ChildProcess {
  // The peer's certificate names its own address, not this one: CRIU's check of the name is off here, the CA's is not.
  const tls = server.tls ? [...tlsFlags(server.tls), '--tls-no-cn-verify'] : [];
  const lazy = ['--lazy-pages', '--address', server.address, '--port', String(server.port), '--leave-stopped', ...tls];
  const { args, env } = dumpCommand(t, pid, dir, false, { ...frozenEnv, FASTMIG_DUMPED_FILE: server.dumpedFile }, lazy);
  return spawn(t.criu, args, { env, stdio: 'ignore' });
}

/** The cluster's CA and this host's certificate and key (files), for CRIU's page server and its client: mutual TLS. */
export interface PageServerTls {
  ca: string;
  cert: string;
  key: string;
}

const tlsFlags = (f: PageServerTls) => ['--tls', '--tls-cacert', f.ca, '--tls-cert', f.cert, '--tls-key', f.key];

/** On the target of a post-copy restore: CRIU's lazy-pages daemon, which fetches the pages from the source's page server. */
export function spawnLazyPages(t: CriuTarget, dir: string, server: { address: string; port: number; tls?: PageServerTls }): ChildProcess {
  const args = ['lazy-pages', '--page-server', '--address', server.address, '--port', String(server.port), '-D', dir, '-o', IMAGE_FILES.lazyPagesLog];
  if (server.tls) args.push(...tlsFlags(server.tls));
  return spawn(t.criu, args, { cwd: dir, env: { PATH: toolsPath(t) }, stdio: 'ignore' });
}

/**
 * Dumps the tree of `pid` into `dir` (which holds the sidecar already). CRIU resumes the tree when
 * a dump fails, so the service is still running. Several dumps at once on one host fail now and
 * then (the parasite's reply comes back empty), so a failed dump of a live tree is tried again,
 * from a clean folder, twice at most.
 */
export async function dumpTree(t: CriuTarget, pid: number, dir: string, leaveRunning: boolean, log: Logger, frozenEnv?: Record<string, string>, extra: string[] = []): Promise<void> {
  // Written before the dump: kept by a retry.
  const before = new Set<string>([IMAGE_FILES.sidecar, IMAGE_FILES.keptBase, IMAGE_FILES.layerBase]);
  for (let attempt = 1; ; attempt++) {
    try {
      return await criuDump(t, pid, dir, leaveRunning, frozenEnv, extra);
    } catch (err) {
      if (attempt >= DUMP_ATTEMPTS || !isAlive(pid)) throw err;
      log.warn({ dir, attempt, err: err instanceof Error ? err.message : String(err) }, 'dump failed, trying again');
      for (const f of fs.readdirSync(dir)) if (!before.has(f)) fs.rmSync(path.join(dir, f), { force: true });
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

/**
 * Starts `criu restore` without detaching: criu stays the parent of the restored tree and exits
 * when it ends, so the daemon keeps one child to watch. fd 3 of criu is the new log pipe, handed to
 * the restored tree in place of the pipe it had at dump time (--inherit-fd); `cat` relays it.
 * criu itself runs in the service's memory cgroup, if it has one (`cgroupProcs`), `cat` not.
 */
export function spawnRestore(
  t: CriuTarget,
  dir: string,
  sidecar: ImageSidecar,
  cgroupProcs: string | null,
  keepConnections: boolean,
  /** A user's tree: CRIU runs after `prefix` (its bare binds) with `flags` (daemon/user-tree.ts). */
  user?: { prefix: string[]; flags: string[] },
  /** Post-copy: the pages come from the lazy-pages daemon in `dir` (spawnLazyPages). */
  lazy = false,
): ChildProcess {
  const f = imageFolder(dir);
  const args = [
    '-c',
    `{ ${joinCgroup('$FASTMIG_CGROUP_PROCS')}; exec "$@"; } 3>&1 1>>"$FASTMIG_CRIU_OUT" 2>&1 | ${t.tools.cat}`,
    'fastmig-restore',
    ...(user?.prefix ?? []),
    t.criu,
    'restore',
    ...(user?.flags ?? []),
    '-D',
    dir,
    '-o',
    IMAGE_FILES.restoreLog,
    ...(engineNetwork(t) ? CONTAINER_RESTORE_FLAGS : PROCESS_RESTORE_FLAGS[keepConnections ? 'keep' : 'close']),
    ...LOCK_FLAGS,
    ...CGROUP_FLAGS,
    ...(lazy ? ['--lazy-pages'] : []),
    '--pidfile',
    f.restorePid,
    '--inherit-fd',
    `fd[3]:${sidecar.stdioPipe}`,
    '--action-script',
    t.tools.notify,
  ];
  fs.rmSync(f.restorePid, { force: true });
  fs.rmSync(f.restoreReady, { force: true });
  // In a container, criu finds the bundle's tools (its action script's sh, iptables) first.
  return spawn(t.tools.sh, args, {
    cwd: dir,
    env: { PATH: toolsPath(t), FASTMIG_READY_FILE: f.restoreReady, FASTMIG_CRIU_OUT: f.criuOut, FASTMIG_CGROUP_PROCS: cgroupProcs ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The lines of a CRIU log that explain a failure (the rlimit warning is always there and harmless). */
export function criuErrors(logFile: string): string {
  try {
    const lines = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => /Error|FAILED/.test(l) && !/RLIMIT_NOFILE/.test(l));
    return lines.slice(-4).join(' | ') || 'no error lines in the CRIU log';
  } catch {
    return `no CRIU log at ${logFile}`;
  }
}
