/** Max and average pooling over the last two axes of [N, C, H, W], with backward rules. */
import {
  defineKernel,
  grid1d,
  needsGrad,
  record,
  runtime,
  ShapeError,
  Tensor,
  type UniformValues,
} from '@mriseg/tensor-wgsl';
import { type Pair, pair, require4d } from './conv2d.js';
import {
  avgPoolBackwardSpec,
  avgPoolForwardSpec,
  maxPoolBackwardSpec,
  maxPoolForwardSpec,
} from './pool.wgsl.js';

const maxForward = defineKernel('pool.max', maxPoolForwardSpec());
const maxBackward = defineKernel('pool.max_backward', maxPoolBackwardSpec());
const avgForward = defineKernel('pool.avg', avgPoolForwardSpec());
const avgBackward = defineKernel('pool.avg_backward', avgPoolBackwardSpec());

export interface Pool2dOptions {
  /** Defaults to the kernel size (PyTorch's default). */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Count padded zeros in the divisor (PyTorch's default: true). */
  countIncludePad?: boolean;
}

interface PoolGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  P: number;
  Q: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

function outSize(size: number, k: number, s: number, p: number, ceil: boolean): number {
  const span = size + 2 * p - k;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // PyTorch: with ceil_mode the last window must start inside the input or its left padding.
  if (ceil && (out - 1) * s >= size + p) out--;
  return out;
}

function poolGeometry(op: string, x: Tensor, kernel: Pair, options: Pool2dOptions): PoolGeometry {
  require4d(op, 'input', x);
  const [kh, kw] = pair(op, 'kernelSize', kernel, 1, 1);
  const [sh, sw] = pair(op, 'stride', options.stride ?? kernel, 1, 1);
  const [ph, pw] = pair(op, 'padding', options.padding, 0, 0);
  if (2 * ph > kh || 2 * pw > kw)
    throw new ShapeError(op, `padding (${ph}, ${pw}) must be at most half the kernel (${kh}, ${kw})`);
  const [N, C, H, W] = x.shape;
  const P = outSize(H, kh, sh, ph, options.ceilMode ?? false);
  const Q = outSize(W, kw, sw, pw, options.ceilMode ?? false);
  if (P <= 0 || Q <= 0)
    throw new ShapeError(
      op,
      `input ${x.describe()} is smaller than the kernel (${kh}, ${kw}) with its padding`,
    );
  return { N, C, H, W, P, Q, kh, kw, sh, sw, ph, pw };
}

/** The uniforms every pooling kernel reads, for `threads` threads. */
function windowUniforms(g: PoolGeometry, threads: number): Record<string, number> {
  const { H, W, P, Q, kh, kw, sh, sw, ph, pw } = g;
  return { threads, H, W, P, Q, kh, kw, sh, sw, ph, pw };
}

/** Max pooling; backward routes each window's gradient to its (first) maximum, as PyTorch does. */
export function maxPool2d(x: Tensor, kernelSize: Pair, options: Pool2dOptions = {}): Tensor {
  const g = poolGeometry('max_pool2d', x, kernelSize, options);
  const rt = runtime();
  const outShape = [g.N, g.C, g.P, g.Q];
  const n = g.N * g.C * g.P * g.Q;
  const y = Tensor.empty(outShape, 'f32', 'max_pool2d');
  const idx = Tensor.empty(outShape, 'i32', 'max_pool2d_indices');
  rt.dispatchKernel(
    maxForward,
    { X: x.buffer, Y: y.buffer, I: idx.buffer },
    { ...windowUniforms(g, n), lowest: Number.NEGATIVE_INFINITY },
    grid1d(n),
  );
  // The indices live until backward only when a backward will run (not under noGrad).
  if (!needsGrad(x)) {
    idx.dispose();
    return y;
  }
  return record(y, 'max_pool2d', [x], (dy) => {
    const dx = Tensor.empty(x.shape, 'f32', 'max_pool2d_backward');
    runtime().dispatchKernel(
      maxBackward,
      { G: dy.buffer, I: idx.buffer, DX: dx.buffer },
      windowUniforms(g, x.size),
      grid1d(x.size),
    );
    // The graph is single-use, so the indices can go once backward has used them.
    idx.dispose();
    return [dx];
  });
}

/** Average pooling with PyTorch's divisor rules (count_include_pad, ceil_mode). */
export function avgPool2d(x: Tensor, kernelSize: Pair, options: AvgPool2dOptions = {}): Tensor {
  const g = poolGeometry('avg_pool2d', x, kernelSize, options);
  const include = (options.countIncludePad ?? true) ? 1 : 0;
  const n = g.N * g.C * g.P * g.Q;
  const y = Tensor.empty([g.N, g.C, g.P, g.Q], 'f32', 'avg_pool2d');
  const uniforms = (threads: number): UniformValues => ({
    ...windowUniforms(g, threads),
    includePad: include,
  });
  runtime().dispatchKernel(avgForward, { X: x.buffer, Y: y.buffer }, uniforms(n), grid1d(n));
  return record(y, 'avg_pool2d', [x], (dy) => {
    const dx = Tensor.empty(x.shape, 'f32', 'avg_pool2d_backward');
    runtime().dispatchKernel(avgBackward, { G: dy.buffer, DX: dx.buffer }, uniforms(x.size), grid1d(x.size));
    return [dx];
  });
}
