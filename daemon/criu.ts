// The daemon's adapter to CRIU: the exact command lines for dump and restore, and their logs.
import fs from 'fs';
import path from 'path';
import { run } from './run';
import type { Tools } from './tools';

/** Written next to the CRIU images: what a restore needs to reconnect the service. */
export interface ImageSidecar {
  /** The pipe (e.g. "pipe:[1234]") that carried the service's stdout and stderr at dump time. */
  stdioPipe: string;
  service: string;
  sourceHost: string;
  /** Sizes of CRIU's image files right after the dump: a restore refuses an image that differs. */
  files?: Record<string, number>;
}
export const SIDECAR = 'fastmig.json';

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

/** Established TCP connections are kept whole: every host here shares the service's address. */
const TCP_FLAGS = ['--tcp-established'];
/** Connections not yet accepted are dropped; their clients retry. */
const DUMP_ONLY_FLAGS = ['--skip-in-flight'];
/**
 * In a container: the network lock goes through libnftables (no iptables binary in the image), and
 * a restore closes established connections, because the new container has another IP address.
 */
const CONTAINER_DUMP_FLAGS = ['--network-lock', 'nftables'];
const CONTAINER_RESTORE_FLAGS = ['--tcp-close', '--network-lock', 'nftables'];

export async function criuDump(criu: string, pid: number, dir: string, leaveRunning: boolean, container = false): Promise<void> {
  const args = ['dump', '-t', String(pid), '-D', dir, '-o', 'dump.log', ...TCP_FLAGS, ...DUMP_ONLY_FLAGS];
  if (container) args.push(...CONTAINER_DUMP_FLAGS);
  if (leaveRunning) args.push('--leave-running');
  const r = await run(criu, args, { timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new Error(`criu dump failed: ${criuErrors(path.join(dir, 'dump.log'))}`);
}

/**
 * Starts `criu restore` without detaching: criu stays the parent of the restored tree and exits
 * when it ends, so the daemon keeps one child to watch. fd 3 of criu is the new log pipe, handed to
 * the restored tree in place of the pipe it had at dump time (--inherit-fd); `cat` relays it.
 */
export function criuRestoreArgs(criu: string, dir: string, sidecar: ImageSidecar, pidfile: string, tools: Tools, container = false): string[] {
  return [
    '-c',
    `"$@" 3>&1 1>>"$FASTMIG_CRIU_OUT" 2>&1 | ${tools.cat}`,
    'fastmig-restore',
    criu,
    'restore',
    '-D',
    dir,
    '-o',
    'restore.log',
    ...(container ? CONTAINER_RESTORE_FLAGS : TCP_FLAGS),
    '--pidfile',
    pidfile,
    '--inherit-fd',
    `fd[3]:${sidecar.stdioPipe}`,
    '--action-script',
    tools.notify,
  ];
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
