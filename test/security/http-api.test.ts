// Attacks on the HTTP API (loopback): no way in without the token, and every malformed or
// unknown request ends in a clean JSON 4xx with nothing started.
import { readStackFile, readEnvFile, paths } from '../../common/config';
import { ops } from '../../client';
import { tryBadInput } from './attempts';

const base = () => readStackFile()!.apiUrl;
const token = () => readEnvFile(paths.secretsFile()).FASTMIG_API_TOKEN;

async function call(method: string, route: string, headers: Record<string, string>, body?: string | Buffer) {
  try {
    const res = await fetch(`${base()}${route}`, { method, headers, body, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    return { status: res.status, text };
  } catch (err) {
    return { status: 0, text: String(err) };
  }
}
const clean4xx = (r: { status: number; text: string }) => {
  if (r.status < 400 || r.status >= 500) return false;
  try {
    return typeof JSON.parse(r.text).error === 'string';
  } catch {
    return false;
  }
};
const auth = () => ({ authorization: `Bearer ${token()}`, 'content-type': 'application/json' });
const nothingStarted = async () => !(await ops.inspect()).some((v) => v.service.startsWith('evil'));

const attacks: [string, string, string, () => Record<string, string>, string | undefined][] = [
  ['no token', 'GET', '/v1/services', () => ({}), undefined],
  ['wrong token', 'GET', '/v1/hosts', () => ({ authorization: `Bearer ${'0'.repeat(64)}` }), undefined],
  ['token in a query string', 'GET', `/v1/services?token=x`, () => ({}), undefined],
  ['basic auth instead of bearer', 'GET', '/v1/services', () => ({ authorization: 'Basic Zm9vOmJhcg==' }), undefined],
  ['no token on a migration', 'POST', '/v1/services/x/migrations', () => ({ 'content-type': 'application/json' }), JSON.stringify({ to: 'hostB' })],
  ['malformed JSON', 'POST', '/v1/services/evil/migrations', auth, '{"to": "hostB"'],
  ['unknown fields', 'POST', '/v1/services/evil/migrations', auth, JSON.stringify({ to: 'hostB', force: true })],
  ['missing target', 'POST', '/v1/services/evil/migrations', auth, JSON.stringify({ mode: 'warm' })],
  ['a bad mode', 'POST', '/v1/services/evil/migrations', auth, JSON.stringify({ to: 'hostB', mode: 'hot' })],
  ['wait of the wrong type', 'POST', '/v1/services/evil/migrations', auth, JSON.stringify({ to: 'hostB', wait: 'yes' })],
  ['a traversal service name', 'POST', '/v1/services/..%2F..%2Fetc/migrations', auth, JSON.stringify({ to: 'hostB' })],
  ['an uppercase service name', 'POST', '/v1/services/EVIL/migrations', auth, JSON.stringify({ to: 'hostB' })],
  ['a traversal host name', 'POST', '/v1/services/evil/migrations', auth, JSON.stringify({ to: '../hostA' })],
  ['an unknown service (wait)', 'POST', '/v1/services/evil-unknown/migrations', auth, JSON.stringify({ to: 'hostB', wait: true })],
  ['an oversized body', 'POST', '/v1/services/evil/migrations', auth, JSON.stringify({ to: 'hostB', pad: 'x'.repeat(300_000) })],
  ['an unknown route', 'GET', '/v1/admin', auth, undefined],
  ['a wrong method', 'DELETE', '/v1/services', auth, undefined],
  ['a bad workflow id', 'GET', '/v1/migrations/..%2F..', auth, undefined],
  ['an unknown workflow id', 'GET', '/v1/migrations/migrate-evil-nothing', auth, undefined],
  ['a protocol-relative path', 'GET', '//evil.example/v1/services', auth, undefined],
];

test.each(attacks)('HTTP API: %s → clean 4xx, nothing started', async (name, method, route, headers, body) => {
  expect(await tryBadInput(`http api: ${name}`, async () => clean4xx(await call(method, route, headers(), body)) && (await nothingStarted()))).toBe(true);
});

test('HTTP API fuzz: 120 random malformed requests → only clean 4xx, the API keeps answering', async () => {
  let seed = 777;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const routes = ['/v1/services/evil/migrations', '/v1/services/%00/migrations', '/v1/migrations/%2e%2e', '/v1/services/a/b/c', '/v1/hosts/x', '/v1/'];
  const bodies = [
    () => '{'.repeat(rnd(40)),
    () => JSON.stringify({ to: 'h'.repeat(rnd(80)), mode: rnd(3) }),
    () => Buffer.from(Array.from({ length: rnd(400) }, () => rnd(256))),
    () => JSON.stringify([{ to: 'hostB' }]),
    () => JSON.stringify({ to: 'hostB', wait: true, extra: { nested: [1, 2, 3] } }),
    () => 'null',
  ];
  let clean = 0;
  for (let i = 0; i < 120; i++) {
    const method = ['POST', 'PUT', 'PATCH', 'DELETE', 'GET'][rnd(5)];
    const route = routes[rnd(routes.length)];
    const ok = await tryBadInput(`http api fuzz #${i} ${method} ${route}`, async () => {
      const r = await call(method, route, auth(), method === 'GET' ? undefined : bodies[rnd(bodies.length)]());
      return clean4xx(r);
    });
    if (ok) clean++;
  }
  expect(clean).toBe(120);
  expect((await call('GET', '/healthz', {})).status).toBe(200);
  expect(await nothingStarted()).toBe(true);
});
