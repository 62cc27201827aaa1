import { initDevice, noGrad, Rng, relu, runtime, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchNorm2d } from '../src/functional/batchnorm.js';
import { conv2dBatchNormEval } from '../src/functional/conv-bn.js';
import { conv2d } from '../src/functional/conv2d.js';
import { BatchNorm2d } from '../src/layers/batchnorm.js';
import { Conv2d } from '../src/layers/conv.js';
import { Sequential } from '../src/layers/sequential.js';
import { ReLU } from '../src/layers/simple.js';
import { assignValue } from '../src/module.js';
import { relL2, up, values } from './helpers.js';

beforeAll(async () => {
  await initDevice();
});

describe('conv2d + eval BatchNorm (+ ReLU) folded into one kernel', () => {
  for (const affine of [true, false])
    for (const convBias of [true, false])
      for (const withRelu of [true, false])
        it(`equals the ops in sequence (affine ${affine}, conv bias ${convBias}, relu ${withRelu})`, async () => {
          const x = up(values(2 * 3 * 7 * 9, 1), [2, 3, 7, 9]);
          const w = up(values(5 * 3 * 3 * 3, 2), [5, 3, 3, 3]);
          const b = convBias ? up(values(5, 3), [5]) : null;
          const mean = up(values(5, 4), [5]);
          const variance = up(
            Array.from(values(5, 5), (v) => 0.5 + Math.abs(v)),
            [5],
          );
          const gamma = affine ? up(values(5, 6), [5]) : null;
          const beta = affine ? up(values(5, 7), [5]) : null;
          const eps = 1e-3;
          const before = runtime().counters.dispatches;
          const fused = noGrad(() =>
            conv2dBatchNormEval(
              x,
              w,
              b,
              { runningMean: mean, runningVar: variance, weight: gamma, bias: beta, eps },
              { padding: 1, relu: withRelu },
            ),
          );
          // The fold and the convolution.
          expect(runtime().counters.dispatches - before).toBe(2);
          const ref = noGrad(() => {
            const y = batchNorm2d(conv2d(x, w, b, { padding: 1 }), mean, variance, gamma, beta, {
              training: false,
              eps,
            });
            return withRelu ? relu(y) : y;
          });
          const got = await fused.data();
          const want = await ref.data();
          expect(relL2(got, want)).toBeLessThan(1e-6);
          if (withRelu) {
            expect(Math.min(...got)).toBe(0);
            // Signs agree wherever the unfused value is not within rounding of zero.
            for (let i = 0; i < got.length; i++)
              if (Math.abs(want[i]) > 1e-5) expect(got[i] > 0).toBe(want[i] > 0);
          }
        });

  it('refuses to run where a gradient is wanted, and checks the BatchNorm shapes', () => {
    const x = up(values(1 * 2 * 4 * 4, 1), [1, 2, 4, 4], true);
    const w = up(values(3 * 2 * 3 * 3, 2), [3, 2, 3, 3]);
    const bn = {
      runningMean: up([0, 0, 0], [3]),
      runningVar: up([1, 1, 1], [3]),
      weight: null,
      bias: null,
      eps: 1e-5,
    };
    expect(() => conv2dBatchNormEval(x, w, null, bn)).toThrow(/conv2d_batch_norm_eval.*noGrad/);
    expect(() =>
      noGrad(() => conv2dBatchNormEval(x, w, null, { ...bn, runningMean: up([0, 0], [2]) })),
    ).toThrow(/running_mean .* must be f32 \[3\]/);
  });

  /** Conv2d (with bias) → BatchNorm2d with non-trivial running statistics [→ ReLU], the same each time. */
  function layers(withRelu: boolean): (Conv2d | BatchNorm2d | ReLU)[] {
    const conv = new Conv2d(3, 4, 3, { padding: 1, rng: new Rng(9) });
    const bn = new BatchNorm2d(4);
    assignValue(bn.weight!, tensor([1.2, -0.5, 0.8, 1], [4]));
    assignValue(bn.bias!, tensor([0.1, 0.2, -0.3, 0], [4]));
    assignValue(bn.runningMean!, tensor([0.05, -0.1, 0.2, 0], [4]));
    assignValue(bn.runningVar!, tensor([0.5, 2, 1.5, 0.8], [4]));
    return withRelu ? [conv, bn, new ReLU()] : [conv, bn];
  }

  for (const withRelu of [true, false])
    it(`Sequential folds Conv2d → eval BatchNorm2d${withRelu ? ' → ReLU' : ''} at inference only`, async () => {
      const x = tensor(Float32Array.from(values(2 * 3 * 6 * 5, 41)), [2, 3, 6, 5]);
      const a = layers(withRelu);
      const b = layers(withRelu);
      const seq = new Sequential(...a);
      const oneByOne = (t: Tensor) => b.reduce((y, m) => m.forward(y), t);
      seq.eval();
      for (const m of b) m.training = false;
      const rt = runtime();
      let before = rt.counters.dispatches;
      const folded = noGrad(() => seq.forward(x));
      const foldedDispatches = rt.counters.dispatches - before;
      before = rt.counters.dispatches;
      const plain = noGrad(() => oneByOne(x));
      const plainDispatches = rt.counters.dispatches - before;
      expect(relL2(await folded.data(), await plain.data())).toBeLessThan(1e-6);
      // The fold and the convolution, against the convolution, the statistics, the normalisation (and ReLU).
      expect(foldedDispatches).toBe(2);
      expect(plainDispatches).toBe(withRelu ? 4 : 3);
      // Where a gradient is wanted, or in training, the modules run as they are: the same values exactly.
      const xg = tensor(Float32Array.from(values(2 * 3 * 6 * 5, 41)), [2, 3, 6, 5], { requiresGrad: true });
      expect(await seq.forward(xg).data()).toEqual(await oneByOne(xg).data());
      seq.train();
      for (const m of b) m.training = true;
      expect(await noGrad(() => seq.forward(x)).data()).toEqual(await noGrad(() => oneByOne(x)).data());
    });
});
