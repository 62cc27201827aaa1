import { initDevice, noGrad, Rng, randn, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  Identity,
  MaxPool2d,
  Module,
  manualSeed,
  ReLU,
  Sequential,
  Sigmoid,
  StateDictError,
} from '../src/index.js';

beforeAll(async () => {
  await initDevice();
});

/** A block named like the reference U-Net's (`enc1conv1`, `enc1norm1`, …). */
class Block extends Module {
  readonly conv: Conv2d;
  readonly norm: BatchNorm2d;

  constructor(cin: number, cout: number, name: string) {
    super();
    this.conv = this.registerModule(`${name}conv1`, new Conv2d(cin, cout, 3, { padding: 1, bias: false }));
    this.norm = this.registerModule(`${name}norm1`, new BatchNorm2d(cout));
  }

  forward(x: Tensor): Tensor {
    return this.norm.forward(this.conv.forward(x)).relu();
  }
}

class Net extends Module {
  readonly encoder1 = this.registerModule('encoder1', new Block(3, 4, 'enc1'));
  readonly pool = this.registerModule('pool', new MaxPool2d(2));
  readonly upconv1 = this.registerModule('upconv1', new ConvTranspose2d(4, 2, 2, { stride: 2 }));
  readonly conv = this.registerModule('conv', new Conv2d(2, 1, 1));

  forward(x: Tensor): Tensor {
    return this.conv.forward(this.upconv1.forward(this.pool.forward(this.encoder1.forward(x))));
  }
}

