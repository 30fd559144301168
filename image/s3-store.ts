// The image store (S3): the durable copy of an image, `images/<service>/<checkpoint>/image.tar`
// (`.tar.gz` when FASTMIG_IMAGE_COMPRESSION=gzip) beside its signed `manifest.json`. Stored in one
// stream through the image pipeline as a resumable multipart upload; fetched only when the
// manifest's signature, the archive's digest and every file's size check out.
import type { Client } from 'minio';
import { keys } from '../common/names';
import { readJson, writeJson } from '../common/s3';
import { ImageError, firstLine } from './errors';
import { ALG } from './encryption';
import { storeCodec } from './compression';
import { describeFiles, filesMismatch, manifestSignatureValid, signManifest, MANIFEST_FORMAT, type ImageManifest } from './manifest';
import { imageFileNames } from './folder';
import { receiveImage, sendImage } from './pipeline';
import { resumableUpload, uploadStateFile } from './s3-parts';
import type { FetchRequest, ImageRef, ImageTransport, IncomingImage, StoredImage, TransferHooks } from './transport';

export interface S3StoreOptions {
  /** This host: named in the manifests it writes and in its errors. */
  host: string;
  s3: Client;
  bucket: string;
  /** Signs and verifies manifests. */
  clusterKey: Buffer;
  /** Encrypts images at rest; null: this host can neither encrypt nor read encrypted images. */
  imageKey: Buffer | null;
}

export class S3Store implements ImageTransport {
  constructor(private readonly o: S3StoreOptions) {}

  async store(ref: ImageRef & { encrypt: boolean }, dir: string, hooks: TransferHooks): Promise<StoredImage> {
    const { s3, bucket, imageKey } = this.o;
    if (ref.encrypt && !imageKey) throw new ImageError('NoImageKey', 'image encryption is on but FASTMIG_IMAGE_KEY is not configured');
    const names = imageFileNames(dir);
    const files = describeFiles(dir, names);
    const compression = storeCodec();
    const key = keys.imageArchive(ref.service, ref.checkpointId, compression === 'gzip');
    // An interrupted upload resumes: the archive is rebuilt byte for byte (same files, same IV)
    // and the parts an earlier attempt stored are skipped.
    const sealed = await resumableUpload(s3, bucket, key, uploadStateFile(dir), (sink, iv) =>
      sendImage(dir, names, { codec: compression, sealing: ref.encrypt ? { key: imageKey!, iv } : null, alive: hooks.alive }, sink).then((s) => ({ ...s, iv })),
    );
    const manifest = signManifest(
      {
        format: MANIFEST_FORMAT,
        service: ref.service,
        checkpointId: ref.checkpointId,
        sourceHost: this.o.host,
        createdAt: new Date().toISOString(),
        compression,
        files,
        rawBytes: files.reduce((n, f) => n + f.size, 0),
        archive: { key, bytes: sealed.bytes, sha256: sealed.sha256 },
        encryption: sealed.tag ? { alg: ALG, iv: sealed.iv.toString('hex'), tag: sealed.tag } : null,
      },
      this.o.clusterKey,
    );
    await writeJson(s3, bucket, keys.imageManifest(ref.service, ref.checkpointId), manifest);
    return { bytes: manifest.archive.bytes, rawBytes: manifest.rawBytes, encrypted: !!sealed.tag };
  }

  async open(req: FetchRequest, hooks: TransferHooks): Promise<IncomingImage> {
    const { s3, bucket, clusterKey, imageKey } = this.o;
    const manifest = await readJson<ImageManifest>(s3, bucket, keys.imageManifest(req.service, req.checkpointId));
    if (!manifest) throw new ImageError('NoImage', `image ${req.checkpointId} of ${req.service} is not in the image store`);
    const name = `image ${req.checkpointId} of ${req.service}`;
    if (!manifestSignatureValid(manifest, clusterKey)) {
      throw new ImageError('BadSignature', `${name} is refused: its manifest signature does not match this cluster's key (tampered, or signed by another cluster)`);
    }
    if (manifest.service !== req.service || manifest.checkpointId !== req.checkpointId || manifest.archive.key !== keys.imageArchive(req.service, req.checkpointId, manifest.compression === 'gzip')) {
      throw new ImageError('BadSignature', `${name} is refused: its manifest describes another image`);
    }
    const enc = manifest.encryption;
    if (enc && !imageKey) throw new ImageError('NoImageKey', `${name} is encrypted but FASTMIG_IMAGE_KEY is not configured here`);
    const corrupt = (why: string) => new ImageError('CorruptImage', `${name} is corrupt: ${why}`);
    return {
      into: async (staging) => {
        const source = await s3.getObject(bucket, manifest.archive.key);
        const sealing = enc ? { key: imageKey!, iv: Buffer.from(enc.iv, 'hex'), tag: () => enc.tag } : null;
        const got = await receiveImage(source, staging, { codec: manifest.compression, sealing, alive: hooks.alive }).catch((err) => {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new ImageError('NoSpace', `no space left on ${this.o.host} to unpack ${name}`);
          throw corrupt(`it cannot be unpacked (${firstLine(err)})`);
        });
        if (got.sha256 !== manifest.archive.sha256) throw corrupt(`sha256 ${got.sha256.slice(0, 12)}… != manifest ${manifest.archive.sha256.slice(0, 12)}…`);
        const mismatch = filesMismatch(staging, manifest.files);
        if (mismatch) throw corrupt(mismatch);
        return { bytes: got.bytes };
      },
    };
  }
}
