// Memory limits by the kernel. A service with `memoryLimitMiB` runs in a memory cgroup of its own:
// the kernel's OOM killer ends it when it goes over (no swap either), and the cgroup's `oom_kill`
// counter tells the daemon that the limit, not something else, killed it.
//
// Found on the machines here (Linux 6.18): cgroup v1, the memory controller at
// /sys/fs/cgroup/memory, writable by root (mkdir, memory.limit_in_bytes, cgroup.procs); a process
// over the limit is OOM-killed and memory.oom_control counts `oom_kill N`. Writing "0" to
// cgroup.procs moves the writing process itself, so a shell joins the group and then execs the
// tree, which is born inside it. cgroup v2 (memory.max, memory.events) is the norm elsewhere.
// Where neither is writable the daemon refuses to start a limited service rather than run it
// without its limit.
//
// v1: the group is made below the daemon's own memory cgroup, so whatever limit the daemon itself
// runs under still holds for its service. v2 forbids controllers below a group that has processes
// of its own (the daemon's), so there it is made below `/sys/fs/cgroup/fastmig`, as container
// runtimes do with their own parent group.
//
// In a container the engine enforces the limit (`docker run --memory`); the daemon only reads the
// container's own counter (engineMemoryCgroup).
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';

const ROOT = '/sys/fs/cgroup';
const V1 = path.join(ROOT, 'memory');

export interface MemoryCgroup {
  /** The file a process writes "0" into to join the group (null: it is in the group already). */
  procsFile: string | null;
  /** How many processes the kernel's OOM killer ended in the group so far. */
  oomKills(): number;
  remove(): void;
}

function write(file: string, value: string | number): void {
  fs.writeFileSync(file, String(value));
}

function oomCount(file: string): number {
  try {
    return Number(/^oom_kill (\d+)$/m.exec(fs.readFileSync(file, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** This process's path in a hierarchy of /proc/self/cgroup ("memory" for v1, "" for v2). */
function ownPath(controller: string): string {
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, p] = line.split(':');
    if (p !== undefined && ctrls.split(',').includes(controller)) return p;
  }
  return '/';
}

function v2HasMemory(): boolean {
  try {
    return fs.readFileSync(path.join(ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory');
  } catch {
    return false;
  }
}

/**
 * Creates (or takes over, after a daemon that did not clean up) the memory cgroup of the service
 * whose folder is `dir`, limited to `limitMiB` of memory and no swap.
 */
export function createMemoryCgroup(dir: string, service: string, limitMiB: number): MemoryCgroup {
  const bytes = limitMiB * 2 ** 20;
  // One group per service folder: two stacks on one machine may both have "hostA/kv".
  const name = `fastmig-${service}-${crypto.createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 12)}`;
  let group: string;
  let events: string;
  try {
    if (fs.existsSync(path.join(V1, 'cgroup.procs'))) {
      group = path.join(V1, ownPath('memory'), name);
      fs.mkdirSync(group, { recursive: true });
      // memsw (memory + swap) may never be below the memory limit: open it, set both.
      const memsw = path.join(group, 'memory.memsw.limit_in_bytes');
      const hasMemsw = fs.existsSync(memsw);
      if (hasMemsw) write(memsw, -1);
      write(path.join(group, 'memory.limit_in_bytes'), bytes);
      if (hasMemsw) write(memsw, bytes);
      events = path.join(group, 'memory.oom_control');
    } else if (v2HasMemory()) {
      const parent = path.join(ROOT, 'fastmig');
      fs.mkdirSync(parent, { recursive: true });
      write(path.join(parent, 'cgroup.subtree_control'), '+memory');
      group = path.join(parent, name);
      fs.mkdirSync(group, { recursive: true });
      write(path.join(group, 'memory.max'), bytes);
      if (fs.existsSync(path.join(group, 'memory.swap.max'))) write(path.join(group, 'memory.swap.max'), 0);
      // The whole tree goes at once, as a service killed for its memory should.
      write(path.join(group, 'memory.oom.group'), 1);
      events = path.join(group, 'memory.events');
    } else {
      throw new Error('no memory controller in /sys/fs/cgroup (v1 memory/ or v2 cgroup.controllers)');
    }
  } catch (err) {
    throw new Error(`the memory limit of ${limitMiB} MiB needs a writable memory cgroup: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    procsFile: path.join(group, 'cgroup.procs'),
    oomKills: () => oomCount(events),
    remove() {
      try {
        fs.rmdirSync(group);
      } catch {
        /* still has processes (the kernel frees it when they are gone), or gone already */
      }
    },
  };
}

/** Inside a container: the engine's cgroup of the container is the daemon's own (mounted at the root). */
export function engineMemoryCgroup(): MemoryCgroup {
  const events = [path.join(V1, 'memory.oom_control'), path.join(ROOT, 'memory.events')].find((f) => fs.existsSync(f));
  return { procsFile: null, oomKills: () => (events ? oomCount(events) : 0), remove: () => undefined };
}
