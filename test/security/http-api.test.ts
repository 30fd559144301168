// Attacks on the HTTP API, aimed at a running service: no way in without the token, and every
// malformed, unknown or misrouted request ends in the clean JSON 4xx it should (the status and the
// reason are checked, so a refusal for another reason does not count). After each one the service
// still runs on its host, same process, answering, with no migration queued or recorded, no
// workflow was started, and nothing exists where a traversal pointed.
import net from 'net';
import path from 'path';
import { readStackFile, readEnvFile, paths } from '../../common/config';
import { deployKv, removeQuietly } from '../helpers';
import { target, temporalClient, type Target } from './afterwards';
import { tryBadInput } from './attempts';

const SERVICE = 'sec-http';
let svc: Target;
const base = () => readStackFile()!.apiUrl;
const token = () => readEnvFile(paths.secretsFile()).FASTMIG_API_TOKEN;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  await deployKv(SERVICE, 'hostA');
  svc = await target(SERVICE);
});
afterAll(() => removeQuietly(SERVICE));

async function call(method: string, route: string, headers: Record<string, string>, body?: string) {
  try {
    const res = await fetch(`${base()}${route}`, { method, headers, body, signal: AbortSignal.timeout(30_000) });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    return { status: 0, text: String(err) };
  }
}
/** true when the answer is `status` with a JSON {error} matching `why`; else what it was. */
function refused(r: { status: number; text: string }, status: number, why: RegExp): true | string {
  let error: unknown;
  try {
    error = JSON.parse(r.text).error;
  } catch {
    /* not JSON */
  }
  return r.status === status && typeof error === 'string' && why.test(error) ? true : `answered ${r.status} ${r.text.slice(0, 200)}`;
}
const json = { 'content-type': 'application/json' };
const auth = () => ({ authorization: `Bearer ${token()}`, ...json });
const migrations = `/v1/services/${SERVICE}/migrations`;
const to = (o: object) => JSON.stringify({ to: 'hostB', ...o });
/** Where a name with "../" would land under the hosts' folders. */
const landing = (name: string) => [...new Set(['hostA', 'hostB'].map((h) => path.resolve(paths.hostDir(h), name)))];

type Attack = [name: string, method: string, route: string, headers: () => Record<string, string>, body: string | undefined, status: number, why: RegExp, aimedAt?: string[]];
const attacks: Attack[] = [
  ['no token', 'GET', '/v1/services', () => ({}), undefined, 401, /token/],
  ['wrong token', 'GET', '/v1/hosts', () => ({ authorization: `Bearer ${'0'.repeat(64)}` }), undefined, 401, /token/],
  ['the real token in a query string', 'GET', '/v1/services', () => ({}), undefined, 401, /token/],
  ['basic auth instead of bearer', 'GET', '/v1/services', () => ({ authorization: 'Basic Zm9vOmJhcg==' }), undefined, 401, /token/],
  ['the token in a cookie on a migration', 'POST', migrations, () => ({ cookie: `token=${token()}`, ...json }), to({}), 401, /token/],
  ['no token on a migration', 'POST', migrations, () => json, to({}), 401, /token/],
  ['a token one character short on a migration', 'POST', migrations, () => ({ authorization: `Bearer ${token().slice(1)}`, ...json }), to({}), 401, /token/],
  ['the token with a suffix on a migration', 'POST', migrations, () => ({ authorization: `Bearer ${token()}0`, ...json }), to({}), 401, /token/],
  ['malformed JSON', 'POST', migrations, auth, '{"to": "hostB"', 400, /not valid JSON/],
  ['a form-encoded body', 'POST', migrations, () => ({ ...auth(), 'content-type': 'application/x-www-form-urlencoded' }), 'to=hostB', 400, /not valid JSON/],
  ['unknown fields', 'POST', migrations, auth, to({ force: true }), 400, /Unrecognized key.*force/],
  ['a "__proto__" field', 'POST', migrations, auth, '{"to":"hostB","__proto__":{"admin":true}}', 400, /Unrecognized key.*__proto__/],
  ['missing target', 'POST', migrations, auth, JSON.stringify({ mode: 'warm' }), 400, /^to: Required/],
  ['a bad mode', 'POST', migrations, auth, to({ mode: 'hot' }), 400, /^mode:/],
  ['wait of the wrong type', 'POST', migrations, auth, to({ wait: 'yes' }), 400, /^wait:/],
  ['a JSON array body', 'POST', migrations, auth, JSON.stringify([{ to: 'hostB' }]), 400, /Expected object/],
  ['a traversal host name', 'POST', migrations, auth, JSON.stringify({ to: '../sec-escape-host' }), 400, /^to:/, landing('../sec-escape-host')],
  ['a host name with a NUL', 'POST', migrations, auth, JSON.stringify({ to: 'hostB\u0000' }), 400, /^to:/],
  ['a host name of 33 characters', 'POST', migrations, auth, JSON.stringify({ to: 'h'.repeat(33) }), 400, /^to:/],
  ['an oversized body', 'POST', migrations, auth, to({ pad: 'x'.repeat(300_000) }), 413, /over 16384 bytes/],
  ['an unknown query parameter on a migration', 'POST', `${migrations}?force=1`, auth, to({}), 400, /query: unknown parameter.*force/],
  ['a "__proto__" query parameter', 'GET', '/v1/services?__proto__=1', auth, undefined, 400, /query: unknown parameter/],
  ['a traversal service name', 'POST', '/v1/services/..%2F..%2Fsec-escape-svc/migrations', auth, to({}), 400, /^service:/, landing('../../sec-escape-svc')],
  ['the service\'s name in upper case', 'POST', `/v1/services/${SERVICE.toUpperCase()}/migrations`, auth, to({}), 400, /^service:/],
  ['a service name of 41 characters', 'POST', `/v1/services/${'a'.repeat(41)}/migrations`, auth, to({}), 400, /^service:/],
  ['a service name with an encoded NUL', 'POST', `/v1/services/${SERVICE}%00/migrations`, auth, to({}), 400, /^service:/],
  ['the history of a traversal name', 'GET', '/v1/services/..%2F..%2Fregistry/migrations', auth, undefined, 400, /^service:/],
  ['a traversal workflow id', 'GET', '/v1/migrations/..%2F..', auth, undefined, 400, /workflow id/],
  ['a workflow id of 129 characters', 'GET', `/v1/migrations/${'w'.repeat(129)}`, auth, undefined, 400, /exceeding the max param length/],
  ['an unknown workflow id', 'GET', '/v1/migrations/migrate-evil-nothing', auth, undefined, 404, /no migration/],
  ['an unknown route', 'GET', '/v1/admin', auth, undefined, 404, /no route/],
  ['a wrong method', 'DELETE', '/v1/services', auth, undefined, 404, /no route/],
  ['PUT with a valid migration body', 'PUT', migrations, auth, to({}), 404, /no route/],
  ['PATCH on the service\'s migrations', 'PATCH', migrations, auth, to({}), 404, /no route/],
  ['a protocol-relative path', 'GET', '//evil.example/v1/services', auth, undefined, 404, /no route/],
];

