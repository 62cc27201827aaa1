import { concat, initDevice, noGrad, Rng, runtime, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2d, conv2dConcat } from '../src/functional/conv2d.js';
import { BatchNorm2d } from '../src/layers/batchnorm.js';
import { Conv2d } from '../src/layers/conv.js';
import { Sequential } from '../src/layers/sequential.js';
import { ReLU } from '../src/layers/simple.js';
import { assignValue } from '../src/module.js';
import { relL2, values } from './helpers.js';

beforeAll(async () => {
  await initDevice();
});

const make = (shape: readonly number[], seed: number, requiresGrad = true): Tensor =>
  tensor(
    Float32Array.from(
      values(
        shape.reduce((a, b) => a * b),
        seed,
      ),
    ),
    shape,
    { requiresGrad },
  );

async function grads(ts: Tensor[]): Promise<(Float32Array | null)[]> {
  return Promise.all(ts.map(async (t) => (t.grad ? ((await t.grad.data()) as Float32Array) : null)));
}

describe('conv2dConcat: a convolution over a channel concatenation read in place', () => {
  const cases = [
    { label: '2 parts, 3×3 p1', parts: [3, 5], stride: 1, padding: 1, bias: false, frozen: [] as number[] },
    {
      label: '5 parts, stride 2, bias',
      parts: [2, 1, 3, 2, 4],
      stride: 2,
      padding: 1,
      bias: true,
      frozen: [],
    },
    { label: '3 parts, one without grad', parts: [4, 2, 3], stride: 1, padding: 0, bias: true, frozen: [1] },
  ];
  for (const c of cases)
    it(`equals conv2d(concat(xs)) in value and every gradient (${c.label})`, async () => {
      const C = c.parts.reduce((a, b) => a + b, 0);
      const mk = () => c.parts.map((ch, i) => make([2, ch, 7, 6], 10 + i, !c.frozen.includes(i)));
      const xa = mk();
      const xb = mk();
      const wa = make([5, C, 3, 3], 3);
      const wb = make([5, C, 3, 3], 3);
      const ba = c.bias ? make([5], 4) : null;
      const bb = c.bias ? make([5], 4) : null;
      const o = { stride: c.stride, padding: c.padding };
      const before = runtime().counters.dispatches;
      const ya = conv2dConcat(xa, wa, ba, o);
      // One kernel: no concatenation made.
      expect(runtime().counters.dispatches - before).toBe(1);
      const yb = conv2d(concat(xb, 1), wb, bb, o);
      expect(ya.shape).toEqual(yb.shape);
      expect(relL2(await ya.data(), await yb.data())).toBeLessThan(1e-6);
      const dy = make(ya.shape, 99, false);
      ya.backward(dy);
      yb.backward(dy);
      const [ga, gb] = [
        await grads([...xa, wa, ...(ba ? [ba] : [])]),
        await grads([...xb, wb, ...(bb ? [bb] : [])]),
      ];
      for (const [i, g] of ga.entries()) {
        if (gb[i] === null) expect(g, `gradient ${i}`).toBeNull();
        else expect(relL2(g!, gb[i]!), `gradient ${i}`).toBeLessThan(1e-6);
      }
      for (const i of c.frozen) expect(xa[i].grad).toBeNull();
    });

  it('names the op and the shapes when parts do not fit together', () => {
    const a = make([2, 3, 8, 8], 1);
    const w = make([4, 5, 3, 3], 2);
    expect(() => conv2dConcat([a, make([2, 2, 8, 7], 3)], w)).toThrow(
      /conv2d_concat: inputs \[2, 3, 8, 8\], \[2, 2, 8, 7\] must agree/,
    );
    expect(() => conv2dConcat([a, make([2, 3, 8, 8], 3)], w)).toThrow(
      /conv2d_concat: input \[2, 6, 8, 8\] has 6/,
    );
    expect(() =>
      conv2dConcat(
        Array.from({ length: 7 }, () => a),
        w,
      ),
    ).toThrow(/1 to 6 inputs, got 7/);
  });
});

describe('Sequential.forwardConcat', () => {
  function block(): Sequential {
    const bn = new BatchNorm2d(4);
    assignValue(bn.weight!, tensor([1.2, -0.5, 0.8, 1], [4]));
    assignValue(bn.runningMean!, tensor([0.05, -0.1, 0.2, 0], [4]));
    assignValue(bn.runningVar!, tensor([0.5, 2, 1.5, 0.8], [4]));
    return new Sequential(new Conv2d(5, 4, 3, { padding: 1, bias: false, rng: new Rng(5) }), bn, new ReLU());
  }

  it('training: the same values and gradients as forward(concat(xs)), without the concatenation', async () => {
    const a = block();
    const b = block();
    const xa = [make([2, 2, 6, 6], 21), make([2, 3, 6, 6], 22)];
    const xb = [make([2, 2, 6, 6], 21), make([2, 3, 6, 6], 22)];
    const ya = a.forwardConcat(xa);
    const yb = b.forward(concat(xb, 1));
    expect(relL2(await ya.data(), await yb.data())).toBeLessThan(1e-6);
    const dy = make(ya.shape, 23, false);
    ya.backward(dy);
    yb.backward(dy);
    for (let i = 0; i < 2; i++)
      expect(relL2(await xa[i].grad!.data(), await xb[i].grad!.data())).toBeLessThan(1e-6);
    const wa = (a.at(0) as Conv2d).weight.grad!;
    const wb = (b.at(0) as Conv2d).weight.grad!;
    expect(relL2(await wa.data(), await wb.data())).toBeLessThan(1e-6);
  });

  it('inference folds the BatchNorm into the convolution over the parts: 2 kernels', async () => {
    const a = block().eval();
    const b = block().eval();
    const xs = [make([2, 2, 6, 6], 31, false), make([2, 3, 6, 6], 32, false)];
    const before = runtime().counters.dispatches;
    const ya = noGrad(() => a.forwardConcat(xs));
    expect(runtime().counters.dispatches - before).toBe(2);
    const yb = noGrad(() => b.forward(concat(xs, 1)));
    expect(relL2(await ya.data(), await yb.data())).toBeLessThan(1e-6);
  });

  it('a chain that does not start with a convolution gets the concatenated tensor', async () => {
    const seq = new Sequential(new ReLU());
    const xs = [make([1, 1, 2, 2], 41, false), make([1, 2, 2, 2], 42, false)];
    expect(await seq.forwardConcat(xs).data()).toEqual(await new ReLU().forward(concat(xs, 1)).data());
  });
});
