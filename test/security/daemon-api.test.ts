// Attacks on daemons' unix-socket API: a running service's daemon (deployed by the host agent), so
// a request that got through would stop, checkpoint, restart or hook it; and a daemon in standby
// for what only a stopped service could be made to do. Each must end in the expected 4xx for the
// expected reason, and afterwards the daemon, the service's process, its image folder and the
// files a traversal aimed at are as they were, the service answers, no workflow was started.
import fs from 'fs';
import os from 'os';
import net from 'net';
import path from 'path';
import { spawn, ChildProcess } from 'child_process';
import { REPO_ROOT, loadConfig } from '../../common/config';
import { serviceFolder, type DaemonConfig } from '../../common/service-folder';
import { ServiceSpec } from '../../common/schemas';
import { removeQuietly } from '../helpers';
import { tryBadInput } from './attempts';
import { deployTarget, request, type Answer, type DaemonTarget } from './daemon-target';

const SERVICE = 'sec-daemon';
const STANDBY_TOKEN = 'c'.repeat(64);
let d: DaemonTarget;
let standbyDir: string;
let standby: ChildProcess;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  d = await deployTarget(SERVICE);
  standbyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fmsec-'));
  const f = serviceFolder(standbyDir);
  fs.mkdirSync(f.images);
  const conf: DaemonConfig = {
    // As a host agent writes it: validated, defaults filled in (the daemon does not parse it again).
    spec: ServiceSpec.parse({ name: 'sec-standby', runtime: 'process', command: ['sleep', '300'], cwd: '/' }),
    host: 'hostS',
    criuPath: loadConfig().criuPath,
    generation: 1,
  };
  fs.writeFileSync(f.config, JSON.stringify(conf));
  fs.writeFileSync(f.token, STANDBY_TOKEN);
  standby = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'daemon', 'main.js'), standbyDir, 'standby'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(f.socket) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
});
afterAll(async () => {
  standby?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  fs.rmSync(standbyDir, { recursive: true, force: true });
  await removeQuietly(SERVICE);
});

const expect4xx = (r: Answer, status: number, why: RegExp): true | string => (r.status === status && r.error !== undefined && why.test(r.error) ? true : `answered ${r.status} ${r.body.slice(0, 200)}`);
/** Where checkpoint ids would put their folders. */
const imageAt = (ids: string[]) => ids.map((id) => path.resolve(d.f.images, id));
const running = () => ({ targets: [d.target], check: d.daemonProblem });

const unauthenticated: [string, () => Record<string, string>][] = [
  ['no token', () => ({})],
  ['wrong token', () => ({ authorization: `Bearer ${'d'.repeat(64)}` })],
  ['another service\'s token', () => ({ authorization: `Bearer ${STANDBY_TOKEN}` })],
  ['the token without the Bearer scheme', () => ({ authorization: d.token })],
  ['a prefix of the token', () => ({ authorization: `Bearer ${d.token.slice(0, 10)}` })],
  ['the token with a suffix', () => ({ authorization: `Bearer ${d.token}x` })],
  ['an empty bearer token', () => ({ authorization: 'Bearer ' })],
];
test.each(unauthenticated)('daemon: %s on a stop of the running service → 401, it runs on', async (name, headers) => {
  expect(await tryBadInput(`daemon: ${name}`, async () => expect4xx(await d.call('POST', '/stop', '{"graceMs":0}', headers()), 401, /token/), running())).toBe(true);
});

