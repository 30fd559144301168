// `fastmig stack up|down|status`: the embedded dev stack (stack/), with its state printed.
import { UserError } from '../client';
import { stackDown, stackStatus, stackUp } from '../stack';
import { Command, flag, text } from './args';
import { print, say } from './output';

export const stack: Command = {
  options: { hosts: text, json: flag },
  async run(p) {
    const sub = p.positional[0];
    if (sub === 'up') {
      await stackUp(p.str('hosts')?.split(',').filter(Boolean), say);
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
        for (const [h, pid] of Object.entries(st.agents)) print(`agent ${h}: ${pid ? `pid ${pid}` : 'down'}, container engine ${st.engines[h] ? 'up' : 'down'}`, false);
      }
      return st?.up ? 0 : 1;
    }
    throw new UserError(`unknown stack command "${sub ?? ''}": use stack up, stack down or stack status`);
  },
};
