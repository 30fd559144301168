// Where a service's checkpoint images live on a host. `<service dir>/images` is the name every
// component uses; for a process service it is a symlink to a folder on tmpfs (/dev/shm), so a dump
// and a restore never wait for a disk, and falls back to a plain folder when tmpfs is unavailable
// or FASTMIG_IMAGES_TMPFS=0. A container's images stay in its bind-mounted service folder (the
// symlink would not resolve inside the container).
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import { paths } from './config';

const SHM = '/dev/shm';

/** The tmpfs folder of one service's images on one host of one stack home. */
export function tmpfsImagesDir(host: string, service: string, home: string): string {
  const tag = crypto.createHash('sha256').update(path.resolve(home)).digest('hex').slice(0, 12);
  return path.join(SHM, 'fastmig', tag, host, service, 'images');
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
  const dir = path.join(paths.serviceDir(host, service, home), 'images');
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

/** Files CRIU or the daemon write next to an image that are not part of it. */
export const NOT_IMAGE = /^(restore\.|criu\.out$)/;

/** The files of one checkpoint folder that make up the image, in a stable order. */
export function imageFileNames(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => !NOT_IMAGE.test(n)).sort();
}

/** Checkpoint ids end up in paths and S3 keys: a safe alphabet, no leading dot. */
export const CHECKPOINT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
