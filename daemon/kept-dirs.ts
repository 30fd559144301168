// Directories a service writes (`--keep`), carried inside its checkpoint images, so that a restore
// finds the files exactly as they were at the freeze (CRIU refuses to restore a process whose open
// file has another size, and a database's pages must match its memory). Copied in two passes so
// that little is copied while the service is frozen: the whole trees while it still runs
// (kept-base.bin), then, from CRIU's post-dump action while the tree is frozen, only what changed
// since (kept-delta.bin) and the list of every path (kept.json), so that a restore also deletes what
// the service deleted. Plain Node (the daemon loads no package); the format: daemon/kept-archive.ts.
import fs from 'fs';
import net from 'net';
import path from 'path';
import { run } from './run';
import { imageFolder, serviceFolder } from '../common/service-folder';
import { COPY_CHUNK, fileOf, readArchive, same, scanKept, writeArchive, type Entry, type Tree } from './kept-archive';

interface KeptList {
  dirs: string[];
  paths: string[];
}

/** Another copy made in the same freeze (a container's own file system, daemon/layer.ts). */
export interface FrozenCopy {
  frozen(): void;
}

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
    private readonly others: FrozenCopy[],
  ) {}

  /** `others`: copies that run in the same freeze (their first pass already made); `dirs` may then be empty. */
  static async begin(dirs: string[], imageDir: string, serviceDir: string, sh: string, PATH: string, others: FrozenCopy[] = []): Promise<KeptCapture> {
    const f = imageFolder(imageDir);
    const tree = scanKept(dirs);
    const base = dirs.length ? writeArchive(f.keptBase, dirs, tree, [...tree.keys()]) : tree;
    const c = new KeptCapture(dirs, imageDir, serviceDir, base, others);
    c.baseBytes = dirs.length ? fs.statSync(f.keptBase).size : 0;
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
      if (this.dirs.length) this.copyDelta();
      for (const o of this.others) o.frozen();
      this.deltaWritten = true;
      this.failure = null;
    } catch (err) {
      answer = 'fail';
      this.failure = err instanceof Error ? err.message : String(err);
    }
    this.freeze.ms = Date.now() - t0;
    fs.writeSync(this.answerFd!, `${answer}\n`);
  }

  private copyDelta(): void {
    const f = imageFolder(this.imageDir);
    const now = scanKept(this.dirs);
    const changed = [...now.keys()].filter((k) => !this.base.has(k) || !same(this.base.get(k)!, now.get(k)!));
    writeArchive(f.keptDelta, this.dirs, now, changed);
    const list: KeptList = { dirs: this.dirs, paths: [...now.keys()] };
    fs.writeFileSync(f.keptList, JSON.stringify(list), { mode: 0o600 });
    this.freeze.entries = changed.length;
    this.freeze.bytes = fs.statSync(f.keptDelta).size;
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

export function removeAny(file: string): void {
  fs.rmSync(file, { recursive: true, force: true });
}

/** Creates one entry; its parent must be a real directory (never a symlink the archive made). */
export function layEntry(dirs: string[], key: string, e: Entry, from: number, at: number, buf: Buffer): void {
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
  applyMetadata(list.dirs, last);
  return last.size;
}

/** Owners, modes and times last, deepest first: creating a child moves its directory's time. */
export function applyMetadata(dirs: string[], laid: Tree): void {
  for (const [key, e] of [...laid.entries()].reverse()) {
    const file = fileOf(dirs, key);
    fs.lchownSync(file, e.uid, e.gid);
    if (e.kind !== 'symlink') fs.chmodSync(file, e.mode);
    const t = Number(BigInt(e.mtimeNs) / 1000n) / 1e6;
    fs.lutimesSync(file, t, t);
  }
}
