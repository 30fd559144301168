// The hosts' own network on this machine, for real (root, namespaces, veth, bridge, tc): no mocks,
// no Temporal. Uses a throwaway stack home and removes everything it made.
import fs from 'fs';
import os from 'os';
import path from 'path';
import execa from 'execa';
import { ChildProcess } from 'child_process';
import { createHostNetwork, removeHostNetwork, listHosts, execInHost, namespaceOf, vethOf, netNames, HostNetwork } from '../stack/network';
import { parseLinkRate, formatLinkRate, setLink, linkRateOf } from '../stack/link';
import { candidateSubnets } from '../stack/subnet';
import { startServer, probe, mbitPerSecond, freePort, connectsHere } from './net-probe';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-net-'));
const servers: ChildProcess[] = [];
let net: HostNetwork;
const addr = (host: string) => net.hosts.find((h) => h.host === host)!.address;
const MB8 = 8 * 1024 * 1024;

/** Bytes the rate-holding htb class on a root-side veth has sent. */
async function shapedClassBytes(veth: string): Promise<number> {
  const text = (await execa('tc', ['-s', 'class', 'show', 'dev', veth])).stdout;
  return Number(/class htb 1:1 [^\n]*\n\s*Sent (\d+) bytes/.exec(text)?.[1] ?? NaN);
}

beforeAll(async () => {
  net = await createHostNetwork(home, ['hostA', 'hostB']);
});

afterAll(async () => {
  for (const s of servers) s.kill('SIGKILL');
  await removeHostNetwork(home);
  fs.rmSync(home, { recursive: true, force: true });
});

test('each host has its own namespace and a distinct address on the home\'s /24; the bridge holds .1', async () => {
  expect(net.hosts.map((h) => h.host)).toEqual(['hostA', 'hostB']);
  expect(addr('hostA')).not.toEqual(addr('hostB'));
  expect(net.gateway).toMatch(/\.1$/);
  for (const h of net.hosts) expect(h.address.replace(/\.\d+$/, '')).toEqual(net.gateway!.replace(/\.\d+$/, ''));
  expect(netNames(home).bridge.length).toBeLessThanOrEqual(15);
  expect(vethOf(home, 'hostA').length).toBeLessThanOrEqual(15);
  // Idempotent: a second create changes nothing.
  expect(await createHostNetwork(home, ['hostA', 'hostB'])).toEqual(net);
  // Another home gets other names and (unless the hash says otherwise) another /24.
  expect(netNames(`${home}-other`).bridge).not.toEqual(net.bridge);
  expect(candidateSubnets(home, '10.99')[0]).toMatch(/^10\.99\.\d+$/);
  expect(candidateSubnets(home, '10.99.7')).toEqual(['10.99.7']);
  expect(() => candidateSubnets(home, '10.x')).toThrow(/FASTMIG_HOST_NET "10.x"/);
});

test('a namespace has loopback up, its /24 as the only route, and cannot reach beyond the bridge', async () => {
  const routes = await execInHost(home, 'hostA', 'ip', ['-4', 'route', 'show']);
  expect(routes.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^\d+\.\d+\.\d+\.0\/24 dev eth0 /)]);
  const lo = await execInHost(home, 'hostA', 'ip', ['-j', 'link', 'show', 'dev', 'lo']);
  expect(JSON.parse(lo.stdout)[0].flags).toContain('UP');
  // The machine's own outside address is unreachable from a host.
  const out = (await execa('ip', ['-j', '-4', 'route', 'get', '1.1.1.1'])).stdout;
  const outside = (JSON.parse(out) as { prefsrc: string }[])[0].prefsrc;
  expect((await probe(home, 'hostA', outside, 22)).error).toEqual('ENETUNREACH');
});

test('a server in hostA answers at hostA\'s address from hostB, not at hostB\'s address nor at hostB\'s 127.0.0.1', async () => {
  const port = await freePort();
  servers.push(await startServer(home, 'hostA', '0.0.0.0', port));
  expect(await probe(home, 'hostB', addr('hostA'), port)).toMatchObject({ bytes: 4 });
  expect((await probe(home, 'hostB', addr('hostB'), port)).error).toEqual('ECONNREFUSED');
  expect((await probe(home, 'hostB', '127.0.0.1', port)).error).toEqual('ECONNREFUSED');
  // hostA's own loopback has it; the machine's (the root namespace's) does not.
  expect((await probe(home, 'hostA', '127.0.0.1', port)).bytes).toEqual(4);
  expect(await connectsHere('127.0.0.1', port)).toBe(false);
});

