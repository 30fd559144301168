// Tar for image folders (flat folders of regular files, as CRIU writes them), on tar-stream.
// In-process, so packing and unpacking stream without a subprocess. Every entry's name is checked
// before anything is written, so no entry can land outside the target folder: only flat, safe
// names and regular files. A cut inside an entry is refused here; a cut exactly between two entries
// is caught by the archive's digest, which every transport checks.
import fs from 'fs';
import path from 'path';
import { Readable, Writable } from 'stream';
import tar from 'tar-stream';

const SAFE_NAME = /^[A-Za-z0-9._-]{1,99}$/;

/** Throws unless `name` is one flat file name of the safe alphabet. */
export function checkEntryName(name: string): void {
  if (!SAFE_NAME.test(name) || name === '.' || name === '..') throw new Error(`archive entry ${JSON.stringify(name)} is not a plain file name`);
}

/** The part of a tar-stream (streamx) stream that `settled` uses; its events are typed per stream. */
interface Emitter {
  destroyed: boolean;
  once(event: string, fn: (...args: any[]) => void): unknown;
  off(event: string, fn: (...args: any[]) => void): unknown;
}

/** Resolves on `event`; rejects with the stream's error, or when it closed first (its reader went away). */
function settled(stream: Emitter, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed) return reject(new Error('the archive was abandoned'));
    const done = (err?: unknown) => {
      for (const [e, f] of handlers) stream.off(e, f);
      if (err) reject(err);
      else resolve();
    };
    const handlers: [string, (err?: unknown) => void][] = [
      [event, () => done()],
      ['error', (err) => done(err)],
      ['close', () => done(new Error('the archive was abandoned'))],
    ];
    for (const [e, f] of handlers) stream.once(e, f);
  });
}

async function addFile(pack: tar.Pack, dir: string, name: string): Promise<void> {
  if (!SAFE_NAME.test(name)) throw new Error(`refusing to pack ${JSON.stringify(name)}`);
  const file = path.join(dir, name);
  const st = fs.statSync(file);
  const entry = pack.entry({ name, size: st.size, mode: 0o644, mtime: st.mtime, type: 'file' });
  // A reader that goes away destroys the archive and its entry with an error; without a listener
  // that error would take the whole process down.
  entry.on('error', () => undefined);
  let n = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    n += (chunk as Buffer).length;
    if (n > st.size) break;
    if (!entry.write(chunk)) await settled(entry, 'drain');
  }
  if (n !== st.size) throw new Error(`${name} changed while it was packed`);
  const finished = settled(entry, 'finish');
  entry.end(null);
  await finished;
}

/** Streams the named files of `dir` as one tar archive. */
export function packFiles(dir: string, names: string[]): Readable {
  const pack = tar.pack();
  (async () => {
    for (const name of names) await addFile(pack, dir, name);
    pack.finalize();
  })().catch((err) => pack.destroy(err));
  return Readable.from(pack);
}

/** A writable that unpacks a tar stream of regular files into `dir`, refusing anything else. */
export function unpackTo(dir: string): Writable {
  const extract = tar.extract();
  let failed: Error | null = null;
  extract.on('error', (err: Error) => (failed ??= err));
  extract.on('entry', (h, body, next) => {
    // The extractor destroys the entry with its own error when it fails; that error is its, not ours.
    body.on('error', () => undefined);
    let fd: number | null = null;
    try {
      checkEntryName(h.name);
      if (h.type !== 'file') throw new Error(`archive entry ${h.name} is not a regular file`);
      fd = fs.openSync(path.join(dir, h.name), 'wx', 0o600);
    } catch (err) {
      body.resume();
      return next(err as Error);
    }
    const close = (err?: Error) => {
      if (fd !== null) fs.closeSync(fd);
      fd = null;
      next(err);
    };
    body.on('data', (chunk) => {
      try {
        fs.writeSync(fd!, chunk as Buffer);
      } catch (err) {
        body.destroy(err as Error);
      }
    });
    body.once('end', () => close());
    body.once('error', close);
  });
  const ended = (err: Error) => (/Unexpected end of data/.test(err.message) ? new Error('the archive ends early') : err);
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (failed) return cb(failed);
      if (extract.write(chunk)) return cb();
      settled(extract, 'drain').then(() => cb(), cb);
    },
    final(cb) {
      if (failed) return cb(failed);
      const done = settled(extract, 'finish');
      extract.end(null);
      done.then(() => cb(), (err: Error) => cb(ended(err)));
    },
    destroy(err, cb) {
      extract.destroy(err ?? new Error('unpacking stopped'));
      cb(err);
    },
  });
}
