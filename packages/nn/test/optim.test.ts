import { initDevice, keep, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, AdamW, clipGradNorm, SGD } from '../src/index.js';
import { expectClose, golden, relL2, values } from './helpers.js';

beforeAll(async () => {
  await initDevice();
});

function setGrad(p: Tensor, g: ArrayLike<number>): void {
  p.grad?.dispose();
  p.grad = keep(tensor(Float32Array.from(g), p.shape));
}

/** torch.optim update rules in float64, for the variants the goldens do not cover. */
function sgdRef(
  p: number[],
  grads: number[][],
  o: { lr: number; momentum: number; dampening: number; wd: number; nesterov: boolean },
) {
  const x = [...p];
  let buf: number[] | null = null;
  for (const g of grads) {
    const d = g.map((v, i) => v + o.wd * x[i]);
    let step = d;
    if (o.momentum) {
      buf = buf ? buf.map((b, i) => o.momentum * b + (1 - o.dampening) * d[i]) : [...d];
      step = o.nesterov ? d.map((v, i) => v + o.momentum * buf![i]) : buf;
    }
    for (let i = 0; i < x.length; i++) x[i] -= o.lr * step[i];
  }
  return x;
}

function adamRef(
  p: number[],
  grads: number[][],
  o: {
    lr: number;
    b1: number;
    b2: number;
    eps: number;
    wd: number;
    amsgrad: boolean;
    decoupled: boolean;
    maximize?: boolean;
  },
) {
  const x = [...p];
  const m = x.map(() => 0);
  const v = x.map(() => 0);
  const vmax = x.map(() => 0);
  grads.forEach((g0, t0) => {
    const t = t0 + 1;
    for (let i = 0; i < x.length; i++) {
      let g = o.maximize ? -g0[i] : g0[i];
      if (o.decoupled) x[i] *= 1 - o.lr * o.wd;
      else g += o.wd * x[i];
      m[i] = o.b1 * m[i] + (1 - o.b1) * g;
      v[i] = o.b2 * v[i] + (1 - o.b2) * g * g;
      vmax[i] = Math.max(vmax[i], v[i]);
      const denom = Math.sqrt(o.amsgrad ? vmax[i] : v[i]) / Math.sqrt(1 - o.b2 ** t) + o.eps;
      x[i] -= (o.lr / (1 - o.b1 ** t)) * (m[i] / denom);
    }
  });
  return x;
}

describe('optimizers against float64 references', () => {
  const n = 50;
  const p0 = Array.from(values(n, 1));
  const grads = [2, 3, 4, 5].map((s) => Array.from(values(n, s)));
  const run = async (make: (p: Tensor) => { step(): void }) => {
    const p = keep(tensor(Float32Array.from(p0), [n], { requiresGrad: true }));
    const opt = make(p);
    for (const g of grads) {
      setGrad(p, g);
      opt.step();
    }
    return p.data();
  };

  it('SGD with momentum, dampening and weight decay; plain SGD', async () => {
    const o = { lr: 0.05, momentum: 0.8, dampening: 0.3, wd: 0.01, nesterov: false };
    const got = await run(
      (p) => new SGD([p], { lr: o.lr, momentum: o.momentum, dampening: o.dampening, weightDecay: o.wd }),
    );
    expect(relL2(got, sgdRef(p0, grads, o))).toBeLessThan(1e-6);
    const plain = await run((p) => new SGD([p], { lr: 0.1 }));
    expect(
      relL2(plain, sgdRef(p0, grads, { lr: 0.1, momentum: 0, dampening: 0, wd: 0, nesterov: false })),
    ).toBeLessThan(1e-6);
  });

  it('Adam with L2 weight decay and amsgrad; maximize', async () => {
    const o = { lr: 0.01, b1: 0.8, b2: 0.9, eps: 1e-6, wd: 0.1, amsgrad: true, decoupled: false };
    const got = await run(
      (p) => new Adam([p], { lr: o.lr, betas: [o.b1, o.b2], eps: o.eps, weightDecay: o.wd, amsgrad: true }),
    );
    expect(relL2(got, adamRef(p0, grads, o))).toBeLessThan(1e-6);
    const max = await run((p) => new Adam([p], { lr: 0.01, maximize: true }));
    const ref = adamRef(p0, grads, {
      lr: 0.01,
      b1: 0.9,
      b2: 0.999,
      eps: 1e-8,
      wd: 0,
      amsgrad: false,
      decoupled: false,
      maximize: true,
    });
    expect(relL2(max, ref)).toBeLessThan(1e-6);
  });

  it('parameter groups keep their own options; parameters without gradients are skipped', async () => {
    const a = keep(tensor([1, 2], [2], { requiresGrad: true }));
    const b = keep(tensor([3, 4], [2], { requiresGrad: true }));
    const c = keep(tensor([5, 6], [2], { requiresGrad: true }));
    const opt = new SGD([{ params: [a] }, { params: [b, c], options: { lr: 0.5 } }], { lr: 0.1 });
    setGrad(a, [1, 1]);
    setGrad(b, [1, 1]);
    opt.step();
    expect(Array.from(await a.data())).toEqual([0.9, 1.9].map(Math.fround));
    expect(Array.from(await b.data())).toEqual([2.5, 3.5]);
    expect(Array.from(await c.data())).toEqual([5, 6]);
    opt.zeroGrad();
    expect(a.grad).toBeNull();
    expect(() => new SGD([a, a], { lr: 1 })).toThrow(/more than one group/);
  });

  it('state dict round trip continues identically', async () => {
    const n2 = 20;
    const mk = () => keep(tensor(Float32Array.from(values(n2, 9)), [n2], { requiresGrad: true }));
    const p1 = mk();
    const o1 = new AdamW([p1], { lr: 0.01 });
    for (const s of [1, 2]) {
      setGrad(p1, values(n2, s));
      o1.step();
    }
    const p2 = keep(tensor(await p1.data(), [n2], { requiresGrad: true }));
    const o2 = new AdamW([p2], { lr: 0.5 });
    o2.loadStateDict(o1.stateDict());
    expect(o2.lr).toBe(0.01);
    expect(o2.stateDict().steps).toEqual({ 0: 2 });
    setGrad(p1, values(n2, 3));
    setGrad(p2, values(n2, 3));
    o1.step();
    o2.step();
    expect(Array.from(await p2.data())).toEqual(Array.from(await p1.data()));
    const sd = o1.stateDict();
    sd.tensors.delete('0.exp_avg_sq');
    expect(() => o2.loadStateDict(sd)).toThrow(/missing 0.exp_avg_sq/);
    expect(() => new SGD([p2], { lr: 1 }).loadStateDict(o1.stateDict())).toThrow(/state dict is for AdamW/);
  });
});

