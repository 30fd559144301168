// Attacks on a real daemon's unix-socket API: no way in without the token, and every malformed
// request ends in a clean 4xx with nothing changed.
import fs from 'fs';
import os from 'os';
import path from 'path';
import http from 'http';
import { spawn, ChildProcess } from 'child_process';
import { REPO_ROOT, loadConfig } from '../../common/config';
import { serviceFolder, type DaemonConfig } from '../../common/service-folder';
import { ServiceSpec } from '../../common/schemas';
import { tryBadInput } from './attempts';

const TOKEN = 'c'.repeat(64);
let dir: string;
let socket: string;
let daemon: ChildProcess;

function request(method: string, route: string, headers: Record<string, string>, body?: string | Buffer) {
  return new Promise<{ status: number; body: string }>((resolve) => {
    const req = http.request({ socketPath: socket, method, path: route, headers, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode || 0, body: text }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', (err) => resolve({ status: 0, body: JSON.stringify({ clientError: err.message }) }));
    if (body !== undefined) req.write(body);
    req.end();
  });
}
const auth = { authorization: `Bearer ${TOKEN}` };
const state = async () => JSON.parse((await request('GET', '/status', auth)).body).state as string;
const clean4xx = (r: { status: number; body: string }) => r.status >= 400 && r.status < 500 && typeof JSON.parse(r.body).error === 'string';

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fmsec-'));
  const f = serviceFolder(dir);
  fs.mkdirSync(f.images);
  const conf: DaemonConfig = {
    // As a host agent writes it: validated, defaults filled in (the daemon does not parse it again).
    spec: ServiceSpec.parse({ name: 'sec', runtime: 'process', command: ['sleep', '300'], cwd: '/' }),
    host: 'hostS',
    criuPath: loadConfig().criuPath,
    generation: 1,
  };
  fs.writeFileSync(f.config, JSON.stringify(conf));
  fs.writeFileSync(f.token, TOKEN);
  socket = f.socket;
  daemon = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'daemon', 'main.js'), dir, 'standby'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(socket) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
});
afterAll(async () => {
  daemon.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  fs.rmSync(dir, { recursive: true, force: true });
});

const unauthenticated: [string, Record<string, string>][] = [
  ['no token', {}],
  ['wrong token', { authorization: `Bearer ${'d'.repeat(64)}` }],
  ['token without the Bearer scheme', { authorization: TOKEN }],
  ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, 10)}` }],
  ['the token with a suffix', { authorization: `Bearer ${TOKEN}x` }],
  ['an empty bearer token', { authorization: 'Bearer ' }],
];
test.each(unauthenticated)('%s → 401 and the service is not started', async (name, headers) => {
  expect(await tryBadInput(`daemon: ${name}`, async () => {
    const r = await request('POST', '/start', headers);
    return r.status === 401 && (await state()) === 'standby';
  })).toBe(true);
});

const malformed: [string, string, string, string | Buffer][] = [
  ['malformed JSON', 'POST', '/checkpoint', '{"checkpointId": '],
  ['a JSON array body', 'POST', '/restore', '["c1"]'],
  ['unknown fields', 'POST', '/stop', JSON.stringify({ graceMs: 5, kill: 'all' })],
  ['a checkpoint id escaping the image folder', 'POST', '/restore', JSON.stringify({ checkpointId: '../../etc' })],
  ['a checkpoint id with a slash', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 'a/b' })],
  ['a checkpoint id of the wrong type', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 7 })],
  ['a negative grace period', 'POST', '/stop', JSON.stringify({ graceMs: -1 })],
  ['an oversized body', 'POST', '/stop', JSON.stringify({ pad: 'x'.repeat(200_000) })],
  ['binary garbage', 'POST', '/checkpoint', Buffer.from([0xff, 0x00, 0xfe, 0x7b, 0x22])],
  ['an unknown route', 'POST', '/exec', JSON.stringify({ cmd: 'id' })],
  ['a hook that is not one of the spec\'s kinds (no command runs)', 'POST', '/hook', JSON.stringify({ hook: 'id' })],
  ['a hook the spec does not have', 'POST', '/hook', JSON.stringify({ hook: 'preRestore', checkpointId: 'c1' })],
  ['a restart decision with no exit to answer', 'POST', '/decision', JSON.stringify({ action: 'scratch', reason: 'x', delayMs: 0 })],
  ['a restart of a service that did not end', 'POST', '/start', JSON.stringify({ restart: true })],
  ['a wrong method', 'DELETE', '/status', ''],
  ['a restore of a checkpoint that does not exist', 'POST', '/restore', JSON.stringify({ checkpointId: 'nope' })],
  ['a checkpoint of a service that is not running', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 'c1' })],
];
test.each(malformed)('%s → clean 4xx, nothing changed', async (name, method, route, body) => {
  expect(await tryBadInput(`daemon: ${name}`, async () => {
    const r = await request(method, route, auth, body);
    return clean4xx(r) && (await state()) === 'standby';
  })).toBe(true);
});

test('fuzz: 150 random requests with the valid token → only clean 4xx, the daemon keeps answering', async () => {
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
  const routes = ['/checkpoint', '/restore', '/stop', '/logs?lines=-5', '/logs?lines=abc', '/%2e%2e/x', '/status/..', '//', '/restore?x=1'];
  let seed = 12345;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const bodies = () => {
    const pick = rnd(6);
    if (pick === 0) return JSON.stringify({ checkpointId: 'x'.repeat(rnd(100)) + '/..' });
    if (pick === 1) return Buffer.from(Array.from({ length: rnd(300) }, () => rnd(256)));
    if (pick === 2) return JSON.stringify({ graceMs: rnd(10) - 5, extra: [1, 2] });
    if (pick === 3) return '{'.repeat(rnd(50));
    if (pick === 4) return JSON.stringify(null);
    return JSON.stringify({ checkpointId: 12 });
  };
  let clean = 0;
  for (let i = 0; i < 150; i++) {
    const method = methods[rnd(methods.length)];
    const route = routes[rnd(routes.length)];
    const ok = await tryBadInput(`daemon fuzz #${i} ${method} ${route}`, async () => {
      const r = await request(method, route, auth, method === 'GET' ? undefined : bodies());
      return clean4xx(r);
    });
    if (ok) clean++;
  }
  expect(clean).toBe(150);
  expect(await state()).toBe('standby');
});
