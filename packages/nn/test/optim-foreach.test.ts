import { initDevice, keep, memory, runtime, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, AdamW, type OptimizerStateDict, SGD } from '../src/index.js';
import { values } from './helpers.js';

beforeAll(async () => {
  await initDevice();
});

interface Opt {
  step(): void;
  lr: number;
  foreach: boolean;
  maxTensorsPerDispatch: number;
  stateDict(): OptimizerStateDict;
}

function setGrad(p: Tensor, g: ArrayLike<number>): void {
  p.grad?.dispose();
  p.grad = keep(tensor(Float32Array.from(g), p.shape));
}

const bits = (x: ArrayLike<number>) => new Uint32Array(Float32Array.from(x).buffer);

async function expectSameBits(label: string, a: Tensor, b: Tensor): Promise<void> {
  const x = bits(await a.data());
  const y = bits(await b.data());
  expect(y.length, `${label}: length`).toBe(x.length);
  const at = x.findIndex((v, i) => v !== y[i]);
  expect(at, `${label}: first differing element ${at}`).toBe(-1);
}

interface Run {
  /** Parameters without a gradient in a step (so that per-parameter step counts differ). */
  skip?: (step: number, param: number) => boolean;
  /** The learning rate before each step, as a schedule would set it. */
  lrs?: number[];
  cap?: number;
  steps?: number;
  /** `foreach` of the fused optimizer before each step (switching moves its state between layouts). */
  foreach?: (step: number) => boolean;
  /** Compare the state dicts after every step, not only at the end. */
  stateEveryStep?: boolean;
}

async function expectSameState(label: string, a: Opt, b: Opt): Promise<void> {
  const sa = a.stateDict();
  const sb = b.stateDict();
  expect(sb.steps, label).toEqual(sa.steps);
  expect([...sb.tensors.keys()], label).toEqual([...sa.tensors.keys()]);
  for (const [key, t] of sa.tensors) await expectSameBits(`${label}: state ${key}`, t, sb.tensors.get(key)!);
}

/**
 * Trains the same parameters with the per-tensor kernels and with the multi-tensor ones and expects every
 * parameter and every state tensor to agree bit for bit after each step.
 */
async function expectFusedMatches(sizes: number[], make: (ps: Tensor[]) => Opt, run: Run = {}) {
  const build = () =>
    sizes.map((n, k) => keep(tensor(Float32Array.from(values(n, 100 + k)), [n], { requiresGrad: true })));
  const ref = build();
  const fused = build();
  const a = make(ref);
  a.foreach = false;
  const b = make(fused);
  expect(b.foreach).toBe(true);
  if (run.cap !== undefined) b.maxTensorsPerDispatch = run.cap;
  const steps = run.steps ?? 4;
  for (let s = 0; s < steps; s++) {
    if (run.lrs) {
      a.lr = run.lrs[s];
      b.lr = run.lrs[s];
    }
    sizes.forEach((n, k) => {
      for (const p of [ref[k], fused[k]]) {
        if (run.skip?.(s, k)) {
          p.grad?.dispose();
          p.grad = null;
        } else setGrad(p, values(n, 7 + 1000 * s + k));
      }
    });
    if (run.foreach) b.foreach = run.foreach(s);
    a.step();
    b.step();
    for (let k = 0; k < sizes.length; k++) await expectSameBits(`step ${s + 1} param ${k}`, ref[k], fused[k]);
    if (run.stateEveryStep) await expectSameState(`step ${s + 1}`, a, b);
  }
  await expectSameState('end', a, b);
  // Guards against a vacuous pass: the parameters did move.
  const moved = await fused[0].data();
  expect(Array.from(moved)).not.toEqual(Array.from(Float32Array.from(values(sizes[0], 100))));
}

const sizes = [5, 300, 1, 64, 257, 9, 2, 1000, 3];
const skip = (s: number, k: number) => (k % 3 === 1 && s === 0) || (k === 4 && s === 2);
const lrs = [0.01, 0.02, 0.005, 0.001];

