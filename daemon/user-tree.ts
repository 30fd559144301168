// A service that runs as another user (`spec.user`). CRIU reads the resource limits of every task it
// dumps, which the kernel allows for another user's task only with CAP_SYS_RESOURCE over its user
// namespace; root on some hosts lacks it. So the tree runs in a user namespace of its own with an
// identity map (uids and gids unchanged, root owns it and holds every capability in it), and, as
// CRIU then requires, with mount and IPC namespaces owned by it: a clean mount tree
// (daemon/user-root.sh) whose every mount CRIU can bind back on another host (daemon/user-restore.sh).
// One way on every host, so an image restores anywhere. PLATFORM notes have the CRIU errors met.
import fs from 'fs';
import path from 'path';
import { isRoot, resolveRunAs } from '../common/accounts';
import { REPO_ROOT } from '../common/config';
import { BUNDLE_MOUNT, BUNDLE_TOOLS, HOST_TOOLS } from './tools';

const ROOT_SCRIPT = path.join(REPO_ROOT, 'daemon', 'user-root.sh');
const RESTORE_SCRIPT = path.join(REPO_ROOT, 'daemon', 'user-restore.sh');

/** File systems of the kernel's own, never a service's data: the tree gets /dev, /proc and /dev/shm of its own instead. */
const PSEUDO = new Set('proc sysfs cgroup cgroup2 devpts mqueue devtmpfs debugfs tracefs securityfs bpf pstore fusectl configfs hugetlbfs nsfs binfmt_misc autofs efivarfs rpc_pipefs'.split(' '));

export interface UserTree {
  /** An account name or uid, with `:group` or `:gid` or not (as an image's USER). */
  user: string;
  /** The service folder: the tree's root and the restore's bare binds are made below it. */
  dir: string;
  /** Inside a container: the tools and scripts come from the bundle, and only the service folder is fastmig's own. */
  container: boolean;
}

export function userTreeOf(user: string | undefined, dir: string, container = false): UserTree | null {
  return user && !(container && isRoot(user)) ? { user, dir, container } : null;
}

/** The scripts and the folder of their tools ('-': the PATH's). */
const scripts = (t: UserTree) =>
  t.container ? { root: `${BUNDLE_MOUNT}/bin/user-root`, restore: `${BUNDLE_MOUNT}/bin/user-restore`, bin: `${BUNDLE_MOUNT}/bin` } : { root: ROOT_SCRIPT, restore: RESTORE_SCRIPT, bin: '-' };
const toolsOf = (t: UserTree) => (t.container ? BUNDLE_TOOLS : HOST_TOOLS);

interface Mount {
  mountpoint: string;
  fstype: string;
}

/** /proc/<pid>/mountinfo, each mount point once (the last mounted there is the one seen). */
function mountsOf(pid: number | 'self'): Mount[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const byPoint = new Map<string, Mount>();
  for (const line of fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter(Boolean)) {
    const [left, right] = line.split(' - ');
    const mountpoint = unescape(left.split(' ')[4]);
    byPoint.delete(mountpoint);
    byPoint.set(mountpoint, { mountpoint, fstype: right.split(' ')[0] });
  }
  return [...byPoint.values()];
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);

/**
 * The host's data mounts the tree gets (each bound alone): all but the kernel's own, those below
 * /proc, /sys and /dev, and fastmig's own folders (another host's are not there on the target).
 */
function dataMounts(t: UserTree): string[] {
  const own = t.container ? t.dir : path.resolve(t.dir, '..', '..', '..');
  return mountsOf('self')
    .filter((m) => m.mountpoint !== '/' && !PSEUDO.has(m.fstype))
    .map((m) => m.mountpoint)
    .filter((p) => !['/proc', '/sys', '/dev'].some((d) => under(p, d)) && !under(p, own) && !under(own, p));
}

/** The argv (before the init's) that starts the tree as `t.user` (PID 1 of a new PID namespace runs it). */
export function userTreeArgv(t: UserTree, cwd: string): string[] {
  const a = resolveRunAs(t.user);
  if (!a) throw new Error(`no user "${t.user}" ${t.container ? 'in the image' : 'on this host'}`);
  const root = path.join(t.dir, 'root');
  fs.mkdirSync(root, { recursive: true });
  const s = scripts(t);
  return [toolsOf(t).sh, s.root, s.bin, root, cwd, String(a.uid), String(a.gid), a.named ? 'init' : 'clear', ...dataMounts(t), '--'];
}

/** Writes the identity map of the tree's user namespace once its init has entered it (user-root.sh waits for it). */
export async function mapIdentity(pid: number, timeoutMs = 5000): Promise<void> {
  const own = fs.readlinkSync('/proc/self/ns/user');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ns = own;
    try {
      ns = fs.readlinkSync(`/proc/${pid}/ns/user`);
    } catch {
      throw new Error('the service ended before it could run as its user');
    }
    if (ns !== own) break;
    if (Date.now() > deadline) throw new Error('the service did not enter its user namespace within 5 s');
    await new Promise((r) => setTimeout(r, 2));
  }
  // Every id maps to itself: files, sockets and processes see the same uids as outside.
  fs.writeFileSync(`/proc/${pid}/uid_map`, '0 0 4294967295');
  fs.writeFileSync(`/proc/${pid}/gid_map`, '0 0 4294967295');
}

/** The mounts of a running tree that CRIU binds back rather than recreates: all but its root, /proc and /dev/shm. */
export function treeExternals(pid: number): string[] {
  return mountsOf(pid)
    .filter((m) => m.mountpoint !== '/' && !(m.mountpoint === '/proc' && m.fstype === 'proc') && !(m.mountpoint === '/dev/shm' && m.fstype === 'tmpfs'))
    .map((m) => m.mountpoint);
}

/** CRIU's dump flags for those mounts: each marked external under a key its position names. */
export const externalDumpFlags = (mounts: string[]) => mounts.flatMap((m, i) => ['--external', `mnt[${m}]:fm${i}`]);

/** The restore's command line prefix (bare binds in a mount namespace of its own) and CRIU's flags for them. */
export function userRestore(t: UserTree, mounts: string[]): { prefix: string[]; flags: string[] } {
  const bare = path.join(t.dir, 'bare');
  fs.mkdirSync(bare, { recursive: true });
  return {
    prefix: [toolsOf(t).unshare, '-m', '--propagation', 'private', toolsOf(t).sh, scripts(t).restore, scripts(t).bin, bare, ...mounts, '--'],
    flags: ['--root', path.join(bare, 'root'), ...mounts.flatMap((_, i) => ['--external', `mnt[fm${i}]:${path.join(bare, String(i))}`])],
  };
}
