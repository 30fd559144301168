// Attacks through the CLI, one or more on every command, aimed at a running service: each must end
// with a one-line error (no stack trace) naming the problem and the bad-input exit code. After each
// one the service still runs where it ran, untouched and answering, no workflow was started (but
// the one an attack's path runs through), no schedule or image appeared, no upload was left in the
// image store, and nothing exists where a traversal pointed.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { loadConfig, paths } from '../../common/config';
import { s3Client } from '../../common/s3';
import { keys } from '../../common/names';
import { ops } from '../../client';
import { deployKv, fastmig, removeQuietly } from '../helpers';
import { target, type Target } from './afterwards';
import { tryBadInput } from './attempts';

const SERVICE = 'sec-cli';
const cfg = loadConfig();
let svc: Target;
let junk: string;

beforeAll(async () => {
  await removeQuietly(SERVICE);
  await deployKv(SERVICE, 'hostA');
  svc = await target(SERVICE);
  junk = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fmsec-cli-')), 'not-an-image.tar');
  fs.writeFileSync(junk, 'this is not a docker save archive\n'.repeat(100));
});
afterAll(async () => {
  fs.rmSync(path.dirname(junk), { recursive: true, force: true });
  await removeQuietly(SERVICE);
});

/** Where a name with "../" would land under the hosts' folders. */
const landing = (name: string) => [...new Set(['hostA', 'hostB'].map((h) => path.resolve(paths.hostDir(h), name)))];
const cron = ['--cron', '0 3 * * *'];

