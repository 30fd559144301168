// The kept directories' copy (daemon/kept-dirs.ts) without CRIU: the first pass while the service
// runs, changes made after it, the frozen pass as CRIU's post-dump action triggers it (the real
// action script, run as CRIU runs it), then laying the copy down over a folder that has drifted.
import fs from 'fs';
import os from 'os';
import path from 'path';
import execa from 'execa';
import { KeptCapture, layDownKept } from '../daemon/kept-dirs';
import { IMAGE_FILES } from '../common/service-folder';
import { REPO_ROOT } from '../common/config';

const NOTIFY = path.join(REPO_ROOT, 'daemon', 'criu-notify.sh');
const PATH = process.env.PATH!;

let root: string;
let kept: string[];
let imageDir: string;
let serviceDir: string;

/** Every path below `dir` with its type, mode, size and content (files) or target (symlinks). */
function describe(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const file = path.join(dir, rel);
    const st = fs.lstatSync(file);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out[rel] = `link ${fs.readlinkSync(file)}`;
    else if (st.isFile()) out[rel] = `file ${mode} ${Math.floor(st.mtimeMs)} ${fs.readFileSync(file, 'base64')}`;
    else {
      out[rel] = `dir ${mode}`;
      for (const n of fs.readdirSync(file)) walk(path.join(rel, n));
    }
  };
  walk('.');
  return out;
}

/** CRIU's post-dump action, as CRIU runs it: the real script with the capture's environment. */
const postDump = (c: KeptCapture) => execa('sh', [NOTIFY], { env: { ...c.env, CRTOOLS_SCRIPT_ACTION: 'post-dump', PATH }, reject: false });

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'kept-'));
  kept = [path.join(root, 'data'), path.join(root, 'logs')];
  imageDir = path.join(root, 'image');
  serviceDir = path.join(root, 'service');
  for (const d of [...kept, imageDir, serviceDir]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(kept[0], 'db'), Buffer.alloc(300_000, 7));
  fs.mkdirSync(path.join(kept[0], 'old'));
  fs.writeFileSync(path.join(kept[0], 'old', 'gone'), 'deleted after the first pass');
  fs.writeFileSync(path.join(kept[1], 'app.log'), 'line 1\n');
  fs.writeFileSync(path.join(kept[0], 'same'), 'unchanged');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

test('the frozen pass copies only what changed since the first, and a restore lays down exactly the state at the freeze', async () => {
  const c = await KeptCapture.begin(kept, imageDir, serviceDir, 'sh', PATH);
  // The service runs on between the two passes: appends, deletes, creates, renames, chmods.
  fs.appendFileSync(path.join(kept[1], 'app.log'), 'line 2\n');
  fs.rmSync(path.join(kept[0], 'old'), { recursive: true });
  fs.mkdirSync(path.join(kept[0], 'new', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(kept[0], 'new', 'deep', 'f'), 'új fájl');
  fs.symlinkSync('new/deep/f', path.join(kept[0], 'link'));
  fs.chmodSync(path.join(kept[0], 'same'), 0o640);
  const atFreeze = kept.map(describe);

  const r = await postDump(c);
  expect({ exit: r.exitCode, stderr: r.stderr }).toEqual({ exit: 0, stderr: '' });
  c.finish(true);
  // same (chmod: any change to a file, its status time included, sends it again), app.log, new,
  // new/deep, new/deep/f, link and the roots whose entries changed; not the untouched 300 kB db.
  expect(c.freeze.entries).toBeLessThan(10);
  expect(c.freeze.bytes).toBeLessThan(5_000);
  expect(c.baseBytes).toBeGreaterThan(300_000);
  for (const f of [IMAGE_FILES.keptBase, IMAGE_FILES.keptDelta, IMAGE_FILES.keptList]) expect(fs.existsSync(path.join(imageDir, f))).toBe(true);

  // The folder drifts after the checkpoint (as on a host that held an older copy).
  fs.writeFileSync(path.join(kept[0], 'db'), 'overwritten');
  fs.writeFileSync(path.join(kept[0], 'stray'), 'not in the image');
  fs.rmSync(kept[1], { recursive: true });
  const entries = layDownKept(imageDir, kept);
  expect(entries).toBe(Object.keys(atFreeze[0]).length + Object.keys(atFreeze[1]).length);
  expect(kept.map(describe)).toEqual(atFreeze);
});

test('a frozen pass that fails answers "fail": the action script exits non-zero, so CRIU resumes the tree and fails the dump', async () => {
  const c = await KeptCapture.begin(kept, imageDir, serviceDir, 'sh', PATH);
  fs.rmSync(kept[1], { recursive: true });
  const r = await postDump(c);
  expect(r.exitCode).toBe(1);
  expect(() => c.finish(false)).toThrow(`copying the kept directories while frozen failed: kept directory ${kept[1]} is missing`);
  expect(fs.existsSync(path.join(imageDir, IMAGE_FILES.keptList))).toBe(false);
});

test('a dump that succeeded without the frozen pass is refused', async () => {
  const c = await KeptCapture.begin(kept, imageDir, serviceDir, 'sh', PATH);
  expect(() => c.finish(true)).toThrow('the dump ended without the kept directories being copied while frozen');
});

test('an image that keeps other directories than the spec, or whose entries climb out, lays nothing down', async () => {
  const c = await KeptCapture.begin(kept, imageDir, serviceDir, 'sh', PATH);
  await postDump(c);
  c.finish(true);
  expect(() => layDownKept(imageDir, [kept[0]])).toThrow(`the image keeps ${kept.join(', ')}, the service keeps ${kept[0]}`);
  expect(() => layDownKept(path.join(root, 'service'), kept)).toThrow('the image keeps no directories');

  // An entry that climbs out of its directory (the archive is signed in transit; this is the second line).
  const outside = path.join(root, 'escaped');
  const header = Buffer.from(JSON.stringify({ p: '0/../escaped', kind: 'file', mode: 0o644, uid: 0, gid: 0, size: 1, mtimeNs: '0', ctimeNs: '0', ino: '1' }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(header.length);
  fs.writeFileSync(path.join(imageDir, IMAGE_FILES.keptDelta), Buffer.concat([len, header, Buffer.from('x')]));
  expect(() => layDownKept(imageDir, kept)).toThrow('kept entry "0/../escaped" is not a plain path');
  expect(fs.existsSync(outside)).toBe(false);
});
