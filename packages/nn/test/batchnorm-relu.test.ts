/**
 * batchNorm2d's fused ReLU and Sequential's use of it: the fused call must give bit for bit what BN followed by
 * ReLU gives (values, gradients, running statistics), with relu'(0) = 0, and in fewer dispatches.
 */
import { initDevice, Rng, relu, runtime, type Tensor, tensor, zeros } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BatchNorm2dOptions, batchNorm2d } from '../src/functional/batchnorm.js';
import { BatchNorm2d } from '../src/layers/batchnorm.js';
import { Conv2d } from '../src/layers/conv.js';
import { Sequential } from '../src/layers/sequential.js';
import { ReLU, Sigmoid } from '../src/layers/simple.js';
import { assignValue } from '../src/module.js';
import { checkOp } from './check.js';
import { values } from './helpers.js';
import { batchNormRef } from './reference.js';

beforeAll(async () => {
  await initDevice();
});

const XS = [2, 3, 3, 4];
const N_EL = XS.reduce((a, b) => a * b, 1);
const HW = XS[2] * XS[3];

/**
 * Input whose channel 0 has mean exactly 0 and holds exact zeros, so that with β = 0 some pre-activations are
 * exactly 0 (the ReLU boundary) in training; the other channels are random.
 */
function input(): Float32Array {
  const v = Float32Array.from(values(N_EL, 5), (t) => 2 * t);
  for (let n = 0; n < XS[0]; n++)
    for (let i = 0; i < HW; i++) v[n * 3 * HW + i] = [-1, 0, 1, 0.5, 0, -0.5][(n * HW + i) % 6];
  return v;
}

const GAMMA = [1.5, -0.7, 0.9];
const BETA = [0, 0.2, -0.3];

type Values = Float32Array | Int32Array;

interface Run {
  y: Values;
  dx: Values;
  dGamma: Values | null;
  dBeta: Values | null;
  running: Values[];
  tracked: number | null;
}

/** batchNorm2d with the fused ReLU, or followed by the ReLU op, on fresh copies of the same inputs. */
async function run(
  fused: boolean,
  opts: { training: boolean; affine: boolean; running: boolean; momentum?: number | null },
): Promise<Run> {
  const x = tensor(input(), XS, { requiresGrad: true });
  const w = opts.affine ? tensor(GAMMA, [3], { requiresGrad: true }) : null;
  const b = opts.affine ? tensor(BETA, [3], { requiresGrad: true }) : null;
  const rm = opts.running ? tensor([0.1, -0.2, 0.3], [3]) : null;
  const rv = opts.running ? tensor([0.5, 1.2, 2], [3]) : null;
  const nbt = opts.running ? tensor(new Int32Array([3]), []) : null;
  const o: BatchNorm2dOptions = {
    training: opts.training,
    momentum: opts.momentum,
    numBatchesTracked: opts.training ? nbt : null,
  };
  const y = fused
    ? batchNorm2d(x, rm, rv, w, b, { ...o, activation: 'relu' })
    : relu(batchNorm2d(x, rm, rv, w, b, o));
  y.backward(tensor(Float32Array.from(values(N_EL, 9)), XS));
  return {
    y: await y.data(),
    dx: await x.grad!.data(),
    dGamma: w ? await w.grad!.data() : null,
    dBeta: b ? await b.grad!.data() : null,
    running: rm && rv ? [await rm.data(), await rv.data()] : [],
    tracked: nbt ? await nbt.item() : null,
  };
}