/** name, arguments, exit code, what stderr must say, paths the attack aims at, workflows its path starts. */
type Attack = [string, () => string[], number, RegExp, string[]?, RegExp?];
const attacks: Attack[] = [
  ['--env without =', () => ['deploy', 'sx', '--host', 'hostA', '--env', 'NOEQUALS', '--', 'sleep', '1'], 2, /KEY=VALUE/],
  ['--port 0', () => ['deploy', 'sx', '--host', 'hostA', '--port', '0', '--', 'sleep', '1'], 2, /port/],
  ['a service name with a space', () => ['deploy', 'a b', '--host', 'hostA', '--', 'sleep', '1'], 2, /service name/],
  ['deploy: a traversal service name', () => ['deploy', '../../sec-escape-cli', '--host', 'hostA', '--', 'sleep', '1'], 2, /service name/, landing('../../sec-escape-cli')],
  ['deploy: a traversal host', () => ['deploy', 'sx', '--host', '../sec-escape-host', '--', 'sleep', '1'], 2, /--host/, landing('../sec-escape-host')],
  ['deploy: a relative --cwd', () => ['deploy', 'sx', '--host', 'hostA', '--cwd', 'tmp', '--', 'sleep', '1'], 2, /cwd/],
  ['deploy: --restart that is not JSON', () => ['deploy', 'sx', '--host', 'hostA', '--restart', '{rules', '--', 'sleep', '1'], 2, /--restart takes JSON/],
  ['deploy: --restart with an unknown field', () => ['deploy', 'sx', '--host', 'hostA', '--restart', '{"exec":"id"}', '--', 'sleep', '1'], 2, /Unrecognized key.*exec/],
  ['deploy: --memory-limit that is not a number', () => ['deploy', 'sx', '--host', 'hostA', '--memory-limit', '1e9', '--', 'sleep', '1'], 2, /--memory-limit takes a whole number/],
  ['deploy: --checkpoint-every below 5 seconds', () => ['deploy', 'sx', '--host', 'hostA', '--checkpoint-every', '1', '--', 'sleep', '1'], 2, /everySeconds/],
  ['deploy: an unknown runtime', () => ['deploy', 'sx', '--host', 'hostA', '--runtime', 'vm', '--', 'sleep', '1'], 2, /--runtime takes process or docker/],
  ['deploy: --image without the docker runtime', () => ['deploy', 'sx', '--host', 'hostA', '--image', 'busybox', '--', 'sleep', '1'], 2, /--image needs --runtime docker/],
  ['deploy: a traversal image name', () => ['deploy', 'sx', '--host', 'hostA', '--runtime', 'docker', '--image', '../../etc'], 2, /image/],
  ['deploy: a docker image no host has', () => ['deploy', 'sec-noimage', '--host', 'hostA', '--runtime', 'docker', '--image', 'sec/nothing:0', '--port', '80'], 2, /image sec\/nothing:0 is not on hostA/, [paths.serviceDir('hostA', 'sec-noimage')], /^deploy-sec-noimage$/],
  ['deploy: an unknown option', () => ['deploy', 'sx', '--host', 'hostA', '--privileged', '--', 'sleep', '1'], 2, /unknown option --privileged/],
  ['deploy: a second copy of the running service', () => ['deploy', SERVICE, '--host', 'hostB', '--', 'sleep', '300'], 2, /already exists on hostA/, [paths.serviceDir('hostB', SERVICE)], /^deploy-sec-cli$/],
  ['migrate: an unknown mode', () => ['migrate', SERVICE, '--to', 'hostB', '--mode', 'hot'], 2, /mode/],
  ['migrate: a traversal target host', () => ['migrate', SERVICE, '--to', '../hostB'], 2, /to:/],
  ['migrate: an unknown option', () => ['migrate', SERVICE, '--to', 'hostB', '--force'], 2, /unknown option --force/],
  ['migrate: two service names', () => ['migrate', SERVICE, 'other', '--to', 'hostB'], 2, /exactly one service name/],
  ['migrate: a traversal service name', () => ['migrate', `../${SERVICE}`, '--to', 'hostB'], 2, /service:/],
  ['status: an upper-case service name', () => ['status', SERVICE.toUpperCase()], 2, /service name/],
  ['status: two service names', () => ['status', SERVICE, 'other'], 2, /at most one service name/],
  ['--lines out of range', () => ['logs', SERVICE, '--lines', '999999'], 2, /lines/],
  ['logs: a negative --lines', () => ['logs', SERVICE, '--lines', '-5'], 2, /--lines needs a value/],
  ['logs: a traversal service name', () => ['logs', '../../secrets'], 2, /service name/],
  ['remove: a traversal service name', () => ['remove', '../../secrets'], 2, /service name/],
  ['remove: the running service\'s name in upper case', () => ['remove', SERVICE.toUpperCase()], 2, /service name/],
  ['evacuate: --parallel 0', () => ['evacuate', 'hostA', '--parallel', '0'], 2, /--parallel takes 1 to 20/],
  ['evacuate: --parallel 21', () => ['evacuate', 'hostA', '--parallel', '21'], 2, /--parallel takes 1 to 20/],
  ['evacuate: a traversal host', () => ['evacuate', '../hostA'], 2, /host/],
  ['evacuate: a traversal --to', () => ['evacuate', 'hostA', '--to', '../hostB'], 2, /--to/],
  ['schedule: an upper-case name', () => ['schedule', 'create', 'Nightly', ...cron, 'migrate', SERVICE, '--to', 'hostB'], 2, /schedule name/],
  ['schedule: a traversal name', () => ['schedule', 'create', '../nightly', ...cron, 'migrate', SERVICE, '--to', 'hostB'], 2, /schedule name/],
  ['schedule: no --cron', () => ['schedule', 'create', 'sec-nightly', 'migrate', SERVICE, '--to', 'hostB'], 2, /needs --cron/],
  ['schedule: a malformed cron', () => ['schedule', 'create', 'sec-nightly', '--cron', '* * * * * * * * 99', 'migrate', SERVICE, '--to', 'hostB'], 2, /cron|spec/i],
  ['schedule: a traversal service', () => ['schedule', 'create', 'sec-nightly', ...cron, 'migrate', '../x', '--to', 'hostB'], 2, /service:/],
  ['schedule: an unknown mode', () => ['schedule', 'create', 'sec-nightly', ...cron, 'migrate', SERVICE, '--to', 'hostB', '--mode', 'hot'], 2, /mode/],
  ['schedule: an action other than migrate', () => ['schedule', 'create', 'sec-nightly', ...cron, 'remove', SERVICE], 2, /usage: fastmig schedule create/],
  ['schedule: pause with a traversal name', () => ['schedule', 'pause', '../x'], 2, /schedule name/],
  ['schedule: trigger of a schedule that does not exist', () => ['schedule', 'trigger', 'sec-nothing'], 2, /not found|sec-nothing/i],
  ['schedule: delete with an upper-case name', () => ['schedule', 'delete', 'NIGHTLY'], 2, /schedule name/],
  ['schedule: an unknown subcommand', () => ['schedule', 'exec', 'x'], 2, /unknown schedule command/],
  ['image: import with a traversal name', () => ['image', 'import', '../../x', junk], 2, /image name/],
  ['image: import with an upper-case name', () => ['image', 'import', 'Evil', junk], 2, /image name/],
  ['image: import with a --change that runs a command', () => ['image', 'import', 'sec-evil', junk, '--change', 'RUN rm -rf /'], 2, /--change/],
  ['image: load of a file that does not exist', () => ['image', 'load', '/nonexistent/sec-image.tar'], 2, /no such file/],
  ['image: load with --change', () => ['image', 'load', junk, '--change', 'CMD ["sh"]'], 2, /--change applies to image import only/],
  ['image: list with an argument', () => ['image', 'list', 'x'], 2, /takes no arguments/],
  ['image: load of an archive that is not a docker save', () => ['image', 'load', junk], 1, /FAILED/, [], /^image-/],
  ['agent: a traversal host name', () => ['agent', '--host', '../hostA'], 2, /--host/],
  ['agent: an address that is not an IP', () => ['agent', '--host', 'hostZ', '--address', 'evil.example'], 2, /--address takes the IP address/],
  ['agent: a positional argument', () => ['agent', 'hostA'], 2, /agent takes no arguments/],
  ['stack: down with --link', () => ['stack', 'down', '--link', '1mbit'], 2, /--link goes with `stack up` only/],
  ['stack: up with a malformed link rate', () => ['stack', 'up', '--link', 'fast'], 2, /link|rate/],
  ['an unknown command', () => ['exec', 'id'], 2, /unknown command "exec"/],
];

