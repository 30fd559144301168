// Fuzzing the HTTP API: mutated but well-formed requests on every route×method pair of the OpenAPI
// description (and POST/PUT with JSON bodies on every path), aimed at a running service. Every
// mutation breaks the route's rules, so each must end in a clean JSON 4xx; the API's own request
// counter (by route and status) tells which pairs' handlers answered with their own validation
// error. Afterwards the service still runs where it ran, untouched, and no workflow was started.
import fs from 'fs';
import path from 'path';
import { readStackFile, readEnvFile, paths } from '../../common/config';
import { openapi } from '../../api/openapi';
import { deployKv, removeQuietly } from '../helpers';
import { target, targetProblem, workflowsStartedSince, type Target } from './afterwards';
import { recordFuzz } from './attempts';
import { HOST_NAME, SERVICE_NAME, WORKFLOW_ID, badName, enumField, flagField, invalidBody, nameField, pick, rng, unknownQuery, type BodyRule, type Rng } from './mutate';

const SERVICE = 'sec-http-fuzz';
const REQUESTS = 900;
let svc: Target;
const base = () => readStackFile()!.apiUrl;
const auth = () => ({ authorization: `Bearer ${readEnvFile(paths.secretsFile()).FASTMIG_API_TOKEN}`, 'content-type': 'application/json' });

beforeAll(async () => {
  await removeQuietly(SERVICE);
  await deployKv(SERVICE, 'hostA');
  svc = await target(SERVICE);
});
afterAll(() => removeQuietly(SERVICE));

/** Every route×method pair the API describes, as fastify names routes ("POST /v1/services/:service/migrations"). */
const PAIRS = Object.entries(openapi.paths).flatMap(([p, ops]) =>
  Object.keys(ops).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
);
/** Open routes without input: they answer whatever the query; fuzzed less often. */
const OPEN = ['GET /healthz', 'GET /v1/openapi.json', 'GET /metrics'];
const WITH_INPUT = PAIRS.filter((p) => !OPEN.includes(p));

const MIGRATE: BodyRule = {
  valid: { to: 'hostB', mode: 'warm', wait: false },
  fields: { to: nameField(HOST_NAME), mode: enumField(['warm', 'cold'], false), wait: flagField },
};

interface Req { pair: string; method: string; url: string; body?: string; how: string }

/** One fuzzed request for a pair: its input (path, query, body) broken in at least one place. */
function fuzzed(r: Rng, pair: string): Req {
  const [method, route] = pair.split(' ');
  const name = (rule: typeof SERVICE_NAME, valid: string) => (r(2) ? { v: valid, bad: false } : { v: badName(r, rule), bad: true });
  const fill = (v: string) => route.replace(/:\w+/, encodeURIComponent(v));
  if (route.includes(':service')) {
    const s = name(SERVICE_NAME, SERVICE);
    if (method === 'GET') return { pair, method, url: fill(s.v) + (s.bad ? '' : unknownQuery(r)), how: s.bad ? `service ${JSON.stringify(s.v)}` : 'an unknown query parameter' };
    const b = s.bad && r(2) ? { body: MIGRATE.valid, how: 'a valid body' } : invalidBody(r, MIGRATE);
    const q = r(5) === 0 ? unknownQuery(r) : '';
    return { pair, method, url: fill(s.v) + q, body: JSON.stringify(b.body), how: `${s.bad ? `service ${JSON.stringify(s.v)}, ` : ''}${q ? 'an unknown query parameter, ' : ''}${b.how}` };
  }
  if (route.includes(':workflowId')) {
    const w = name(WORKFLOW_ID, `migrate-${SERVICE}`);
    return { pair, method, url: fill(w.v) + (w.bad ? '' : unknownQuery(r)), how: w.bad ? `workflow id ${JSON.stringify(w.v)}` : 'an unknown query parameter' };
  }
  return { pair, method, url: route + unknownQuery(r), how: 'an unknown query parameter' };
}

/** POST or PUT with a mutated JSON body on any path: routes without that method must answer 404. */
function bodyOnAnyPath(r: Rng): Req {
  const [, route] = pick(r, PAIRS).split(' ');
  const method = pick(r, ['POST', 'PUT']);
  const pair = `${method} ${route}`;
  return { pair, method, url: route.replace(/:\w+/, SERVICE), body: JSON.stringify(invalidBody(r, MIGRATE).body), how: 'a mutated body' };
}

async function send(q: Req) {
  try {
    const res = await fetch(`${base()}${q.url}`, { method: q.method, headers: auth(), body: q.body, signal: AbortSignal.timeout(10_000) });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    return { status: 0, text: String(err) };
  }
}

/** The API's request counter: answers by route and status since it started. */
async function answers(): Promise<Map<string, number>> {
  const text = await (await fetch(`${base()}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^fastmig_api_requests_total\{([^}]*)\} (\d+)/gm)) {
    const route = /route="([^"]*)"/.exec(m[1])?.[1];
    const status = /status="([^"]*)"/.exec(m[1])?.[1];
    out.set(`${route}|${status}`, Number(m[2]));
  }
  return out;
}

const apiPid = () => fs.readFileSync(path.join(paths.runDir(), 'api.pid'), 'utf8').trim();

test(`HTTP API fuzz: ${REQUESTS} mutated requests on every route×method pair → clean 4xx, handlers' own checks reached`, async () => {
  const r = rng(20240611);
  const since = new Date();
  const pid = apiPid();
  const before = await answers();
  const crashes: string[] = [];
  const accepted: string[] = [];
  const statuses: Record<string, number> = {};
  for (let i = 0; i < REQUESTS; i++) {
    const q = i % 4 === 3 ? bodyOnAnyPath(r) : fuzzed(r, r(10) ? pick(r, WITH_INPUT) : pick(r, OPEN));
    const res = await send(q);
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    let error: unknown;
    try {
      error = JSON.parse(res.text).error;
    } catch {
      /* not JSON */
    }
    const what = `${q.method} ${q.url.slice(0, 80)} (${q.how}) → ${res.status} ${res.text.slice(0, 120)}`;
    if (res.status === 0 || res.status >= 500) crashes.push(what);
    else if (res.status < 300 && OPEN.includes(q.pair)) continue; // no input to check: the route answers
    else if (res.status < 400 || res.status === 409) accepted.push(what);
    else if (typeof error !== 'string') crashes.push(`${what}: not a JSON {error}`);
  }
  const after = await answers();
  const reached = PAIRS.filter((p) => (after.get(`${p}|400`) ?? 0) > (before.get(`${p}|400`) ?? 0));
  if ((await fetch(`${base()}/healthz`)).status !== 200 || apiPid() !== pid) crashes.push('the API stopped answering or was restarted');
  recordFuzz({ surface: 'http api', requests: REQUESTS, pairs: PAIRS, reached, crashes, accepted, statuses });
  expect(crashes).toEqual([]);
  expect(accepted).toEqual([]);
  expect(reached).toEqual(WITH_INPUT);
  expect(await targetProblem(svc)).toBeNull();
  expect(await workflowsStartedSince(since)).toEqual([]);
});
