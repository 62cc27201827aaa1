import { initDevice, mean, Rng, randn, scope, sigmoid, sub, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Adam,
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  clipGradNorm,
  MaxPool2d,
  manualSeed,
  ReLU,
  Sequential,
} from '../src/index.js';

beforeAll(async () => {
  await initDevice();
});

describe('a tiny training loop', () => {
  it('lowers the loss of a small encoder-decoder on a synthetic segmentation task', async () => {
    manualSeed(3);
    const model = new Sequential(
      new Conv2d(1, 4, 3, { padding: 1, bias: false }),
      new BatchNorm2d(4),
      new ReLU(),
      new MaxPool2d(2),
      new ConvTranspose2d(4, 4, 2, { stride: 2 }),
      new ReLU(),
      new Conv2d(4, 1, 1),
    );
    const rng = new Rng(5);
    // Target: pixels brighter than 0.3 (a thresholding the network can learn).
    const x = randn([4, 1, 8, 8], rng);
    const xv = await x.data();
    const target = tensor(
      Float32Array.from(xv, (v) => (v > 0.3 ? 1 : 0)),
      [4, 1, 8, 8],
    );
    const opt = new Adam(model.parameters(), { lr: 0.03 });
    const losses: number[] = [];
    for (let step = 0; step < 40; step++) {
      const loss = scope(() => {
        opt.zeroGrad();
        const d = sub(sigmoid(model.forward(x)), target);
        const l = mean(d.mul(d));
        l.backward();
        clipGradNorm(model.parameters(), 5);
        opt.step();
        return l.detach();
      }) as Tensor;
      losses.push(await loss.item());
      loss.dispose();
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(0.5 * losses[0]);
    expect(await (model.at(1) as BatchNorm2d).numBatchesTracked!.item()).toBe(40);
  });
});