describe('multi-tensor optimizer updates are bit-identical to the per-tensor kernels', () => {
  it('Adam: weight decay, maximize; skipped parameters; lr changes between steps', async () => {
    await expectFusedMatches(sizes, (ps) => new Adam(ps, { weightDecay: 0.1, betas: [0.8, 0.95] }), {
      skip,
      lrs,
    });
    await expectFusedMatches(sizes, (ps) => new Adam(ps, { lr: 0.03, maximize: true, eps: 1e-4 }));
  });

  it('Adam with amsgrad', async () => {
    await expectFusedMatches(sizes, (ps) => new Adam(ps, { lr: 0.05, amsgrad: true, weightDecay: 0.01 }), {
      skip,
    });
  });

  it('AdamW with amsgrad off and on', async () => {
    await expectFusedMatches(sizes, (ps) => new AdamW(ps, { lr: 0.05, weightDecay: 0.2 }), { skip, lrs });
    await expectFusedMatches(sizes, (ps) => new AdamW(ps, { lr: 0.05, amsgrad: true }), { skip });
  });

  it('SGD: Nesterov, momentum with dampening, momentum 0, maximize', async () => {
    await expectFusedMatches(sizes, (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true }), {
      skip,
      lrs,
    });
    await expectFusedMatches(
      sizes,
      (ps) => new SGD(ps, { lr: 0.1, momentum: 0.7, dampening: 0.3, weightDecay: 0.05 }),
      { skip },
    );
    await expectFusedMatches(sizes, (ps) => new SGD(ps, { lr: 0.1, weightDecay: 0.01, maximize: true }), {
      skip,
      lrs,
    });
  });

  it('parameter groups with different hyper-parameters', async () => {
    await expectFusedMatches(
      sizes,
      (ps) =>
        new AdamW(
          [
            { params: ps.slice(0, 4) },
            { params: ps.slice(4), options: { lr: 0.2, weightDecay: 0, betas: [0.5, 0.6] } },
          ],
          { lr: 0.01 },
        ),
      { skip },
    );
    await expectFusedMatches(
      sizes,
      (ps) =>
        new SGD([{ params: ps.slice(0, 5), options: { momentum: 0 } }, { params: ps.slice(5) }], {
          lr: 0.1,
          momentum: 0.9,
        }),
    );
  });

  it('more parameters than fit in one dispatch, with the group size forced down', async () => {
    const many = Array.from({ length: 23 }, (_, k) => 1 + ((k * 37) % 50));
    for (const cap of [1, 2, 3]) {
      await expectFusedMatches(many, (ps) => new Adam(ps, { lr: 0.01, amsgrad: true }), { cap, skip });
      await expectFusedMatches(many, (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9 }), { cap, steps: 2 });
    }
    await expectFusedMatches(many, (ps) => new AdamW(ps, { lr: 0.01 }), { skip, steps: 3 });
  });

  it('switching foreach between steps moves the state; state dicts are refreshed copies', async () => {
    const on = (s: number) => s !== 2 && s !== 3;
    await expectFusedMatches(sizes, (ps) => new Adam(ps, { lr: 0.01, amsgrad: true }), {
      skip,
      foreach: on,
      steps: 6,
    });
    await expectFusedMatches(sizes, (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.1 }), {
      skip,
      foreach: (s) => s % 2 === 1,
      steps: 5,
      stateEveryStep: true,
    });
  });

  it('state dict copies of flat state are freed by the next step: GPU memory stays flat across checkpoints', async () => {
    const ps = [5, 600, 1].map((n) => keep(tensor(new Float32Array(n).fill(1), [n], { requiresGrad: true })));
    const opt = new Adam(ps, { amsgrad: true });
    const stepOnce = () => {
      for (const p of ps) setGrad(p, new Float32Array(p.size).fill(0.25));
      opt.step();
    };
    stepOnce();
    const live = memory().liveBuffers;
    const sd = opt.stateDict();
    expect(sd.tensors.size).toBe(9);
    expect(Array.from(await sd.tensors.get('1.exp_avg')!.data())).not.toEqual(new Array(600).fill(0));
    stepOnce();
    expect(memory().liveBuffers).toBe(live);
    expect(sd.tensors.get('1.exp_avg')!.disposed).toBe(true);
  });

  it('state dicts load across the two layouts and training continues identically', async () => {
    const n = [7, 300, 1];
    const mk = () =>
      n.map((m, k) => keep(tensor(Float32Array.from(values(m, 50 + k)), [m], { requiresGrad: true })));
    const grads = (ps: Tensor[], s: number) => {
      ps.forEach((p, k) => {
        setGrad(p, values(p.size, 900 + 10 * s + k));
      });
    };
    const pa = mk();
    const a = new AdamW(pa, { lr: 0.02, amsgrad: true });
    a.foreach = false;
    const pb = mk();
    const b = new AdamW(pb, { lr: 0.02, amsgrad: true });
    for (const s of [0, 1]) {
      grads(pa, s);
      grads(pb, s);
      a.step();
      b.step();
    }
    // Per-parameter state into a flat optimizer, and flat state into a per-parameter one.
    const copyOf = async (ps: Tensor[]) =>
      Promise.all(ps.map(async (p) => keep(tensor(await p.data(), p.shape, { requiresGrad: true }))));
    const pc = await copyOf(pa);
    const c = new AdamW(pc, { lr: 0.5 });
    c.loadStateDict(a.stateDict());
    const pd = await copyOf(pb);
    const d = new AdamW(pd, { lr: 0.5 });
    d.foreach = false;
    d.loadStateDict(b.stateDict());
    for (const s of [2, 3]) {
      for (const ps of [pa, pb, pc, pd]) grads(ps, s);
      for (const o of [a, b, c, d]) o.step();
    }
    for (let k = 0; k < n.length; k++) {
      await expectSameBits(`flat-loaded param ${k}`, pa[k], pc[k]);
      await expectSameBits(`per-parameter-loaded param ${k}`, pa[k], pd[k]);
      await expectSameBits(`flat param ${k}`, pa[k], pb[k]);
    }
    await expectSameState('loaded into flat', a, c);
    await expectSameState('loaded into per-parameter', a, d);
  });

  it('tensors of 1 and 10,000 elements in the same dispatch', async () => {
    const mixed = [1, 10_000, 1, 10_000];
    await expectFusedMatches(mixed, (ps) => new Adam(ps, { lr: 0.01, weightDecay: 0.1 }), { skip });
    await expectFusedMatches([10_000, 1, 3, 10_000, 1], (ps) => new SGD(ps, { lr: 0.1, momentum: 0.5 }));
    const dispatches = await dispatchesPerStep(mixed, (ps) => new Adam(ps, { lr: 0.01 }));
    expect(dispatches).toBe(1);
  });

  it('a long run of parameters without gradients splits the dispatch instead of idling threads over it', async () => {
    const frozen = [3, 70_000, 5];
    const skipMiddle = (_: number, k: number) => k === 1;
    await expectFusedMatches(frozen, (ps) => new Adam(ps, { lr: 0.01 }), { skip: skipMiddle, steps: 2 });
    expect(await dispatchesPerStep(frozen, (ps) => new Adam(ps), undefined, [1])).toBe(2);
    expect(await dispatchesPerStep(frozen, (ps) => new Adam(ps))).toBe(1);
  });
});

