// `fastmig agent --host <name> [--address <ip>]`: a host agent in the foreground, for a machine of
// its own (a systemd unit runs exactly this) and for every host of the embedded stack. Everything
// else comes from configuration: the environment, or the secrets and stack files of FASTMIG_HOME
// (Temporal address and namespace, S3 endpoint, bucket and keys, the cluster key).
import net from 'net';
import { UserError } from '../client';
import { loadConfig } from '../common/config';
import { HostName } from '../common/schemas';
import { Command, text, valid } from './args';

/** What an agent cannot work without, each named by the setting that gives it. */
function missingSettings(): string[] {
  let cfg;
  try {
    cfg = loadConfig();
  } catch (err) {
    throw new UserError(err instanceof Error ? err.message : String(err));
  }
  return [
    ...(cfg.clusterKey ? [] : ['FASTMIG_CLUSTER_KEY (64 hex digits, the same on every host)']),
    ...(cfg.s3.accessKey ? [] : ['FASTMIG_S3_ACCESS_KEY']),
    ...(cfg.s3.secretKey ? [] : ['FASTMIG_S3_SECRET_KEY']),
  ];
}

export const agent: Command = {
  options: { host: text, address: text },
  async run(p) {
    if (p.positional.length) throw new UserError(`agent takes no arguments, got ${p.positional.join(' ')} (usage: fastmig agent --host <name> [--address <ip>])`);
    const name = p.str('host');
    if (name === undefined) throw new UserError('agent needs --host <name>: the name this host has in the cluster');
    const host = valid(HostName, name, '--host');
    const address = p.str('address');
    if (address !== undefined && !net.isIP(address)) {
      throw new UserError(`--address takes the IP address other agents reach this host on (e.g. 10.0.0.12), got "${address}"`);
    }
    const missing = missingSettings();
    if (missing.length) throw new UserError(`the agent's configuration lacks ${missing.join(', ')}: set them in the environment (see README, "Run on several machines")`);
    // Loaded only here: the rest of the CLI does not need the worker's packages.
    const { runAgent } = await import('../agent/main');
    await runAgent({ host, address });
    return 0;
  },
};
