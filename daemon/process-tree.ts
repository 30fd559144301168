// How a service's process tree is started and found. The command runs as the init of its own PID
// namespace and as a session leader, so CRIU can dump the namespace whole and a restore never
// collides with PIDs on the target. Its stdout and stderr go into one real pipe (CRIU cannot dump
// the socketpairs Node would use) that `cat`, outside the tree, relays to the daemon.
import fs from 'fs';
import { spawn, ChildProcess } from 'child_process';
import { HOST_TOOLS } from './tools';
import type { Tools } from '../common/service-folder';
import { mapIdentity, userTreeArgv, type UserTree } from './user-tree';

/** Printed by the namespace init when the service ends; the daemon reads the exit status from it. */
export const EXIT_MARKER = '@@fastmig-exit';

export interface StartOptions {
  command: string[];
  cwd: string;
  env: Record<string, string>;
  tools?: Tools;
  /** The service's memory cgroup (daemon/cgroup.ts): the tree is born inside it, `cat` stays out. */
  cgroupProcs?: string | null;
  /** Runs it as another user, in namespaces of its own (daemon/user-tree.ts). */
  user?: UserTree | null;
}

/** The shell line that moves the shell running it into a cgroup (its children are born there). */
export const joinCgroup = (procsVar: string) => `{ [ -z "${procsVar}" ] || echo 0 > "${procsVar}" || exit 125; }`;

export function spawnServiceTree(opts: StartOptions): ChildProcess {
  const t = opts.tools ?? HOST_TOOLS;
  const init = `"$@"; echo "${EXIT_MARKER} $?"`;
  if (opts.user) {
    const outer = `C=$1; shift; { ${joinCgroup('$C')}; exec ${t.unshare} -m -p -f --propagation private ${t.setsid} "$@"; } </dev/null 2>&1 | ${t.cat}`;
    const argv = [...userTreeArgv(opts.user, opts.cwd), t.sh, '-c', init, 'fastmig-init', ...opts.command];
    return spawn(t.sh, ['-c', outer, 'fastmig-wrap', opts.cgroupProcs ?? '', ...argv], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  // Short options: busybox's unshare (the container bundle) knows no --pid/--fork.
  const tree = `${t.unshare} -p -f ${t.setsid} ${t.sh} -c "$S" fastmig-init "$@"`;
  const outer = `C=$1; S=$2; shift 2; { ${joinCgroup('$C')}; exec ${tree}; } </dev/null 2>&1 | ${t.cat}`;
  return spawn(t.sh, ['-c', outer, 'fastmig-wrap', opts.cgroupProcs ?? '', init, ...opts.command], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function childrenOf(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The host PID of the namespace init below a wrapper started by spawnServiceTree (given `user`, once it runs as that user). */
export async function findNamespaceInit(wrapperPid: number, user: UserTree | null = null, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const unshare = childrenOf(wrapperPid).find((p) => comm(p) === 'unshare');
    const init = unshare ? childrenOf(unshare)[0] : undefined;
    if (init && comm(init) !== 'unshare') {
      if (user) await mapIdentity(init);
      return init;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('the service process did not start within 5 s');
}

/** Every process below pid (children first found, then theirs). */
export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    for (const c of childrenOf(todo.pop()!)) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** `sig` to `pid` and every process below it. */
export function signalTree(pid: number, sig: NodeJS.Signals): void {
  for (const p of [pid, ...descendantsOf(pid)]) signal(p, sig);
}

export function stdioPipeOf(pid: number): string {
  const target = fs.readlinkSync(`/proc/${pid}/fd/1`);
  if (!target.startsWith('pipe:')) throw new Error(`the service's stdout is ${target}, not the daemon's pipe`);
  return target;
}

/** Polls cond every 2 ms until it holds (true), abort holds or the time runs out (false). */
export async function waitFor(cond: () => boolean, abort: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return true;
    if (abort()) return cond();
    await new Promise((r) => setTimeout(r, 2));
  }
  return cond();
}
