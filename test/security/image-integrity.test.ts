// Images are signed and optionally encrypted: the image activities (run in-process against
// the real S3 server) refuse anything tampered with, signed by another key, or unreadable, and
// leave nothing behind to restore from; an archive whose entries would escape the image folder is
// refused even when a cluster member signed it, and nothing is written where they pointed.
import fs from 'fs';
import os from 'os';
import path from 'path';
import crypto from 'crypto';
import tar from 'tar-stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadConfig, paths } from '../../common/config';
import { serviceFolder } from '../../common/service-folder';
import { s3Client, readJson, writeJson } from '../../common/s3';
import { keys } from '../../common/names';
import { createImageActivities } from '../../activities/image';
import { signManifest, type ImageManifest } from '../../image/manifest';
import { tryBadInput } from './attempts';

const cfg = loadConfig();
const s3 = s3Client(cfg);
const HOST = 'hostSec';
const SERVICE = 'sec-image';
const home = cfg.home;
const imageOf = (id: string) => serviceFolder(paths.serviceDir(HOST, SERVICE, home)).image(id);
const store = (over: Partial<Parameters<typeof createImageActivities>[0]> = {}) =>
  createImageActivities({ host: HOST, home, s3, bucket: cfg.s3.bucket, clusterKey: cfg.clusterKey!, imageKey: cfg.imageKey, encryptAll: false, ...over });
const env = () => new MockActivityEnvironment();
let n = 0;

/** A checkpoint folder with two files, as a dump would leave it. */
function makeCheckpoint(): string {
  const id = `t${Date.now()}-${n++}`;
  const dir = imageOf(id);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'pages-1.img'), crypto.randomBytes(200_000));
  fs.writeFileSync(path.join(dir, 'core-1.img'), 'core');
  return id;
}
async function upload(id: string, encrypt = false): Promise<{ bytes: number; encrypted: boolean }> {
  return env().run(store().uploadImage, { service: SERVICE, checkpointId: id, encrypt });
}
async function refusedDownload(id: string, pattern: RegExp, over: Parameters<typeof store>[0] = {}): Promise<boolean> {
  fs.rmSync(imageOf(id), { recursive: true, force: true });
  try {
    await env().run(store(over).downloadImage, { service: SERVICE, checkpointId: id });
    return false;
  } catch (err) {
    const dir = imageOf(id);
    // refused cleanly: the right reason, and nothing left behind to restore from
    return pattern.test((err as Error).message) && !fs.existsSync(dir) && !fs.existsSync(`${dir}.partial`);
  }
}
async function rewriteArchive(id: string, edit: (b: Buffer) => Buffer) {
  const key = keys.imageArchive(SERVICE, id);
  const chunks: Buffer[] = [];
  for await (const c of await s3.getObject(cfg.s3.bucket, key)) chunks.push(c as Buffer);
  const body = edit(Buffer.concat(chunks));
  await s3.putObject(cfg.s3.bucket, key, body, body.length);
}
async function editManifest(id: string, edit: (m: ImageManifest) => ImageManifest) {
  const key = keys.imageManifest(SERVICE, id);
  await writeJson(s3, cfg.s3.bucket, key, edit((await readJson<ImageManifest>(s3, cfg.s3.bucket, key))!));
}
/** Where an entry named `name` would land if the unpacking followed it (images land in `<id>.partial` first). */
const landsAt = (id: string, name: string) => path.resolve(`${imageOf(id)}.partial`, name);

type Entry = Parameters<tar.Pack['entry']>[0];
/** Replaces the image by an archive of `entries`, with a manifest that describes it and is signed with the cluster key. */
async function insiderArchive(id: string, entries: Entry[]) {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'file') pack.entry(e, 'x'.repeat(e.size ?? 0));
    else pack.entry(e);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  await s3.putObject(cfg.s3.bucket, keys.imageArchive(SERVICE, id), body, body.length);
  await editManifest(id, (m) => {
    const { signature: _s, ...rest } = m;
    const files = entries.map((e) => ({ name: e.name, size: e.size ?? 0 }));
    const sha256 = crypto.createHash('sha256').update(body).digest('hex');
    return signManifest({ ...rest, files, rawBytes: body.length, archive: { ...rest.archive, bytes: body.length, sha256 } }, cfg.clusterKey!);
  });
}

afterAll(async () => {
  fs.rmSync(paths.hostDir(HOST, home), { recursive: true, force: true });
  const names: string[] = [];
  for await (const o of s3.listObjectsV2(cfg.s3.bucket, keys.imagePrefix(SERVICE), true)) names.push((o as any).name);
  if (names.length) await s3.removeObjects(cfg.s3.bucket, names);
});

