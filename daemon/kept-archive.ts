// The kept directories' archive format (daemon/kept-dirs.ts): per entry a 4-byte length, a JSON
// header (path, kind, mode, owner, size, times, inode, link target), then a file's bytes. Entries
// are keyed `<index of the kept directory>/<path inside it>`; every key is checked before use.
import fs from 'fs';
import path from 'path';

export type Kind = 'dir' | 'file' | 'symlink';
export interface Entry {
  kind: Kind;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Times and inode as strings (nanoseconds do not fit a double): a change of any means "copy again". */
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  target?: string;
}
/** Keyed `<index of the kept directory>/<path inside it>` ('' for the directory itself). */
export type Tree = Map<string, Entry>;

export const COPY_CHUNK = 1 << 20;

export function entryOf(st: fs.BigIntStats, file: string): Entry | null {
  const kind: Kind | null = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : null;
  // Sockets, FIFOs and devices are not data: the service (or CRIU, for its own sockets) makes them.
  if (!kind) return null;
  return {
    kind,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: kind === 'file' ? Number(st.size) : 0,
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
    ino: String(st.ino),
    target: kind === 'symlink' ? fs.readlinkSync(file) : undefined,
  };
}

const missing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

export function fileOf(dirs: string[], key: string): string {
  const slash = key.indexOf('/');
  const i = Number(key.slice(0, slash));
  const rel = key.slice(slash + 1);
  if (!(slash > 0 && Number.isInteger(i) && i >= 0 && i < dirs.length)) throw new Error(`kept entry ${JSON.stringify(key)} names no kept directory`);
  if (rel && rel.split('/').some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'))) throw new Error(`kept entry ${JSON.stringify(key)} is not a plain path`);
  return rel ? path.join(dirs[i], rel) : dirs[i];
}

/** Every directory, file and symlink below the kept directories (a path that vanishes meanwhile is left out). */
export function scanKept(dirs: string[]): Tree {
  const tree: Tree = new Map();
  const walk = (i: number, rel: string) => {
    const file = rel ? path.join(dirs[i], rel) : dirs[i];
    let e: Entry | null;
    try {
      e = entryOf(fs.lstatSync(file, { bigint: true }), file);
    } catch (err) {
      if (rel && missing(err)) return;
      throw rel ? err : new Error(`kept directory ${dirs[i]} is missing`);
    }
    if (!e) return;
    if (!rel && e.kind !== 'dir') throw new Error(`kept directory ${dirs[i]} is not a directory`);
    tree.set(`${i}/${rel}`, e);
    if (e.kind === 'dir') for (const n of fs.readdirSync(file).sort()) walk(i, rel ? `${rel}/${n}` : n);
  };
  dirs.forEach((_, i) => walk(i, ''));
  return tree;
}

function writeHeader(fd: number, key: string, e: Entry): void {
  const json = Buffer.from(JSON.stringify({ p: key, ...e }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  fs.writeSync(fd, len);
  fs.writeSync(fd, json);
}

/** Copies `size` bytes; a file that shrank meanwhile is padded with zeros (its ctime moved, so the delta sends it again). */
function copyBytes(from: number, to: number, size: number, buf: Buffer): void {
  let left = size;
  while (left > 0) {
    const n = fs.readSync(from, buf, 0, Math.min(buf.length, left), null);
    if (n === 0) {
      buf.fill(0);
      while (left > 0) left -= fs.writeSync(to, buf, 0, Math.min(buf.length, left));
      return;
    }
    fs.writeSync(to, buf, 0, n);
    left -= n;
  }
}

/** Writes the entries `keys` of `tree` to `out`; returns what it wrote, as it was when read. */
export function writeArchive(out: string, dirs: string[], tree: Tree, keys: string[]): Tree {
  const written: Tree = new Map();
  const buf = Buffer.allocUnsafe(COPY_CHUNK);
  const fd = fs.openSync(out, 'w', 0o600);
  try {
    for (const key of keys) {
      const e = tree.get(key)!;
      if (e.kind !== 'file') {
        writeHeader(fd, key, e);
        written.set(key, e);
        continue;
      }
      const file = fileOf(dirs, key);
      let src: number;
      try {
        src = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      } catch (err) {
        if (missing(err)) continue;
        throw err;
      }
      try {
        // The header holds the file as opened: a write after this moves its times, so the delta catches it.
        const now = entryOf(fs.fstatSync(src, { bigint: true }), file);
        if (now?.kind !== 'file') continue;
        writeHeader(fd, key, now);
        copyBytes(src, fd, now.size, buf);
        written.set(key, now);
      } finally {
        fs.closeSync(src);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

export const same = (a: Entry, b: Entry) =>
  a.kind === b.kind && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.target === b.target;

/** Reads the entries of one archive, calling `apply` with each header and the file's bytes' offset. */
export function readArchive(file: string, apply: (key: string, e: Entry, fd: number, at: number) => void): void {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const len = Buffer.alloc(4);
    let at = 0;
    while (at < size) {
      if (fs.readSync(fd, len, 0, 4, at) !== 4) throw new Error(`${path.basename(file)} ends early`);
      const n = len.readUInt32BE();
      const json = Buffer.alloc(n);
      if (n > 65_536 || fs.readSync(fd, json, 0, n, at + 4) !== n) throw new Error(`${path.basename(file)} has a bad entry header`);
      const { p, ...e } = JSON.parse(json.toString()) as Entry & { p: string };
      at += 4 + n;
      if (e.kind === 'file' && at + e.size > size) throw new Error(`${path.basename(file)} ends inside ${p}`);
      apply(p, e, fd, at);
      if (e.kind === 'file') at += e.size;
    }
  } finally {
    fs.closeSync(fd);
  }
}
