import { initDevice, runtime, Tensor } from '@mriseg/tensor-wgsl';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ConvAffine, convForwardRaw, convInputGradPartsRaw } from '../src/functional/conv/direct.js';
import { conv2dGeometry } from '../src/functional/conv2d.js';
import * as F from '../src/functional/index.js';
import { relL2, up, values } from './helpers.js';
import { conv2dRef } from './reference.js';

/** A CPU adapter's small tiles, and a GPU's register-blocked vec4 tiles: the GEMMs around the transforms. */
const SMALL: F.GemmTiling = { BM: 32, BN: 8, BK: 16, TM: 1, TN: 1 };
const GPU: F.GemmTiling = { BM: 64, BN: 64, BK: 8, TM: 4, TN: 4, prefetch: true, vec4: true };

/** An image [N, C, H, W] as tensors of `parts` channels each (a concatenation's inputs). */
function channelParts(xv: Float64Array, xShape: number[], parts: number[]): Tensor[] {
  const [N, C, H, W] = xShape;
  const pieces: Tensor[] = [];
  let c0 = 0;
  for (const c of parts) {
    const v = new Float64Array(N * c * H * W);
    for (let n = 0; n < N; n++)
      v.set(xv.subarray((n * C + c0) * H * W, (n * C + c0 + c) * H * W), n * c * H * W);
    pieces.push(up(v, [N, c, H, W]));
    c0 += c;
  }
  return pieces;
}

/**
 * Every (output, input, weight) index triple a 3×3 convolution of an image of shape xShape into K channels
 * multiplies (taps outside the padded image left out): the float64 references of both gradients sum over it.
 */
function forEachTap(
  xShape: number[],
  K: number,
  g: { P: number; Q: number; ph: number; pw: number },
  fn: (iy: number, ix: number, iw: number) => void,
) {
  const [N, C, H, W] = xShape;
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++)
      for (let p = 0; p < g.P; p++)
        for (let q = 0; q < g.Q; q++)
          for (let c = 0; c < C; c++)
            for (let r = 0; r < 3; r++)
              for (let s = 0; s < 3; s++) {
                const h = p - g.ph + r;
                const w = q - g.pw + s;
                if (h < 0 || h >= H || w < 0 || w >= W) continue;
                fn(
                  ((n * K + k) * g.P + p) * g.Q + q,
                  ((n * C + c) * H + h) * W + w,
                  ((k * C + c) * 3 + r) * 3 + s,
                );
              }
}

beforeAll(async () => {
  await initDevice();
});
afterEach(() => F.clearConvTilings());

/** conv2d by Winograd with `tiling`, against float64, for an image given in one or several channel parts. */
async function check(
  xShape: number[],
  wShape: number[],
  padding: number,
  tiling: F.GemmTiling,
  options: { parts?: number[]; bias?: boolean; affine?: 'affine' | 'affine-relu' } = {},
) {
  const [N, C, H, W] = xShape;
  const K = wShape[0];
  const xv = values(N * C * H * W, 31);
  const wv = values(K * C * 9, 32);
  const bv = values(K, 33);
  const x = up(xv, xShape);
  const w = up(wv, wShape);
  const g = conv2dGeometry(x, w, { padding });
  F.setConvTiling('forward', g, { ...tiling, winograd: tiling.winograd ?? 2 });
  // The image in parts along the channels, as a decoder reads [upsampled, skip] in place.
  const pieces = channelParts(xv, xShape, options.parts ?? [C]);
  const bias = options.bias ? up(bv, [K]) : null;
  let affine: ConvAffine | null = null;
  const scale = values(K, 34);
  if (options.affine)
    affine = { scale: up(scale, [K]), shift: up(bv, [K]), relu: options.affine === 'affine-relu' };
  const before = runtime().counters.dispatches;
  const y = convForwardRaw(pieces.length === 1 ? pieces[0] : pieces, w, bias, g, affine);
  // Input transform, weight transform, the 16 GEMMs in one dispatch, output transform.
  expect(runtime().counters.dispatches - before).toBe(4);
  const ref = conv2dRef(xv, xShape, wv, wShape, options.bias ? bv : null, {
    padding: [padding, padding],
  }).out;
  if (options.affine)
    for (let i = 0; i < ref.length; i++) {
      const k = Math.floor(i / (g.P * g.Q)) % K;
      const v = ref[i] * scale[k] + bv[k];
      ref[i] = options.affine === 'affine-relu' ? Math.max(v, 0) : v;
    }
  expect(y.shape).toEqual([N, K, g.P, g.Q]);
  expect(relL2(await y.data(), ref)).toBeLessThan(1e-5);
  for (const t of [
    x,
    w,
    y,
    ...pieces,
    ...(bias ? [bias] : []),
    ...(affine ? [affine.scale, affine.shift] : []),
  ])
    t.dispose();
}

