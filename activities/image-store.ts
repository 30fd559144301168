// Host activities that adapt to the image store (S3): pack a checkpoint into one tar stream
// (gzip-compressed when FASTMIG_IMAGE_COMPRESSION=gzip) with a manifest, and fetch and verify one
// before a restore.
import fs from 'fs';
import path from 'path';
import zlib from 'zlib';
import crypto from 'crypto';
import { PassThrough, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import execa from 'execa';
import { heartbeat, ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'minio';
import { paths } from '../common/config';
import { keys } from '../common/names';
import type { ImageManifest } from '../common/schemas';
import { readJson, writeJson } from '../common/s3';

/** Files CRIU or the daemon write that are not part of the image. */
const NOT_IMAGE = /^(restore\.|criu\.out$)/;

interface ImageStoreContext {
  host: string;
  home: string;
  s3: Client;
  bucket: string;
}

/** Hashes and counts bytes as they pass, and tells Temporal the activity is alive. */
function meter(): { stream: Transform; digest: () => string; bytes: () => number } {
  const hash = crypto.createHash('sha256');
  let n = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      n += chunk.length;
      heartbeat({ bytes: n });
      cb(null, chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex'), bytes: () => n };
}

export function createImageStoreActivities(ctx: ImageStoreContext) {
  const imageDir = (service: string, id: string) => path.join(paths.serviceDir(ctx.host, service, ctx.home), 'images', id);

  return {
    async uploadImage(req: { service: string; checkpointId: string }): Promise<{ bytes: number; rawBytes: number }> {
      const dir = imageDir(req.service, req.checkpointId);
      if (!fs.existsSync(dir)) throw ApplicationFailure.nonRetryable(`no checkpoint ${req.checkpointId} of ${req.service} on ${ctx.host}`, 'NoImage');
      const names = fs.readdirSync(dir).filter((n) => !NOT_IMAGE.test(n)).sort();
      // Sizes only: the archive's sha256 (computed as it streams) already covers every byte, and a
      // separate hashing pass read the whole image once more while the service was frozen.
      const files = names.map((name) => ({ name, size: fs.statSync(path.join(dir, name)).size }));
      const gzip = process.env.FASTMIG_IMAGE_COMPRESSION === 'gzip';
      const archiveKey = keys.imageArchive(req.service, req.checkpointId, gzip);
      const tar = execa('tar', ['-C', dir, '-cf', '-', '--', ...names], { stdout: 'pipe', stderr: 'pipe', buffer: false });
      const m = meter();
      const body = new PassThrough();
      const packing = gzip ? pipeline(tar.stdout!, zlib.createGzip({ level: 1 }), m.stream, body) : pipeline(tar.stdout!, m.stream, body);
      await Promise.all([ctx.s3.putObject(ctx.bucket, archiveKey, body), packing, tar]);
      const manifest: ImageManifest = {
        format: 'fastmig-image/1',
        service: req.service,
        checkpointId: req.checkpointId,
        sourceHost: ctx.host,
        createdAt: new Date().toISOString(),
        compression: gzip ? 'gzip' : 'none',
        files,
        rawBytes: files.reduce((n, f) => n + f.size, 0),
        archive: { key: archiveKey, bytes: m.bytes(), sha256: m.digest() },
      };
      await writeJson(ctx.s3, ctx.bucket, keys.imageManifest(req.service, req.checkpointId), manifest);
      return { bytes: manifest.archive.bytes, rawBytes: manifest.rawBytes };
    },

    /** Fetches an image into this host's service directory; refuses one whose digest does not match. */
    async downloadImage(req: { service: string; checkpointId: string }): Promise<{ bytes: number }> {
      const manifest = await readJson<ImageManifest>(ctx.s3, ctx.bucket, keys.imageManifest(req.service, req.checkpointId));
      if (!manifest) throw ApplicationFailure.nonRetryable(`image ${req.checkpointId} of ${req.service} is not in the image store`, 'NoImage');
      const dir = imageDir(req.service, req.checkpointId);
      const tmp = `${dir}.partial`;
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
      const m = meter();
      // tar stops reading at the end-of-archive blocks; `cat` drains any trailer and padding
      // after it, so the stream is never cut short (which failed the download now and then).
      const tar = execa('sh', ['-c', 'tar -C "$1" -xf - && exec cat >/dev/null', 'fastmig-untar', tmp], { stdin: 'pipe', stderr: 'pipe' });
      const source = await ctx.s3.getObject(ctx.bucket, manifest.archive.key);
      const unpacking = manifest.compression === 'gzip' ? pipeline(source, m.stream, zlib.createGunzip(), tar.stdin!) : pipeline(source, m.stream, tar.stdin!);
      await Promise.all([unpacking, tar]);
      const digest = m.digest();
      if (digest !== manifest.archive.sha256) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw ApplicationFailure.nonRetryable(
          `image ${req.checkpointId} of ${req.service} is corrupt: sha256 ${digest.slice(0, 12)}… != manifest ${manifest.archive.sha256.slice(0, 12)}…`,
          'CorruptImage',
        );
      }
      for (const f of manifest.files) {
        const size = fs.statSync(path.join(tmp, f.name), { throwIfNoEntry: false })?.size;
        if (size !== f.size) throw ApplicationFailure.nonRetryable(`image file ${f.name} has ${size} bytes, manifest says ${f.size}`, 'CorruptImage');
      }
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(tmp, dir);
      return { bytes: m.bytes() };
    },
  };
}
export type ImageStoreActivities = ReturnType<typeof createImageStoreActivities>;
