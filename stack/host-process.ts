// How a program runs "on" a host of the embedded stack: in the host's network namespace, and in a
// mount namespace of its own in which each per-host folder (service folders, image folders) shows
// only this host's sub-folder (the others are covered by an empty tmpfs), and /srv is the host's own.
// Measured here: a service
// started from such a process, and CRIU run from it, dump and restore normally; dockerd starts in
// a host's network namespace by `nsenter --net`, but not under `ip netns exec`, whose fresh /sys
// hides the cgroup mounts ("Devices cgroup isn't mounted").
import path from 'path';
import execa from 'execa';
import { HOST_IF, namespaceOf } from './network';

/**
 * For each folder given (each holding one sub-folder per host): moves this host's sub-folder aside,
 * covers the folder with a tmpfs, puts the sub-folder back. The mount namespace then sees only its
 * own host's sub-folder there. The propagation is slave, so nothing of this reaches the machine's
 * namespace, while mounts made there later (e.g. a new tmpfs) still show up here.
 */
const PRIVATE_VIEW = `set -e
O=$1; shift
while [ "$1" != -- ]; do
  P=$1; shift
  mkdir -p "$P/$O"
  A=$(mktemp -d /run/fastmig-own.XXXXXX)
  mount --bind "$P/$O" "$A"
  mount -t tmpfs -o mode=0700 fastmig-hosts "$P"
  mkdir "$P/$O"
  mount --move "$A" "$P/$O"
  rmdir "$A"
done
shift
if [ -n "$FASTMIG_HOST_SRV" ]; then
  mkdir -p "$FASTMIG_HOST_SRV/$O" /srv
  mount --bind "$FASTMIG_HOST_SRV/$O" /srv
  unset FASTMIG_HOST_SRV
fi
exec "$@"`;

export interface HostProcessOptions {
  /** Folders holding one sub-folder per host (service folders, image folders): this host sees only its own. */
  hostsDirs?: string[];
  /**
   * A folder holding one sub-folder per host, each seen by its host as /srv: the same path on every
   * host, different data on each (where services keep their files, `--keep /srv/...`).
   */
  srvDir?: string;
}

/**
 * The argv that starts `cmd args` on a host: `nsenter --net` (not `ip netns exec`, so /sys and its
 * cgroup mounts stay the machine's), then `unshare --mount` for the private view of hostsDirs.
 */
export function hostProcessArgv(home: string, host: string, cmd: string, args: string[], o: HostProcessOptions = {}): string[] {
  const net = ['nsenter', `--net=/run/netns/${namespaceOf(home, host)}`];
  if (!o.hostsDirs?.length) return [...net, cmd, ...args];
  const dirs = o.hostsDirs.map((d) => path.resolve(d));
  const srv = o.srvDir ? ['env', `FASTMIG_HOST_SRV=${path.resolve(o.srvDir)}`] : [];
  return [...net, 'unshare', '--mount', '--propagation', 'slave', ...srv, 'sh', '-c', PRIVATE_VIEW, 'fastmig-host', host, ...dirs, '--', cmd, ...args];
}

async function ipIn(home: string, host: string, args: string[]): Promise<void> {
  const r = await execa('ip', ['-n', namespaceOf(home, host), ...args], { reject: false });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(' ')} on ${host}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
}

/** Gives a host an extra address (a service's own, /32 beside the host's /24); idempotent. */
export async function addServiceAddress(home: string, host: string, address: string): Promise<void> {
  const r = await execa('ip', ['-n', namespaceOf(home, host), '-4', '-o', 'addr', 'show', 'dev', HOST_IF], { reject: false });
  if (r.stdout.includes(` ${address}/32 `)) return;
  await ipIn(home, host, ['addr', 'add', `${address}/32`, 'dev', HOST_IF]);
}

export async function removeServiceAddress(home: string, host: string, address: string): Promise<void> {
  await execa('ip', ['-n', namespaceOf(home, host), 'addr', 'del', `${address}/32`, 'dev', HOST_IF], { reject: false });
}

/**
 * Before restoring a service whose address just moved here: forget this host's neighbours, so the
 * restored connections' first packets ARP for their peers from the service's address, and the
 * peers replace the source host's MAC they still hold for it. Without it an established connection
 * stalled here for 55-60 s (the peer's stale entry stays confirmed by TCP); with it, 6 of 6 moves
 * kept their connection without a gap over 0.5 s. Peers with no connection open learn it only
 * from a gratuitous ARP (a raw socket: `arping -U` or equivalent), sent after the restore.
 */
export async function forgetNeighbours(home: string, host: string): Promise<void> {
  await ipIn(home, host, ['neigh', 'flush', 'dev', HOST_IF]);
}
