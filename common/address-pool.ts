// The block services' own addresses come from (FASTMIG_SERVICE_ADDRESSES), and picking a free one.
// Pure: the registry's activity (activities/registry.ts) holds the claims.

const toNumber = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** Every usable address of an IPv4 CIDR block (its first and last left out); throws on a malformed block. */
export function poolAddresses(cidr: string): string[] {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const bits = m ? Number(m[5]) : -1;
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || bits < 16 || bits > 30) {
    throw new Error(`FASTMIG_SERVICE_ADDRESSES takes an IPv4 block from /16 to /30 (e.g. 10.0.5.128/25), got "${cidr}"`);
  }
  const size = 2 ** (32 - bits);
  const first = Math.floor(toNumber(m.slice(1, 5).join('.')) / size) * size;
  return Array.from({ length: size - 2 }, (_, i) => toIp(first + 1 + i));
}

/** The first address of the block that `taken` does not hold, or null when all are taken. */
export function freeAddress(cidr: string, taken: Iterable<string>): string | null {
  const used = new Set(taken);
  return poolAddresses(cidr).find((a) => !used.has(a)) ?? null;
}
