// Where the benchmark runs a bare tree or a CRIU command: on this machine's loopback (the floor),
// or on a host of the embedded stack, in its network namespace and at its address, as its agent.
import { fastmigHome, readStackFile } from '../common/config';
import { hostProcessArgv } from '../stack/host-process';
import type { Place } from './criu-level';

/** A host of the stack as a place: its network namespace, its address (the mount view stays this machine's). */
export function hostPlace(host: string, home = fastmigHome()): Place {
  const address = readStackFile(home)?.hostAddresses[host];
  if (!address) throw new Error(`host ${host} has no address in the stack (is the stack up?)`);
  return { wrap: (cmd, args) => hostProcessArgv(home, host, cmd, args), address };
}
