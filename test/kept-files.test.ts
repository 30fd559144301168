// A service's files travel with it (`--keep`): services whose state is a file they keep open move
// between hosts that share no disk (each host of the stack has its own /srv), and each checks its
// own files afterwards: a journal whose numbers must run on without gap or repeat, and a SQLite
// database (its own integrity_check, its rows 1..n). Back on a host that holds an older copy, the
// image's files replace it exactly.
import fs from 'fs';
import path from 'path';
import { ops } from '../client';
import { freePort } from '../demo/probe';
import { fastmigHome, REPO_ROOT } from '../common/config';
import { endpointNow, removeQuietly } from './helpers';
import { countAtLeast, get } from './counting-service';

const JOURNAL_SERVICE = path.join(REPO_ROOT, 'dist', 'demo', 'journal-service.js');
const SQLITE_SERVICE = path.join(REPO_ROOT, 'test', 'services', 'sqlite-service.py');
const PYTHON = '/usr/bin/python3';

/** What host `host` sees as /srv/<rel>, read from this machine. */
const srvOf = (host: string, rel: string) => path.join(fastmigHome(), 'srv', host, rel);

interface Case {
  name: string;
  file: string;
  command: (port: number, file: string) => string[];
}

const CASES: Case[] = [
  { name: 'test-keep-journal', file: 'journal', command: (port, file) => [process.execPath, JOURNAL_SERVICE, '--port', String(port), '--file', file] },
  { name: 'test-keep-sqlite', file: 'rows.db', command: (port, file) => [PYTHON, SQLITE_SERVICE, String(port), file] },
];

describe.each(CASES)('$name', ({ name, file, command }) => {
  const dir = `/srv/${name}`;
  beforeAll(async () => {
    await removeQuietly(name);
    for (const h of ['hostA', 'hostB']) fs.rmSync(srvOf(h, name), { recursive: true, force: true });
    fs.mkdirSync(srvOf('hostA', name), { recursive: true });
  });
  afterAll(async () => {
    await removeQuietly(name);
    for (const h of ['hostA', 'hostB']) fs.rmSync(srvOf(h, name), { recursive: true, force: true });
  });

  test('migrates hostA → hostB (warm) and back (cold) with every byte of its files, checked by the service itself', async () => {
    const port = await freePort();
    await ops.deploy({ host: 'hostA', spec: { name, command: command(port, `${dir}/${file}`), cwd: dir, port, keep: [dir] } });
    const deployed = (await ops.inspect(name))[0].endpoint!;
    let endpoint = deployed;
    await countAtLeast(endpoint, 100);
    expect(fs.existsSync(srvOf('hostB', `${name}/${file}`))).toBe(false);

    const there = await ops.migrate({ service: name, to: 'hostB', mode: 'warm' });
    expect(there).toMatchObject({ ok: true, outcome: 'migrated', to: 'hostB' });
    endpoint = await endpointNow(name);
    expect(endpoint).toBe(deployed);
    expect((await ops.inspect(name))[0].host).toBe('hostB');
    const arrived = Number((await get(endpoint, '/count')).text);
    // It goes on writing into the file it held open on hostA, now on hostB's own disk.
    await countAtLeast(endpoint, arrived + 50);
    expect(await get(endpoint, '/verify')).toEqual({ status: 200, text: expect.stringMatching(/^\d+$/) });
    expect(fs.statSync(srvOf('hostB', `${name}/${file}`)).size).toBeGreaterThan(0);

    // hostA still holds the copy it had when the service left: the image's files must replace it.
    const back = await ops.migrate({ service: name, to: 'hostA', mode: 'cold' });
    expect(back).toMatchObject({ ok: true, outcome: 'migrated', to: 'hostA' });
    endpoint = await endpointNow(name);
    const home = Number((await get(endpoint, '/count')).text);
    await countAtLeast(endpoint, home + 50);
    const verified = await get(endpoint, '/verify');
    expect(verified.status).toBe(200);
    expect(Number(verified.text)).toBeGreaterThan(arrived);
  }, 180_000);
});
