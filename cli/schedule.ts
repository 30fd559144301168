// `fastmig schedule`: migrations on a cron schedule (Temporal Schedules).
import { UserError, ops } from '../client';
import { MigrateInput, ScheduleName } from '../common/schemas';
import { Command, flag, text, valid } from './args';
import { print } from './output';
import { migrateFields } from './services';

const USAGE = 'usage: fastmig schedule create <name> --cron "<expr>" migrate <service> --to <host> [--mode warm|cold|lazy] [--on-lazy-failure resume-source|stop]';

export const schedule: Command = {
  options: { cron: text, to: text, mode: text, 'on-lazy-failure': text, json: flag },
  async run(p) {
    const [sub, name, action, service] = p.positional;
    const json = p.bool('json');
    const scheduleName = () => valid(ScheduleName, name, 'schedule name');
    if (sub === 'create') {
      if (action !== 'migrate' || !service) throw new UserError(USAGE);
      const cron = p.str('cron');
      if (!cron) throw new UserError('schedule create needs --cron "<expr>", e.g. --cron "0 3 * * *"');
      const input = valid(MigrateInput, migrateFields(p, service), 'migrate');
      const r = await ops.schedules.create(scheduleName(), cron, input);
      if (json) print(r, true);
      else print(`schedule ${r.name}: migrate ${r.service} to ${r.to} (${r.mode}) at "${r.cron}"`, false);
      return 0;
    }
    if (sub === 'list') {
      const list = await ops.schedules.list();
      if (json) print(list, true);
      else for (const s of list) print(`${s.name}\t${s.paused ? 'paused' : 'active'}\t${s.cron.join(' | ')}\tmigrate ${s.service} → ${s.to} (${s.mode ?? 'warm'})\tnext ${s.next ?? '-'}`, false);
      return 0;
    }
    const actions: Record<string, (n: string) => Promise<unknown>> = {
      pause: ops.schedules.pause,
      unpause: ops.schedules.unpause,
      trigger: ops.schedules.trigger,
      delete: ops.schedules.delete,
    };
    if (!actions[sub]) throw new UserError(`unknown schedule command "${sub ?? ''}": use create, list, pause, unpause, trigger or delete`);
    await actions[sub](scheduleName());
    if (json) print({ name, done: sub }, true);
    else print(`schedule ${name}: ${sub} done`, false);
    return 0;
  },
};
