// The demo images (scripts/build-images.sh) on every host's container engine: built once into the
// image cache, imported into any engine that lacks them. Used by the docker demo and the tests.
import fs from 'fs';
import path from 'path';
import execa from 'execa';
import { REPO_ROOT, paths } from '../common/config';
import { ops } from '../client';

/** The bundle's node, as any image without node of its own uses it. */
export const BUNDLE_NODE = '/fastmig/bundle/bin/node';
/** The key-value service inside a container: listens on all of the container's addresses. */
export const KV_CONTAINER_CMD = [BUNDLE_NODE, '/app/kv-service.js', '--port', '8080', '--listen', '0.0.0.0'];
export const KV_CONTAINER_PORT = 8080;

export const DEMO_IMAGES = {
  /** Debian 12 (glibc) with the demo services in /app; no CMD. */
  debian: { name: 'fastmig/kv-debian:1', tar: 'kv-debian.tar', changes: [] as string[] },
  /** musl only, its CMD a C service linked against musl (demo/musl/counter.c). */
  musl: { name: 'fastmig/musl-demo:1', tar: 'kv-musl.tar', changes: ['CMD ["/app/counter","8080"]'] },
  /** Debian 12 with a Python (its own loader and libraries, in /opt/python) and the test services in /app; tests only. */
  python: { name: 'fastmig/py-debian:1', tar: 'py-debian.tar', changes: [] as string[] },
};
export type DemoImage = keyof typeof DEMO_IMAGES;
/** Python inside the python image: a wrapper that starts its copy with the copy's own loader and libraries. */
export const IMAGE_PYTHON = '/opt/python/bin/python3';

/** Imports each demo image into every engine that lacks it; `put` defaults to the CLI's operation. */
export async function ensureDemoImages(
  put: (file: string, name: string, changes: string[]) => Promise<void> = async (file, name, changes) => {
    const r = await ops.putImage(file, { kind: 'import', name, changes });
    const bad = r.filter((x) => !x.ok);
    if (bad.length) throw new Error(`image import ${name} failed: ${bad.map((b) => `${b.host}: ${b.error}`).join('; ')}`);
  },
  which: DemoImage[] = ['debian', 'musl'],
): Promise<void> {
  const cache = paths.imageCacheDir();
  const images = which.map((k) => DEMO_IMAGES[k]);
  if (!images.every((i) => fs.existsSync(path.join(cache, i.tar)))) {
    await execa('bash', [path.join(REPO_ROOT, 'scripts', 'build-images.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  const hosts = await ops.listImages();
  for (const img of images) {
    if (hosts.every((h) => h.images.some((i) => i.name === img.name))) continue;
    await put(path.join(cache, img.tar), img.name, img.changes);
  }
}
