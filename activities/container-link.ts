// The host's network as its services see it: the interface that carries the host's address (a
// service's own address goes beside it), and the link of a container that keeps its service's own
// address. The engine gives such a container no network
// (--network none: its ports stay its own, and no engine address changes with the host), and this
// host links it with a veth pair. The container's end carries the address; this host routes to it
// and answers for it on its own segment (proxy ARP), but only while that end is up: the daemon
// inside takes it up when it claims the address and down when it lets go of it
// (daemon/service-address.ts), so the host that answers for the address is the one whose copy
// holds it. Removing the container removes the pair and the route with it.
import crypto from 'crypto';
import execa from 'execa';
import { ApplicationFailure } from '@temporalio/activity';

/** The network interface that carries this host's own address (a service's address goes beside it). */
export async function interfaceOf(address: string): Promise<string> {
  const r = await execa('ip', ['-o', '-4', 'addr', 'show'], { reject: false });
  const line = r.stdout.split('\n').find((l) => l.includes(` ${address}/`));
  const dev = line?.split(/\s+/)[1];
  if (!dev) throw ApplicationFailure.nonRetryable(`no interface of this host carries its address ${address}: a service address cannot go beside it`, 'NoInterface');
  return dev;
}

/** The container's end, as the daemon inside sees it. */
export const CONTAINER_DEV = 'eth0';

const linkName = (prefix: string, host: string, service: string) =>
  prefix + crypto.createHash('sha256').update(`${host}/${service}`).digest('hex').slice(0, 11);

async function must(cmd: string, args: string[]): Promise<void> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
}

export interface ContainerLink {
  host: string;
  service: string;
  /** The container's init process (its network namespace). */
  pid: number;
  address: string;
  /** This host's interface on the hosts' segment. */
  uplink: string;
}

/** Links a freshly started container (its end left down until its daemon claims the address). */
export async function linkContainer(l: ContainerLink): Promise<void> {
  const outer = linkName('fmo', l.host, l.service);
  const inner = linkName('fmi', l.host, l.service);
  await execa('ip', ['link', 'del', outer], { reject: false }); // left by a container that is gone
  await must('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
  await must('ip', ['link', 'set', inner, 'netns', String(l.pid)]);
  const inside = (args: string[]) => must('nsenter', ['-t', String(l.pid), '-n', 'ip', ...args]);
  // The address itself is the daemon's to put on (it may claim it as soon as the link has its name).
  await inside(['link', 'set', inner, 'name', CONTAINER_DEV]);
  const settings = [
    'net.ipv4.ip_forward=1',
    // The gratuitous ARP below is sent from the address, which is not this host's own.
    'net.ipv4.ip_nonlocal_bind=1',
    `net.ipv4.conf.${l.uplink}.proxy_arp=1`,
    `net.ipv4.conf.${outer}.proxy_arp=1`,
    // While the container's end is down its route does not count: no answer for the address here.
    `net.ipv4.conf.${outer}.ignore_routes_with_linkdown=1`,
  ];
  for (const s of settings) await must('sysctl', ['-qw', s]);
  await must('ip', ['link', 'set', outer, 'up']);
  await must('ip', ['route', 'replace', `${l.address}/32`, 'dev', outer]);
}

/**
 * Tells the segment that this host answers for the address now (a gratuitous ARP from its uplink):
 * a peer that still holds the previous host's hardware address for it would otherwise send there
 * until its entry goes stale. The container's own announcement reaches only this host.
 */
export async function announceFromHost(address: string, uplink: string): Promise<void> {
  await execa('arping', ['-U', '-c', '2', '-w', '2', '-I', uplink, '-s', address, address], { reject: false });
}
