// `fastmig stack up|down|status`: the embedded dev stack (stack/), with its state printed.
import { UserError } from '../client';
import { stackDown, stackStatus, stackUp } from '../stack';
import { formatLinkRate, parseLinkRate } from '../stack/link';
import { Command, flag, text } from './args';
import { print, say } from './output';

function userInput<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new UserError(err instanceof Error ? err.message : String(err));
  }
}

export const stack: Command = {
  options: { hosts: text, link: text, json: flag },
  async run(p) {
    const sub = p.positional[0];
    if (sub !== 'up' && p.str('link') !== undefined) throw new UserError('--link goes with `stack up` only (e.g. fastmig stack up --link 100mbit)');
    if (sub === 'up') {
      const link = p.str('link');
      // `--link none` removes the shaping; no --link keeps what the last `stack up` set.
      const linkBps = link === undefined ? undefined : link === 'none' ? null : userInput(() => parseLinkRate(link));
      await stackUp({ hosts: p.str('hosts')?.split(',').filter(Boolean), linkBps }, say);
      return 0;
    }
    if (sub === 'down') {
      await stackDown(say);
      return 0;
    }
    if (sub === 'status') {
      const st = await stackStatus();
      if (p.bool('json')) print(st ?? { up: false }, true);
      else if (!st) print('stack: never started (run `fastmig stack up`)', false);
      else {
        print(`stack: ${st.up ? 'up' : 'DOWN'}  Temporal ${st.temporalAddress} (${st.temporal ? 'up' : 'down'}), UI ${st.uiUrl}, S3 ${st.s3Endpoint} (${st.s3 ? 'up' : 'down'})`, false);
        print(`orchestrator: ${st.orchestrator ? `pid ${st.orchestrator}` : 'down'}`, false);
        print(`HTTP API ${st.apiUrl}: ${st.api ? `pid ${st.api}` : 'down'}`, false);
        print(`hosts' network ${st.network.subnet ?? 'missing'} (bridge ${st.network.bridge}), control plane ${st.network.control ?? 'missing'}`, false);
        for (const h of st.hostStatus) {
          const link = h.linkBps ? `link ${formatLinkRate(h.linkBps)}` : 'link unshaped';
          print(`host ${h.host} ${h.address ?? '(no address)'}: agent ${h.agent ? `pid ${h.agent}` : 'down'}, container engine ${h.engine ? 'up' : 'down'}, ${link}`, false);
        }
      }
      return st?.up ? 0 : 1;
    }
    throw new UserError(`unknown stack command "${sub ?? ''}": use stack up, stack down or stack status`);
  },
};
