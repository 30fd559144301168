// Which private /24 a stack home's host network uses. Derived from the home (like the engines'
// bridges), so two stack homes on one machine normally differ; a /24 already routed or addressed
// in the root namespace is skipped, so a rare hash clash never yields two routes to one /24.
import crypto from 'crypto';
import execa from 'execa';

/** FASTMIG_HOST_NET: two octets (the /16 the /24 is taken from) or three (exactly this /24). */
export const HOST_NET_ENV = 'FASTMIG_HOST_NET';
const DEFAULT_BASE = '10.241';
const SPREAD = 250;

function octets(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.some((p) => !/^\d{1,3}$/.test(p))) return null;
  const nums = parts.map(Number);
  return nums.every((n) => n <= 255) ? nums : null;
}

/** The candidate /24 prefixes ("a.b.c") for a home, preferred first. */
export function candidateSubnets(home: string, env = process.env[HOST_NET_ENV]): string[] {
  const base = env || DEFAULT_BASE;
  const o = octets(base);
  if (o && o.length === 3) return [base];
  if (!o || o.length !== 2) {
    throw new Error(`bad ${HOST_NET_ENV} "${base}": expected two octets such as 10.241 or three such as 10.241.7`);
  }
  const first = crypto.createHash('sha256').update(home).digest().readUInt16BE(0) % SPREAD;
  return Array.from({ length: SPREAD }, (_, k) => `${base}.${((first + k) % SPREAD) + 1}`);
}

function toInt(ip: string): number {
  return ip.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}

function rangeOf(cidr: string): [number, number] {
  const [ip, len = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  const start = Math.floor(toInt(ip) / size) * size;
  return [start, start + size - 1];
}

function overlaps(a: string, b: string): boolean {
  const [a0, a1] = rangeOf(a);
  const [b0, b1] = rangeOf(b);
  return a0 <= b1 && b0 <= a1;
}

interface AddrJson { ifname: string; addr_info?: { local: string; prefixlen: number }[] }
interface RouteJson { dst: string; dev?: string }

/** IPv4 prefixes the root namespace already uses on devices other than `except`. */
export async function prefixesInUse(except: string): Promise<string[]> {
  const addrs = JSON.parse((await execa('ip', ['-j', '-4', 'addr', 'show'])).stdout || '[]') as AddrJson[];
  const routes = JSON.parse((await execa('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])).stdout || '[]') as RouteJson[];
  const used: string[] = [];
  for (const a of addrs) {
    if (a.ifname === except) continue;
    for (const i of a.addr_info ?? []) used.push(`${i.local}/${i.prefixlen}`);
  }
  for (const r of routes) {
    if (r.dev === except || r.dst === 'default' || !/^\d/.test(r.dst)) continue;
    used.push(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
  }
  return used;
}

/** The first candidate /24 that nothing else in the root namespace uses. */
export async function pickSubnet(home: string, bridge: string): Promise<string> {
  const used = await prefixesInUse(bridge);
  const candidates = candidateSubnets(home);
  const free = candidates.find((c) => !used.some((u) => overlaps(`${c}.0/24`, u)));
  if (!free) {
    throw new Error(`no free /24 for the host network among ${candidates[0]}.0/24 and the next ones: set ${HOST_NET_ENV}`);
  }
  return free;
}
