// The benchmark's statistics: medians and spreads over repeated runs.
import { round, spread } from '../bench/stats';

describe('bench statistics', () => {
  it('takes the middle value of an odd count and the mean of the two middle ones of an even count', () => {
    expect(spread([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, n: 3 });
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
  });

  it('reports an empty series as NaN with n = 0', () => {
    const s = spread([]);
    expect(s.n).toBe(0);
    expect(Number.isNaN(s.median)).toBe(true);
  });

  it('does not reorder its input', () => {
    const xs = [3, 1, 2];
    spread(xs);
    expect(xs).toEqual([3, 1, 2]);
  });

  it('rounds to the given digits', () => {
    expect(round(1.2345, 2)).toBe(1.23);
    expect(round(2.25)).toBe(2.3);
  });
});
