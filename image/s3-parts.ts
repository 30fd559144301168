// A resumable multipart upload of one archive. The archive is cut into exact PART_BYTES parts; the
// upload id, the encryption IV and each stored part's digest are kept beside the image, so a retried
// attempt rebuilds the very same bytes (same files, same IV) and sends only the missing parts.
import fs from 'fs';
import crypto from 'crypto';
import { Writable } from 'stream';
import type { Client } from 'minio';
import { newIv } from './encryption';

/** Parts of the archive: the last may be smaller; S3 wants at least 5 MiB for the others. */
export const PART_BYTES = 16 * 2 ** 20;

interface UploadState {
  key: string;
  uploadId: string;
  /** The encryption IV, kept so a resumed attempt produces the very same bytes. */
  iv: string;
  parts: { part: number; etag: string; bytes: number; sha256: string }[];
}

/** Beside the image folder, not inside it: the archive never contains its own upload state. */
export const uploadStateFile = (imageDir: string) => `${imageDir}.upload.json`;

function loadUploadState(file: string, key: string): UploadState | null {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as UploadState;
    return s.key === key && s.uploadId ? s : null;
  } catch {
    return null;
  }
}

function saveUploadState(file: string, state: UploadState): void {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(state), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

/** Cuts the stream into exact PART_BYTES parts and uploads those an earlier attempt did not. */
function partUploader(s3: Client, bucket: string, state: UploadState, stateFile: string): Writable {
  let chunks: Buffer[] = [];
  let held = 0;
  let part = 0;
  const send = async (body: Buffer) => {
    part++;
    const sha256 = crypto.createHash('sha256').update(body).digest('hex');
    if (state.parts.some((p) => p.part === part && p.sha256 === sha256)) return;
    const r = await s3.uploadPart({ bucketName: bucket, objectName: state.key, uploadID: state.uploadId, partNumber: part, headers: {} }, body);
    state.parts = [...state.parts.filter((p) => p.part !== part), { part, etag: r.etag, bytes: body.length, sha256 }];
    saveUploadState(stateFile, state);
  };
  const take = (n: number): Buffer => {
    const all = Buffer.concat(chunks, held);
    chunks = n < all.length ? [all.subarray(n)] : [];
    held = all.length - n;
    return all.subarray(0, n);
  };
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      held += chunk.length;
      (async () => {
        while (held >= PART_BYTES) await send(take(PART_BYTES));
      })().then(() => cb(), cb);
    },
    final(cb) {
      (held > 0 || part === 0 ? send(take(held)) : Promise.resolve()).then(() => cb(), cb);
    },
  });
}

/**
 * Uploads what `write` writes into its sink (given the IV this upload keeps) as the object `key`,
 * resuming the upload recorded in `stateFile` when there is one.
 */
export async function resumableUpload<T>(s3: Client, bucket: string, key: string, stateFile: string, write: (sink: Writable, iv: Buffer) => Promise<T>): Promise<T> {
  const state = loadUploadState(stateFile, key) ?? { key, uploadId: '', iv: newIv().toString('hex'), parts: [] };
  if (!state.uploadId) state.uploadId = await s3.initiateNewMultipartUpload(bucket, key, {});
  saveUploadState(stateFile, state);
  const r = await write(partUploader(s3, bucket, state, stateFile), Buffer.from(state.iv, 'hex'));
  try {
    await s3.completeMultipartUpload(bucket, key, state.uploadId, state.parts.sort((a, b) => a.part - b.part).map((p) => ({ part: p.part, etag: p.etag })));
  } finally {
    // Done, or the store no longer knows this upload and the next attempt starts afresh.
    fs.rmSync(stateFile, { force: true });
  }
  return r;
}
