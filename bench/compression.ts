// Compression choices, measured on the CRIU image of the bench service at each size: how much
// brotli (quality 1, what the agent-to-agent transfer may use) and gzip (level 1, the S3 option)
// shrink it and how fast they run here, and what the transfer's `auto` setting
// (image/compression.ts, from a 2 MiB sample) would pick for that image.
import fs from 'fs';
import path from 'path';
import zlib from 'zlib';
import { imageFileNames } from '../image/folder';
import { IMAGE_FILES } from '../common/service-folder';
import { chooseEncoding, COMPRESS_BELOW, sampleRatio } from '../image/compression';
import { freePort } from '../demo/probe';
import { cleanup, criu, freshDir, startBareTree, TCP } from './criu-level';

export interface Codec {
  ratio: number;
  compressMBps: number;
  decompressMBps: number;
}

export interface CompressionFigures {
  imageMB: number;
  /** The bytes measured: the whole image, or evenly spread 1 MiB slices of it when it is larger. */
  measuredMB: number;
  brotli1: Codec;
  gzip1: Codec;
  sampleRatio: number;
  autoPicks: 'brotli' | 'none';
  threshold: number;
}

const MEASURE_MAX = 256 * 2 ** 20;
const SLICE = 2 ** 20;

/** The image's files end to end, or evenly spread slices of them when they exceed MEASURE_MAX. */
function imageBytesToMeasure(dir: string, names: string[]): Buffer {
  const whole = Buffer.concat(names.map((n) => fs.readFileSync(path.join(dir, n))));
  if (whole.length <= MEASURE_MAX) return whole;
  const slices = MEASURE_MAX / SLICE;
  const stride = Math.floor((whole.length - SLICE) / (slices - 1));
  return Buffer.concat(Array.from({ length: slices }, (_, i) => whole.subarray(i * stride, i * stride + SLICE)));
}

function codec(data: Buffer, pack: (b: Buffer) => Buffer, unpack: (b: Buffer) => Buffer): Codec {
  const t0 = process.hrtime.bigint();
  const packed = pack(data);
  const t1 = process.hrtime.bigint();
  const back = unpack(packed);
  const t2 = process.hrtime.bigint();
  if (!back.equals(data)) throw new Error('compression round trip changed the bytes');
  const mbps = (ns: bigint) => Math.round(data.length / 1e6 / (Number(ns) / 1e9));
  return { ratio: Math.round((packed.length / data.length) * 1000) / 1000, compressMBps: mbps(t1 - t0), decompressMBps: mbps(t2 - t1) };
}

/** Dumps the bench service holding `fillMiB` (bare, tmpfs, as the floor does) and measures the codecs on its image. */
export async function compressionChoices(bin: string, fillMiB: number): Promise<CompressionFigures> {
  const port = await freePort();
  const tree = await startBareTree(port, fillMiB);
  const dir = freshDir(`compression-${port}`);
  try {
    await criu(bin, ['dump', '-t', String(tree.init), ...TCP, '--skip-in-flight'], dir, IMAGE_FILES.dumpLog);
    const names = imageFileNames(dir).filter((n) => n.endsWith('.img'));
    const imageBytes = names.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    const data = imageBytesToMeasure(dir, names);
    const br = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } };
    return {
      imageMB: Math.round(imageBytes / 1e5) / 10,
      measuredMB: Math.round(data.length / 1e5) / 10,
      brotli1: codec(data, (b) => zlib.brotliCompressSync(b, br), (b) => zlib.brotliDecompressSync(b)),
      gzip1: codec(data, (b) => zlib.gzipSync(b, { level: 1 }), (b) => zlib.gunzipSync(b)),
      sampleRatio: Math.round(sampleRatio(dir, names) * 1000) / 1000,
      autoPicks: chooseEncoding(dir, names, 'auto') === 'br' ? 'brotli' : 'none',
      threshold: COMPRESS_BELOW,
    };
  } finally {
    cleanup(tree, path.join(dir, 'none.pid'), [dir]);
  }
}
