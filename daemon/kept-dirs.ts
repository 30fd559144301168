// Directories a service writes (`--keep`), carried inside its checkpoint images, so that a restore
// finds the files exactly as they were at the freeze (CRIU refuses to restore a process whose open
// file has another size, and a database's pages must match its memory). Copied in two passes so
// that little is copied while the service is frozen: the whole trees while it still runs
// (kept-base.bin), then, from CRIU's post-dump action while the tree is frozen, only what changed
// since (kept-delta.bin) and the list of every path (kept.json), so that a restore also deletes what
// the service deleted. Plain Node (the daemon loads no package) and a format of its own: per entry
// a 4-byte length, a JSON header, then a file's bytes.
import fs from 'fs';
import net from 'net';
import path from 'path';
import { run } from './run';
import { imageFolder, serviceFolder } from '../common/service-folder';

type Kind = 'dir' | 'file' | 'symlink';
interface Entry {
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
type Tree = Map<string, Entry>;

interface KeptList {
  dirs: string[];
  paths: string[];
}

const COPY_CHUNK = 1 << 20;

function entryOf(st: fs.BigIntStats, file: string): Entry | null {
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

function fileOf(dirs: string[], key: string): string {
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
function writeArchive(out: string, dirs: string[], tree: Tree, keys: string[]): Tree {
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

const same = (a: Entry, b: Entry) =>
  a.kind === b.kind && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.target === b.target;

/**
 * One checkpoint's copy of the kept directories. `begin` copies them whole while the service runs
 * and waits on two FIFOs for CRIU's post-dump action (daemon/criu-notify.sh), which runs while the
 * tree is frozen: the daemon then writes the delta and answers "ok", or "fail", which makes CRIU
 * resume the tree and fail the dump, so an image never holds files that do not match its memory.
 */
export class KeptCapture {
  private frozen: net.Socket | null = null;
  private answerFd: number | null = null;
  private deltaWritten = false;
  private failure: string | null = null;
  /** Entries and bytes copied inside the freeze, and how long that took. */
  readonly freeze = { entries: 0, bytes: 0, ms: 0 };
  baseBytes = 0;

  private constructor(
    private readonly dirs: string[],
    private readonly imageDir: string,
    private readonly serviceDir: string,
    private readonly base: Tree,
  ) {}

  static async begin(dirs: string[], imageDir: string, serviceDir: string, sh: string, PATH: string): Promise<KeptCapture> {
    const f = imageFolder(imageDir);
    const tree = scanKept(dirs);
    const base = writeArchive(f.keptBase, dirs, tree, [...tree.keys()]);
    const c = new KeptCapture(dirs, imageDir, serviceDir, base);
    c.baseBytes = fs.statSync(f.keptBase).size;
    await c.listen(sh, PATH);
    return c;
  }

  /** The environment CRIU passes to its action script. */
  get env(): Record<string, string> {
    const s = serviceFolder(this.serviceDir);
    return { FASTMIG_FROZEN_FIFO: s.frozenFifo, FASTMIG_ANSWER_FIFO: s.answerFifo };
  }

  private async listen(sh: string, PATH: string): Promise<void> {
    const s = serviceFolder(this.serviceDir);
    for (const p of [s.frozenFifo, s.answerFifo]) fs.rmSync(p, { force: true });
    const r = await run(sh, ['-c', 'mkfifo -m 600 "$1" "$2"', 'mkfifo', s.frozenFifo, s.answerFifo], { timeoutMs: 5000, env: { PATH } });
    if (r.exitCode !== 0) throw new Error(`cannot make the freeze FIFOs: ${r.stderr.trim()}`);
    // Opened read-write and non-blocking, so neither side waits for the other to open its end.
    const flags = fs.constants.O_RDWR | fs.constants.O_NONBLOCK;
    this.answerFd = fs.openSync(s.answerFifo, flags);
    this.frozen = new net.Socket({ fd: fs.openSync(s.frozenFifo, flags), readable: true, writable: false });
    this.frozen.on('data', () => this.onFrozen());
    this.frozen.on('error', () => undefined);
  }

  /** In CRIU's post-dump: the tree is frozen, nothing below the kept directories changes now. */
  private onFrozen(): void {
    const t0 = Date.now();
    let answer = 'ok';
    try {
      const f = imageFolder(this.imageDir);
      const now = scanKept(this.dirs);
      const changed = [...now.keys()].filter((k) => !this.base.has(k) || !same(this.base.get(k)!, now.get(k)!));
      writeArchive(f.keptDelta, this.dirs, now, changed);
      const list: KeptList = { dirs: this.dirs, paths: [...now.keys()] };
      fs.writeFileSync(f.keptList, JSON.stringify(list), { mode: 0o600 });
      this.freeze.entries = changed.length;
      this.freeze.bytes = fs.statSync(f.keptDelta).size;
      this.deltaWritten = true;
      this.failure = null;
    } catch (err) {
      answer = 'fail';
      this.failure = err instanceof Error ? err.message : String(err);
    }
    this.freeze.ms = Date.now() - t0;
    fs.writeSync(this.answerFd!, `${answer}\n`);
  }

  /** After the dump (`dumped`: it succeeded): closes the FIFOs; throws when the frozen copy failed or never ran. */
  finish(dumped: boolean): void {
    this.frozen?.destroy();
    if (this.answerFd !== null) fs.closeSync(this.answerFd);
    this.frozen = null;
    this.answerFd = null;
    const s = serviceFolder(this.serviceDir);
    for (const p of [s.frozenFifo, s.answerFifo]) fs.rmSync(p, { force: true });
    if (this.failure) throw new Error(`copying the kept directories while frozen failed: ${this.failure}`);
    if (dumped && !this.deltaWritten) throw new Error('the dump ended without the kept directories being copied while frozen');
  }
}

/** Reads the entries of one archive, calling `apply` with each header and the file's bytes' offset. */
function readArchive(file: string, apply: (key: string, e: Entry, fd: number, at: number) => void): void {
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

function removeAny(file: string): void {
  fs.rmSync(file, { recursive: true, force: true });
}

/** Creates one entry; its parent must be a real directory (never a symlink the archive made). */
function layEntry(dirs: string[], key: string, e: Entry, from: number, at: number, buf: Buffer): void {
  const file = fileOf(dirs, key);
  if (key.endsWith('/')) {
    if (e.kind !== 'dir') throw new Error(`kept entry ${key} should be the directory ${file}`);
    fs.mkdirSync(file, { recursive: true });
    return;
  }
  const parent = fs.lstatSync(path.dirname(file), { throwIfNoEntry: false });
  if (!parent?.isDirectory()) throw new Error(`kept entry ${key}: ${path.dirname(file)} is not a directory`);
  const old = fs.lstatSync(file, { throwIfNoEntry: false });
  if (old && !(old.isDirectory() && e.kind === 'dir')) removeAny(file);
  if (e.kind === 'dir') {
    if (!old?.isDirectory()) fs.mkdirSync(file, 0o700);
  } else if (e.kind === 'symlink') {
    fs.symlinkSync(e.target!, file);
  } else {
    const to = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      let left = e.size;
      let pos = at;
      while (left > 0) {
        const n = fs.readSync(from, buf, 0, Math.min(buf.length, left), pos);
        fs.writeSync(to, buf, 0, n);
        left -= n;
        pos += n;
      }
    } finally {
      fs.closeSync(to);
    }
  }
}

/**
 * Lays the kept directories of an image down on this host, before CRIU restores: each directory
 * ends up holding exactly what it held at the freeze (anything else there is removed), with the
 * same modes, owners and modification times. `expected` is the service's spec: an image that
 * keeps other directories is refused. Returns the entries laid down (0: the image keeps none).
 */
export function layDownKept(imageDir: string, expected: string[]): number {
  const f = imageFolder(imageDir);
  if (!fs.existsSync(f.keptList)) {
    if (expected.length) throw new Error(`the image keeps no directories, the service keeps ${expected.join(', ')}`);
    return 0;
  }
  const list = JSON.parse(fs.readFileSync(f.keptList, 'utf8')) as KeptList;
  if (JSON.stringify(list.dirs) !== JSON.stringify(expected)) throw new Error(`the image keeps ${list.dirs.join(', ') || 'nothing'}, the service keeps ${expected.join(', ') || 'nothing'}`);
  for (const d of list.dirs) {
    fs.mkdirSync(d, { recursive: true });
    for (const n of fs.readdirSync(d)) removeAny(path.join(d, n));
  }
  const last: Tree = new Map();
  const buf = Buffer.allocUnsafe(COPY_CHUNK);
  for (const archive of [f.keptBase, f.keptDelta]) {
    readArchive(archive, (key, e, fd, at) => {
      layEntry(list.dirs, key, e, fd, at, buf);
      last.set(key, e);
    });
  }
  // What the service deleted after the first pass is still there from it.
  const keep = new Set(list.paths);
  for (const key of [...last.keys()].reverse()) {
    if (!keep.has(key)) {
      removeAny(fileOf(list.dirs, key));
      last.delete(key);
    }
  }
  const missingPaths = list.paths.filter((k) => !last.has(k));
  if (missingPaths.length) throw new Error(`the image lacks kept entries ${missingPaths.slice(0, 3).join(', ')}`);
  // Owners, modes and times last, deepest first: creating a child moves its directory's time.
  for (const [key, e] of [...last.entries()].reverse()) {
    const file = fileOf(list.dirs, key);
    fs.lchownSync(file, e.uid, e.gid);
    if (e.kind !== 'symlink') fs.chmodSync(file, e.mode);
    const t = Number(BigInt(e.mtimeNs) / 1000n) / 1e6;
    fs.lutimesSync(file, t, t);
  }
  return last.size;
}