async function dispatchesPerStep(
  sizes: number[],
  make: (ps: Tensor[]) => Opt,
  cap?: number,
  withoutGrad: number[] = [],
) {
  const ps = sizes.map((n) => keep(tensor(new Float32Array(n).fill(1), [n], { requiresGrad: true })));
  const opt = make(ps);
  if (cap !== undefined) opt.maxTensorsPerDispatch = cap;
  const grads = () => {
    ps.forEach((p, k) => {
      if (!withoutGrad.includes(k)) setGrad(p, new Float32Array(p.size).fill(0.5));
    });
  };
  // The first step also creates the state tensors; count the second.
  grads();
  opt.step();
  grads();
  const before = runtime().counters.dispatches;
  opt.step();
  const count = runtime().counters.dispatches - before;
  await ps[0].data();
  return count;
}

describe('dispatches per step', () => {
  it('⌈N / G⌉ for N parameters, G from the storage-buffer limit or the forced bound', async () => {
    const limit = runtime().limits.maxStorageBuffersPerShaderStage;
    // Each parameter takes one binding; the flat gradients and state buffers one each per dispatch.
    const fit = (flatBuffers: number) => Math.min(32, limit - flatBuffers);
    const n = 31;
    const small = Array.from({ length: n }, (_, k) => 3 + k);
    const cases: [string, number, (ps: Tensor[]) => Opt][] = [
      ['Adam', 3, (ps) => new Adam(ps)],
      ['Adam amsgrad', 4, (ps) => new Adam(ps, { amsgrad: true })],
      ['AdamW', 3, (ps) => new AdamW(ps)],
      ['SGD momentum', 2, (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9 })],
      ['SGD', 1, (ps) => new SGD(ps, { lr: 0.1 })],
    ];
    for (const [label, flatBuffers, make] of cases) {
      expect(fit(flatBuffers), `${label}: the test needs more than one dispatch`).toBeLessThan(n);
      expect(await dispatchesPerStep(small, make), label).toBe(Math.ceil(n / fit(flatBuffers)));
      expect(await dispatchesPerStep(small, make, 2), `${label}, 2 a dispatch`).toBe(Math.ceil(n / 2));
      const perTensorPath = (ps: Tensor[]) => {
        const o = make(ps);
        o.foreach = false;
        return o;
      };
      expect(await dispatchesPerStep(small, perTensorPath), `${label}, foreach off`).toBe(n);
    }
  });
});

