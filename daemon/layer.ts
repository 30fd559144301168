// A container's own file system: what the service added, changed or deleted in it (the engine's
// writable layer) travels with every checkpoint, with no flag. The daemon, PID 1 of the container,
// reads the tree once at start, before any service ran and before any restore laid files down: that
// is the image as this container shows it (the baseline). A checkpoint then carries every entry that
// differs from it, in the two passes of the kept directories (daemon/kept-dirs.ts): all of them while
// the service runs (layer-base.bin), then, inside the freeze, what changed since (layer-delta.bin)
// and the final list with the names each changed directory holds (layer.json), so that a restore
// also deletes what the service deleted. Mount points (the engine's /proc, /sys, /dev, /etc/hosts,
// resolv.conf, hostname; fastmig's /fastmig; volumes, carried as kept directories) and CRIU's
// kernel cache are never read nor touched. Compared by lstat (times, inode, size, mode, owner), so
// it works on any storage driver.
import fs from 'fs';
import path from 'path';
import type { LineLogger as Logger } from '../common/log-lite';
import { imageFolder } from '../common/service-folder';
import { COPY_CHUNK, entryOf, fileOf, readArchive, same, writeArchive, type Tree } from './kept-archive';
import { applyMetadata, layEntry, removeAny, type FrozenCopy } from './kept-dirs';

/** The archive's one "kept directory": the container's root (keys `0/<path>`). */
const ROOT = ['/'];
/**
 * What the engine and fastmig put there, skipped even where this container has no mount at that
 * path; and CRIU's cache of what this host's kernel can do (another host's kernel may differ).
 */
const ENGINE_PATHS = ['/proc', '/sys', '/dev', '/fastmig', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/run/criu.kdat', '/run/criu.kdat.tmp'];

interface LayerList {
  /** Every entry that differed from the image at the freeze. */
  paths: string[];
  /** For each of those that is a directory: the names it held. */
  children: Record<string, string[]>;
}

/** Every mount point of this mount namespace but the root (mountinfo's fifth field, unescaped). */
function mountPoints(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p !== '/');
}

/** Gone, or its directory replaced by a file, between two looks (while the service still runs). */
const missing = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

/** What a plain lstat says of an entry: enough to see that it changed (times to the sub-microsecond). */
type Seen = Pick<fs.Stats, 'mode' | 'uid' | 'gid' | 'size' | 'ino' | 'mtimeMs' | 'ctimeMs'>;
const differs = (a: Seen, b: Seen) =>
  a.mtimeMs !== b.mtimeMs || a.ctimeMs !== b.ctimeMs || a.ino !== b.ino || a.size !== b.size || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid;

/**
 * Walks the root file system below no skipped path, calling `visit` with each entry's path and
 * plain lstat (cheaper than the archive's full entry, which only what changed needs).
 */
function walkRoot(skip: Set<string>, visit: (file: string, st: fs.Stats) => void): void {
  const walk = (file: string) => {
    if (skip.has(file)) return;
    let names: string[] = [];
    try {
      const st = fs.lstatSync(file);
      visit(file, st);
      // Unsorted: a walk visits a directory before its entries, all a lay-down needs.
      if (st.isDirectory()) names = fs.readdirSync(file);
    } catch (err) {
      if (file !== '/' && missing(err)) return; // gone meanwhile
      throw err;
    }
    for (const n of names) walk(file === '/' ? `/${n}` : `${file}/${n}`);
  };
  walk('/');
}

const keyOf = (file: string) => `0${file}`;

export class Layer {
  /** true once a service ran in this container (dumped or restored here): its files may differ from any image's. */
  private touched = false;

  private constructor(
    /** The image as this container showed it at the daemon's start, by path. */
    private readonly baseline: Map<string, Seen>,
    private readonly skip: Set<string>,
  ) {}

  /** At the daemon's start, before any service runs here. */
  static atStart(log: Logger): Layer {
    const t0 = Date.now();
    const skip = new Set([...ENGINE_PATHS, ...mountPoints()]);
    const baseline = new Map<string, Seen>();
    // Only what `differs` reads: an image of many entries stays small in the daemon's memory.
    walkRoot(skip, (file, st) => baseline.set(file, { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs }));
    log.info({ entries: baseline.size, ms: Date.now() - t0 }, 'container file system read');
    return new Layer(baseline, skip);
  }

  /** What differs from the image now (added or changed; a deletion changes its directory), as the archive's entries. */
  changes(): { now: Tree; keys: string[] } {
    const now: Tree = new Map();
    walkRoot(this.skip, (file, st) => {
      const b = this.baseline.get(file);
      if (b && !differs(b, st)) return;
      try {
        const e = entryOf(fs.lstatSync(file, { bigint: true }), file);
        if (e) now.set(keyOf(file), e);
      } catch (err) {
        if (!missing(err)) throw err; // gone meanwhile: the service runs on during the first pass
      }
    });
    return { now, keys: [...now.keys()] };
  }

