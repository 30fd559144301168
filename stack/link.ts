// A shaped link between the hosts of the embedded stack (`--link 100mbit`), with the kernel's
// traffic control. Every packet between two endpoints crosses exactly one shaper:
//   - each host's own end (eth0 inside its namespace) gets a tbf at the rate on egress: everything
//     the host sends, to another host, the control plane or the root namespace, is limited there
//     (the control plane's namespace likewise: S3 downloads, Temporal);
//   - each host's root-side veth (on the bridge) gets an htb whose one class holds the rate and
//     takes only packets whose source is the bridge's address: what this machine's own commands
//     (the CLI, the tests' clients) send to the host. Packets from another host are not classified, go through
//     htb's direct queue unshaped, and so hostA→hostB is limited once, at hostA's eth0.
// Rate only: this kernel has no netem (CONFIG_NET_SCH_NETEM is not set), so no delay or loss is
// added here.
import execa from 'execa';
import { HOST_IF, listHosts } from './network';

const UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
const MIN_BPS = 10e3;
const MAX_BPS = 100e9;

/** Parses a link rate such as 100mbit, 1gbit or 500kbit (decimal units, as tc) into bits per second. */
export function parseLinkRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/i.exec(String(text).trim());
  const bps = m ? Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]) : NaN;
  if (!(bps >= MIN_BPS && bps <= MAX_BPS)) {
    throw new Error(`bad link rate "${text}": expected a number and a unit bit, kbit, mbit or gbit between 10kbit and 100gbit, e.g. 100mbit, 1gbit, 500kbit`);
  }
  return bps;
}

/** A rate as tc and people read it: 100mbit, 1.5gbit, 500kbit. */
export function formatLinkRate(bps: number): string {
  for (const unit of ['gbit', 'mbit', 'kbit']) {
    if (bps >= UNITS[unit]) return `${Number((bps / UNITS[unit]).toFixed(3))}${unit}`;
  }
  return `${bps}bit`;
}

/**
 * The bucket: 10 ms at the rate, and at least 16 KiB so a dozen full-size frames pass at once
 * (tbf splits larger GSO packets itself).
 */
function burstBytes(bps: number): number {
  return Math.max(16 * 1024, Math.ceil(bps / 8 / 100));
}

async function tc(args: string[], namespace?: string): Promise<void> {
  const argv = namespace ? ['-n', namespace, ...args] : args;
  const r = await execa('tc', argv, { reject: false });
  if (r.exitCode !== 0) throw new Error(`tc ${argv.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
}

async function clearRoot(dev: string, namespace?: string): Promise<void> {
  const argv = namespace ? ['-n', namespace] : [];
  await execa('tc', [...argv, 'qdisc', 'del', 'dev', dev, 'root'], { reject: false });
}

/** Shapes every host of the home's network to `bps` (null: removes the shaping). Idempotent. */
export async function setLink(home: string, bps: number | null): Promise<void> {
  const net = await listHosts(home);
  if (!net.gateway) throw new Error(`no host network for this stack home (bridge ${net.bridge} is missing)`);
  // The control plane's namespace sends like a host (S3 downloads, Temporal): shaped at its eth0.
  for (const h of [...net.hosts, ...(net.control ? [net.control] : [])]) {
    await clearRoot(HOST_IF, h.namespace);
    await clearRoot(h.veth);
    if (bps === null) continue;
    const rate = `${bps}bit`;
    const burst = String(burstBytes(bps));
    await tc(['qdisc', 'add', 'dev', HOST_IF, 'root', 'tbf', 'rate', rate, 'burst', burst, 'latency', '50ms'], h.namespace);
    if (h === net.control) continue;
    // No `default`: unclassified packets (from other hosts) take htb's direct queue, unshaped.
    await tc(['qdisc', 'add', 'dev', h.veth, 'root', 'handle', '1:', 'htb']);
    await tc(['class', 'add', 'dev', h.veth, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', rate, 'ceil', rate, 'burst', burst, 'cburst', burst, 'quantum', '60000']);
    await tc(['filter', 'add', 'dev', h.veth, 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'src', `${net.gateway}/32`, 'flowid', '1:1']);
  }
}

/** The rate a host's link is shaped to (bits per second), or null when it is not shaped. */
export async function linkRateOf(namespace: string): Promise<number | null> {
  const r = await execa('tc', ['-n', namespace, '-j', 'qdisc', 'show', 'dev', HOST_IF], { reject: false });
  if (r.exitCode !== 0) return null;
  const tbf = (JSON.parse(r.stdout || '[]') as { kind: string; options?: { rate?: number } }[]).find((q) => q.kind === 'tbf');
  return tbf?.options?.rate ? tbf.options.rate * 8 : null;
}
