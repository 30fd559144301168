// Container images on every host: the CLI uploads a file once to the image store, then one
// activity per host (on that host's queue) streams it into its own engine. A host's engine is only
// ever touched by its own agent, as with everything else on that host.
import { ImageTransfer, HostImage, HostRecord } from '../common/schemas';
import { hostSteps, registry } from './proxies';
import { messageOf, refuse, validate } from './errors';

export interface ImagePutResult {
  host: string;
  ok: boolean;
  image?: string;
  error?: string;
}

export async function distributeImage(raw: ImageTransfer): Promise<ImagePutResult[]> {
  const req = validate(ImageTransfer, raw, 'distributeImage input');
  if (req.kind === 'import' && !req.name) throw refuse('an import needs an image name');
  const hosts: HostRecord[] = await registry.listHosts();
  if (!hosts.length) throw refuse('no hosts are registered: run `fastmig stack up`');
  const results = await Promise.all(
    hosts.map(async ({ host }): Promise<ImagePutResult> => {
      try {
        return { ok: true, ...(await hostSteps(host).putImage(req)) };
      } catch (err) {
        return { host, ok: false, error: messageOf(err) };
      }
    }),
  );
  await registry.deleteUpload(req.key);
  return results;
}

export async function listImages(): Promise<Array<{ host: string; images: HostImage[]; error?: string }>> {
  const hosts = await registry.listHosts();
  return Promise.all(
    hosts.map(async ({ host }) => {
      try {
        return { host, images: await hostSteps(host).listImages() };
      } catch (err) {
        return { host, images: [], error: messageOf(err) };
      }
    }),
  );
}
