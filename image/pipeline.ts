// The one pipeline every image goes through. Out: pack (tar) → compress → encrypt → meter (sha256,
// bytes) → a sink (an S3 multipart upload, an HTTP answer). In: a source → meter → decrypt →
// decompress → unpack into a staging folder. Compressed before it is encrypted (ciphertext does not
// compress); metered as it travels, so the digest binds exactly the bytes that moved.
import crypto from 'crypto';
import { Readable, Transform, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { compressing, decompressing, type Codec } from './compression';
import { decryptor, encryptor, type Sealing } from './encryption';
import { packFiles, unpackTo } from './tar';

/** What the meter saw: the archive's sha256 and length as they moved. */
export interface Metered {
  sha256: string;
  bytes: number;
}

/** What went out, and the GCM tag when it was encrypted. */
export interface Sealed extends Metered {
  tag: string | null;
}

/** Hashes and counts bytes as they pass; `alive` hears of progress a few times a second. */
function meter(alive?: (bytes: number) => void, ended?: (m: Metered) => void): { stream: Transform; result: () => Metered } {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  let beatAt = 0;
  let result: Metered | null = null;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      // A heartbeat per chunk (64 KiB) cost more than the copy itself; a few a second are plenty.
      const now = Date.now();
      if (alive && now - beatAt > 200) {
        beatAt = now;
        alive(bytes);
      }
      cb(null, chunk);
    },
    // Runs before the sink is ended, so an HTTP answer's trailers close the very answer they describe.
    flush(cb) {
      result = { sha256: hash.digest('hex'), bytes };
      try {
        ended?.(result);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
  return { stream, result: () => result ?? { sha256: '', bytes } };
}

const run = (stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[]) =>
  pipeline(stages as unknown as [NodeJS.ReadableStream, ...NodeJS.WritableStream[]]);

export interface Outbound {
  codec: Codec;
  /** Encrypted with this key and IV; null: plain. */
  sealing: Sealing | null;
  alive?: (bytes: number) => void;
  /** Hears the seal before the sink ends (an answer's trailers). */
  sealed?: (s: Sealed) => void;
}

/** Sends the named files of `dir` as one archive into `sink`. */
export async function sendImage(dir: string, names: string[], o: Outbound, sink: Writable): Promise<Sealed> {
  const cipher = o.sealing ? encryptor(o.sealing) : null;
  const seal = (m: Metered): Sealed => ({ ...m, tag: cipher ? cipher.getAuthTag().toString('hex') : null });
  const m = meter(o.alive, o.sealed && ((r) => o.sealed!(seal(r))));
  await run([packFiles(dir, names), ...compressing(o.codec), ...(cipher ? [cipher] : []), m.stream, sink]);
  return seal(m.result());
}

export interface Inbound {
  codec: Codec;
  /** Encrypted with this key and IV; `tag` is asked for when the stream ended. */
  sealing: (Sealing & { tag: () => string }) | null;
  alive?: (bytes: number) => void;
}

/** Unpacks the archive `source` carries into `staging`; resolves with what was metered on the way in. */
export async function receiveImage(source: Readable, staging: string, o: Inbound): Promise<Metered> {
  const m = meter(o.alive);
  const decrypt = o.sealing ? [decryptor(o.sealing, o.sealing.tag)] : [];
  await run([source, m.stream, ...decrypt, ...decompressing(o.codec), unpackTo(staging)]);
  return m.result();
}
