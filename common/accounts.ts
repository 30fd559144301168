// The host's accounts, read from its passwd file (a service's `user`): no package, so the daemon
// and the host agent share it.
import fs from 'fs';

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

/** The account named `name` in `passwdFile`, or null when the host has none. */
export function lookupAccount(name: string, passwdFile = '/etc/passwd'): Account | null {
  for (const line of fs.readFileSync(passwdFile, 'utf8').split('\n')) {
    const [n, , uid, gid] = line.split(':');
    if (n === name && /^\d+$/.test(uid ?? '') && /^\d+$/.test(gid ?? '')) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return null;
}

export interface RunAs {
  uid: number;
  gid: number;
  /** The account's groups as well (false: a uid the passwd file does not name gets none but its gid). */
  named: boolean;
}

const idOf = (s: string, file: string, idField: number): number | null => {
  if (/^\d+$/.test(s)) return Number(s);
  for (const line of fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : []) {
    const f = line.split(':');
    if (f[0] === s && /^\d+$/.test(f[idField] ?? '')) return Number(f[idField]);
  }
  return null;
};

/**
 * Whom `user` names, as an image's USER does: `name`, `uid`, either with `:group` or `:gid`. A name
 * must be in `etc`/passwd (a uid need not: it then runs with gid 0 unless one is given); null when
 * something named is not there.
 */
export function resolveRunAs(user: string, etc = '/etc'): RunAs | null {
  const [u, g] = user.split(':');
  const byUid = /^\d+$/.test(u);
  const account = byUid ? null : lookupAccount(u, `${etc}/passwd`);
  if (!byUid && !account) return null;
  const uid = account?.uid ?? Number(u);
  const entry = byUid && fs.existsSync(`${etc}/passwd`) ? fs.readFileSync(`${etc}/passwd`, 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[2] === u) : null;
  const gid = g !== undefined ? idOf(g, `${etc}/group`, 2) : account?.gid ?? (entry && /^\d+$/.test(entry[3] ?? '') ? Number(entry[3]) : 0);
  return gid === null ? null : { uid, gid, named: !!account || !!entry };
}

/** True when `user` is root (an image's USER of `0`, `root`, `0:0`...): no tree of another user is needed. */
export const isRoot = (user: string | undefined) => !user || ['0', 'root'].includes(user.split(':')[0]);
