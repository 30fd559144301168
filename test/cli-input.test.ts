// Bad input through the real CLI binary: a non-zero exit, one clear line, no stack trace,
// and nothing changed.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { ops } from '../client';
import { loadConfig, paths } from '../common/config';
import { poolAddresses } from '../common/address-pool';
import { pidAlive } from '../common/pid-file';
import { addressOf, deployKv, fastmig, removeQuietly, serviceDirExists } from './helpers';
import { dockerOn } from './docker-helpers';

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
  ['--on-lazy-failure without --mode lazy', ['migrate', SERVICE, '--to', 'hostB', '--on-lazy-failure', 'stop'], /onLazyFailure: onLazyFailure applies to mode lazy only/],
  ['a bad --on-lazy-failure', ['migrate', SERVICE, '--to', 'hostB', '--mode', 'lazy', '--on-lazy-failure', 'retry'], /onLazyFailure: .*'resume-source' \| 'stop'/],
  ['a schedule whose lazy choice has no lazy mode', ['schedule', 'create', 'x-sched', '--cron', '0 3 * * *', 'migrate', SERVICE, '--to', 'hostB', '--on-lazy-failure', 'stop'], /onLazyFailure applies to mode lazy only/],
  ['resume of a service that runs', ['resume', SERVICE], /is running: only a copy a lazy migration left stopped can be resumed/],
  ['evacuation in an unknown mode', ['evacuate', 'hostA', '--mode', 'teleport'], /--mode/],
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
  ['agent without --host', ['agent'], /agent needs --host <name>/],
  ['agent with an unsafe host name', ['agent', '--host', '../x'], /--host: .*a host name is/],
  ['agent with an address that is not an IP', ['agent', '--host', 'hostQ', '--address', 'nowhere'], /--address takes the IP address.*got "nowhere"/],
  ['agent with arguments', ['agent', 'hostQ'], /agent takes no arguments/],
  ['--keep of a relative path', ['deploy', 'x1', '--host', 'hostA', '--keep', 'data', '--', 'sleep', '100'], /keep\.0: a kept directory must be an absolute path/],
  ['--keep of a directory the service may not write', ['deploy', 'x1', '--host', 'hostA', '--keep', '/proc/1', '--', 'sleep', '100'], /keep\.0: a kept directory must be one the service writes/],
  ['--keep of / itself', ['deploy', 'x1', '--host', 'hostA', '--keep', '/', '--', 'sleep', '100'], /keep\.0: a kept directory must be one the service writes, not \//],
  ['--keep with ".."', ['deploy', 'x1', '--host', 'hostA', '--keep', '/srv/../etc', '--', 'sleep', '100'], /keep\.0: a kept directory must be written plainly/],
  ['--keep of a directory inside another kept one', ['deploy', 'x1', '--host', 'hostA', '--keep', '/srv/a', '--keep', '/srv/a/b', '--', 'sleep', '100'], /keep\.1: \/srv\/a\/b is kept already \(as \/srv\/a\)/],
  ['--keep of a directory missing on the host', ['deploy', 'x1', '--host', 'hostA', '--keep', '/srv/no-such-dir', '--', 'sleep', '100'], /kept directory \/srv\/no-such-dir is not a directory on hostA \(create it first\)/],
  ['--keep with a container', ['deploy', 'x1', '--host', 'hostA', '--runtime', 'docker', '--image', 'any-image', '--keep', '/data'], /--keep is for the process runtime/],
  ['--volume with a process', ['deploy', 'x1', '--host', 'hostA', '--volume', 'x1-data:/data', '--', 'sleep', '100'], /volumes: --volume is for the docker runtime/],
  ['--volume without a path', ['deploy', 'x1', '--host', 'hostA', '--runtime', 'docker', '--image', 'any-image', '--volume', 'x1-data'], /--volume takes NAME:\/PATH .*got "x1-data"/],
  ['--volume with a relative path', ['deploy', 'x1', '--host', 'hostA', '--runtime', 'docker', '--image', 'any-image', '--volume', 'x1-data:data'], /volumes\.0\.path: a volume path must be an absolute path/],
  ['--volume over fastmig\'s own mounts', ['deploy', 'x1', '--host', 'hostA', '--runtime', 'docker', '--image', 'any-image', '--volume', 'x1-data:/fastmig/x'], /volumes\.0\.path: a volume path must not be \/ nor inside/],
  ['--volume with a bad name', ['deploy', 'x1', '--host', 'hostA', '--runtime', 'docker', '--image', 'any-image', '--volume', 'no/such:/data'], /volumes\.0\.name: a volume name is 2-128 characters/],
  ['--volume twice at one path', ['deploy', 'x1', '--host', 'hostA', '--runtime', 'docker', '--image', 'any-image', '--volume', 'x1-a:/data', '--volume', 'x1-b:/data/b'], /volumes\.1: x1-b:\/data\/b overlaps x1-a:\/data/],
  ['--volume that does not exist on the host', ['deploy', 'x1', '--host', 'hostA', '--runtime', 'docker', '--image', 'any-image', '--port', '8080', '--volume', 'x1-no-such-volume:/data'], /volume x1-no-such-volume does not exist on hostA: create it first/],
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
  expect(views.map((v) => v.service)).not.toContain('x1');
  expect(views.map((v) => v.service)).not.toContain('x2');
  expect(serviceDirExists('hostA', 'x1')).toBe(false);
  // A refused volume is not made on the deploy host either.
  expect((await dockerOn('hostA', ['volume', 'inspect', 'x1-no-such-volume'])).exitCode).not.toBe(0);
  expect(views.find((v) => v.service === SERVICE)).toMatchObject({ host: 'hostA', state: 'running' });
});

