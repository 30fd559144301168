// An interrupted image upload resumes: the second attempt sends only the parts the first did not
// store, and the image that lands in the real S3 server downloads and verifies byte for byte.
// The one thing faked is the interruption itself (a part upload that fails once).
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Client } from 'minio';
import { loadConfig, paths } from '../common/config';
import { serviceFolder } from '../common/service-folder';
import { s3Client } from '../common/s3';
import { createImageActivities } from '../activities/image';

const cfg = loadConfig();
const HOST = 'hostResume';
const SERVICE = 'resume-image';

afterAll(() => fs.rmSync(paths.hostDir(HOST), { recursive: true, force: true }));

/** The real client, whose part uploads are counted and, while `failAt` is set, fail at that part. */
function flakyClient(failAt: { part: number | null }, sent: number[]): Client {
  const real = s3Client(cfg);
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop !== 'uploadPart') return Reflect.get(target, prop, receiver);
      return async (conf: { partNumber: number }, body: Buffer) => {
        if (failAt.part === conf.partNumber) {
          failAt.part = null;
          throw new Error('connection reset (injected)');
        }
        sent.push(conf.partNumber);
        return target.uploadPart(conf as never, body);
      };
    },
  });
}

test.each([false, true])('an interrupted upload resumes where it stopped (encrypted: %s)', async (encrypt) => {
  const id = `r${Date.now()}${encrypt ? 'e' : ''}`;
  const dir = serviceFolder(paths.serviceDir(HOST, SERVICE)).image(id);
  fs.mkdirSync(dir, { recursive: true });
  // 40 MiB of pages: three parts of at most 16 MiB.
  const pages = crypto.randomBytes(40 * 2 ** 20);
  fs.writeFileSync(path.join(dir, 'pages-1.img'), pages);
  fs.writeFileSync(path.join(dir, 'core-1.img'), 'core');

  const failAt = { part: 3 as number | null };
  const sent: number[] = [];
  const store = createImageActivities({ host: HOST, home: cfg.home, s3: flakyClient(failAt, sent), bucket: cfg.s3.bucket, clusterKey: cfg.clusterKey!, imageKey: cfg.imageKey, encryptAll: false });
  const env = () => new MockActivityEnvironment();

  await expect(env().run(store.uploadImage, { service: SERVICE, checkpointId: id, encrypt })).rejects.toThrow(/injected/);
  expect(sent).toEqual([1, 2]);
  const retried = (await env().run(store.uploadImage, { service: SERVICE, checkpointId: id, encrypt })) as { encrypted: boolean };
  expect(sent).toEqual([1, 2, 3]); // parts 1 and 2 were not sent again
  expect(retried.encrypted).toBe(encrypt);
  expect(fs.existsSync(`${dir}.upload.json`)).toBe(false);

  fs.rmSync(dir, { recursive: true });
  await env().run(store.downloadImage, { service: SERVICE, checkpointId: id });
  expect(fs.readFileSync(path.join(dir, 'pages-1.img')).equals(pages)).toBe(true);
}, 120_000);