describe('batchNorm2d with activation relu', () => {
  const cases = [
    { training: true, affine: true, running: true },
    { training: true, affine: false, running: true },
    { training: true, affine: true, running: false },
    { training: true, affine: true, running: true, momentum: null },
    { training: false, affine: true, running: true },
    { training: false, affine: false, running: true },
  ];
  for (const c of cases)
    it(`equals BN then ReLU to the bit: ${JSON.stringify(c)}`, async () => {
      const fused = await run(true, c);
      const plain = await run(false, c);
      expect(fused.y).toEqual(plain.y);
      expect(fused.dx).toEqual(plain.dx);
      expect(fused.dGamma).toEqual(plain.dGamma);
      expect(fused.dBeta).toEqual(plain.dBeta);
      expect(fused.running).toEqual(plain.running);
      expect(fused.tracked).toBe(plain.tracked);
      if (c.training && c.running) expect(fused.tracked).toBe(4);
      expect(Math.min(...fused.y)).toBe(0);
    });

  it("relu'(0) = 0: pre-activations exactly 0 pass no gradient", async () => {
    // Batch statistics of channel 0 are mean 0 and β = 0 there, so x = 0 gives a pre-activation of exactly 0.
    const v = input();
    const x = tensor(v, XS, { requiresGrad: true });
    const w = tensor(GAMMA, [3], { requiresGrad: true });
    const b = tensor(BETA, [3], { requiresGrad: true });
    const dyv = Float32Array.from(values(N_EL, 9));
    batchNorm2d(x, null, null, w, b, { training: true, activation: 'relu' }).backward(tensor(dyv, XS));
    let dBeta0 = 0;
    let ties = 0;
    for (let n = 0; n < XS[0]; n++)
      for (let i = 0; i < HW; i++) {
        const j = n * 3 * HW + i;
        if (v[j] > 0) dBeta0 += dyv[j];
        if (v[j] === 0) ties++;
      }
    expect(ties).toBeGreaterThan(0);
    expect((await b.grad!.data())[0]).toBeCloseTo(dBeta0, 5);

    // Eval: dx = γ·invstd·dy where the pre-activation is > 0 and exactly 0 elsewhere, ties included.
    const xe = tensor(v, XS, { requiresGrad: true });
    const rm = tensor([0, 0.1, -0.1], [3]);
    const rv = tensor([1, 1, 1], [3]);
    batchNorm2d(xe, rm, rv, null, null, { training: false, activation: 'relu' }).backward(tensor(dyv, XS));
    const dx = await xe.grad!.data();
    for (let n = 0; n < XS[0]; n++)
      for (let i = 0; i < HW; i++) {
        const j = n * 3 * HW + i;
        if (v[j] <= 0) expect(dx[j], `dx[${j}] at x = ${v[j]}`).toBe(0);
        else expect(dx[j]).not.toBe(0);
      }
  });

  it('training against a float64 reference, finite differences', async () => {
    const xs = [2, 3, 3, 3];
    await checkOp(
      'batch_norm2d relu train',
      [
        { name: 'x', shape: xs },
        { name: 'weight', shape: [3] },
        { name: 'bias', shape: [3] },
      ],
      ([x, w, b]) => batchNorm2d(x, null, null, w, b, { training: true, activation: 'relu' }),
      ([x, w, b]) => batchNormRef(x, xs, w, b, 1e-5).map((t) => Math.max(t, 0)),
      { h: 1e-5 },
    );
  });

  it('eval against a float64 reference, finite differences', async () => {
    const xs = [2, 2, 3, 4];
    const mean = [0.3, -0.2];
    const variance = [0.5, 1.7];
    await checkOp(
      'batch_norm2d relu eval',
      [
        { name: 'x', shape: xs },
        { name: 'weight', shape: [2] },
        { name: 'bias', shape: [2] },
      ],
      ([x, w, b]) =>
        batchNorm2d(x, tensor(mean, [2]), tensor(variance, [2]), w, b, {
          training: false,
          activation: 'relu',
        }),
      ([x, w, b]) => batchNormRef(x, xs, w, b, 1e-5, { mean, var: variance }).map((t) => Math.max(t, 0)),
    );
  });

  it('rejects an unknown activation', () => {
    expect(() =>
      batchNorm2d(zeros([2, 1, 2, 2]), null, null, null, null, {
        training: true,
        activation: 'gelu' as 'relu',
      }),
    ).toThrow(/unknown activation 'gelu'/);
  });
});

