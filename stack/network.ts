// The hosts of an embedded stack as machines of their own on this one: a network namespace per
// host, joined by a veth pair to one Linux bridge per stack home, and one more namespace of the
// same kind for the control plane (Temporal, S3, the orchestrator, the HTTP API), which is reached
// at its own address like any other machine. The bridge holds the subnet's .1, so commands run on
// this machine (the CLI, the tests) reach every host and the control plane over the bridge. The
// namespaces get no default route and the root namespace no NAT: nothing a host sends can leave
// the machine.
import crypto from 'crypto';
import path from 'path';
import execa from 'execa';
import { HostName, parseOrThrow } from '../common/schemas';
import { pickSubnet } from './subnet';

/** The interface name every host sees inside its namespace. */
export const HOST_IF = 'eth0';

export interface HostAddress {
  host: string;
  /** The network namespace's name (`ip netns exec <namespace> …`). */
  namespace: string;
  /** The host's IPv4 address on the bridge. */
  address: string;
  /** The root-namespace end of the host's veth pair (on the bridge). */
  veth: string;
}

/**
 * The control plane's namespace takes the place of a host named this; the underscore keeps it
 * apart from every valid host name.
 */
export const CONTROL = '_control';

export interface HostNetwork {
  bridge: string;
  /** The control plane's namespace and address, or null while it does not exist. */
  control: HostAddress | null;
  /** The bridge's own address: where hosts reach the root namespace's services. */
  gateway: string | null;
  /** The /24 in CIDR notation, or null while the bridge does not exist. */
  subnet: string | null;
  hosts: HostAddress[];
}

