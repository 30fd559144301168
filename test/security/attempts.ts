// Every bad input a security test tries is recorded here; `npm run test:security` sums them up.
import fs from 'fs';
import path from 'path';
import { fastmigHome } from '../../common/config';

export const ATTEMPTS_FILE = path.join(fastmigHome(), 'security-attempts.jsonl');

/** Runs one bad input; `rejected` says whether it was refused cleanly. Records and returns it. */
export async function tryBadInput(name: string, run: () => Promise<boolean>): Promise<boolean> {
  let rejected: boolean;
  try {
    rejected = await run();
  } catch (err) {
    rejected = false;
    name += ` (threw ${err instanceof Error ? err.message : String(err)})`;
  }
  fs.mkdirSync(path.dirname(ATTEMPTS_FILE), { recursive: true });
  fs.appendFileSync(ATTEMPTS_FILE, JSON.stringify({ name, rejected }) + '\n');
  return rejected;
}
