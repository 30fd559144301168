// Helpers that fill the demo key-value service with state and check it afterwards.
import { Endpoint, httpText } from './probe';

export function demoValue(i: number): string {
  return `value-${i}-${(i * 2654435761) % 1000003}`;
}

export async function writeKeys(endpoint: Endpoint, count: number): Promise<number> {
  for (let start = 0; start < count; start += 250) {
    const batch: Record<string, string> = {};
    for (let i = start; i < Math.min(count, start + 250); i++) batch[`key-${i}`] = demoValue(i);
    const r = await httpText(endpoint, 'POST', '/bulk', JSON.stringify(batch));
    if (r.status !== 200) throw new Error(`writing keys failed: ${r.status} ${r.text}`);
  }
  return count;
}

/** Reads every key back one by one; returns how many hold the value written. */
export async function verifyKeys(endpoint: Endpoint, count: number): Promise<number> {
  let good = 0;
  for (let i = 0; i < count; i++) {
    const r = await httpText(endpoint, 'GET', `/kv/key-${i}`);
    if (r.status === 200 && r.text === demoValue(i)) good++;
  }
  return good;
}

export async function requestCount(endpoint: Endpoint): Promise<number> {
  return Number((await httpText(endpoint, 'GET', '/count')).text);
}