/** The last element: checkpoint ids whose folders the attack aims at. */
type Attack = [name: string, method: string, route: string, body: string | Buffer | undefined, status: number, why: RegExp, ids: string[]];
const attacks: Attack[] = [
  ['malformed JSON', 'POST', '/checkpoint', '{"checkpointId": ', 400, /not valid JSON/, []],
  ['binary garbage', 'POST', '/checkpoint', Buffer.from([0xff, 0x00, 0xfe, 0x7b, 0x22]), 400, /not valid JSON/, []],
  ['a JSON array body', 'POST', '/checkpoint', '["c1"]', 400, /^input: Expected object/, ['c1']],
  ['unknown fields', 'POST', '/stop', JSON.stringify({ graceMs: 5, kill: 'all' }), 400, /Unrecognized key.*kill/, []],
  ['a "__proto__" field', 'POST', '/stop', '{"graceMs":5,"__proto__":{"x":1}}', 400, /Unrecognized key.*__proto__/, []],
  ['a checkpoint id escaping the image folder', 'POST', '/checkpoint', JSON.stringify({ checkpointId: '../../sec-escape-ckpt' }), 400, /^checkpointId:/, ['../../sec-escape-ckpt']],
  ['a checkpoint id with a slash', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 'a/b' }), 400, /^checkpointId:/, ['a']],
  ['a checkpoint id of the wrong type', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 7 }), 400, /^checkpointId:/, ['7']],
  ['a checkpoint id starting with "-"', 'POST', '/checkpoint', JSON.stringify({ checkpointId: '-rf' }), 400, /^checkpointId:/, ['-rf']],
  ['a checkpoint id of 65 characters', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 'k'.repeat(65) }), 400, /^checkpointId:/, ['k'.repeat(65)]],
  ['leaveRunning of the wrong type', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 'c2', leaveRunning: 'yes' }), 400, /^leaveRunning:/, ['c2']],
  ['a post-copy dump serving at a name, not an address', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 'c4', lazyAt: 'evil.example', lazyFor: '10.0.0.1' }), 400, /^lazyAt: Expected an IPv4 address/, ['c4']],
  ['a post-copy dump for no target (anyone could take its pages)', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 'c5', lazyAt: '10.0.0.1' }), 400, /^lazyFor: Expected an IPv4 address/, ['c5']],
  ['a post-copy dump for a target with an option smuggled in', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 'c6', lazyAt: '10.0.0.1', lazyFor: '10.0.0.2 -j ACCEPT' }), 400, /^lazyFor: Expected an IPv4 address/, ['c6']],
  ['a post-copy dump that leaves the service running', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 'c7', leaveRunning: true, lazyAt: '10.0.0.1', lazyFor: '10.0.0.2' }), 400, /^lazyAt: a post-copy dump cannot leave the service running/, ['c7']],
  ['pages asked of a service not restored lazily, with a query', 'GET', '/pages?wait=0', undefined, 400, /^query: unknown parameter/, []],
  ['a negative grace period', 'POST', '/stop', JSON.stringify({ graceMs: -1 }), 400, /^graceMs:/, []],
  ['a grace period over a minute', 'POST', '/stop', JSON.stringify({ graceMs: 60_001 }), 400, /^graceMs:/, []],
  ['a fractional grace period', 'POST', '/stop', JSON.stringify({ graceMs: 1.5 }), 400, /^graceMs:/, []],
  ['an oversized body', 'POST', '/stop', JSON.stringify({ pad: 'x'.repeat(200_000) }), 413, /over 16384 bytes/, []],
  ['an unknown route', 'POST', '/exec', JSON.stringify({ cmd: 'id' }), 404, /no route/, []],
  ['an encoded traversal in the path', 'GET', '/%2e%2e/%2e%2e/etc/passwd', undefined, 404, /no route/, []],
  ['a hook that is not one of the spec\'s kinds (no command runs)', 'POST', '/hook', JSON.stringify({ hook: 'id' }), 400, /^hook: must be one of/, []],
  ['a hook with a traversal checkpoint id', 'POST', '/hook', JSON.stringify({ hook: 'postCheckpoint', checkpointId: '../../sec-escape-hook' }), 400, /^checkpointId:/, ['../../sec-escape-hook']],
  ['a decision with an unknown action', 'POST', '/decision', JSON.stringify({ action: 'exec', reason: 'x', delayMs: 0 }), 400, /^action:/, []],
  ['a decision with a reason over 1000 characters', 'POST', '/decision', JSON.stringify({ action: 'scratch', reason: 'r'.repeat(1001), delayMs: 0 }), 400, /^reason:/, []],
  ['a decision with a delay over a minute', 'POST', '/decision', JSON.stringify({ action: 'scratch', reason: 'x', delayMs: 60_001 }), 400, /^delayMs:/, []],
  ['a restart decision with no exit to answer', 'POST', '/decision', JSON.stringify({ action: 'scratch', reason: 'x', delayMs: 0 }), 409, /no exit of sec-daemon waits for a decision/, []],
  ['a second start of the running service', 'POST', '/start', '{}', 409, /cannot start sec-daemon: it is running/, []],
  ['a restore over the running service', 'POST', '/restore', JSON.stringify({ checkpointId: 'c3' }), 409, /cannot restore sec-daemon: it is running/, ['c3']],
  ['a wrong method', 'DELETE', '/status', undefined, 404, /no route/, []],
  ['PUT with a valid stop body', 'PUT', '/stop', JSON.stringify({ graceMs: 0 }), 404, /no route/, []],
  ['an unknown query parameter on the status', 'GET', '/status?debug=1', undefined, 400, /^query: unknown parameter/, []],
  ['an unknown query parameter on a valid stop', 'POST', '/stop?force=1', JSON.stringify({ graceMs: 0 }), 400, /^query: unknown parameter/, []],
  ['log lines out of range', 'GET', '/logs?lines=2001', undefined, 400, /lines must be/, []],
  ['log lines that are not a number', 'GET', '/logs?lines=5;id', undefined, 400, /lines must be/, []],
  ['a shutdown with fields', 'POST', '/shutdown', JSON.stringify({ now: true }), 400, /Unrecognized key.*now/, []],
  ['a thaw with fields', 'POST', '/thaw', JSON.stringify({ force: true }), 400, /Unrecognized key.*force/, []],
  ['an open with fields', 'POST', '/open', JSON.stringify({ all: true }), 400, /Unrecognized key.*all/, []],
  ['a thaw of a service that is not fenced', 'POST', '/thaw', JSON.stringify({}), 409, /cannot thaw .*: it is running \(needs fenced\)/, []],
];
test.each(attacks)('daemon: %s → the expected 4xx, the running service untouched', async (name, method, route, body, status, why, ids) => {
  expect(await tryBadInput(`daemon: ${name}`, async () => expect4xx(await d.call(method, route, body), status, why), { ...running(), aimedAt: imageAt(ids) })).toBe(true);
});