test('a server in the root namespace on the bridge address is reachable from both hosts', async () => {
  const port = await freePort();
  servers.push(await startServer(home, null, net.gateway!, port));
  expect(await probe(home, 'hostA', net.gateway!, port)).toMatchObject({ bytes: 4 });
  expect(await probe(home, 'hostB', net.gateway!, port)).toMatchObject({ bytes: 4 });
});

test('link rates parse, and bad ones are refused with a one-line error', () => {
  expect(parseLinkRate('100mbit')).toBe(100e6);
  expect(parseLinkRate('1gbit')).toBe(1e9);
  expect(parseLinkRate('500kbit')).toBe(500e3);
  expect(parseLinkRate('2.5Gbit')).toBe(2.5e9);
  expect(formatLinkRate(100e6)).toBe('100mbit');
  for (const bad of ['', '100', 'fast', '100mb', '-1mbit', '0mbit', '1kbit', '200gbit', '1e3mbit']) {
    expect(() => parseLinkRate(bad)).toThrow(new RegExp(`^bad link rate "${bad.replace(/[.+-]/g, '\\$&')}": expected .*e\\.g\\. 100mbit`));
    try {
      parseLinkRate(bad);
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
    }
  }
});

test('a shaped link holds transfers between hosts (both ways) and from the root namespace to the rate', async () => {
  const port = await freePort();
  servers.push(await startServer(home, 'hostA', '0.0.0.0', port));
  const rootPort = await freePort();
  servers.push(await startServer(home, null, net.gateway!, rootPort));
  const unshaped = await probe(home, 'hostB', addr('hostA'), port, 'PUT', MB8);
  const rate = parseLinkRate('100mbit');
  await setLink(home, rate);
  await setLink(home, rate); // idempotent
  expect(await linkRateOf(namespaceOf(home, 'hostB'))).toBe(rate);
  const bToA = await probe(home, 'hostB', addr('hostA'), port, 'PUT', MB8);
  const classBefore = await shapedClassBytes(vethOf(home, 'hostB'));
  const aToB = await probe(home, 'hostB', addr('hostA'), port, 'GET', MB8);
  // hostA→hostB was shaped at hostA's eth0 only: hostB's root-side class (root→hostB) saw none of it.
  expect((await shapedClassBytes(vethOf(home, 'hostB'))) - classBefore).toBeLessThan(64 * 1024);
  const rootToB = await probe(home, 'hostB', net.gateway!, rootPort, 'GET', MB8);
  expect((await shapedClassBytes(vethOf(home, 'hostB'))) - classBefore).toBeGreaterThan(MB8);
  const bToRoot = await probe(home, 'hostB', net.gateway!, rootPort, 'PUT', MB8);
  const figures = { unshaped, bToA, aToB, rootToB, bToRoot };
  process.stderr.write(`link 100mbit, 8 MiB each: ${Object.entries(figures).map(([k, r]) => `${k} ${mbitPerSecond(r).toFixed(1)} Mbit/s (${r.ms.toFixed(0)} ms)`).join(', ')}\n`);
  for (const r of [bToA, aToB, rootToB, bToRoot]) {
    expect(r.bytes).toBe(MB8);
    expect(mbitPerSecond(r)).toBeLessThan(1.3 * 100);
    expect(mbitPerSecond(r)).toBeGreaterThan(0.5 * 100);
  }
  expect(unshaped.bytes).toBe(MB8);
  // Unshaped, veth to veth ran at 1.3-1.9 Gbit/s on an idle machine, 345 Mbit/s while a stack started.
  expect(mbitPerSecond(unshaped)).toBeGreaterThan(1.5 * 100);
  await setLink(home, null);
  expect(await linkRateOf(namespaceOf(home, 'hostB'))).toBeNull();
});

test('teardown leaves no namespace, veth or bridge, and is idempotent', async () => {
  for (const s of servers.splice(0)) s.kill('SIGKILL');
  await removeHostNetwork(home);
  await removeHostNetwork(home);
  expect((await execa('ip', ['netns', 'list'])).stdout).not.toContain(netNames(home).nsPrefix);
  const links = (await execa('ip', ['-o', 'link', 'show'])).stdout;
  for (const name of [net.bridge, vethOf(home, 'hostA'), vethOf(home, 'hostB')]) expect(links).not.toContain(name);
  expect(await listHosts(home)).toMatchObject({ gateway: null, hosts: [] });
  await expect(setLink(home, 1e6)).rejects.toThrow(/no host network/);
});
