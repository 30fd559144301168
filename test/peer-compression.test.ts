// Compression of the agent-to-agent transfer: the setting is checked, `auto` decides from a sample
// of the image, and a compressing endpoint's answer says so, carries the files intact and binds
// the encoding into its MAC. The endpoint is the real one (image/peer-server.ts), in this process.
import fs from 'fs';
import os from 'os';
import path from 'path';
import http from 'http';
import crypto from 'crypto';
import zlib from 'zlib';
import { pipeline } from 'stream/promises';
import { chooseEncoding, peerCompressionSetting } from '../image/compression';
import { PEER_HEADERS, peerKey, responseMac, signPeerRequest } from '../image/peer-auth';
import { paths } from '../common/config';
import { serviceFolder } from '../common/service-folder';
import { unpackTo } from '../image/tar';
import { serveImages } from '../image/peer-server';
import { createLogger } from '../common/log';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-peer-compression-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function folder(name: string, files: Record<string, Buffer>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [n, b] of Object.entries(files)) fs.writeFileSync(path.join(dir, n), b);
  return dir;
}

test('the setting takes none, auto or brotli and names what it expected otherwise', () => {
  expect(peerCompressionSetting(undefined)).toBe('none');
  expect(peerCompressionSetting('auto')).toBe('auto');
  expect(() => peerCompressionSetting('zstd')).toThrow('FASTMIG_PEER_COMPRESSION is "zstd": expected one of none, auto, brotli');
});

test('auto compresses an image whose sample shrinks and leaves random bytes alone', () => {
  const text = Buffer.from('heap object header, a string, another string; '.repeat(200_000));
  const heapLike = folder('heap', { 'pages-1.img': text, 'core-1.img': Buffer.alloc(4096, 1) });
  const randomLike = folder('random', { 'pages-1.img': crypto.randomBytes(8 * 2 ** 20), 'core-1.img': crypto.randomBytes(4096) });
  const names = (d: string) => fs.readdirSync(d);
  expect(chooseEncoding(heapLike, names(heapLike), 'auto')).toBe('br');
  expect(chooseEncoding(randomLike, names(randomLike), 'auto')).toBe('identity');
  expect(chooseEncoding(heapLike, names(heapLike), 'none')).toBe('identity');
  expect(chooseEncoding(randomLike, names(randomLike), 'brotli')).toBe('br');
});

test('a compressing endpoint answers br, the files arrive intact and the MAC covers the encoding', async () => {
  const home = path.join(tmp, 'home');
  const host = 'peerx';
  const service = 'svc-br';
  const checkpointId = 'g2-abcdef12';
  const serviceDir = paths.serviceDir(host, service, home);
  const folder = serviceFolder(serviceDir);
  fs.mkdirSync(folder.image(checkpointId), { recursive: true });
  fs.writeFileSync(folder.config, JSON.stringify({ host, spec: { name: service } }));
  const files = { 'pages-1.img': Buffer.concat([crypto.randomBytes(2 ** 20), Buffer.alloc(3 * 2 ** 20, 7)]), 'core-1.img': Buffer.from('core') };
  for (const [n, b] of Object.entries(files)) fs.writeFileSync(path.join(folder.image(checkpointId), n), b);

  const clusterKey = crypto.randomBytes(32);
  const old = process.env.FASTMIG_PEER_COMPRESSION;
  process.env.FASTMIG_PEER_COMPRESSION = 'brotli';
  const server = await serveImages({ host, home, clusterKey, imageKey: null, log: createLogger({ role: 'test' }), tls: null }).finally(() => {
    if (old === undefined) delete process.env.FASTMIG_PEER_COMPRESSION;
    else process.env.FASTMIG_PEER_COMPRESSION = old;
  });
  try {
    const urlPath = `/images/${service}/${checkpointId}`;
    const headers = signPeerRequest(peerKey(clusterKey), 'GET', urlPath, 'peery');
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(new URL(urlPath, server.url), { headers }, resolve).on('error', reject));
    expect(res.statusCode).toBe(200);
    expect(res.headers[PEER_HEADERS.encoding]).toBe('br');
    const out = path.join(tmp, 'out');
    fs.mkdirSync(out);
    const hash = crypto.createHash('sha256');
    let wire = 0;
    res.on('data', (c: Buffer) => {
      hash.update(c);
      wire += c.length;
    });
    await pipeline(res, zlib.createBrotliDecompress(), unpackTo(out));
    for (const [n, b] of Object.entries(files)) expect(fs.readFileSync(path.join(out, n)).equals(b)).toBe(true);
    expect(wire).toBeLessThan(files['pages-1.img'].length); // it was compressed on the wire
    const digest = hash.digest('hex');
    expect(res.trailers[PEER_HEADERS.digest]).toBe(digest);
    const key = peerKey(clusterKey);
    const nonce = headers[PEER_HEADERS.nonce];
    expect(res.trailers[PEER_HEADERS.mac]).toBe(responseMac(key, nonce, digest, wire, 'br'));
    expect(res.trailers[PEER_HEADERS.mac]).not.toBe(responseMac(key, nonce, digest, wire, 'identity'));
  } finally {
    await server.close();
  }
});
