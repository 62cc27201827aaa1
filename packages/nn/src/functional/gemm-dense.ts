/**
 * x · y through the convolution kernels' GEMM generator with a chosen tiling: the ceiling those tiles reach on a
 * device, for benchmarks (tensor-wgsl's `matmul` is the general op, with autograd and broadcasting).
 */
import { kernel, runtime, ShapeError, Tensor } from '@mriseg/tensor-wgsl';
import { type GemmTiling, gemmGrid, tilingKey, tilingProblem } from './gemm.wgsl.js';
import { denseGemmSpec } from './gemm-dense.wgsl.js';

/** out [R, Q] = x [R, K] · y [K, Q] (f32, row-major), computed with `tiling`. Not recorded for autograd. */
export function denseGemmRaw(x: Tensor, y: Tensor, tiling: GemmTiling): Tensor {
  const op = 'dense_gemm';
  if (x.rank !== 2 || y.rank !== 2 || x.dtype !== 'f32' || y.dtype !== 'f32' || x.shape[1] !== y.shape[0])
    throw new ShapeError(op, `needs f32 matrices [R, K] and [K, Q], got ${x.describe()} and ${y.describe()}`);
  const problem = tilingProblem(tiling, 'mn', 'k');
  if (problem) throw new ShapeError(op, `tiling ${tilingKey(tiling)}: ${problem}`);
  const [R, K] = x.shape;
  const Q = y.shape[1];
  const out = Tensor.empty([R, Q], 'f32', op);
  if (R === 0 || Q === 0) return out;
  const k = kernel(`dense_gemm|${R},${K},${Q}|${tilingKey(tiling)}`, () => denseGemmSpec(R, K, Q, tiling));
  const rt = runtime();
  const grid = gemmGrid(
    Math.ceil(Q / tiling.BM),
    Math.ceil(R / tiling.BN),
    rt.limits.maxComputeWorkgroupsPerDimension,
  );
  rt.dispatchKernel(k, { X: x.buffer, Y: y.buffer, Out: out.buffer }, null, grid);
  return out;
}