describe('restart', () => {
  it('makes the next step a first step again, in place, with either layout', async () => {
    for (const foreach of [true, false]) {
      const sizes = [300, 7];
      const make = () =>
        sizes.map((n, k) => keep(tensor(Float32Array.from(values(n, 40 + k)), [n], { requiresGrad: true })));
      const grads = sizes.map((n, k) => values(n, 60 + k));
      const [used, fresh] = [make(), make()];
      const a = new Adam(used, { lr: 0.01 });
      const b = new Adam(fresh, { lr: 0.01 });
      a.foreach = foreach;
      b.foreach = foreach;
      for (let s = 0; s < 3; s++) {
        for (const [k, p] of used.entries()) setGrad(p, values(sizes[k], 80 + s));
        a.step();
      }
      const buffersBefore = [...a.stateDict().tensors.keys()];
      a.restart();
      // From the same parameters, one step of the restarted optimizer is a fresh optimizer's first.
      for (const [k, p] of fresh.entries()) runtime().copyBuffer(used[k].buffer, 0, p.buffer, 0, p.size * 4);
      for (const [k, p] of used.entries()) setGrad(p, grads[k]);
      for (const [k, p] of fresh.entries()) setGrad(p, grads[k]);
      a.step();
      b.step();
      for (const [k, p] of used.entries())
        await expectSameBits(`foreach ${foreach}: param ${k}`, p, fresh[k]);
      await expectSameState(`foreach ${foreach}`, a, b);
      expect([...a.stateDict().tensors.keys()]).toEqual(buffersBefore);
      for (const p of [...used, ...fresh]) p.dispose();
      a.dispose();
      b.dispose();
    }
  });
});