test('an untouched image round-trips (plain and encrypted), so the refusals below are meaningful', async () => {
  for (const encrypt of [false, true]) {
    const id = makeCheckpoint();
    const original = fs.readFileSync(path.join(imageOf(id), 'pages-1.img'));
    const up = await upload(id, encrypt);
    expect(up.encrypted).toBe(encrypt);
    fs.rmSync(imageOf(id), { recursive: true });
    await env().run(store().downloadImage, { service: SERVICE, checkpointId: id });
    expect(fs.readFileSync(path.join(imageOf(id), 'pages-1.img')).equals(original)).toBe(true);
  }
});

test('an encrypted image holds no plaintext in the store', async () => {
  const id = makeCheckpoint();
  const marker = 'SECRET-MARKER-0123456789';
  fs.writeFileSync(path.join(imageOf(id), 'core-1.img'), marker.repeat(50));
  await upload(id, true);
  const chunks: Buffer[] = [];
  for await (const c of await s3.getObject(cfg.s3.bucket, keys.imageArchive(SERVICE, id))) chunks.push(c as Buffer);
  const stored = Buffer.concat(chunks);
  expect(stored.includes(Buffer.from(marker))).toBe(false);
  expect(require('zlib').gunzipSync.bind(null, stored)).toThrow();
});

const attacks: [string, (id: string) => Promise<void>, RegExp, boolean?, Parameters<typeof store>[0]?][] = [
  ['a flipped byte in the archive', (id) => rewriteArchive(id, (b) => { b[b.length >> 1] ^= 0xff; return b; }), /corrupt/],
  ['a truncated archive', (id) => rewriteArchive(id, (b) => b.subarray(0, b.length - 100)), /corrupt/],
  ['an archive replaced by another valid gzip', (id) => rewriteArchive(id, () => require('zlib').gzipSync(Buffer.alloc(2048))), /corrupt/],
  ['a manifest whose file size was edited', (id) => editManifest(id, (m) => ({ ...m, files: m.files.map((f) => ({ ...f, size: f.size + 1 })) })), /signature/],
  ['a manifest whose archive digest was replaced', (id) => editManifest(id, (m) => ({ ...m, archive: { ...m.archive, sha256: 'a'.repeat(64) } })), /signature/],
  ['a manifest with its signature removed', (id) => editManifest(id, (m) => ({ ...m, signature: '' })), /signature/],
  ['a manifest re-signed with another key', (id) => editManifest(id, (m) => {
    const { signature: _s, ...rest } = m;
    return signManifest(rest, crypto.randomBytes(32));
  }), /signature/],
  ['a manifest pointing at another service\'s archive', (id) => editManifest(id, (m) => ({ ...m, archive: { ...m.archive, key: keys.imageArchive('other', id) } })), /signature/],
  ['a download with the wrong cluster key', async () => undefined, /signature/, false, { clusterKey: crypto.randomBytes(32) }],
  ['an encrypted archive with a flipped byte', (id) => rewriteArchive(id, (b) => { b[20] ^= 0x01; return b; }), /corrupt/, true],
  ['an encrypted image read with the wrong image key', async () => undefined, /corrupt/, true, { imageKey: crypto.randomBytes(32) }],
  ['an encrypted image on a host without an image key', async () => undefined, /not configured/, true, { imageKey: null }],
  ['an encryption tag swapped in the manifest', (id) => editManifest(id, (m) => ({ ...m, encryption: { ...m.encryption!, tag: '0'.repeat(32) } })), /signature/, true],
];

test.each(attacks)('%s is refused and nothing is left to restore', async (name, tamper, pattern, encrypt = false, over = {}) => {
  const id = makeCheckpoint();
  await upload(id, encrypt);
  await tamper(id);
  expect(await tryBadInput(`image: ${name}`, () => refusedDownload(id, pattern, over))).toBe(true);
});

const ABSOLUTE = path.join(os.tmpdir(), `sec-escape-${process.pid}`);
const escapes: [string, (id: string) => Entry[], RegExp, string][] = [
  ['an archive entry climbing out of the image folder', () => [{ name: '../../sec-escape-entry', type: 'file', size: 10 }], /not a plain file name/, '../../sec-escape-entry'],
  ['an absolute archive entry', () => [{ name: ABSOLUTE, type: 'file', size: 10 }], /not a plain file name/, ABSOLUTE],
  ['a symlink entry, then a file written through it', () => [{ name: 'pages-1.img', type: 'symlink', linkname: '../../sec-escape-link' }, { name: 'pages-1.img', type: 'file', size: 10 }], /not a regular file/, '../../sec-escape-link'],
];
test.each(escapes)('%s, signed with the cluster key, is refused; nothing is written where it points', async (name, entries, pattern, target) => {
  const id = makeCheckpoint();
  await upload(id);
  await insiderArchive(id, entries(id));
  expect(await tryBadInput(`image: ${name}, signed with the cluster key`, () => refusedDownload(id, pattern), { aimedAt: [landsAt(id, target)] })).toBe(true);
});
