import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Adam, Conv2d, diceLoss } from '@mriseg/nn';
import {
  add,
  assertFinite,
  flip,
  initDevice,
  mul,
  noGrad,
  Rng,
  rand,
  scope,
  sigmoid,
  type Tensor,
  tensor,
} from '@mriseg/tensor-wgsl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, MODEL_NAMES, predictVolume, sigmoidArray, UNetPlusPlus } from '../src/index.js';
import { loadModel, saveModel } from '../src/node.js';

let dir: string;
beforeAll(async () => {
  await initDevice();
  dir = mkdtempSync(join(tmpdir(), 'mriseg-models-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('architectures', () => {
  it('have the reference parameter counts at f = 32 and PyTorch key names', () => {
    const counts: Record<string, number> = {
      unet: 7_763_041,
      'attention-unet': 7_940_493,
      'unet++': 9_045_924,
    };
    const keys: Record<string, string[]> = {
      unet: [
        'encoder1.enc1conv1.weight',
        'encoder1.enc1norm1.num_batches_tracked',
        'bottleneck.bottleneckconv1.weight',
        'upconv4.bias',
        'decoder4.dec4conv2.weight',
        'conv.bias',
      ],
      'attention-unet': [
        'attention4.W_g.0.weight',
        'attention4.W_g.1.running_mean',
        'attention1.psi.0.bias',
        'attention1.psi.1.running_var',
      ],
      'unet++': ['x0_0.conv1.weight', 'x1_2.norm2.running_var', 'up0_4.weight', 'head4.bias'],
      resunet: [
        'encoder1.conv1.weight',
        'encoder1.shortcut.0.weight',
        'encoder1.shortcut.1.running_mean',
        'bottleneck.norm2.bias',
        'upconv1.weight',
        'decoder1.conv2.weight',
        'conv.weight',
      ],
    };
    for (const name of MODEL_NAMES) {
      const m = createModel(name, { features: 32, rng: new Rng(1) });
      if (counts[name]) expect(m.numParameters(), name).toBe(counts[name]);
      const sd = m.stateDict();
      for (const k of keys[name]) expect(sd.has(k), `${name}: ${k}`).toBe(true);
      m.dispose();
    }
  });

  it('rejects unknown names and bad options, and accepts aliases', () => {
    expect(() => createModel('segnet')).toThrow(
      /unknown model "segnet".*unet, attention-unet, unet\+\+, resunet/,
    );
    expect(() => createModel('unet', { features: 0 })).toThrow(/features = 0/);
    const m = createModel('nested-unet', { features: 2 });
    expect(m.architecture).toBe('unet++');
    m.dispose();
  });

  it('every model maps a batch to logits of the input size, in and out channels configurable', async () => {
    for (const name of MODEL_NAMES) {
      const m = createModel(name, { features: 2, inChannels: 1, outChannels: 2, rng: new Rng(3) });
      const y = scope(() => noGrad(() => m.eval().forward(rand([1, 1, 32, 48], new Rng(4)))));
      expect(y.shape, name).toEqual([1, 2, 32, 48]);
      expect((await y.data()).every(Number.isFinite)).toBe(true);
      y.dispose();
      m.dispose();
    }
  });

  it('UNet++ returns every head with deep supervision, one without, and infers from the last head or the mean', async () => {
    const x = rand([1, 3, 16, 16], new Rng(5));
    const ds = new UNetPlusPlus({ features: 2, rng: new Rng(6) });
    const heads = scope(() => noGrad(() => ds.eval().forwardHeads(x)));
    expect(heads.length).toBe(4);
    const last = scope(() => noGrad(() => ds.forward(x)));
    expect(Array.from(await last.data())).toEqual(Array.from(await heads[3].data()));
    const meanModel = new UNetPlusPlus({ features: 2, rng: new Rng(6), inference: 'mean' });
    const mean = scope(() => noGrad(() => meanModel.eval().forward(x)));
    const h = await Promise.all(heads.map((t) => t.data()));
    const got = await mean.data();
    for (const [i, v] of got.entries()) expect(v).toBeCloseTo((h[0][i] + h[1][i] + h[2][i] + h[3][i]) / 4, 5);
    const single = new UNetPlusPlus({ features: 2, rng: new Rng(6), deepSupervision: false });
    const one = scope(() => noGrad(() => single.eval().forwardHeads(x)));
    expect(one.length).toBe(1);
    expect(Array.from(await one[0].data())).toEqual(Array.from(await heads[3].data()));
    for (const t of [x, last, mean, ...heads, ...one]) t.dispose();
    for (const m of [ds, meanModel, single]) m.dispose();
  });

  it('a few Adam steps lower the Dice loss of each model on a fixed batch', async () => {
    const rng = new Rng(8);
    const x = rand([2, 3, 16, 16], rng, -1, 1);
    const mask = new Float32Array(2 * 16 * 16).map((_, i) =>
      i % 16 > 5 && i % 16 < 11 && (i >> 4) % 16 > 4 ? 1 : 0,
    );
    const y = tensor(mask, [2, 1, 16, 16]);
    for (const name of MODEL_NAMES) {
      const m = createModel(name, { features: 2, rng: new Rng(9) }).train();
      const opt = new Adam(m.parameters(), { lr: 1e-2 });
      const losses: number[] = [];
      for (let step = 0; step < 8; step++) {
        const l = scope(() => {
          opt.zeroGrad();
          const outs = m.forwardHeads(x);
          let loss: Tensor = diceLoss(outs[0], y);
          for (let k = 1; k < outs.length; k++) loss = add(loss, diceLoss(outs[k], y));
          loss = mul(loss, 1 / outs.length);
          loss.backward();
          opt.step();
          return loss;
        });
        losses.push(await l.item());
        l.dispose();
      }
      expect(losses[7], `${name}: ${losses.map((v) => v.toFixed(3)).join(' ')}`).toBeLessThan(
        losses[0] - 0.02,
      );
      opt.zeroGrad();
      opt.dispose();
      m.dispose();
    }
    x.dispose();
    y.dispose();
  });
});

describe('predictVolume', () => {
  const D = 5;
  const vol = {
    data: new Float32Array(D * 3 * 16 * 16).map((_, i) => Math.sin(i * 0.37)),
    shape: [D, 3, 16, 16] as const,
  };

  it('gives the sigmoid of the eval-mode logits for every slice, whatever the batch size, and keeps the mode', async () => {
    const m = createModel('unet', { features: 2, rng: new Rng(11) });
    m.train();
    const a = await predictVolume(m, vol, { batchSize: 2 });
    const b = await predictVolume(m, vol, { batchSize: 16 });
    expect(m.training).toBe(true);
    expect(a.length).toBe(D * 16 * 16);
    for (const [i, v] of a.entries()) expect(v).toBeCloseTo(b[i], 6);
    m.eval();
    const logits = scope(() => noGrad(() => m.forward(tensor(vol.data, [...vol.shape]))));
    const want = sigmoidArray((await logits.data()) as Float32Array);
    for (const [i, v] of a.entries()) expect(v).toBeCloseTo(want[i], 5);
    logits.dispose();
    const progress: number[] = [];
    await predictVolume(m, vol, { batchSize: 2, onProgress: (done) => progress.push(done) });
    expect(progress).toEqual([2, 4, 5]);
    m.dispose();
  });

  it('flip TTA averages the prediction with the un-flipped prediction of the flipped input', async () => {
    const m = createModel('unet', { features: 2, rng: new Rng(12) }).eval();
    const tta = await predictVolume(m, vol, { tta: 'hflip' });
    const x = tensor(vol.data, [...vol.shape]);
    const want = scope(() =>
      noGrad(() => mul(add(sigmoid(m.forward(x)), flip(sigmoid(m.forward(flip(x, 3))), 3)), 0.5)),
    );
    const w = await want.data();
    for (const [i, v] of tta.entries()) expect(v).toBeCloseTo(w[i], 5);
    await expect(predictVolume(m, { data: new Float32Array(3), shape: [1, 3, 2, 2] })).rejects.toThrow(
      /3 values for shape \[1, 3, 2, 2\]/,
    );
    for (const t of [x, want]) t.dispose();
    m.dispose();
  });
});

describe('misuse gives clear errors', () => {
  it('an input that is not a multiple of 16, or has the wrong channels, is refused before the forward pass', () => {
    for (const name of MODEL_NAMES) {
      const m = createModel(name, { features: 2, rng: new Rng(3) });
      const x = tensor(new Float32Array(3 * 24 * 24), [1, 3, 24, 24]);
      expect(() => m.forward(x), name).toThrow(
        new RegExp(
          `^ShapeError|${name.replace('+', '\\+')}: input f32\\[1, 3, 24, 24\\]: height 24 and width 24 must be multiples of 16`,
        ),
      );
      const g = tensor(new Float32Array(32 * 32), [1, 1, 32, 32]);
      expect(() => m.forwardHeads(g), name).toThrow(/must be \(batch, 3 channels, height, width\)/);
      for (const t of [x, g]) t.dispose();
      m.dispose();
    }
  });

  it('predictVolume refuses NaN input and NaN output (weights) by default; checkFinite: false lets them through', async () => {
    const m = createModel('unet', { features: 2, rng: new Rng(4) });
    const data = new Float32Array(2 * 3 * 16 * 16).fill(0.5);
    data[3 * 256 + 7] = Number.NaN;
    await expect(predictVolume(m, { data, shape: [2, 3, 16, 16] })).rejects.toThrow(
      /^predictVolume: the input holds NaN at slice 1 /,
    );
    // Unchecked, as a plain forward() is (PyTorch does not check either): whatever the kernels make of NaN.
    const through = await predictVolume(m, { data, shape: [2, 3, 16, 16] }, { checkFinite: false });
    expect(through.length).toBe(2 * 16 * 16);
    // assertFinite is the opt-in check on the GPU side.
    const x = tensor(data, [2, 3, 16, 16]);
    await expect(assertFinite(x, 'input')).rejects.toThrow(/input holds NaN/);
    x.dispose();
    // NaN in a weight: the input is finite, the probabilities are not.
    const conv = m.stateDict().get('conv.bias')!;
    m.loadStateDict(
      new Map([
        ['conv.bias', { dtype: 'f32', shape: [...conv.shape], data: new Float32Array([Number.NaN]) }],
      ]),
      {
        strict: false,
      },
    );
    data[3 * 256 + 7] = 0;
    await expect(predictVolume(m, { data, shape: [2, 3, 16, 16] })).rejects.toThrow(
      /unet gave NaN or infinite probabilities for slices 0\.\.1 of a finite input/,
    );
    m.dispose();
  });
});

describe('weights on disk', () => {
  it('saveModel/loadModel round-trips the architecture, options and every value exactly', async () => {
    for (const name of MODEL_NAMES) {
      const m = createModel(name, { features: 2, rng: new Rng(21) });
      const path = join(dir, `${name}.safetensors`);
      await saveModel(path, m, { epoch: 3, metrics: { dsc: 0.5 } });
      const back = loadModel(path);
      expect(back.architecture).toBe(m.architecture);
      expect(back.config()).toEqual(m.config());
      const a = m.stateDict();
      const b = back.stateDict();
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [k, t] of a)
        expect(Array.from(await b.get(k)!.data()), k).toEqual(Array.from(await t.data()));
      m.dispose();
      back.dispose();
    }
  });

  it('loadModel names the file and the problem', async () => {
    expect(() => loadModel(join(dir, 'missing.safetensors'))).toThrow(/missing\.safetensors.*cannot read/);
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, new Uint8Array([1, 2, 3]));
    expect(() => loadModel(junk)).toThrow(/junk\.safetensors/);
    const m = createModel('unet', { features: 2 });
    const path = join(dir, 'noconfig.safetensors');
    const { saveStateDictFile } = await import('@mriseg/nn/node');
    await saveStateDictFile(m, path);
    // A bare state dict is taken for the architecture its keys show; one of no known layout is an error.
    const bare = loadModel(path);
    expect(bare.config()).toEqual({ architecture: 'unet', inChannels: 3, outChannels: 1, features: 2 });
    bare.dispose();
    const other = join(dir, 'other.safetensors');
    const conv = new Conv2d(1, 1, 1);
    await saveStateDictFile(conv, other);
    conv.dispose();
    expect(() => loadModel(other)).toThrow(
      /other\.safetensors: the state dict matches none of mriseg's architectures.*it has bias, weight\); pass the model to loadStateDictFile/,
    );
    m.dispose();
  });
});
