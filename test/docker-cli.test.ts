// The container side of the CLI: images on every host's own engine, and bad input refused with
// one clear line (non-zero exit, no stack trace, nothing changed).
import fs from 'fs';
import os from 'os';
import path from 'path';
import execa from 'execa';
import { ops } from '../client';
import { paths } from '../common/config';
import { fastmig } from './helpers';
import { MUSL_IMAGE, ensureImages } from './docker-helpers';

beforeAll(() => ensureImages());

test('image list shows what each host has, from that host\'s own engine', async () => {
  const r = await fastmig(['image', 'list', '--json']);
  expect(r.exitCode).toBe(0);
  const hosts = JSON.parse(r.stdout) as Array<{ host: string; images: Array<{ name: string }> }>;
  expect(hosts.map((h) => h.host).sort()).toEqual(expect.arrayContaining(['hostA', 'hostB']));
  for (const h of hosts.filter((x) => ['hostA', 'hostB'].includes(x.host))) expect(h.images.map((i) => i.name)).toContain(MUSL_IMAGE);
});

test('image import puts a root file system into every engine, with its CMD', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-img-'));
  const tar = path.join(dir, 'tiny.tar');
  fs.mkdirSync(path.join(dir, 'root', 'etc'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'root', 'etc', 'hello'), 'hello\n');
  require('child_process').execFileSync('tar', ['-cf', tar, '-C', path.join(dir, 'root'), '.']);
  const r = await fastmig(['image', 'import', 'fastmig/tiny-test:1', tar, '--change', 'CMD ["/bin/true"]']);
  fs.rmSync(dir, { recursive: true, force: true });
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toMatch(/hostA: fastmig\/tiny-test:1/);
  expect(r.stdout).toMatch(/hostB: fastmig\/tiny-test:1/);
  const hosts = await ops.listImages();
  for (const h of hosts.filter((x) => ['hostA', 'hostB'].includes(x.host))) expect(h.images.map((i) => i.name)).toContain('fastmig/tiny-test:1');
  const cmd = await execa('docker', ['-H', `unix://${paths.dockerSocket('hostB')}`, 'image', 'inspect', '--format', '{{json .Config.Cmd}}', 'fastmig/tiny-test:1']);
  expect(JSON.parse(cmd.stdout)).toEqual(['/bin/true']);
});

test('image load puts a `docker save` archive into every engine', async () => {
  const hostA = ['-H', `unix://${paths.dockerSocket('hostA')}`];
  const tar = path.join(os.tmpdir(), `fastmig-save-${process.pid}.tar`);
  await execa('docker', [...hostA, 'tag', MUSL_IMAGE, 'fastmig/saved-test:1']);
  await execa('docker', [...hostA, 'save', '-o', tar, 'fastmig/saved-test:1']);
  for (const h of ['hostA', 'hostB']) await execa('docker', ['-H', `unix://${paths.dockerSocket(h)}`, 'rmi', 'fastmig/saved-test:1'], { reject: false });
  const r = await fastmig(['image', 'load', tar]);
  fs.rmSync(tar, { force: true });
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toMatch(/hostA: fastmig\/saved-test:1/);
  expect(r.stdout).toMatch(/hostB: fastmig\/saved-test:1/);
});

const cases: [string, string[], RegExp][] = [
  ['docker without an image', ['deploy', 'd1', '--host', 'hostA', '--runtime', 'docker'], /--runtime docker needs --image/],
  ['image without docker', ['deploy', 'd1', '--host', 'hostA', '--image', MUSL_IMAGE, '--', 'sleep', '1'], /--image needs --runtime docker/],
  ['unknown runtime', ['deploy', 'd1', '--host', 'hostA', '--runtime', 'vm', '--', 'sleep', '1'], /--runtime takes process or docker, got "vm"/],
  ['malformed image name', ['deploy', 'd1', '--host', 'hostA', '--runtime', 'docker', '--image', 'Bad Image!'], /image: an image is name\[:tag\]/],
  ['image no host has', ['deploy', 'd1', '--host', 'hostA', '--runtime', 'docker', '--image', 'fastmig/nothing:0', '--port', '80'], /image fastmig\/nothing:0 is not on hostA/],
  ['import of a missing file', ['image', 'import', 'fastmig/x:1', '/nonexistent/rootfs.tar'], /no such file: \/nonexistent\/rootfs.tar/],
  ['import without a file', ['image', 'import', 'fastmig/x:1'], /usage: fastmig image import/],
  ['bad --change', ['image', 'import', 'fastmig/x:1', '/nonexistent.tar', '--change', 'RUN rm -rf /'], /--change: .*CMD, ENTRYPOINT/],
  ['unknown image command', ['image', 'pull', 'x'], /unknown image command "pull"/],
];

test.each(cases)('%s is refused with a clear one-line error', async (_name, args, message) => {
  const r = await fastmig(args);
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.split('\n').filter((l) => l.startsWith('fastmig:'))).toHaveLength(1);
  expect((await ops.inspect()).some((v) => v.service === 'd1')).toBe(false);
});
