// Where a service's checkpoint images live on a host, and how one lands there. `<service dir>/images`
// is the name every component uses; for a process service it is a symlink to a folder on tmpfs
// (/dev/shm), so a dump and a restore never wait for a disk, and falls back to a plain folder when
// tmpfs is unavailable or FASTMIG_IMAGES_TMPFS=0. A container's images stay in its bind-mounted
// service folder (the symlink would not resolve inside the container). An arriving image is
// unpacked into `<id>.partial` and renamed to `<id>` only once every check passed.
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import { paths } from '../common/config';
import { RESTORE_LEFTOVERS, serviceFolder } from '../common/service-folder';
import { ImageError } from './errors';
import type { FetchRequest, ImageRef, ImageTransport, TransferHooks } from './transport';

const SHM = '/dev/shm';

/** `<service dir>/images` of one service on one host. */
export function imagesDir(host: string, service: string, home: string): string {
  return serviceFolder(paths.serviceDir(host, service, home)).images;
}

/** The tmpfs folder of one stack home's images: one sub-folder per host. */
export function tmpfsImagesRoot(home: string): string {
  const tag = crypto.createHash('sha256').update(path.resolve(home)).digest('hex').slice(0, 12);
  return path.join(SHM, 'fastmig', tag);
}

/** The tmpfs folder of one service's images on one host of one stack home. */
export function tmpfsImagesDir(host: string, service: string, home: string): string {
  return path.join(tmpfsImagesRoot(home), host, service, 'images');
}

function tmpfsUsable(): boolean {
  if (process.env.FASTMIG_IMAGES_TMPFS === '0') return false;
  try {
    fs.accessSync(SHM, fs.constants.W_OK);
    return fs.statSync(SHM).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Makes sure `<service dir>/images` exists and returns it: on tmpfs (through a symlink) when
 * possible and `onTmpfs` is not false, otherwise a folder in the service directory. An existing
 * plain folder is kept; a symlink whose tmpfs side vanished (a reboot) gets it back.
 */
export function ensureImagesDir(host: string, service: string, home: string, onTmpfs = true): string {
  const dir = imagesDir(host, service, home);
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (st?.isSymbolicLink()) {
    fs.mkdirSync(fs.readlinkSync(dir), { recursive: true, mode: 0o700 });
    return dir;
  }
  if (st) return dir;
  if (onTmpfs && tmpfsUsable()) {
    const target = tmpfsImagesDir(host, service, home);
    try {
      fs.mkdirSync(target, { recursive: true, mode: 0o700 });
      fs.symlinkSync(target, dir);
      return dir;
    } catch {
      // fall through to a plain folder
    }
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Deletes a service's tmpfs image folder on this host (its service folder is removed separately). */
export function removeTmpfsImages(host: string, service: string, home: string): void {
  const dir = tmpfsImagesDir(host, service, home);
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
}

/** The files of one checkpoint folder that make up the image, in a stable order. */
export function imageFileNames(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => !RESTORE_LEFTOVERS.has(n)).sort();
}

/** The image folders of one host: where each image is, and how an arriving one lands. */
export class ImageFolders {
  constructor(
    readonly host: string,
    readonly home: string,
  ) {}

  dir(ref: ImageRef): string {
    return path.join(imagesDir(this.host, ref.service, this.home), ref.checkpointId);
  }

  has(ref: ImageRef): boolean {
    return fs.existsSync(this.dir(ref));
  }

  /** An image only lands where the service was prepared: a late retry must not recreate a removed folder. */
  requirePrepared(service: string): void {
    if (!fs.existsSync(paths.serviceDir(this.host, service, this.home))) {
      throw new ImageError('NotPrepared', `service ${service} is not prepared on ${this.host}`);
    }
  }

  /** The folder of an image this host holds. */
  requireImage(ref: ImageRef): string {
    const dir = this.dir(ref);
    if (!fs.existsSync(dir)) throw new ImageError('NoImage', `no checkpoint ${ref.checkpointId} of ${ref.service} on ${this.host}`);
    return dir;
  }

  /** Fills `<id>.partial` with `fill` and renames it to `<id>` when it resolved; removes it when it threw. */
  async land<T>(ref: ImageRef, fill: (staging: string) => Promise<T>): Promise<T> {
    const dir = this.dir(ref);
    const staging = `${dir}.partial`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging, { recursive: true, mode: 0o700 });
    try {
      const r = await fill(staging);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(staging, dir);
      return r;
    } catch (err) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw err;
    }
  }

  /** The pulling side, whatever the transport: checks first, then the bytes into place. */
  async receive(transport: ImageTransport, req: FetchRequest, hooks: TransferHooks): Promise<{ bytes: number }> {
    const incoming = await transport.open(req, hooks);
    this.requirePrepared(req.service);
    return this.land(req, (staging) => incoming.into(staging));
  }
}