test('an agent without its configuration names each missing setting and does not start', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-agent-conf-'));
  try {
    const r = await fastmig(['agent', '--host', 'hostQ'], { FASTMIG_HOME: home, FASTMIG_CLUSTER_KEY: '', FASTMIG_S3_ACCESS_KEY: '', FASTMIG_S3_SECRET_KEY: '' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/lacks FASTMIG_CLUSTER_KEY .*FASTMIG_S3_ACCESS_KEY, FASTMIG_S3_SECRET_KEY/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readdirSync(home)).toEqual([]); // nothing written, no host folder made
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('the embedded stack runs its host agents with `fastmig agent`, the command a user runs on a machine', () => {
  for (const host of ['hostA', 'hostB']) {
    const pid = pidAlive(path.join(paths.runDir(), `agent-${host}.pid`));
    expect(pid).not.toBeNull();
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(argv.slice(-5)).toEqual(['agent', '--host', host, '--address', addressOf(host)]);
    expect(argv[1]).toMatch(/cli\/main\.js$/);
  }
});

test('a CLI pointed at a stack that is not up says so and exits non-zero', async () => {
  const r = await fastmig(['status'], { FASTMIG_TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toMatch(/stack is not up.*fastmig stack up/);
});

test('status --json of a service gives service, host, state, its own address and endpoint', async () => {
  const r = await fastmig(['status', SERVICE, '--json']);
  expect(r.exitCode).toBe(0);
  const v = JSON.parse(r.stdout);
  expect(v).toMatchObject({ service: SERVICE, host: 'hostA', state: 'running' });
  // Its own address, from the cluster's block (not hostA's), is where clients reach it.
  const block = poolAddresses(loadConfig().serviceAddresses!);
  const [ip, port] = v.address.split(':');
  expect(block).toContain(ip);
  expect(ip).not.toBe(addressOf('hostA'));
  expect(Number(port)).toBeGreaterThan(0);
  expect(v.endpoint).toBe(v.address);
});

test('stack status --json names the Temporal address, namespace, binary and UI', async () => {
  const r = await fastmig(['stack', 'status', '--json']);
  expect(r.exitCode).toBe(0);
  const v = JSON.parse(r.stdout);
  expect(v).toMatchObject({ up: true, namespace: 'default' });
  // The control plane is a machine of its own on the hosts' network, not this machine's loopback.
  expect(v.temporalAddress.startsWith(`${v.controlAddress}:`)).toBe(true);
  expect(v.controlAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  expect(v.controlAddress).not.toMatch(/^127\./);
  expect(v.temporalBinary).toMatch(/temporal$/);
  expect(v.uiUrl.startsWith(`http://${v.controlAddress}:`)).toBe(true);
});