function digest(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/**
 * Kernel names derived from the home, so two homes never share one. Interface names are at most
 * 15 characters; 'n', 'v' and 'p' after "fm" keep them apart from the engines' `fm<hex>` bridges.
 */
export function netNames(home: string): { bridge: string; nsPrefix: string } {
  const h = digest(path.resolve(home));
  return { bridge: `fmn${h.slice(0, 10)}`, nsPrefix: `fm-${h.slice(0, 8)}-` };
}

export function namespaceOf(home: string, host: string): string {
  return `${netNames(home).nsPrefix}${host}`;
}

export function vethOf(home: string, host: string): string {
  return `fmv${digest(`${path.resolve(home)}\0${host}`).slice(0, 10)}`;
}

/** Runs `ip`; a failure becomes a one-line error naming the command and ip's own message. */
async function ip(args: string[]): Promise<string> {
  const r = await execa('ip', args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  return r.stdout;
}

async function linkExists(name: string, namespace?: string): Promise<boolean> {
  const ns = namespace ? ['-n', namespace] : [];
  return (await execa('ip', [...ns, 'link', 'show', 'dev', name], { reject: false })).exitCode === 0;
}

async function namespaces(): Promise<string[]> {
  const list = JSON.parse((await ip(['-j', 'netns', 'list'])) || '[]') as { name: string }[];
  return list.map((n) => n.name);
}

/** The first IPv4 address/prefix on a device, or null. */
async function addressOn(dev: string, namespace?: string): Promise<string | null> {
  const ns = namespace ? ['-n', namespace] : [];
  const r = await execa('ip', [...ns, '-j', '-4', 'addr', 'show', 'dev', dev], { reject: false });
  if (r.exitCode !== 0) return null;
  const info = (JSON.parse(r.stdout || '[]') as { addr_info?: { local: string; prefixlen: number }[] }[])[0]?.addr_info?.[0];
  return info ? `${info.local}/${info.prefixlen}` : null;
}

/** Every host network namespace of this home, with its address (hosts sorted by name). */
export async function listHosts(home: string): Promise<HostNetwork> {
  const { bridge, nsPrefix } = netNames(home);
  const own = await addressOn(bridge);
  const all: HostAddress[] = [];
  for (const namespace of (await namespaces()).filter((n) => n.startsWith(nsPrefix)).sort()) {
    const host = namespace.slice(nsPrefix.length);
    const addr = await addressOn(HOST_IF, namespace);
    all.push({ host, namespace, address: addr ? addr.split('/')[0] : '', veth: vethOf(home, host) });
  }
  const gateway = own ? own.split('/')[0] : null;
  const control = all.find((h) => h.host === CONTROL) ?? null;
  const hosts = all.filter((h) => h.host !== CONTROL);
  return { bridge, control, gateway, subnet: gateway ? `${gateway.replace(/\.\d+$/, '.0')}/24` : null, hosts };
}

async function ensureBridge(home: string): Promise<string> {
  const { bridge } = netNames(home);
  if (!(await linkExists(bridge))) await ip(['link', 'add', bridge, 'type', 'bridge']);
  let own = await addressOn(bridge);
  if (!own) {
    own = `${await pickSubnet(path.resolve(home), bridge)}.1/24`;
    await ip(['addr', 'add', own, 'dev', bridge]);
  }
  await ip(['link', 'set', bridge, 'up']);
  return own.split('/')[0].replace(/\.\d+$/, '');
}

/** One host: its namespace (loopback up), its veth pair on the bridge, its address. */
async function ensureHost(home: string, host: string, prefix: string, taken: Set<string>): Promise<void> {
  const namespace = namespaceOf(home, host);
  const veth = vethOf(home, host);
  if (!(await namespaces()).includes(namespace)) await ip(['netns', 'add', namespace]);
  await ip(['-n', namespace, 'link', 'set', 'lo', 'up']);
  const inside = await linkExists(HOST_IF, namespace);
  const outside = await linkExists(veth);
  if (inside !== outside) {
    // Half a pair (an interrupted create): start this host's link afresh.
    if (outside) await ip(['link', 'del', veth]);
    if (inside) await ip(['-n', namespace, 'link', 'del', HOST_IF]);
  }
  if (!inside || !outside) {
    await ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', HOST_IF, 'netns', namespace]);
  }
  await ip(['link', 'set', veth, 'master', netNames(home).bridge, 'up']);
  const have = await addressOn(HOST_IF, namespace);
  if (!have || !have.startsWith(`${prefix}.`)) {
    if (have) await ip(['-n', namespace, 'addr', 'flush', 'dev', HOST_IF]);
    let n = 2;
    while (taken.has(`${prefix}.${n}`)) n++;
    if (n > 254) throw new Error(`the host network ${prefix}.0/24 is full`);
    taken.add(`${prefix}.${n}`);
    // A /24 on the link and no other route: the bridge's subnet is all a host can reach.
    await ip(['-n', namespace, 'addr', 'add', `${prefix}.${n}/24`, 'dev', HOST_IF]);
  }
  await ip(['-n', namespace, 'link', 'set', HOST_IF, 'up']);
}

/**
 * Creates what is missing of the home's host network, idempotently: the control plane's namespace
 * first, then the hosts; those already present keep their address, new ones take the lowest free
 * one from .2 up (in that order, so a fresh network has the control plane at .2).
 */
export async function createHostNetwork(home: string, hosts: string[]): Promise<HostNetwork> {
  const names = [CONTROL, ...hosts.map((h) => parseOrThrow(HostName, h, 'host name'))];
  const prefix = await ensureBridge(home);
  const before = await listHosts(home);
  const present = [...before.hosts, ...(before.control ? [before.control] : [])];
  const taken = new Set(present.filter((h) => h.address.startsWith(`${prefix}.`)).map((h) => h.address));
  for (const name of names) await ensureHost(home, name, prefix, taken);
  return listHosts(home);
}

/** Process ids still running in a host's namespace. */
export async function pidsIn(home: string, host: string): Promise<number[]> {
  const r = await execa('ip', ['netns', 'pids', namespaceOf(home, host)], { reject: false });
  return r.exitCode === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
}

/** Removes one host's namespace and veth pair (its processes end with it); a no-op when absent. */
export async function removeHost(home: string, host: string): Promise<void> {
  const namespace = namespaceOf(home, host);
  if (!(await namespaces()).includes(namespace)) return;
  for (const pid of await pidsIn(home, host)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  await execa('ip', ['link', 'del', vethOf(home, host)], { reject: false });
  await ip(['netns', 'del', namespace]);
}

/**
 * Removes the home's host network: every host's processes (a host's programs end with its
 * network; the stack stops them properly before), veth pairs, namespaces and the bridge.
 * Leaves nothing behind and is a no-op when nothing is there.
 */
export async function removeHostNetwork(home: string): Promise<void> {
  const { bridge, nsPrefix } = netNames(home);
  for (const namespace of (await namespaces()).filter((n) => n.startsWith(nsPrefix))) {
    await removeHost(home, namespace.slice(nsPrefix.length));
  }
  // Ports of hosts that were removed by hand but whose veth was left on the bridge.
  const ports = JSON.parse((await execa('ip', ['-j', 'link', 'show', 'master', bridge], { reject: false })).stdout || '[]') as { ifname: string }[];
  for (const p of ports) await execa('ip', ['link', 'del', p.ifname], { reject: false });
  if (await linkExists(bridge)) await ip(['link', 'del', bridge]);
}

/** The command line that runs `cmd args` inside a host's namespace (for spawn or a detached start). */
export function inHost(home: string, host: string, cmd: string, args: string[] = []): [string, string[]] {
  return ['ip', ['netns', 'exec', namespaceOf(home, host), cmd, ...args]];
}

/** Runs a command inside a host's namespace and waits for it (execa's result; never throws on exit code). */
export function execInHost(home: string, host: string, cmd: string, args: string[] = [], opts: execa.Options = {}) {
  const [bin, argv] = inHost(home, host, cmd, args);
  return execa(bin, argv, { reject: false, ...opts });
}