describe('Module', () => {
  it('gives PyTorch keys in PyTorch order', () => {
    const seq = new Sequential(
      new Conv2d(3, 4, 3, { padding: 1, bias: false }),
      new BatchNorm2d(4),
      new ReLU(),
    );
    expect([...seq.stateDict().keys()]).toEqual([
      '0.weight',
      '1.weight',
      '1.bias',
      '1.running_mean',
      '1.running_var',
      '1.num_batches_tracked',
    ]);
    expect(seq.stateDict().get('1.num_batches_tracked')!.dtype).toBe('i32');
    expect(seq.stateDict().get('1.num_batches_tracked')!.shape).toEqual([]);
    const net = new Net();
    expect([...net.stateDict().keys()]).toEqual([
      'encoder1.enc1conv1.weight',
      'encoder1.enc1norm1.weight',
      'encoder1.enc1norm1.bias',
      'encoder1.enc1norm1.running_mean',
      'encoder1.enc1norm1.running_var',
      'encoder1.enc1norm1.num_batches_tracked',
      'upconv1.weight',
      'upconv1.bias',
      'conv.weight',
      'conv.bias',
    ]);
    expect(net.namedParameters().map(([k]) => k)).toEqual([
      'encoder1.enc1conv1.weight',
      'encoder1.enc1norm1.weight',
      'encoder1.enc1norm1.bias',
      'upconv1.weight',
      'upconv1.bias',
      'conv.weight',
      'conv.bias',
    ]);
    expect(net.namedBuffers().map(([k]) => k)).toEqual([
      'encoder1.enc1norm1.running_mean',
      'encoder1.enc1norm1.running_var',
      'encoder1.enc1norm1.num_batches_tracked',
    ]);
    expect(net.numParameters()).toBe(3 * 4 * 9 + 4 + 4 + 4 * 2 * 4 + 2 + 2 + 1);
    expect(net.parameters().every((p) => p.requiresGrad)).toBe(true);
  });

  it('train() and eval() reach every module', () => {
    const net = new Net();
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
  });

  it('initialises like PyTorch: weights and biases U(±1/√fan_in), reproducible for a seed', async () => {
    manualSeed(11);
    const conv = new Conv2d(8, 16, 3);
    const convT = new ConvTranspose2d(200, 6, 2, { stride: 2 });
    const check = async (t: Tensor, bound: number) => {
      const v = Array.from(await t.data());
      const maxAbs = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(maxAbs).toBeLessThanOrEqual(bound);
      if (v.length < 500) return;
      // Uniform: the largest of many draws is near the bound, and the variance is bound²/3.
      expect(maxAbs).toBeGreaterThan(0.98 * bound);
      const variance = v.reduce((s, x) => s + x * x, 0) / v.length;
      expect(Math.abs(variance / ((bound * bound) / 3) - 1)).toBeLessThan(0.15);
    };
    await check(conv.weight, 1 / Math.sqrt(8 * 9));
    await check(conv.bias!, 1 / Math.sqrt(8 * 9));
    // ConvTranspose2d's weight is [in, out, k, k]; PyTorch's fan-in is its dim 1 × k² = out·k².
    await check(convT.weight, 1 / Math.sqrt(6 * 4));
    await check(convT.bias!, 1 / Math.sqrt(6 * 4));
    manualSeed(11);
    const again = new Conv2d(8, 16, 3);
    expect(Array.from(await again.weight.data())).toEqual(Array.from(await conv.weight.data()));
    manualSeed(12);
    const other = new Conv2d(8, 16, 3);
    expect(Array.from(await other.weight.data())).not.toEqual(Array.from(await conv.weight.data()));
    const withRng = new Conv2d(8, 16, 3, { rng: new Rng(11) });
    const withRng2 = new Conv2d(8, 16, 3, { rng: new Rng(11) });
    expect(Array.from(await withRng.weight.data())).toEqual(Array.from(await withRng2.weight.data()));
  });

  it('loadStateDict copies values into the same tensors', async () => {
    const a = new Net();
    const b = new Net();
    const before = b.parameters();
    b.loadStateDict(a.stateDict());
    expect(b.parameters()).toEqual(before);
    for (const [k, t] of a.stateDict())
      expect(Array.from(await b.stateDict().get(k)!.data()), k).toEqual(Array.from(await t.data()));
  });

  it('loadStateDict lists missing, unexpected and mismatched keys with shapes', () => {
    const net = new Net();
    const sd = new Map(net.stateDict());
    sd.delete('conv.bias');
    sd.set('conv.extra', tensor([1, 2], [2]));
    sd.set('upconv1.weight', tensor(new Float32Array(4 * 2 * 3 * 3), [4, 2, 3, 3]));
    let err: StateDictError | null = null;
    try {
      net.loadStateDict(sd);
    } catch (e) {
      err = e as StateDictError;
    }
    expect(err).toBeInstanceOf(StateDictError);
    expect(err!.message).toContain('1 missing: conv.bias f32[1]');
    expect(err!.message).toContain('1 unexpected: conv.extra f32[2]');
    expect(err!.message).toContain(
      'upconv1.weight: module has f32[4, 2, 2, 2], state dict has f32[4, 2, 3, 3]',
    );
    expect(err!.missingKeys).toEqual(['conv.bias']);
    // Not strict: missing and unexpected keys are reported, not errors; mismatches still are.
    expect(() => net.loadStateDict(sd, { strict: false })).toThrow(/upconv1.weight/);
    sd.set('upconv1.weight', net.stateDict().get('upconv1.weight')!);
    expect(net.loadStateDict(sd, { strict: false })).toEqual({
      missingKeys: ['conv.bias'],
      unexpectedKeys: ['conv.extra'],
    });
    const wrongDtype = new Map(net.stateDict());
    wrongDtype.set('encoder1.enc1norm1.num_batches_tracked', tensor([3], []));
    expect(() => net.loadStateDict(wrongDtype)).toThrow(
      /num_batches_tracked: module has i32\[\], state dict has f32\[\]/,
    );
  });

  it('BatchNorm2d updates running statistics in training only, and uses them in eval', async () => {
    const bn = new BatchNorm2d(2);
    const x = randn([3, 2, 4, 5], new Rng(4), 2, 3);
    bn.forward(x);
    bn.forward(x);
    expect(await bn.numBatchesTracked!.item()).toBe(2);
    const rm = await bn.runningMean!.data();
    expect(rm[0]).not.toBe(0);
    bn.eval();
    const y = noGrad(() => bn.forward(x));
    expect(await bn.numBatchesTracked!.item()).toBe(2);
    expect(Array.from(await bn.runningMean!.data())).toEqual(Array.from(rm));
    const rv = await bn.runningVar!.data();
    const xv = await x.data();
    const yv = await y.data();
    // eval output = (x − running_mean)/√(running_var + eps) (weight 1, bias 0)
    expect(yv[0]).toBeCloseTo((xv[0] - rm[0]) / Math.sqrt(rv[0] + 1e-5), 5);
  });

  it('Sequential, Identity, Sigmoid, Dropout compose', async () => {
    const x = tensor([-1, 0, 2, 3], [1, 1, 2, 2]);
    const seq = new Sequential(new Identity(), new Sigmoid(), new Dropout(0.5));
    seq.eval();
    const y = await seq.forward(x).data();
    expect(y[2]).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    expect(seq.length).toBe(3);
    expect(seq.at(-1)).toBeInstanceOf(Dropout);
    expect(() => new Conv2d(3, 4, 3).registerParameter('a.b', tensor([1], [1]))).toThrow(/without dots/);
  });
});