/** Conv2d → BatchNorm2d → ReLU with the same weights each time it is made. */
function block(momentum: number | null = 0.1): [Conv2d, BatchNorm2d, ReLU] {
  const bn = new BatchNorm2d(4, { momentum });
  // A negative γ turns some channels' ReLU mask around.
  assignValue(bn.weight!, tensor([1.2, -0.5, 0.8, 1], [4]));
  return [new Conv2d(3, 4, 3, { padding: 1, bias: false, rng: new Rng(3) }), bn, new ReLU()];
}

interface BlockRun {
  y: Values;
  grads: Values[];
  state: Map<string, Values>;
  dispatches: number;
}

async function runBlock(
  modules: [Conv2d, BatchNorm2d, ReLU],
  forward: (x: Tensor) => Tensor,
  training: boolean,
): Promise<BlockRun> {
  const [conv, bn] = modules;
  for (const m of modules) m.training = training;
  const x = tensor(Float32Array.from(values(2 * 3 * 5 * 6, 21)), [2, 3, 5, 6], { requiresGrad: true });
  const dy = tensor(Float32Array.from(values(2 * 4 * 5 * 6, 22)), [2, 4, 5, 6]);
  const rt = runtime();
  const before = rt.counters.dispatches;
  const y = forward(x);
  y.backward(dy);
  const dispatches = rt.counters.dispatches - before;
  const state = new Map<string, Values>();
  for (const [k, t] of new Sequential(...modules).stateDict()) state.set(k, await t.data());
  return {
    y: await y.data(),
    grads: [
      await x.grad!.data(),
      await conv.weight.grad!.data(),
      await (bn.weight as Tensor).grad!.data(),
      await (bn.bias as Tensor).grad!.data(),
    ],
    state,
    dispatches,
  };
}

describe('Sequential fuses BatchNorm2d → ReLU', () => {
  for (const training of [true, false])
    for (const momentum of training ? [0.1, null] : [0.1])
      it(`same output, gradients and state as the modules one by one (training ${training}, momentum ${momentum})`, async () => {
        const a = block(momentum);
        const b = block(momentum);
        const seq = new Sequential(...a);
        const fused = await runBlock(a, (x) => seq.forward(x), training);
        const plain = await runBlock(b, (x) => b[2].forward(b[1].forward(b[0].forward(x))), training);
        expect(fused.y).toEqual(plain.y);
        for (const [i, g] of fused.grads.entries()) expect(g, `gradient ${i}`).toEqual(plain.grads[i]);
        // Same keys (module.test.ts pins them to PyTorch's) and values.
        expect([...fused.state.keys()]).toEqual([...plain.state.keys()]);
        expect(fused.state).toEqual(plain.state);
        expect(fused.state.get('1.num_batches_tracked')![0]).toBe(training ? 1 : 0);
        // One ReLU kernel fewer in forward and one in backward.
        expect(fused.dispatches).toBe(plain.dispatches - 2);
      });

  it('runs unfused neighbours as before and keeps children iterable', async () => {
    const x = tensor(Float32Array.from(values(2 * 2 * 2 * 2, 31)), [2, 2, 2, 2]);
    // BN last, BN before another activation, ReLU without a BN in front.
    const seq = new Sequential(new ReLU(), new BatchNorm2d(2), new Sigmoid(), new BatchNorm2d(2));
    let expected = x;
    for (const m of seq.children()) expected = (m as ReLU).forward(expected);
    expect(await seq.forward(x).data()).toEqual(await expected.data());
    expect(seq.length).toBe(4);
    expect(seq.at(1)).toBeInstanceOf(BatchNorm2d);
  });

  it('does not fuse a BatchNorm2d subclass that overrides forward', async () => {
    class Shifted extends BatchNorm2d {
      override forward(x: Tensor): Tensor {
        return super.forward(x).add(-10);
      }
    }
    const x = tensor(Float32Array.from(values(2 * 2 * 2 * 2, 32)), [2, 2, 2, 2]);
    const y = await new Sequential(new Shifted(2), new ReLU()).forward(x).data();
    expect(Math.max(...y)).toBe(0);
  });
});