for (const m of [2, 4] as const)
  describe(`Winograd F(3×3, ${m}×${m}) weight gradient`, () => {
    /** dw of conv2d(x, w, padding) for dy, by Winograd, x in parts, against float64. */
    async function checkDw(
      xShape: number[],
      K: number,
      padding: number,
      parts: number[],
      tiling: F.GemmTiling,
    ) {
      const [N, C, H, W] = xShape;
      const xv = values(N * C * H * W, 51);
      const w = Tensor.empty([K, C, 3, 3], 'f32');
      const pieces = channelParts(xv, xShape, parts);
      const g = conv2dGeometry(Tensor.empty(xShape, 'f32'), w, { padding });
      const dyv = values(N * K * g.P * g.Q, 52);
      const dy = up(dyv, [N, K, g.P, g.Q]);
      F.setConvTiling('weight_grad', g, { ...tiling, winograd: tiling.winograd ?? 2 });
      const dw = F.convWeightGradRaw(dy, pieces.length === 1 ? pieces[0] : pieces, g);
      const want = new Float64Array(K * C * 9);
      forEachTap(xShape, K, g, (iy, ix, iw) => {
        want[iw] += dyv[iy] * xv[ix];
      });
      expect(dw.shape).toEqual([K, C, 3, 3]);
      expect(relL2(await dw.data(), want)).toBeLessThan(1e-5);
      for (const t of [w, dy, dw, ...pieces]) t.dispose();
    }
    const small: F.GemmTiling = { ...SMALL, winograd: m };

    it('matches float64 with padding 1, 0 and 2 and odd sizes', async () => {
      await checkDw([2, 5, 9, 11], 7, 1, [5], small);
      await checkDw([1, 3, 8, 7], 4, 0, [3], small);
      await checkDw([1, 3, 6, 5], 4, 2, [3], small);
    });
    it('splits its reduction over tiles (one split, many), reads x in parts, with vec4 GEMM tiles', async () => {
      await checkDw([2, 6, 12, 10], 9, 1, [6], { ...small, splitTarget: 1 });
      await checkDw([2, 6, 12, 10], 9, 1, [6], { ...small, splitTarget: 100000 });
      await checkDw([2, 9, 10, 13], 8, 1, [4, 2, 3], {
        winograd: m,
        BM: 32,
        BN: 64,
        BK: 8,
        TM: 4,
        TN: 4,
        prefetch: true,
        vec4: true,
      });
    });
  });

for (const m of [2, 4] as const)
  describe(`Winograd F(${m}×${m}, 3×3) input gradient`, () => {
    /** dx of conv2d(x, w, padding) for dy, by Winograd, in parts, against the float64 adjoint. */
    async function checkDx(
      xShape: number[],
      wShape: number[],
      padding: number,
      parts: number[],
      tiling: F.GemmTiling,
    ) {
      const [N, C, H, W] = xShape;
      const K = wShape[0];
      const wv = values(K * C * 9, 41);
      const x = Tensor.empty(xShape, 'f32');
      const w = up(wv, wShape);
      const g = conv2dGeometry(x, w, { padding });
      const dyv = values(N * K * g.P * g.Q, 42);
      const dy = up(dyv, [N, K, g.P, g.Q]);
      F.setConvTiling('input_grad', g, { ...tiling, winograd: tiling.winograd ?? 2 });
      const before = runtime().counters.dispatches;
      const dx = convInputGradPartsRaw(dy, w, null, g, parts);
      expect(runtime().counters.dispatches - before).toBe(4);
      // The adjoint of the forward loop, in float64.
      const want = new Float64Array(N * C * H * W);
      forEachTap(xShape, K, g, (iy, ix, iw) => {
        want[ix] += dyv[iy] * wv[iw];
      });
      // Parts back into one [N, C, H, W] array.
      const got = new Float64Array(want.length);
      let c0 = 0;
      for (let i = 0; i < parts.length; i++) {
        const part = await dx[i].data();
        for (let n = 0; n < N; n++)
          got.set(part.subarray(n * parts[i] * H * W, (n + 1) * parts[i] * H * W), (n * C + c0) * H * W);
        c0 += parts[i];
      }
      expect(relL2(got, want)).toBeLessThan(1e-5);
      for (const t of [x, w, dy, ...dx]) t.dispose();
    }

    it('matches float64 with padding 1, 0 and 2 and odd sizes', async () => {
      await checkDx([2, 5, 9, 11], [7, 5, 3, 3], 1, [5], { ...SMALL, winograd: m });
      await checkDx([1, 3, 8, 7], [4, 3, 3, 3], 0, [3], { ...SMALL, winograd: m });
      await checkDx([1, 3, 6, 5], [4, 3, 3, 3], 2, [3], { ...SMALL, winograd: m });
    });
    it('writes the gradient of a concatenation in its parts, with vec4 GEMM tiles', async () => {
      await checkDx([2, 9, 10, 13], [6, 9, 3, 3], 1, [4, 2, 3], { ...GPU, winograd: m });
    });
  });

