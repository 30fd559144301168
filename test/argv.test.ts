// A service's command reaches it exactly as given: every argv element, empty strings, spaces,
// quotes, "=", non-ASCII included (Debian's redis-server documents `--save ""`). NUL bytes and an
// empty program stay refused.
import { ops } from '../client';
import { fastmig, removeQuietly } from './helpers';

const SERVICE = 'test-argv';
const ARGS = ['', 'two words', `quotes "double" 'single'`, 'k=v', 'grüße ✓', '--save', '', '-x', '$HOME', '*'];
const PRINT_ARGV = 'console.log("argv " + JSON.stringify(process.argv.slice(1))); setInterval(() => {}, 1000)';

afterAll(() => removeQuietly(SERVICE));

test('every argv element reaches the service unchanged', async () => {
  await removeQuietly(SERVICE);
  await ops.deploy({ host: 'hostA', spec: { name: SERVICE, command: [process.execPath, '-e', PRINT_ARGV, ...ARGS], cwd: '/' } });
  let line: string | undefined;
  for (let i = 0; i < 100 && !line; i++) {
    line = (await ops.logs(SERVICE, 20)).find((l) => l.startsWith('argv '));
    if (!line) await new Promise((r) => setTimeout(r, 100));
  }
  expect(line).toBeDefined();
  expect(JSON.parse(line!.slice('argv '.length))).toEqual(ARGS);
});

test('an empty program is refused by the CLI with one line, nothing deployed', async () => {
  const r = await fastmig(['deploy', 'test-argv-empty', '--host', 'hostA', '--', '', '1']);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toMatch(/program \(the first word of the command\) cannot be empty/);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect((await ops.inspect()).map((v) => v.service)).not.toContain('test-argv-empty');
});

test('a NUL byte in an argument is refused (no process could receive it), nothing deployed', async () => {
  // A command line cannot carry NUL at all, so this goes through the client library.
  const deploy = ops.deploy({ host: 'hostA', spec: { name: 'test-argv-nul', command: ['sleep', 'a\u0000b'], cwd: '/' } });
  await expect(deploy).rejects.toThrow(/cannot contain a NUL byte/);
  expect((await ops.inspect()).map((v) => v.service)).not.toContain('test-argv-nul');
});
