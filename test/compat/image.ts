// The catalogue's container image, built from Debian packages (scripts/build-compat-image.sh) and
// imported into every host's engine through the client library, once.
import fs from 'fs';
import path from 'path';
import execa from 'execa';
import { ops } from '../../client';
import { paths, REPO_ROOT } from '../../common/config';

export const COMPAT_IMAGE = { name: 'fastmig/compat-debian:1', tar: 'compat-debian.tar' };

export async function ensureCompatImage(): Promise<void> {
  const hosts = await ops.listImages();
  if (hosts.every((h) => h.images.some((i) => i.name === COMPAT_IMAGE.name))) return;
  await execa('bash', [path.join(REPO_ROOT, 'scripts', 'build-compat-image.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const file = path.join(paths.imageCacheDir(), COMPAT_IMAGE.tar);
  if (!fs.existsSync(file)) throw new Error(`${file} was not built`);
  const r = await ops.putImage(file, { kind: 'import', name: COMPAT_IMAGE.name, changes: [] });
  const bad = r.filter((x) => !x.ok);
  if (bad.length) throw new Error(`image import ${COMPAT_IMAGE.name} failed: ${bad.map((b) => `${b.host}: ${b.error}`).join('; ')}`);
}