describe('clipGradNorm', () => {
  it('scales all gradients by maxNorm / total norm, like torch.nn.utils.clip_grad_norm_', async () => {
    const a = keep(tensor([0, 0, 0], [3], { requiresGrad: true }));
    const b = keep(tensor([0, 0], [2], { requiresGrad: true }));
    setGrad(a, [3, 0, 4]);
    setGrad(b, [0, 12]);
    const norm = clipGradNorm([a, b], 6.5);
    expect(await norm.item()).toBeCloseTo(13, 5);
    const f = 6.5 / (13 + 1e-6);
    const ga = await a.grad!.data();
    expect(ga[0]).toBeCloseTo(3 * f, 6);
    expect((await b.grad!.data())[1]).toBeCloseTo(12 * f, 5);
    // Under the limit: unchanged (coefficient clamped to 1).
    clipGradNorm([a, b], 100);
    expect((await a.grad!.data())[0]).toBeCloseTo(3 * f, 6);
    setGrad(a, [1, -7, 2]);
    const inf = clipGradNorm([a, b], 3.5, 'inf');
    expect(await inf.item()).toBeCloseTo(7, 5);
    expect((await a.grad!.data())[1]).toBeCloseTo(-3.5, 4);
  });
});

describe('optimizer goldens (three steps each)', () => {
  // The fixtures' step1 and step2 are aliases of the final parameter (the generator saved the live tensor, not
  // a copy: all three entries are equal), so the golden checks the state after three steps and the float64
  // reference above checks steps 1 and 2.
  for (const name of ['optim_adam', 'optim_adamw', 'optim_sgd_nesterov']) {
    it(name, async () => {
      const g = golden(`ops/${name}`);
      const m = g.meta;
      const p = keep(g.t('param', true));
      const lr = Number(m.lr);
      const wd = Number(m.weight_decay ?? 0);
      const p0 = Array.from(g.get('param'));
      const grads = [1, 2, 3].map((k) => Array.from(g.get(`grad${k}`)));
      let opt: { step(): void };
      let ref: (k: number) => number[];
      if (m.optim === 'sgd') {
        const o = { lr, momentum: Number(m.momentum), dampening: 0, wd, nesterov: m.nesterov === 'true' };
        opt = new SGD([p], { lr, momentum: o.momentum, nesterov: o.nesterov, weightDecay: wd });
        ref = (k) => sgdRef(p0, grads.slice(0, k), o);
      } else {
        const [b1, b2] = JSON.parse(m.betas) as [number, number];
        const decoupled = m.optim === 'adamw';
        const o = { lr, b1, b2, eps: Number(m.eps), wd, amsgrad: false, decoupled };
        opt = new (decoupled ? AdamW : Adam)([p], { lr, betas: [b1, b2], eps: o.eps, weightDecay: wd });
        ref = (k) => adamRef(p0, grads.slice(0, k), o);
      }
      for (let k = 1; k <= 3; k++) {
        setGrad(p, grads[k - 1]);
        opt.step();
        await expectClose(`${name} step${k} vs float64 reference`, p, ref(k), 1e-5);
      }
      await expectClose(`${name} after 3 steps vs golden`, p, g.get('step3'), 1e-5);
    });
  }
});