  /** A path the engine or fastmig owns (`holding`: or one that holds such a path): never replaced nor removed. */
  private owned(file: string, holding = false): boolean {
    for (const s of this.skip) if (file === s || file.startsWith(`${s}/`) || (holding && s.startsWith(`${file}/`))) return true;
    return false;
  }

  /** The first pass of a checkpoint into `imageDir`, while the service runs. */
  capture(imageDir: string): LayerCapture {
    this.touched = true;
    return new LayerCapture(this, imageDir);
  }

  /**
   * Before CRIU restores from `imageDir`: the container's file system made as it was at the freeze.
   * In the container the dump came from (a rollback, a restart policy's restore), what the service
   * added since goes too; an image's file it changed or deleted since cannot be brought back (the
   * image's copy is hidden below the layer), and is named in `unreverted`.
   */
  layDown(imageDir: string): { entries: number; removed: number; unreverted: string[] } {
    const f = imageFolder(imageDir);
    if (!fs.existsSync(f.layerList)) return { entries: 0, removed: 0, unreverted: [] };
    const list = JSON.parse(fs.readFileSync(f.layerList, 'utf8')) as LayerList;
    const want = new Set(list.paths);
    for (const key of want) if (this.owned(fileOf(ROOT, key))) throw new Error(`the image's file system names ${fileOf(ROOT, key)}, which the engine or fastmig mounts`);
    let removed = 0;
    const unreverted: string[] = [];
    if (this.touched) {
      const { now, keys } = this.changes();
      for (const key of keys.reverse()) {
        const file = fileOf(ROOT, key);
        if (want.has(key)) continue;
        if (this.baseline.has(file)) {
          if (now.get(key)!.kind !== 'dir') unreverted.push(file);
        } else if (!this.owned(file, true)) {
          removeAny(file);
          removed++;
        }
      }
      // An image file deleted since the checkpoint (one that was there at its freeze).
      const atFreeze = (file: string): boolean => {
        if (file === '/') return true;
        const names = list.children[keyOf(path.dirname(file))];
        return atFreeze(path.dirname(file)) && (!names || names.includes(path.basename(file)));
      };
      for (const [file, b] of this.baseline) {
        const dir = (b.mode & fs.constants.S_IFMT) === fs.constants.S_IFDIR;
        if (!dir && !fs.lstatSync(file, { throwIfNoEntry: false }) && atFreeze(file)) unreverted.push(file);
      }
    }
    const laid: Tree = new Map();
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    for (const archive of [f.layerBase, f.layerDelta]) {
      readArchive(archive, (key, e, fd, at) => {
        if (!want.has(key)) return; // deleted before the freeze
        layEntry(ROOT, key, e, fd, at, buf);
        laid.set(key, e);
      });
    }
    // What the service deleted: each changed directory holds the names it held at the freeze.
    for (const [key, names] of Object.entries(list.children)) {
      if (laid.get(key)?.kind !== 'dir') continue; // never through a symlink
      const dir = fileOf(ROOT, key);
      const held = new Set(names);
      for (const n of fs.readdirSync(dir)) {
        const file = path.join(dir, n);
        if (held.has(n) || this.owned(file, true)) continue;
        removeAny(file);
        removed++;
      }
    }
    const lacking = list.paths.filter((k) => !laid.has(k));
    if (lacking.length) throw new Error(`the image lacks entries of the container's file system: ${lacking.slice(0, 3).map((k) => fileOf(ROOT, k)).join(', ')}`);
    applyMetadata(ROOT, laid);
    this.touched = true;
    return { entries: laid.size, removed, unreverted };
  }
}

/** One checkpoint's copy of the container's file system: the first pass at once, the second in the freeze. */
export class LayerCapture implements FrozenCopy {
  readonly freeze = { entries: 0, bytes: 0, ms: 0 };
  readonly baseBytes: number;
  private readonly base: Tree;

  constructor(
    private readonly layer: Layer,
    private readonly imageDir: string,
  ) {
    const f = imageFolder(imageDir);
    const { now, keys } = layer.changes();
    this.base = writeArchive(f.layerBase, ROOT, now, keys);
    this.baseBytes = fs.statSync(f.layerBase).size;
  }

  /** Inside the freeze: nothing in the container changes now. */
  frozen(): void {
    const t0 = Date.now();
    const f = imageFolder(this.imageDir);
    const { now, keys } = this.layer.changes();
    const delta = keys.filter((k) => !this.base.has(k) || !same(this.base.get(k)!, now.get(k)!));
    writeArchive(f.layerDelta, ROOT, now, delta);
    const children: Record<string, string[]> = {};
    for (const k of keys) if (now.get(k)!.kind === 'dir') children[k] = fs.readdirSync(fileOf(ROOT, k)).sort();
    const list: LayerList = { paths: keys, children };
    fs.writeFileSync(f.layerList, JSON.stringify(list), { mode: 0o600 });
    this.freeze.entries = delta.length;
    this.freeze.bytes = fs.statSync(f.layerDelta).size;
    this.freeze.ms = Date.now() - t0;
  }
}
