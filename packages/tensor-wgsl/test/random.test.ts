import { describe, expect, it } from 'vitest';
import { Rng } from '../src/index.js';

function moments(v: number[]) {
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  const variance = v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length;
  const sd = Math.sqrt(variance);
  const skew = v.reduce((s, x) => s + ((x - m) / sd) ** 3, 0) / v.length;
  const kurt = v.reduce((s, x) => s + ((x - m) / sd) ** 4, 0) / v.length;
  return { m, variance, skew, kurt };
}

describe('Rng', () => {
  it('produces the xoshiro128** sequence of its splitmix32 seeding (checked against an independent implementation)', () => {
    // Saved experiments rely on these exact streams: a change here changes every seeded run.
    const expected: Record<number, number[]> = {
      0: [3809008728, 1133695204, 53579671, 2891528803, 139681546],
      42: [2837322924, 544945897, 479756282, 3500138142, 339756180],
      4294967295: [835879718, 1921286648, 2356205009, 1885780724, 980451116],
    };
    for (const [seed, values] of Object.entries(expected)) {
      const rng = new Rng(Number(seed));
      expect(values.map(() => rng.nextUint32())).toEqual(values);
    }
  });

  it('is reproducible for a seed and differs between seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const sa = Array.from({ length: 50 }, () => a.uniform());
    expect(Array.from({ length: 50 }, () => b.uniform())).toEqual(sa);
    expect(Array.from({ length: 50 }, () => c.uniform())).not.toEqual(sa);
  });

  it('getState/setState resume the stream, including a pending normal value, also through JSON', () => {
    const rng = new Rng(3);
    rng.normal(); // leaves the second Box–Muller value pending
    const state = rng.getState();
    const next = [rng.normal(), rng.normal(), rng.uniform(), rng.nextUint32()];
    const resumed = new Rng(999);
    resumed.setState(state);
    expect([resumed.normal(), resumed.normal(), resumed.uniform(), resumed.nextUint32()]).toEqual(next);
    // A checkpoint stores the state as JSON (NaN, "no pending value", becomes null).
    const fresh = new Rng(4);
    const json = JSON.parse(JSON.stringify(fresh.getState())) as number[];
    const want = [fresh.normal(), fresh.uniform()];
    const back = new Rng(0);
    back.setState(json);
    expect([back.normal(), back.uniform()]).toEqual(want);
    const withSpare = new Rng(5);
    withSpare.normal();
    const json2 = JSON.parse(JSON.stringify(withSpare.getState())) as number[];
    const spare = withSpare.normal();
    const back2 = new Rng(0);
    back2.setState(json2);
    expect(back2.normal()).toBe(spare);
    expect(() => back.setState([1, 2, 3])).toThrow(/expected 5 numbers/);
  });

  it('uniform, range and int stay in range with the right moments', () => {
    const rng = new Rng(11);
    const u = Array.from({ length: 40000 }, () => rng.uniform());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const mu = moments(u);
    // Standard errors for 4·10^4 samples: mean 0.0014, variance 0.0004.
    expect(Math.abs(mu.m - 0.5)).toBeLessThan(0.006);
    expect(Math.abs(mu.variance - 1 / 12)).toBeLessThan(0.002);
    const r = Array.from({ length: 5000 }, () => rng.range(-3, -1));
    expect(Math.min(...r)).toBeGreaterThanOrEqual(-3);
    expect(Math.max(...r)).toBeLessThan(-1);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 7000; i++) counts[rng.int(7)]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });

  it('normal has mean 0, variance 1, no skew and kurtosis 3', () => {
    const rng = new Rng(12);
    const v = Array.from({ length: 40000 }, () => rng.normal());
    const mo = moments(v);
    expect(Math.abs(mo.m)).toBeLessThan(0.02);
    expect(Math.abs(mo.variance - 1)).toBeLessThan(0.03);
    expect(Math.abs(mo.skew)).toBeLessThan(0.05);
    expect(Math.abs(mo.kurt - 3)).toBeLessThan(0.1);
    expect(v.every(Number.isFinite)).toBe(true);
  });

  it('shuffle is a reproducible permutation', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const a = new Rng(1).shuffle([...items]);
    const b = new Rng(1).shuffle([...items]);
    expect(a).toEqual(b);
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    expect(a).not.toEqual(items);
  });
});
