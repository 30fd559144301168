// How an image is compressed on its way. On the way to S3: none by default, gzip (level 1) with
// FASTMIG_IMAGE_COMPRESSION=gzip (worth it only on slow links: gzip runs at tens of MB/s). From
// one agent to another: brotli at quality 1 shrinks a small service's image (mostly runtime heap)
// by a quarter at ~280 MB/s and a big one holding random application data by 3 %. Whether that pays
// depends on the link: here, where both hosts share two CPUs and the "link" is a loopback copy at
// 100-400 MB/s, compressing made a 16 MiB migration's downtime ~60 % longer (measured A/B,
// docs/benchmarks.md), so the default is `none`. On a slow link (another site, another cloud)
// `auto` compresses an image whose 2 MiB sample, spread over its files, shrinks below
// COMPRESS_BELOW, and `brotli` always does. FASTMIG_PEER_COMPRESSION=none|auto|brotli, read by the
// serving agent.
import fs from 'fs';
import path from 'path';
import zlib from 'zlib';
import type { Transform } from 'stream';

/** A compression of the archive: `gzip` at rest (the manifest's `compression`), `br` between agents. */
export type Codec = 'none' | 'gzip' | 'br';

/** What the peer endpoint names in its encoding header (and binds into its MAC). */
export type PeerEncoding = 'br' | 'identity';

export const codecOfEncoding = (e: PeerEncoding): Codec => (e === 'br' ? 'br' : 'none');

/** Compress when the sample shrinks below this fraction of its size. */
export const COMPRESS_BELOW = 0.85;
const SAMPLE_BYTES = 2 * 2 ** 20;
const SLICE_BYTES = 64 * 2 ** 10;
const QUALITY = 1;

/** Up to 2 MiB of the folder's files, in slices spread evenly, each file in proportion to its size. */
function sample(dir: string, names: string[]): Buffer {
  const sizes = names.map((n) => fs.statSync(path.join(dir, n)).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const parts: Buffer[] = [];
  names.forEach((name, i) => {
    const share = total <= SAMPLE_BYTES ? sizes[i] : Math.floor((sizes[i] / total) * SAMPLE_BYTES);
    if (share <= 0) return;
    const fd = fs.openSync(path.join(dir, name), 'r');
    try {
      const slices = Math.max(1, Math.floor(share / SLICE_BYTES));
      const len = Math.min(share, SLICE_BYTES, sizes[i]);
      const stride = slices > 1 ? Math.floor((sizes[i] - len) / (slices - 1)) : 0;
      for (let s = 0; s < slices; s++) {
        const buf = Buffer.alloc(len);
        const got = fs.readSync(fd, buf, 0, len, s * stride);
        parts.push(buf.subarray(0, got));
      }
    } finally {
      fs.closeSync(fd);
    }
  });
  return Buffer.concat(parts);
}

const brotliOptions = (): zlib.BrotliOptions => ({
  chunkSize: 2 ** 20,
  params: { [zlib.constants.BROTLI_PARAM_QUALITY]: QUALITY, [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_GENERIC },
});

/** Compressed size / size of the folder's sample (1 when there is nothing to sample). */
export function sampleRatio(dir: string, names: string[]): number {
  const s = sample(dir, names);
  return s.length ? zlib.brotliCompressSync(s, brotliOptions()).length / s.length : 1;
}

const SETTINGS = ['none', 'auto', 'brotli'] as const;
export type PeerCompression = (typeof SETTINGS)[number];

/** FASTMIG_PEER_COMPRESSION, checked (an agent with a bad value refuses to start). */
export function peerCompressionSetting(value = process.env.FASTMIG_PEER_COMPRESSION): PeerCompression {
  const v = value || 'none';
  if (!(SETTINGS as readonly string[]).includes(v)) throw new Error(`FASTMIG_PEER_COMPRESSION is "${v}": expected one of ${SETTINGS.join(', ')}`);
  return v as PeerCompression;
}

/** The encoding the serving agent uses for the image in `dir`. */
export function chooseEncoding(dir: string, names: string[], setting: PeerCompression): PeerEncoding {
  if (setting === 'none') return 'identity';
  if (setting === 'brotli') return 'br';
  return sampleRatio(dir, names) < COMPRESS_BELOW ? 'br' : 'identity';
}

/** The codec of an upload to the image store (FASTMIG_IMAGE_COMPRESSION). */
export const storeCodec = (): 'gzip' | 'none' => (process.env.FASTMIG_IMAGE_COMPRESSION === 'gzip' ? 'gzip' : 'none');

/** The stages that compress with `c` (none for `none`). */
export function compressing(c: Codec): Transform[] {
  if (c === 'gzip') return [zlib.createGzip({ level: 1 })];
  if (c === 'br') return [zlib.createBrotliCompress(brotliOptions())];
  return [];
}

/** The stages that undo `compressing(c)`. */
export function decompressing(c: Codec): Transform[] {
  if (c === 'gzip') return [zlib.createGunzip()];
  if (c === 'br') return [zlib.createBrotliDecompress({ chunkSize: 2 ** 20 })];
  return [];
}
