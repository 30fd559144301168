// The embedded stack's hosts share nothing, as the product sees it (acceptance of "hosts that share
// nothing"): each host has its own address, its agent runs in a network namespace of its own, a
// service on hostA answers at hostA's address and not at hostB's, and hostB's agent cannot see
// hostA's service folder.
import fs from 'fs';
import path from 'path';
import execa from 'execa';
import { paths } from '../common/config';
import { tcpConnects } from '../activities/probe';
import { httpText } from '../demo/probe';
import { addressOf, deployKv, fastmig, removeQuietly } from './helpers';

const SERVICE = 'test-apart';
let port: number;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  ({ port } = await deployKv(SERVICE, 'hostA'));
});
afterAll(() => removeQuietly(SERVICE));

interface HostStatus { host: string; address: string; namespace: string; agent: number; linkBps: number | null }

async function stackStatus(): Promise<{ controlAddress: string; hostStatus: HostStatus[] }> {
  const r = await fastmig(['stack', 'status', '--json']);
  expect(r.exitCode).toBe(0);
  return JSON.parse(r.stdout);
}

const netNamespace = (pid: number) => fs.readlinkSync(`/proc/${pid}/ns/net`);

test('stack status --json lists every host with its own address, and each agent runs in its own network namespace', async () => {
  const st = await stackStatus();
  const hosts = st.hostStatus.map((h) => h.host).sort();
  expect(hosts).toEqual(['hostA', 'hostB']);
  const addresses = st.hostStatus.map((h) => h.address);
  expect(new Set([...addresses, st.controlAddress]).size).toBe(3);
  for (const h of st.hostStatus) {
    expect(h.address).toEqual(addressOf(h.host));
    expect(h.address).not.toMatch(/^127\./);
    expect(h.agent).toBeGreaterThan(0);
  }
  const spaces = st.hostStatus.map((h) => netNamespace(h.agent));
  expect(new Set([...spaces, netNamespace(process.pid)]).size).toBe(3);
});

test('a service on hostA answers at hostA\'s address, not at hostB\'s, and not on this machine\'s loopback', async () => {
  expect((await httpText(`${addressOf('hostA')}:${port}`, 'GET', '/health')).status).toBe(200);
  expect(await tcpConnects(port, addressOf('hostB'))).toBe(false);
  expect(await tcpConnects(port, '127.0.0.1')).toBe(false);
});

test('hostA\'s service folder is visible to hostA\'s agent and not to hostB\'s', async () => {
  const st = await stackStatus();
  const agent = (h: string) => st.hostStatus.find((x) => x.host === h)!.agent;
  const dir = paths.serviceDir('hostA', SERVICE);
  const look = (pid: number, p: string) => execa('nsenter', ['-t', String(pid), '-m', 'ls', p], { reject: false });
  expect((await look(agent('hostA'), dir)).exitCode).toBe(0);
  const fromB = await look(agent('hostB'), dir);
  expect(fromB.exitCode).not.toBe(0);
  expect(fromB.stderr).toMatch(/No such file or directory/);
  // hostB sees its own folder and nothing of hostA's in the hosts' folder.
  expect((await look(agent('hostB'), path.dirname(paths.hostDir('hostA')))).stdout.split('\n').filter(Boolean)).toEqual(['hostB']);
});

test('stack up --link shapes every host\'s link and --link none removes it; a bad rate is a one-line error', async () => {
  const bad = await fastmig(['stack', 'up', '--link', 'fast']);
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/bad link rate "fast": expected a number and a unit .* e\.g\. 100mbit/)]);
  try {
    expect((await fastmig(['stack', 'up', '--link', '50mbit'])).exitCode).toBe(0);
    expect((await stackStatus()).hostStatus.map((h) => h.linkBps)).toEqual([50e6, 50e6]);
  } finally {
    expect((await fastmig(['stack', 'up', '--link', 'none'])).exitCode).toBe(0);
  }
  expect((await stackStatus()).hostStatus.map((h) => h.linkBps)).toEqual([null, null]);
});
