// Host activities that adapt to the image store (S3): pack a checkpoint into one tar stream
// (gzip-compressed when FASTMIG_IMAGE_COMPRESSION=gzip) with a manifest, and fetch and verify one
// before a restore.
import fs from 'fs';
import path from 'path';
import zlib from 'zlib';
import crypto from 'crypto';
import { Transform, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import http from 'http';
import { packFiles, unpackTo } from '../common/tar';
import { heartbeat, ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from 'minio';
import { paths } from '../common/config';
import { keys } from '../common/names';
import type { HostRecord, ImageManifest } from '../common/schemas';
import { imageFileNames } from '../common/image-dir';
import { macEqual, PEER_HEADERS, peerKey, responseMac, signPeerRequest } from '../common/peer-auth';
import { decompressor } from '../common/peer-compression';
import { readJson, writeJson } from '../common/s3';
import { manifestSignatureValid, signManifest } from '../common/integrity';
import { faultPoint } from '../common/faults';

interface ImageStoreContext {
  host: string;
  home: string;
  s3: Client;
  bucket: string;
  clusterKey: Buffer;
  imageKey: Buffer | null;
  encryptAll: boolean;
}

/** Hashes and counts bytes as they pass, and tells Temporal the activity is alive. */
function meter(): { stream: Transform; digest: () => string; bytes: () => number } {
  const hash = crypto.createHash('sha256');
  let n = 0;
  let beatAt = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      n += chunk.length;
      // A heartbeat per chunk (64 KiB) cost more than the copy itself; a few a second are plenty.
      const now = Date.now();
      if (now - beatAt > 200) {
        beatAt = now;
        heartbeat({ bytes: n });
      }
      cb(null, chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex'), bytes: () => n };
}

/** Parts of the archive: the last may be smaller; S3 wants at least 5 MiB for the others. */
const PART_BYTES = 16 * 2 ** 20;

interface UploadState {
  key: string;
  uploadId: string;
  /** The encryption IV, kept so a resumed attempt produces the very same bytes. */
  iv: string;
  parts: { part: number; etag: string; bytes: number; sha256: string }[];
}

/** Beside the image folder, not inside it: the archive never contains its own upload state. */
const uploadStateFile = (imageDir: string) => `${imageDir}.upload.json`;

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

export function createImageStoreActivities(ctx: ImageStoreContext) {
  const imageDir = (service: string, id: string) => path.join(paths.serviceDir(ctx.host, service, ctx.home), 'images', id);
  /** An image only lands where the service was prepared: a late retry must not recreate a removed folder. */
  const requirePrepared = (service: string) => {
    if (!fs.existsSync(paths.serviceDir(ctx.host, service, ctx.home))) {
      throw ApplicationFailure.nonRetryable(`service ${service} is not prepared on ${ctx.host}`, 'NotPrepared');
    }
  };

  return {
    async uploadImage(req: { service: string; checkpointId: string; encrypt?: boolean }): Promise<{ bytes: number; rawBytes: number; encrypted: boolean }> {
      await faultPoint('upload', req.checkpointId);
      const dir = imageDir(req.service, req.checkpointId);
      if (!fs.existsSync(dir)) throw ApplicationFailure.nonRetryable(`no checkpoint ${req.checkpointId} of ${req.service} on ${ctx.host}`, 'NoImage');
      const names = imageFileNames(dir);
      // Sizes only: the archive's sha256 (computed as it streams) already covers every byte, and a
      // separate hashing pass read the whole image once more while the service was frozen.
      const files = names.map((name) => ({ name, size: fs.statSync(path.join(dir, name)).size }));
      const gzip = process.env.FASTMIG_IMAGE_COMPRESSION === 'gzip';
      const archiveKey = keys.imageArchive(req.service, req.checkpointId, gzip);
      const encrypt = !!(req.encrypt || ctx.encryptAll);
      if (encrypt && !ctx.imageKey) throw ApplicationFailure.nonRetryable('image encryption is on but FASTMIG_IMAGE_KEY is not configured', 'NoImageKey');
      // An interrupted upload resumes: the archive is rebuilt byte for byte (same files, same IV)
      // and the parts an earlier attempt stored are skipped.
      const stateFile = uploadStateFile(dir);
      const state = loadUploadState(stateFile, archiveKey) ?? { key: archiveKey, uploadId: '', iv: crypto.randomBytes(12).toString('hex'), parts: [] };
      const iv = Buffer.from(state.iv, 'hex');
      const cipher = encrypt ? crypto.createCipheriv('aes-256-gcm', ctx.imageKey!, iv) : null;
      const m = meter();
      if (!state.uploadId) state.uploadId = await ctx.s3.initiateNewMultipartUpload(ctx.bucket, archiveKey, {});
      saveUploadState(stateFile, state);
      const stages = [packFiles(dir, names), ...(gzip ? [zlib.createGzip({ level: 1 })] : []), ...(cipher ? [cipher] : []), m.stream, partUploader(ctx.s3, ctx.bucket, state, stateFile)];
      await pipeline(stages as unknown as [NodeJS.ReadableStream, ...NodeJS.WritableStream[]]);
      try {
        await ctx.s3.completeMultipartUpload(ctx.bucket, archiveKey, state.uploadId, state.parts.sort((a, b) => a.part - b.part).map((p) => ({ part: p.part, etag: p.etag })));
      } finally {
        // Done, or the store no longer knows this upload and the next attempt starts afresh.
        fs.rmSync(stateFile, { force: true });
      }
      const unsigned: Omit<ImageManifest, 'signature'> = {
        format: 'fastmig-image/1',
        service: req.service,
        checkpointId: req.checkpointId,
        sourceHost: ctx.host,
        createdAt: new Date().toISOString(),
        compression: gzip ? 'gzip' : 'none',
        files,
        rawBytes: files.reduce((n, f) => n + f.size, 0),
        archive: { key: archiveKey, bytes: m.bytes(), sha256: m.digest() },
        encryption: cipher ? { alg: 'aes-256-gcm', iv: iv.toString('hex'), tag: cipher.getAuthTag().toString('hex') } : null,
      };
      const manifest = signManifest(unsigned, ctx.clusterKey);
      await writeJson(ctx.s3, ctx.bucket, keys.imageManifest(req.service, req.checkpointId), manifest);
      return { bytes: manifest.archive.bytes, rawBytes: manifest.rawBytes, encrypted: !!cipher };
    },

    /** Fetches an image into this host's service directory; refuses one whose digest does not match. */
    async downloadImage(req: { service: string; checkpointId: string }): Promise<{ bytes: number }> {
      await faultPoint('download', req.checkpointId);
      const manifest = await readJson<ImageManifest>(ctx.s3, ctx.bucket, keys.imageManifest(req.service, req.checkpointId));
      if (!manifest) throw ApplicationFailure.nonRetryable(`image ${req.checkpointId} of ${req.service} is not in the image store`, 'NoImage');
      const name = `image ${req.checkpointId} of ${req.service}`;
      if (!manifestSignatureValid(manifest, ctx.clusterKey)) {
        throw ApplicationFailure.nonRetryable(`${name} is refused: its manifest signature does not match this cluster's key (tampered, or signed by another cluster)`, 'BadSignature');
      }
      if (manifest.service !== req.service || manifest.checkpointId !== req.checkpointId || manifest.archive.key !== keys.imageArchive(req.service, req.checkpointId, manifest.compression === 'gzip')) {
        throw ApplicationFailure.nonRetryable(`${name} is refused: its manifest describes another image`, 'BadSignature');
      }
      if (manifest.encryption && !ctx.imageKey) throw ApplicationFailure.nonRetryable(`${name} is encrypted but FASTMIG_IMAGE_KEY is not configured here`, 'NoImageKey');
      requirePrepared(req.service);
      const dir = imageDir(req.service, req.checkpointId);
      const tmp = `${dir}.partial`;
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
      const m = meter();
      const corrupt = (why: string) => {
        fs.rmSync(tmp, { recursive: true, force: true });
        return ApplicationFailure.nonRetryable(`${name} is corrupt: ${why}`, 'CorruptImage');
      };
      const source = await ctx.s3.getObject(ctx.bucket, manifest.archive.key);
      const decipher = manifest.encryption ? crypto.createDecipheriv('aes-256-gcm', ctx.imageKey!, Buffer.from(manifest.encryption.iv, 'hex')) : null;
      decipher?.setAuthTag(Buffer.from(manifest.encryption!.tag, 'hex'));
      const stages = [source, m.stream, ...(decipher ? [decipher] : []), ...(manifest.compression === 'gzip' ? [zlib.createGunzip()] : []), unpackTo(tmp)];
      try {
        await pipeline(stages as unknown as [NodeJS.ReadableStream, ...NodeJS.WritableStream[]]);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
          fs.rmSync(tmp, { recursive: true, force: true });
          throw ApplicationFailure.nonRetryable(`no space left on ${ctx.host} to unpack ${name}`, 'NoSpace');
        }
        throw corrupt(`it cannot be unpacked (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
      }
      const digest = m.digest();
      if (digest !== manifest.archive.sha256) throw corrupt(`sha256 ${digest.slice(0, 12)}… != manifest ${manifest.archive.sha256.slice(0, 12)}…`);
      for (const f of manifest.files) {
        if (!/^[A-Za-z0-9._-]+$/.test(f.name)) throw corrupt(`file name ${JSON.stringify(f.name)} is not allowed`);
        // The archive digest already binds every byte; sizes catch a packing mismatch cheaply.
        const size = fs.statSync(path.join(tmp, f.name), { throwIfNoEntry: false })?.size;
        if (size !== f.size) throw corrupt(`file ${f.name} has ${size ?? 'no'} bytes, its manifest entry says ${f.size}`);
      }
      const extra = fs.readdirSync(tmp).filter((n) => !manifest.files.some((f) => f.name === n));
      if (extra.length) throw corrupt(`unexpected files ${extra.join(', ')}`);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(tmp, dir);
      return { bytes: m.bytes() };
    },

    /**
     * Fetches an image straight from the agent of the host that took it (its image endpoint, see
     * workers/image-peer.ts) into this host's service directory. Any failure to reach or read the
     * peer is a `PeerTransfer` failure, after which a caller falls back to the image store.
     */
    async pullImage(req: { service: string; checkpointId: string; from: string; encrypt?: boolean; wait?: boolean }): Promise<{ bytes: number }> {
      const name = `image ${req.checkpointId} of ${req.service} from ${req.from}`;
      const dir = imageDir(req.service, req.checkpointId);
      requirePrepared(req.service);
      if (fs.existsSync(dir)) return { bytes: 0 }; // a retry after the image arrived complete
      const peerFailed = (why: string) => ApplicationFailure.nonRetryable(`peer transfer of ${name} failed: ${why}`, 'PeerTransfer');
      const record = await readJson<HostRecord>(ctx.s3, ctx.bucket, keys.host(req.from)).catch(() => null);
      if (!record?.peerUrl) throw peerFailed(`${req.from} advertises no image endpoint`);
      const encrypt = !!(req.encrypt || ctx.encryptAll);
      if (encrypt && !ctx.imageKey) throw peerFailed('image encryption is on but FASTMIG_IMAGE_KEY is not configured here');
      // wait=1: the source may still be dumping; its endpoint answers when the checkpoint ended.
      const query = [...(req.wait ? ['wait=1'] : []), ...(encrypt ? ['encrypt=1'] : [])].join('&');
      const urlPath = `/images/${req.service}/${req.checkpointId}${query ? `?${query}` : ''}`;
      const key = peerKey(ctx.clusterKey);
      const headers: Record<string, string> = signPeerRequest(key, 'GET', urlPath, ctx.host);
      try {
        headers['x-fastmig-workflow'] = Context.current().info.workflowExecution?.workflowId ?? ''; // for the source's log only
      } catch {
        // not inside an activity
      }
      const tmp = `${dir}.partial`;
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
      try {
        const idleMs = req.wait ? 200_000 : 10_000;
        const beat = setInterval(() => heartbeat(), 5000);
        const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
          const r = http.get(new URL(urlPath, record.peerUrl), { headers, timeout: idleMs }, resolve);
          r.once('timeout', () => r.destroy(new Error(`no answer from ${record.peerUrl} within ${idleMs / 1000} s`)));
          r.once('error', reject);
        }).finally(() => clearInterval(beat));
        if (res.statusCode !== 200) {
          let text = '';
          for await (const c of res) text += String(c);
          throw new Error(`${record.peerUrl} answered ${res.statusCode}: ${text.trim().slice(0, 200)}`);
        }
        await faultPoint('pull', req.checkpointId); // the checkpoint is taken, its bytes about to flow
        const m = meter();
        const iv = res.headers[PEER_HEADERS.iv];
        if (encrypt && typeof iv !== 'string') throw new Error('the answer is not encrypted');
        const decipher = encrypt ? crypto.createDecipheriv('aes-256-gcm', ctx.imageKey!, Buffer.from(iv as string, 'hex')) : null;
        // GCM's tag comes as a trailer, known once the answer is complete: the decryption checks it
        // as the stream ends. Everything lands in the .partial folder, renamed only once all passed.
        const encoding = String(res.headers[PEER_HEADERS.encoding] ?? 'identity');
        if (encoding !== 'identity' && encoding !== 'br') throw new Error(`the answer's encoding ${JSON.stringify(encoding.slice(0, 40))} is not known here`);
        const plain = decipher
          ? new Transform({
              transform(chunk: Buffer, _e, cb) {
                cb(null, decipher.update(chunk));
              },
              flush(cb) {
                try {
                  decipher.setAuthTag(Buffer.from(String(res.trailers[PEER_HEADERS.tag] ?? ''), 'hex'));
                  cb(null, decipher.final());
                } catch {
                  cb(new Error('the encrypted answer does not authenticate'));
                }
              },
            })
          : null;
        await pipeline([res, m.stream, ...(plain ? [plain] : []), ...(encoding === 'br' ? [decompressor()] : []), unpackTo(tmp)] as unknown as [NodeJS.ReadableStream, ...NodeJS.WritableStream[]]);
        const t = res.trailers;
        const digest = m.digest();
        if (t[PEER_HEADERS.digest] !== digest || Number(t[PEER_HEADERS.bytes]) !== m.bytes()) throw new Error('the answer was cut short or altered (digest or length mismatch)');
        if (!macEqual(String(t[PEER_HEADERS.mac] ?? ''), responseMac(key, headers[PEER_HEADERS.nonce], digest, m.bytes(), encoding))) {
          throw new Error("the answer's MAC does not match this cluster's key");
        }
        if (!fs.readdirSync(tmp).length) throw new Error('the image is empty');
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(tmp, dir);
        return { bytes: m.bytes() };
      } catch (err) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw peerFailed(err instanceof Error ? err.message.split('\n')[0] : String(err));
      }
    },
  };
}
export type ImageStoreActivities = ReturnType<typeof createImageStoreActivities>;
