/** Up-sampling (nearest, bilinear) of [N, C, H, W] with PyTorch's F.interpolate index rules, with backward. */
import { grid1d, keep, kernel, record, runtime, ShapeError, Tensor, tensor } from '@mriseg/tensor-wgsl';
import { require4d } from './conv2d.js';
import { upsampleBackwardSpec, upsampleForwardSpec } from './upsample.wgsl.js';

export type UpsampleMode = 'nearest' | 'bilinear';

export interface UpsampleOptions {
  /** Output size [Ho, Wo]; or give scaleFactor. */
  size?: number | readonly [number, number];
  scaleFactor?: number | readonly [number, number];
  mode?: UpsampleMode;
  /** Bilinear only (PyTorch's default: false). */
  alignCorners?: boolean;
}

/**
 * The interpolation table of one axis (see upsample.wgsl.ts). `scale` is PyTorch's: 1/scaleFactor when a
 * scale factor is given, in/out otherwise.
 */
export function axisTable(
  inSize: number,
  outSize: number,
  mode: UpsampleMode,
  alignCorners: boolean,
  scaleFactor?: number,
): Float32Array {
  const t = new Float32Array(outSize * 4 + inSize * 2);
  const first = new Array<number>(inSize).fill(outSize);
  const end = new Array<number>(inSize).fill(0);
  for (let o = 0; o < outSize; o++) {
    let i0: number;
    let i1: number;
    let w1: number;
    if (mode === 'nearest') {
      const scale = scaleFactor ? 1 / scaleFactor : inSize / outSize;
      // PyTorch computes the nearest source index in single precision.
      i0 = Math.min(Math.floor(Math.fround(o * Math.fround(scale))), inSize - 1);
      i1 = i0;
      w1 = 0;
    } else {
      let src: number;
      if (alignCorners) src = outSize > 1 ? (o * (inSize - 1)) / (outSize - 1) : 0;
      else {
        const scale = scaleFactor ? 1 / scaleFactor : inSize / outSize;
        src = Math.max(0, (o + 0.5) * scale - 0.5);
      }
      i0 = Math.min(Math.floor(src), inSize - 1);
      i1 = Math.min(i0 + 1, inSize - 1);
      w1 = src - i0;
    }
    t.set([i0, i1, 1 - w1, w1], o * 4);
    for (const i of [i0, i1]) {
      first[i] = Math.min(first[i], o);
      end[i] = Math.max(end[i], o + 1);
    }
  }
  for (let i = 0; i < inSize; i++) {
    t[outSize * 4 + 2 * i] = first[i];
    t[outSize * 4 + 2 * i + 1] = Math.max(first[i], end[i]);
  }
  return t;
}

// Tables are small and reused every step, so they stay on the GPU (uploads force a submit).
const tables = new Map<string, Tensor>();

function tableTensor(
  inSize: number,
  outSize: number,
  mode: UpsampleMode,
  align: boolean,
  sf?: number,
): Tensor {
  const key = `${inSize}|${outSize}|${mode}|${align}|${sf ?? ''}`;
  let t = tables.get(key);
  if (!t || t.disposed) {
    t = keep(
      tensor(axisTable(inSize, outSize, mode, align, sf), undefined, { name: `upsample_table ${key}` }),
    );
    tables.set(key, t);
  }
  return t;
}

const twoOf = (v: number | readonly [number, number]): [number, number] =>
  typeof v === 'number' ? [v, v] : [v[0], v[1]];

export function upsample(x: Tensor, options: UpsampleOptions): Tensor {
  require4d('upsample', 'input', x);
  const mode = options.mode ?? 'nearest';
  const align = options.alignCorners ?? false;
  if (align && mode === 'nearest') throw new ShapeError('upsample', 'alignCorners applies to bilinear only');
  const [N, C, H, W] = x.shape;
  let Ho: number;
  let Wo: number;
  let sf: [number, number] | undefined;
  if (options.size !== undefined && options.scaleFactor === undefined) [Ho, Wo] = twoOf(options.size);
  else if (options.scaleFactor !== undefined && options.size === undefined) {
    sf = twoOf(options.scaleFactor);
    Ho = Math.floor(H * sf[0]);
    Wo = Math.floor(W * sf[1]);
  } else throw new ShapeError('upsample', 'give exactly one of size and scaleFactor');
  if (!(Ho > 0 && Wo > 0 && Number.isInteger(Ho) && Number.isInteger(Wo)))
    throw new ShapeError(
      'upsample',
      `output size ${Ho}×${Wo} of input ${x.describe()} is not a positive size`,
    );
  const th = tableTensor(H, Ho, mode, align, align ? undefined : sf?.[0]);
  const tw = tableTensor(W, Wo, mode, align, align ? undefined : sf?.[1]);
  const n = N * C * Ho * Wo;
  const y = Tensor.empty([N, C, Ho, Wo], 'f32', 'upsample');
  const uniforms = (threads: number) => ({ threads, H, W, Ho, Wo });
  const forward = kernel(`upsample|${mode}`, () => upsampleForwardSpec(`upsample_${mode}`));
  runtime().dispatchKernel(
    forward,
    { X: x.buffer, TH: th.buffer, TW: tw.buffer, Y: y.buffer },
    uniforms(n),
    grid1d(n),
  );
  return record(y, `upsample_${mode}`, [x], (dy) => {
    const dx = Tensor.empty(x.shape, 'f32', 'upsample_backward');
    const backward = kernel(`upsample_backward|${mode}`, () =>
      upsampleBackwardSpec(`upsample_${mode}_backward`),
    );
    runtime().dispatchKernel(
      backward,
      { G: dy.buffer, TH: th.buffer, TW: tw.buffer, DX: dx.buffer },
      uniforms(x.size),
      grid1d(x.size),
    );
    return [dx];
  });
}
