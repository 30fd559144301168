// Rules of this network namespace's INPUT and OUTPUT chains, as `iptables -S` prints them, and their
// removal: how the daemon finds and lifts drops it did not add itself (CRIU's connection locks).
import { run } from './run';

/** The rules of INPUT and OUTPUT (`-A <chain> …`) that `match` picks; `PATH` finds iptables. */
export async function listedRules(match: (rule: string) => boolean, PATH: string): Promise<string[]> {
  const out: string[] = [];
  for (const chain of ['INPUT', 'OUTPUT']) {
    const r = await run('iptables', ['-w', '-S', chain], { timeoutMs: 10_000, env: { PATH } });
    out.push(...r.stdout.split('\n').filter((l) => l.startsWith(`-A ${chain} `) && match(l)));
  }
  return out;
}

/** Deletes a rule as listedRules gave it (a rule gone meanwhile is no error). */
export async function deleteRule(rule: string, PATH: string): Promise<void> {
  await run('iptables', ['-w', '-D', ...rule.slice(3).split(' ')], { timeoutMs: 10_000, env: { PATH } });
}