async function uploads(): Promise<string[]> {
  const names: string[] = [];
  for await (const o of s3Client(cfg).listObjectsV2(cfg.s3.bucket, keys.upload(''), true)) names.push((o as { name: string }).name);
  return names.sort();
}
const images = async () => JSON.stringify((await ops.listImages()).map((h) => [h.host, h.images.map((i) => i.id).sort()]));
const schedules = async () => JSON.stringify((await ops.schedules.list()).map((s) => s.name).sort());

test.each(attacks.map(([name, ...rest]) => [name, rest] as const))('CLI: %s → a one-line error, nothing changed', async (name, [args, code, why, aimedAt, workflows]) => {
  const before = { uploads: await uploads(), images: await images(), schedules: await schedules() };
  const unchanged = async () => {
    const now = { uploads: await uploads(), images: await images(), schedules: await schedules() };
    return JSON.stringify(now) === JSON.stringify(before) ? null : `changed: ${JSON.stringify(now)} (was ${JSON.stringify(before)})`;
  };
  expect(await tryBadInput(`cli: ${name}`, async () => {
    const r = await fastmig(args());
    return r.exitCode === code && why.test(r.stderr + r.stdout) && !/\n\s+at /.test(r.stderr) ? true : `exit ${r.exitCode}: ${(r.stderr || r.stdout).slice(0, 300)}`;
  }, { targets: [svc], aimedAt, workflows, check: unchanged })).toBe(true);
});
