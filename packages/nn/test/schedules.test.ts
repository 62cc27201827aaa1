import { initDevice, keep, tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CosineWarmupLR,
  ExponentialLR,
  MultiStepLR,
  PolyLR,
  ReduceLROnPlateau,
  SGD,
  StepLR,
} from '../src/index.js';

beforeAll(async () => {
  await initDevice();
});

const opt = (lr = 1) => new SGD([keep(tensor([0], [1], { requiresGrad: true }))], { lr });

function trace(s: { step(): void; lastLr: number[] }, n: number): number[] {
  const out = [s.lastLr[0]];
  for (let i = 0; i < n; i++) {
    s.step();
    out.push(s.lastLr[0]);
  }
  return out;
}

const close = (a: number[], b: number[]) => {
  for (const [i, v] of a.entries()) expect(v, `epoch ${i}`).toBeCloseTo(b[i], 12);
};

describe('learning-rate schedules (values as torch.optim.lr_scheduler gives them)', () => {
  it('StepLR, MultiStepLR, ExponentialLR', () => {
    close(trace(new StepLR(opt(), 2, 0.5), 5), [1, 1, 0.5, 0.5, 0.25, 0.25]);
    close(trace(new MultiStepLR(opt(), [3, 1], 0.1), 4), [1, 0.1, 0.1, 0.01, 0.01]);
    close(trace(new ExponentialLR(opt(2), 0.9), 3), [2, 1.8, 1.62, 1.458]);
  });

  it('cosine with linear warm-up', () => {
    const s = new CosineWarmupLR(opt(1), { warmupSteps: 2, totalSteps: 6, minLr: 0.1 });
    const cos = (t: number) => 0.1 + (0.9 * (1 + Math.cos(Math.PI * t))) / 2;
    close(trace(s, 7), [0, 0.5, 1, cos(0.25), cos(0.5), cos(0.75), 0.1, 0.1]);
  });

  it('polynomial (nnU-Net: (1 − epoch/max)^0.9)', () => {
    close(trace(new PolyLR(opt(0.01), 4), 5), [
      0.01,
      0.01 * 0.75 ** 0.9,
      0.01 * 0.5 ** 0.9,
      0.01 * 0.25 ** 0.9,
      0,
      0,
    ]);
  });

  it('ReduceLROnPlateau: patience, threshold, cooldown, minLr', () => {
    const o = opt(1);
    const s = new ReduceLROnPlateau(o, { patience: 1, factor: 0.5, cooldown: 1, minLr: 0.2 });
    const lrs = [10, 9, 9, 9, 9, 9, 9, 9].map((metric) => {
      s.step(metric);
      return o.lr;
    });
    // Bad epochs: 9 improves; then 1 bad (≤ patience), 2 bad → halve; cooldown 1 epoch; 2 more bad → halve; …
    expect(lrs).toEqual([1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]);
    for (let i = 0; i < 6; i++) s.step(9);
    expect(o.lr).toBe(0.2);
    const max = new ReduceLROnPlateau(opt(1), { mode: 'max', patience: 0, threshold: 0.1 });
    max.step(1);
    max.step(1.05); // not 10 % better
    expect(max.lastLr[0]).toBeCloseTo(0.1, 12);
  });

  it('state dicts restore the position', () => {
    const a = new StepLR(opt(1), 2, 0.5);
    a.step();
    a.step();
    a.step();
    const b = new StepLR(opt(1), 2, 0.5);
    b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
    expect(b.lastLr).toEqual(a.lastLr);
    b.step();
    expect(b.lastLr[0]).toBe(0.25);
    const p = new ReduceLROnPlateau(opt(1));
    p.step(3);
    const q = new ReduceLROnPlateau(opt(1));
    q.loadStateDict(JSON.parse(JSON.stringify(p.stateDict())));
    expect(q.best).toBe(3);
    const fresh = new ReduceLROnPlateau(opt(1));
    const r = new ReduceLROnPlateau(opt(1));
    r.loadStateDict(JSON.parse(JSON.stringify(fresh.stateDict())));
    expect(r.best).toBe(Number.POSITIVE_INFINITY);
    expect(() => b.loadStateDict(p.stateDict())).toThrow(/state is for ReduceLROnPlateau/);
  });
});
