// The client side of the test services that count what they wrote (demo/journal-service.ts,
// test/services/sqlite-service.py): GET /count and GET /verify on their endpoint.

export async function get(endpoint: string, route: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://${endpoint}${route}`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, text: await r.text() };
}

/** Waits (30 s at most) until the service has counted at least `n`; returns its count. */
export async function countAtLeast(endpoint: string, n: number): Promise<number> {
  const until = Date.now() + 30_000;
  for (;;) {
    const c = Number((await get(endpoint, '/count').catch(() => ({ text: '0' }))).text);
    if (c >= n) return c;
    if (Date.now() > until) throw new Error(`${endpoint} counted ${c} within 30 s, expected ${n}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