test('daemon: a request the HTTP parser refuses (Content-Length with Transfer-Encoding) → 400, nothing run', async () => {
  const body = '0\r\n\r\nPOST /stop HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}';
  const req = `POST /stop HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${d.token}\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;
  expect(await tryBadInput('daemon: a smuggled second request', async () => {
    const answer = await new Promise<string>((resolve) => {
      let out = '';
      const s = net.connect(d.f.socket, () => s.end(req));
      s.on('data', (c) => (out += c));
      s.setTimeout(3000, () => s.destroy());
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
    });
    return /^HTTP\/1\.1 400 /.test(answer) && /malformed HTTP request/.test(answer) && !/HTTP\/1\.1 200/.test(answer) ? true : `answered ${answer.slice(0, 200)}`;
  }, running())).toBe(true);
});

// A daemon in standby: what only a stopped service could be made to do (start it, restore into it).
const standbyCall = (method: string, route: string, body?: string, headers: Record<string, string> = { authorization: `Bearer ${STANDBY_TOKEN}` }) =>
  request(serviceFolder(standbyDir).socket, method, route, headers, body);
const inStandby = async () => {
  const st = JSON.parse((await standbyCall('GET', '/status')).body) as { state: string; pid: number | null };
  const images = fs.readdirSync(serviceFolder(standbyDir).images);
  return st.state === 'standby' && st.pid === null && !images.length ? null : `the standby daemon changed: ${JSON.stringify(st)}, images ${images.join(', ')}`;
};
const onStandby: [string, string, string, string | undefined, Record<string, string> | undefined, number, RegExp][] = [
  ['no token on a start', 'POST', '/start', '{}', {}, 401, /token/],
  ['a start with unknown fields', 'POST', '/start', JSON.stringify({ restart: false, command: ['id'] }), undefined, 400, /Unrecognized key.*command/],
  ['a restart of a service that did not end', 'POST', '/start', JSON.stringify({ restart: true }), undefined, 409, /cannot start sec-standby: it is standby \(needs exited\)/],
  ['a restore of a checkpoint that does not exist', 'POST', '/restore', JSON.stringify({ checkpointId: 'nope' }), undefined, 409, /no checkpoint image nope/],
  ['a restore counted as a restart of a service that did not end', 'POST', '/restore', JSON.stringify({ checkpointId: 'nope', restart: true }), undefined, 409, /needs exited/],
  ['a restore with a restart flag of the wrong type', 'POST', '/restore', JSON.stringify({ checkpointId: 'nope', restart: 1 }), undefined, 400, /^restart:/],
  ['a checkpoint of a service that is not running', 'POST', '/checkpoint', JSON.stringify({ checkpointId: 'c1' }), undefined, 409, /cannot checkpoint sec-standby: it is standby/],
];
test.each(onStandby)('daemon in standby: %s → the expected 4xx, still in standby', async (name, method, route, body, headers, status, why) => {
  expect(await tryBadInput(`daemon: ${name}`, async () => expect4xx(await standbyCall(method, route, body, headers), status, why), { check: inStandby })).toBe(true);
});
