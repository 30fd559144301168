// A minimal ustar writer and reader for flat folders of regular files (a CRIU image folder).
// In-process, so packing and unpacking stream without a subprocess, and names are checked so no
// entry can land outside the target folder.
import fs from 'fs';
import path from 'path';
import { Readable, Writable } from 'stream';

const BLOCK = 512;
const SAFE_NAME = /^[A-Za-z0-9._-]{1,99}$/;

function header(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write(Math.floor(mtime / 1000).toString(8).padStart(11, '0') + '\0', 136);
  h.write('        ', 148); // checksum is computed with this field as spaces
  h.write('0', 156);
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/** Streams the named files of `dir` as one tar archive. */
export function packFiles(dir: string, names: string[]): Readable {
  return Readable.from(
    (async function* () {
      for (const name of names) {
        if (!SAFE_NAME.test(name)) throw new Error(`refusing to pack ${JSON.stringify(name)}`);
        const file = path.join(dir, name);
        const st = fs.statSync(file);
        yield header(name, st.size, st.mtimeMs);
        let n = 0;
        for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
          n += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
        if (n !== st.size) throw new Error(`${name} changed while it was packed`);
        const pad = (BLOCK - (st.size % BLOCK)) % BLOCK;
        if (pad) yield Buffer.alloc(pad);
      }
      yield Buffer.alloc(BLOCK * 2);
    })(),
  );
}

/** A writable that unpacks a tar stream of regular files into `dir`, refusing anything else. */
export function unpackTo(dir: string): Writable {
  let buf: Buffer = Buffer.alloc(0);
  let fd: number | null = null;
  let remaining = 0;
  let padding = 0;
  let ended = false;
  const step = () => {
    for (;;) {
      if (fd !== null) {
        const take = Math.min(remaining, buf.length);
        if (take) fs.writeSync(fd, buf, 0, take);
        buf = buf.subarray(take);
        remaining -= take;
        if (remaining > 0) return;
        fs.closeSync(fd);
        fd = null;
      }
      if (padding) {
        const skip = Math.min(padding, buf.length);
        buf = buf.subarray(skip);
        padding -= skip;
        if (padding) return;
      }
      if (ended || buf.length < BLOCK) return;
      const h = buf.subarray(0, BLOCK);
      buf = buf.subarray(BLOCK);
      if (h.every((b) => b === 0)) {
        ended = true;
        return;
      }
      const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      const type = String.fromCharCode(h[156] || 48);
      const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
      if (!SAFE_NAME.test(name) || name === '.' || name === '..') throw new Error(`archive entry ${JSON.stringify(name)} is not a plain file name`);
      if (type !== '0') throw new Error(`archive entry ${name} is not a regular file`);
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`archive entry ${name} has a bad size`);
      fd = fs.openSync(path.join(dir, name), 'wx', 0o600);
      remaining = size;
      padding = (BLOCK - (size % BLOCK)) % BLOCK;
    }
  };
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      try {
        step();
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    final(cb) {
      if (fd !== null) fs.closeSync(fd);
      cb(remaining > 0 || !ended ? new Error('the archive ends early') : null);
    },
  });
}
