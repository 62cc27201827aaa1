import { initDevice, Rng } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignValue, BatchNorm2d, ExponentialMovingAverage } from '../src/index.js';

beforeAll(async () => {
  await initDevice();
});

describe('ExponentialMovingAverage', () => {
  it('follows ema ← ema + (1 − decay)(p − ema) of parameters and running statistics, as float64 does; copies at first and for integers', async () => {
    const decay = 0.9;
    const live = new BatchNorm2d(5);
    const avg = new BatchNorm2d(5);
    const ema = new ExponentialMovingAverage(live, avg, decay);
    const rng = new Rng(11);
    const keys = ['weight', 'bias', 'running_mean', 'running_var'];
    const ref = new Map<string, Float64Array>();
    for (let step = 0; step < 6; step++) {
      // New "trained" values each step, scattered widely so that rounding shows.
      const state = live.stateDict();
      for (const k of keys) {
        const v = Float32Array.from({ length: 5 }, () => (rng.uniform() - 0.5) * 10 ** (step % 3));
        assignValue(state.get(k)!, { dtype: 'f32', shape: [5], data: v });
        const r = ref.get(k);
        if (!r) ref.set(k, Float64Array.from(v));
        else for (let i = 0; i < 5; i++) r[i] += (1 - decay) * (v[i] - r[i]);
      }
      assignValue(state.get('num_batches_tracked')!, {
        dtype: 'i32',
        shape: [],
        data: Int32Array.of(step + 7),
      });
      ema.update();
    }
    expect(ema.numUpdates).toBe(6);
    const got = avg.stateDict();
    for (const k of keys) {
      const g = (await got.get(k)!.data()) as Float32Array;
      const r = ref.get(k)!;
      for (let i = 0; i < 5; i++)
        expect(Math.abs(g[i] - r[i]), k).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(r[i])));
    }
    expect(Array.from((await got.get('num_batches_tracked')!.data()) as Int32Array)).toEqual([12]);
    expect(() => new ExponentialMovingAverage(live, avg, 1)).toThrow(/decay 1/);
    expect(() => new ExponentialMovingAverage(live, new BatchNorm2d(4), 0.9)).toThrow(/no f32\[5\] "weight"/);
    live.dispose();
    avg.dispose();
  });
});
