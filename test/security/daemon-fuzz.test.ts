// Fuzzing a running service's daemon with its valid token: mutated but well-formed requests on
// every route×method pair of its API (daemon/api.ts), and POST/PUT with JSON bodies on every path.
// Every mutation breaks the route's rules, so each must end in a clean JSON 4xx; a 400 that no
// layer before the route gives (bad JSON, bad path, no route) is the route's own check. Afterwards
// the service runs on, same process, same daemon, no image written, no hook run, no workflow.
import { HOOKS, RESTART_ACTIONS } from '../../common/plain-schemas';
import type { Supervisor } from '../../daemon/supervisor';
import { daemonRoutes } from '../../daemon/api';
import { removeQuietly } from '../helpers';
import { targetProblem, workflowsStartedSince } from './afterwards';
import { recordFuzz } from './attempts';
import { BEFORE_ROUTES, deployTarget, type DaemonTarget } from './daemon-target';
import { CHECKPOINT_ID, enumField, flagField, intField, invalidBody, nameField, pick, rng, textField, unknownQuery, wrongType, type BodyRule, type Field, type Rng } from './mutate';

const SERVICE = 'sec-daemon-fuzz';
const REQUESTS = 900;
let d: DaemonTarget;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  d = await deployTarget(SERVICE);
});
afterAll(() => removeQuietly(SERVICE));

/** Every route×method pair the daemon serves, from its own route table. */
const PAIRS = Object.keys(daemonRoutes({} as Supervisor, () => undefined));

const id = nameField(CHECKPOINT_ID);
/** An optional IPv4 address (a post-copy dump's own and its target's): anything else is refused. */
const ipField: Field = { required: false, invalid: (r) => (r(3) ? pick(r, ['256.1.1.1', '10.0.0', '10.0.0.1.2', '::1', 'localhost', '10.0.0.1 ', '010.0.0.1', '1e1.0.0.1', '', '10.0.0.1/32']) : wrongType(r, 'string')) };
const BODIES: Record<string, BodyRule> = {
  'POST /start': { valid: { restart: false }, fields: { restart: flagField } },
  'POST /checkpoint': { valid: { checkpointId: 'f1', leaveRunning: true }, fields: { checkpointId: id, leaveRunning: flagField, lazyAt: ipField, lazyFor: ipField } },
  'POST /restore': { valid: { checkpointId: 'f1', restart: false, held: false }, fields: { checkpointId: id, restart: flagField, held: flagField } },
  'POST /hook': { valid: { hook: 'postCheckpoint', checkpointId: 'f1' }, fields: { hook: enumField(HOOKS), checkpointId: nameField(CHECKPOINT_ID, false) } },
  'POST /decision': { valid: { action: 'scratch', reason: 'fuzz', delayMs: 0 }, fields: { action: enumField(RESTART_ACTIONS), reason: textField(1000), delayMs: intField(0, 60_000) } },
  'POST /stop': { valid: { graceMs: 1000 }, fields: { graceMs: intField(0, 60_000, false) } },
  'POST /shutdown': { valid: {}, fields: {} },
  'POST /thaw': { valid: {}, fields: {} },
  'POST /open': { valid: {}, fields: {} },
};

/** `lines` values GET /logs refuses: not 1-4 digits, or outside 1-2000. */
const badLines = (r: Rng) => pick(r, ['0', '2001', String(2001 + r(7999)), '12345', '-5', 'abc', '', '1e3', ' 5', '5 ', '1.5', '0x10', '５', '%00', '10;id']);

interface Req { method: string; url: string; body?: string; how: string }

function fuzzed(r: Rng, pair: string): Req {
  const [method, route] = pair.split(' ');
  if (method === 'GET') {
    if (route === '/logs' && r(2)) {
      const q = new URLSearchParams({ lines: badLines(r) });
      return { method, url: `${route}?${q}`, how: `lines=${q.get('lines')}` };
    }
    return { method, url: route + unknownQuery(r, route === '/logs' && r(2) ? { lines: '5' } : {}), how: 'an unknown query parameter' };
  }
  const rule = BODIES[pair];
  if (r(6) === 0) return { method, url: route + unknownQuery(r), body: JSON.stringify(rule.valid), how: 'an unknown query parameter, a valid body' };
  const b = invalidBody(r, rule);
  return { method, url: route, body: JSON.stringify(b.body), how: b.how };
}

/** POST or PUT with a mutated JSON body on any path: routes without that method must answer 404. */
function bodyOnAnyPath(r: Rng): Req & { pair: string } {
  const route = pick(r, PAIRS).split(' ')[1];
  const method = pick(r, ['POST', 'PUT']);
  const pair = `${method} ${route}`;
  const rule = BODIES[pair] ?? BODIES['POST /checkpoint'];
  return { pair, method, url: route, body: JSON.stringify(invalidBody(r, rule).body), how: 'a mutated body' };
}

test(`daemon API fuzz: ${REQUESTS} mutated requests with the valid token on every route×method pair → clean 4xx, every route's own checks reached`, async () => {
  const r = rng(4242);
  const since = new Date();
  const crashes: string[] = [];
  const accepted: string[] = [];
  const reached = new Set<string>();
  const statuses: Record<string, number> = {};
  for (let i = 0; i < REQUESTS; i++) {
    const pair = i % 4 === 3 ? undefined : pick(r, PAIRS);
    const q = pair ? { pair, ...fuzzed(r, pair) } : bodyOnAnyPath(r);
    const res = await d.call(q.method, q.url, q.body);
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    const what = `${q.method} ${q.url.slice(0, 80)} (${q.how}) → ${res.status} ${res.body.slice(0, 120)}`;
    if (res.status === 0 || res.status >= 500) crashes.push(what);
    else if (res.status < 400 || res.status === 409) accepted.push(what);
    else if (res.error === undefined) crashes.push(`${what}: not a JSON {error}`);
    else if (res.status === 400 && PAIRS.includes(q.pair) && !BEFORE_ROUTES.test(res.error)) reached.add(q.pair);
  }
  const problem = await d.daemonProblem();
  if (problem) crashes.push(problem);
  recordFuzz({ surface: 'daemon api', requests: REQUESTS, pairs: PAIRS, reached: PAIRS.filter((p) => reached.has(p)), crashes, accepted, statuses });
  expect(crashes).toEqual([]);
  expect(accepted).toEqual([]);
  expect([...reached].sort()).toEqual([...PAIRS].sort());
  expect(await targetProblem(d.target)).toBeNull();
  expect(await workflowsStartedSince(since)).toEqual([]);
});
