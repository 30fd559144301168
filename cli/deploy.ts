// `fastmig deploy`: a service spec from the command line, checked by the shared schema.
import { UserError, ops } from '../client';
import { HostName, Port, Runtime, ServiceName, ServiceSpec } from '../common/schemas';
import { Command, flag, jsonOption, one, text, texts, valid } from './args';
import { print } from './output';

export const deploy: Command = {
  options: {
    host: text, port: text, cwd: text, env: texts, 'pre-restore': text, 'post-checkpoint': text, encrypt: flag, runtime: text,
    image: text, restart: text, 'checkpoint-every': text, 'checkpoint-keep': text, 'memory-limit': text, keep: texts, volume: texts, user: text, json: flag,
  },
  async run(p) {
    const port = p.number('port');
    if (port !== undefined) valid(Port, port, '--port');
    const name = valid(ServiceName, one(p, 'service name'), 'service name');
    if (!p.str('host')) throw new UserError('deploy needs --host <host>');
    const rt = Runtime.safeParse(p.str('runtime') ?? 'process');
    if (!rt.success) throw new UserError(`--runtime takes process or docker, got "${p.str('runtime')}"`);
    const runtime = rt.data;
    const image = p.str('image') || undefined;
    if (runtime === 'process' && !p.rest.length) throw new UserError('deploy needs a command after "--", e.g. -- node server.js');
    if (runtime === 'docker' && !image) throw new UserError('--runtime docker needs --image <name> (an image on every host: fastmig image list)');
    if (runtime === 'process' && image) throw new UserError('--image needs --runtime docker');
    const env: Record<string, string> = {};
    for (const kv of p.list('env')) {
      const i = kv.indexOf('=');
      if (i < 1) throw new UserError(`--env takes KEY=VALUE, got "${kv}"`);
      env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    // name:/path; the schema checks each part (the name has no ":", the path starts with "/").
    const volumes = p.list('volume').map((v) => {
      const i = v.indexOf(':');
      if (i < 1) throw new UserError(`--volume takes NAME:/PATH (a named volume and where it is mounted in the container), got "${v}"`);
      return { name: v.slice(0, i), path: v.slice(i + 1) };
    });
    const every = p.number('checkpoint-every');
    const spec = valid(ServiceSpec, {
      name,
      runtime,
      image,
      command: p.rest,
      // A container starts in its image's WorkingDir unless told otherwise.
      cwd: p.str('cwd') || (runtime === 'process' ? process.cwd() : undefined),
      env,
      port,
      hooks: { preRestore: p.str('pre-restore') || undefined, postCheckpoint: p.str('post-checkpoint') || undefined },
      encryptImages: p.bool('encrypt'),
      memoryLimitMiB: p.number('memory-limit'),
      restart: p.str('restart') !== undefined ? jsonOption(p, 'restart') : undefined,
      checkpoint: every !== undefined ? { everySeconds: every, keep: p.number('checkpoint-keep') } : undefined,
      keep: p.list('keep'),
      volumes,
      user: p.str('user'),
    }, 'service spec');
    const host = valid(HostName, p.str('host'), '--host');
    const r = await ops.deploy({ spec, host });
    if (p.bool('json')) print(r, true);
    else print(`deployed ${r.service} on ${r.host} (pid ${r.pid}${r.endpoint ? `, answers on ${r.endpoint}` : ''})`, false);
    return 0;
  },
};
