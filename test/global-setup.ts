// Brings the real stack up once before the suite (reusing it when it already runs).
import { stackUp } from '../stack';

export default async function globalSetup(): Promise<void> {
  await stackUp({}, (line) => process.stderr.write(`[stack] ${line}\n`));
}
