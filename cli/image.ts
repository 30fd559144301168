// `fastmig image import|load|list`: container images in every host's engine.
import { UserError, ops } from '../client';
import { ImageRef, ImageTransfer } from '../common/schemas';
import { Command, flag, texts, valid } from './args';
import { print } from './output';

export const image: Command = {
  options: { change: texts, json: flag },
  async run(p) {
    const [sub, ...args] = p.positional;
    const json = p.bool('json');
    if (sub === 'list') {
      if (args.length) throw new UserError('image list takes no arguments');
      const hosts = await ops.listImages();
      if (json) print(hosts, true);
      else {
        for (const h of hosts) {
          if (h.error) print(`${h.host}\t(error: ${h.error})`, false);
          else if (!h.images.length) print(`${h.host}\t(no images)`, false);
          for (const i of h.images) print(`${h.host}\t${i.name}\t${i.id}\t${(i.sizeBytes / 1e6).toFixed(1)} MB`, false);
        }
      }
      return hosts.some((h) => h.error) ? 1 : 0;
    }
    let results;
    if (sub === 'import') {
      if (args.length !== 2) throw new UserError('usage: fastmig image import <name> <rootfs.tar> [--change \'CMD ["sh"]\']...');
      const name = valid(ImageRef, args[0], 'image name');
      const changes = valid(ImageTransfer.shape.changes, p.list('change'), '--change');
      results = await ops.putImage(args[1], { kind: 'import', name, changes });
    } else if (sub === 'load') {
      if (args.length !== 1) throw new UserError('usage: fastmig image load <archive.tar> (made by docker save)');
      if (p.list('change').length) throw new UserError('--change applies to image import only');
      results = await ops.putImage(args[0], { kind: 'load', changes: [] });
    } else throw new UserError(`unknown image command "${sub ?? ''}": use image import, image load or image list`);
    if (json) print(results, true);
    else for (const r of results) print(r.ok ? `${r.host}: ${r.image}` : `${r.host}: FAILED ${r.error}`, false);
    return results.every((r) => r.ok) ? 0 : 1;
  },
};