// One argument besides the name: jest would take a row's missing last element for its `done` callback.
test.each(attacks.map(([name, ...rest]) => [name, rest] as const))('HTTP API: %s → the expected 4xx, nothing changed', async (name, [method, route, headers, body, status, why, aimedAt]) => {
  const url = name === 'the real token in a query string' ? `${route}?token=${token()}` : route;
  expect(await tryBadInput(`http api: ${name}`, async () => refused(await call(method, url, headers(), body), status, why), { targets: [svc], aimedAt })).toBe(true);
});

/** Writes a raw request and reads the answer until the server closes or goes quiet. */
function raw(text: string): Promise<string> {
  const { hostname, port } = new URL(base());
  return new Promise((resolve) => {
    let out = '';
    const s = net.connect(Number(port), hostname, () => s.end(text));
    s.on('data', (c) => (out += c));
    s.setTimeout(3000, () => s.destroy());
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
}

test('HTTP API: a smuggled second request (Content-Length and Transfer-Encoding) → 400, no migration', async () => {
  const inner = `POST ${migrations} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token()}\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"to":"hostB"}\n`;
  const body = `0\r\n\r\n${inner}`;
  const req = `POST ${migrations} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token()}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;
  expect(await tryBadInput('http api: a smuggled second request', async () => {
    const answer = await raw(req);
    return /^HTTP\/1\.1 400 /.test(answer) && !/HTTP\/1\.1 20\d/.test(answer) ? true : `answered ${answer.slice(0, 200)}`;
  }, { targets: [svc] })).toBe(true);
});

test('HTTP API: a migration of an unknown service (wait) → 409, and its entity does not linger', async () => {
  const entity = (await temporalClient()).workflow.getHandle('service-sec-unknown');
  const ended = async () => {
    for (let i = 0; i < 50; i++) {
      if ((await entity.describe()).status.name !== 'RUNNING') return null;
      await new Promise((r) => setTimeout(r, 100));
    }
    return 'the entity workflow of the unknown service still runs';
  };
  expect(await tryBadInput('http api: a migration of an unknown service (wait)', async () => {
    return refused(await call('POST', '/v1/services/sec-unknown/migrations', auth(), to({ wait: true })), 409, /sec-unknown/);
  }, { targets: [svc], workflows: /^(service|migrate)-sec-unknown$/, check: ended, aimedAt: landing('sec-unknown') })).toBe(true);
});

test('HTTP API: a migration to an unknown host (wait) → 409, recorded as refused, the service stays', async () => {
  const last = async () => {
    const history = await (await temporalClient()).workflow.getHandle(`service-${SERVICE}`).query<{ outcome: string; to: string }[]>('history');
    const r = history[history.length - 1];
    return r?.outcome === 'refused' && r.to === 'hostNowhere' ? null : `the last report is ${JSON.stringify(r)}`;
  };
  // A refused migration is part of the service's history: one report more, and nothing else changed.
  const expected = { ...svc, migrations: svc.migrations + 1 };
  expect(await tryBadInput('http api: a migration to an unknown host (wait)', async () => {
    return refused(await call('POST', migrations, auth(), JSON.stringify({ to: 'hostNowhere', wait: true })), 409, /hostNowhere/);
  }, { targets: [expected], workflows: /^migrate-sec-http$/, check: last, aimedAt: [paths.serviceDir('hostNowhere', SERVICE)] })).toBe(true);
});