for (const m of [2, 4] as const)
  describe(`Winograd F(${m}×${m}, 3×3) forward convolution`, () => {
    const small: F.GemmTiling = { ...SMALL, winograd: m };
    const gpu: F.GemmTiling = { ...GPU, winograd: m };

    it('matches float64 with padding 1 and an odd output (partial tiles)', async () => {
      await check([2, 5, 9, 11], [7, 5, 3, 3], 1, small);
    });
    it('matches float64 without padding and with padding 2', async () => {
      await check([1, 3, 8, 7], [4, 3, 3, 3], 0, small);
      await check([1, 3, 5, 6], [4, 3, 3, 3], 2, small);
    });
    it('matches float64 with register-blocked, vec4 GEMM tiles and a bias', async () => {
      await check([2, 6, 13, 10], [9, 6, 3, 3], 1, gpu, { bias: true });
    });
    it('reads an image in three parts in place, and applies a folded BatchNorm + ReLU', async () => {
      await check([2, 7, 9, 9], [5, 7, 3, 3], 1, small, { parts: [2, 4, 1], affine: 'affine-relu' });
      await check([1, 4, 6, 6], [3, 4, 3, 3], 1, small, { affine: 'affine' });
    });
  });

describe('Winograd tilings', () => {
  it('is refused where it does not apply, naming why', () => {
    const x = Tensor.empty([1, 2, 8, 8], 'f32');
    const w = Tensor.empty([3, 2, 3, 3], 'f32');
    const strided = conv2dGeometry(x, w, { stride: 2 });
    const ok = conv2dGeometry(x, w, { padding: 1 });
    const wino = { ...SMALL, winograd: 2 as const };
    expect(() => F.setConvTiling('forward', strided, wino)).toThrow(/3×3 window at stride 1 and dilation 1/);
    expect(() => F.setConvTiling('weight_grad', strided, wino)).toThrow(/3×3 window at stride 1/);
    const wide = conv2dGeometry(x, w, { padding: 3 });
    expect(() => F.setConvTiling('input_grad', wide, wino)).toThrow(/padding ≤ 2 for the input gradient/);
    F.setConvTiling('forward', ok, wino);
    expect(F.tilingKey(F.convTiling('forward', ok, false))).toBe('32x8x16/1x1w');
    expect(F.parseTilingKey('64x64x8/4x4pvw')).toEqual({ ...GPU, winograd: 2 });
    expect(F.parseTilingKey('64x64x8/4x4pvw4')).toEqual({ ...GPU, winograd: 4 });
    expect(F.tilingKey({ ...GPU, winograd: 4 })).toBe('64x64x8/4x4pvw4');
    const saved = F.exportConvTilings();
    F.clearConvTilings();
    const stridedKey = Object.keys(saved)[0].replace(/\|(.*)$/, () => {
      const f = ['N', 'C', 'H', 'W', 'K', 'P', 'Q', 'R', 'S', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw'] as const;
      return `|${f.map((k) => strided[k]).join(',')}`;
    });
    // A Winograd tiling saved for a geometry it does not fit is skipped on import.
    expect(F.importConvTilings({ ...saved, [stridedKey]: '32x8x16/1x1w' })).toBe(1);
    for (const t of [x, w]) t.dispose();
  });
});
