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
