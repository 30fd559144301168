// Bad input through the real CLI binary: a non-zero exit, one clear line, no stack trace,
// and nothing changed.
import { ops } from '../client';
import { deployKv, fastmig, removeQuietly } from './helpers';

const SERVICE = 'test-cli';

beforeAll(async () => {
  await removeQuietly(SERVICE);
  await deployKv(SERVICE, 'hostA');
});
afterAll(() => removeQuietly(SERVICE));

const cases: [string, string[], RegExp][] = [
  ['unknown service', ['migrate', 'no-such-service', '--to', 'hostB'], /unknown service "no-such-service"/],
  ['unknown host', ['migrate', SERVICE, '--to', 'hostZ'], /unknown host "hostZ".*known hosts are/],
  ['migrating to the host it is on', ['migrate', SERVICE, '--to', 'hostA'], /already runs on hostA/],
  ['bad mode', ['migrate', SERVICE, '--to', 'hostB', '--mode', 'teleport'], /mode/],
  ['missing --to', ['migrate', SERVICE], /needs --to/],
  ['empty command', ['deploy', 'x1', '--host', 'hostA', '--'], /needs a command/],
  ['no command at all', ['deploy', 'x1', '--host', 'hostA'], /needs a command/],
  ['malformed port', ['deploy', 'x1', '--host', 'hostA', '--port', 'abc', '--', 'sleep', '1'], /--port takes a whole number/],
  ['port out of range', ['deploy', 'x1', '--host', 'hostA', '--port', '70000', '--', 'sleep', '1'], /--port/],
  ['unknown option', ['migrate', SERVICE, '--to', 'hostB', '--fast'], /unknown option --fast/],
  ['flag without value', ['deploy', 'x1', '--host'], /--host needs a value/],
  ['unsafe service name', ['deploy', '../etc', '--host', 'hostA', '--', 'sleep', '1'], /service name/],
  ['unknown command', ['teleport'], /unknown command "teleport"/],
  ['duplicate deploy', ['deploy', SERVICE, '--host', 'hostB', '--', 'sleep', '100'], /already exists on hostA/],
  ['deploy on unknown host', ['deploy', 'x2', '--host', 'nowhere', '--', 'sleep', '100'], /unknown host "nowhere"/],
  ['status of unknown service', ['status', 'ghost', '--json'], /unknown service "ghost"/],
];

test.each(cases)('%s is refused with a clear one-line error', async (_name, args, message) => {
  const r = await fastmig(args);
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(r.stderr.split('\n').filter((l) => l.startsWith('fastmig:'))).toHaveLength(1);
});

test('nothing changed after the refused commands', async () => {
  const views = await ops.inspect();
  expect(views.map((v) => v.service)).not.toEqual(expect.arrayContaining(['x1', 'x2']));
  expect(views.find((v) => v.service === SERVICE)).toMatchObject({ host: 'hostA', state: 'running' });
});

test('a CLI pointed at a stack that is not up says so and exits non-zero', async () => {
  const r = await fastmig(['status'], { FASTMIG_TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toMatch(/stack is not up.*fastmig stack up/);
});

test('status --json of a service gives service, host, state and endpoint', async () => {
  const r = await fastmig(['status', SERVICE, '--json']);
  expect(r.exitCode).toBe(0);
  const v = JSON.parse(r.stdout);
  expect(v).toMatchObject({ service: SERVICE, host: 'hostA', state: 'running' });
  expect(v.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
});

test('stack status --json names the Temporal address, namespace, binary and UI', async () => {
  const r = await fastmig(['stack', 'status', '--json']);
  expect(r.exitCode).toBe(0);
  const v = JSON.parse(r.stdout);
  expect(v).toMatchObject({ up: true, namespace: 'default' });
  expect(v.temporalAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(v.temporalBinary).toMatch(/temporal$/);
  expect(v.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});
