import { initDevice, tensor } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { convTranspose2d } from '../src/functional/conv-transpose2d.js';
import { conv2d } from '../src/functional/conv2d.js';
import { checkOp } from './check.js';
import { expectClose, FWD_TOL, GRAD_TOL, golden } from './helpers.js';
import { conv2dRef, convTranspose2dRef } from './reference.js';

beforeAll(async () => {
  await initDevice();
});

describe('conv2d goldens', () => {
  for (const [name, stride, padding] of [
    ['conv2d_3x3_s1_p1', 1, 1],
    ['conv2d_3x3_s2_p1', 2, 1],
    ['conv2d_1x1_bias', 1, 0],
  ] as const) {
    it(name, async () => {
      const g = golden(`ops/${name}`);
      const x = g.t('x', true);
      const w = g.t('weight', true);
      const hasBias = g.file.tensors.has('bias');
      const b = hasBias ? g.t('bias', true) : null;
      const y = conv2d(x, w, b, { stride, padding });
      await expectClose(`${name} out`, y, g.get('out'), FWD_TOL);
      y.backward(g.t('dout'));
      await expectClose(`${name} grad.x`, x.grad!, g.get('grad.x'), GRAD_TOL);
      await expectClose(`${name} grad.weight`, w.grad!, g.get('grad.weight'), GRAD_TOL);
      if (b) await expectClose(`${name} grad.bias`, b.grad!, g.get('grad.bias'), GRAD_TOL);
    });
  }

  it('conv_transpose2d_k2_s2', async () => {
    const g = golden('ops/conv_transpose2d_k2_s2');
    const x = g.t('x', true);
    const w = g.t('weight', true);
    const b = g.t('bias', true);
    const y = convTranspose2d(x, w, b, { stride: 2 });
    await expectClose('convT out', y, g.get('out'), FWD_TOL);
    y.backward(g.t('dout'));
    await expectClose('convT grad.x', x.grad!, g.get('grad.x'), GRAD_TOL);
    await expectClose('convT grad.weight', w.grad!, g.get('grad.weight'), GRAD_TOL);
    await expectClose('convT grad.bias', b.grad!, g.get('grad.bias'), GRAD_TOL);
  });
});

describe('conv2d against a float64 reference with finite-difference gradients', () => {
  const cases: {
    label: string;
    x: number[];
    w: number[];
    bias: boolean;
    o: { stride?: [number, number]; padding?: [number, number]; dilation?: [number, number] };
    samples?: number;
  }[] = [
    { label: 'batch 1, 7×5, 3×3 p1', x: [1, 3, 7, 5], w: [4, 3, 3, 3], bias: false, o: { padding: [1, 1] } },
    {
      label: 'stride 2, dilation 2, padding 2, bias, 9×7',
      x: [2, 2, 9, 7],
      w: [3, 2, 3, 3],
      bias: true,
      o: { stride: [2, 2], padding: [2, 2], dilation: [2, 2] },
    },
    {
      label: '2×3 kernel, stride (2, 3), padding (0, 1)',
      x: [1, 2, 6, 11],
      w: [2, 2, 2, 3],
      bias: true,
      o: { stride: [2, 3], padding: [0, 1] },
    },
    {
      label: 'several tiles: 70 output channels, 12×11',
      x: [2, 5, 12, 11],
      w: [70, 5, 3, 3],
      bias: true,
      o: { padding: [1, 1] },
      samples: 40,
    },
    {
      // Fewer than 32 output pixels: the short-tile variants of all three kernels.
      label: 'tiny 3×4 image, 5 output channels',
      x: [1, 2, 3, 4],
      w: [5, 2, 3, 3],
      bias: true,
      o: { padding: [1, 1] },
    },
    {
      // 42 taps, more than a tap mask holds: the forward gather that checks bounds per element.
      label: 'a 7×6 window, stride (2, 1), padding (3, 2)',
      x: [1, 2, 9, 8],
      w: [3, 2, 7, 6],
      bias: false,
      o: { stride: [2, 1], padding: [3, 2] },
    },
    {
      // N·P·Q = 720 is long enough for the weight gradient to be split into partial sums.
      label: 'weight gradient split along the reduction, 18×20',
      x: [2, 2, 18, 20],
      w: [3, 2, 3, 3],
      bias: false,
      o: { padding: [1, 1] },
      samples: 30,
    },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      await checkOp(
        `conv2d ${c.label}`,
        [
          { name: 'x', shape: c.x },
          { name: 'weight', shape: c.w },
          ...(c.bias ? [{ name: 'bias', shape: [c.w[0]] }] : []),
        ],
        ([x, w, b]) => conv2d(x, w, b ?? null, c.o),
        ([x, w, b]) => conv2dRef(x, c.x, w, c.w, b ?? null, c.o).out,
        { samples: c.samples },
      );
    });
  }
});

describe('conv_transpose2d against a float64 reference with finite-difference gradients', () => {
  const cases: {
    label: string;
    x: number[];
    w: number[];
    bias: boolean;
    o: {
      stride?: [number, number];
      padding?: [number, number];
      outputPadding?: [number, number];
      dilation?: [number, number];
    };
    samples?: number;
  }[] = [
    { label: 'k2 s2, batch 1, 3×5', x: [1, 4, 3, 5], w: [4, 2, 2, 2], bias: true, o: { stride: [2, 2] } },
    {
      label: 'k3 s2 p1 output padding 1',
      x: [2, 3, 4, 3],
      w: [3, 2, 3, 3],
      bias: true,
      o: { stride: [2, 2], padding: [1, 1], outputPadding: [1, 1] },
    },
    {
      label: 'k3 s1 p1, dilation 2, no bias',
      x: [1, 2, 5, 4],
      w: [2, 3, 3, 3],
      bias: false,
      o: { padding: [1, 1], dilation: [2, 2] },
    },
    {
      label: 'k3 stride (3, 2), dilation 2',
      x: [1, 2, 3, 4],
      w: [2, 2, 3, 3],
      bias: false,
      o: { stride: [3, 2], dilation: [2, 2], outputPadding: [1, 1] },
    },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      await checkOp(
        `conv_transpose2d ${c.label}`,
        [
          { name: 'x', shape: c.x },
          { name: 'weight', shape: c.w },
          ...(c.bias ? [{ name: 'bias', shape: [c.w[1]] }] : []),
        ],
        ([x, w, b]) => convTranspose2d(x, w, b ?? null, c.o),
        ([x, w, b]) => convTranspose2dRef(x, c.x, w, c.w, b ?? null, c.o).out,
        { samples: c.samples },
      );
    });
  }
});

describe('conv shape errors', () => {
  it('names the op and the shapes', () => {
    const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
    const w = tensor(new Float32Array(5 * 2 * 3 * 3), [5, 2, 3, 3]);
    expect(() => conv2d(x, w)).toThrow(
      /conv2d: input \[2, 3, 4, 4\] has 3 channels but weight \[5, 2, 3, 3\]/,
    );
    const w2 = tensor(new Float32Array(5 * 3 * 5 * 5), [5, 3, 5, 5]);
    expect(() => conv2d(x, w2)).toThrow(/smaller than the dilated kernel/);
    expect(() => convTranspose2d(x, w)).toThrow(/conv_transpose2d: input \[2, 3, 4, 4\] has 3 channels/);
  });
});
