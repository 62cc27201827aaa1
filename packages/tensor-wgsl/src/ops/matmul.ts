/** Batched matrix multiplication with broadcasting of the batch axes, and its backward rule. */
import { record } from '../autograd.js';
import { runtime } from '../device.js';
import { kernel } from '../kernel.js';
import { broadcastShapes, fmt, numel, ShapeError } from '../shape.js';
import { Tensor } from '../tensor.js';
import { matmulSpec } from './matmul.wgsl.js';
import { sumToShape } from './reduce.js';

/**
 * op(a)·op(b) on the last two axes; batch axes must be equal or absent/1 on one side. Not recorded.
 * `transA` reads a as [.., K, M], `transB` reads b as [.., N, K].
 */
export function matmulRaw(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  if (a.rank < 2 || b.rank < 2)
    throw new ShapeError('matmul', `needs rank ≥ 2, got ${a.describe()} and ${b.describe()}`);
  if (a.dtype !== 'f32' || b.dtype !== 'f32')
    throw new ShapeError('matmul', `needs f32, got ${a.describe()} and ${b.describe()}`);
  const [M, Ka] = transA
    ? [a.shape[a.rank - 1], a.shape[a.rank - 2]]
    : [a.shape[a.rank - 2], a.shape[a.rank - 1]];
  const [Kb, N] = transB
    ? [b.shape[b.rank - 1], b.shape[b.rank - 2]]
    : [b.shape[b.rank - 2], b.shape[b.rank - 1]];
  if (Ka !== Kb)
    throw new ShapeError(
      'matmul',
      `inner sizes differ: ${a.describe()}${transA ? 'ᵀ' : ''} · ${b.describe()}${transB ? 'ᵀ' : ''}`,
    );
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShapes('matmul', batchA, batchB);
  const nb = numel(batch);
  const na = numel(batchA);
  const nbb = numel(batchB);
  if ((na !== nb && na !== 1) || (nbb !== nb && nbb !== 1)) {
    throw new ShapeError(
      'matmul',
      `batch axes ${fmt(batchA)} and ${fmt(batchB)}: one side must match the other or be absent`,
    );
  }
  const out = Tensor.empty([...batch, M, N], 'f32', 'matmul');
  if (numel(out.shape) === 0) return out;
  const maxZ = runtime().limits.maxComputeWorkgroupsPerDimension;
  if (nb > maxZ) throw new ShapeError('matmul', `batch ${nb} exceeds ${maxZ}`);
  const k = kernel(`matmul|${transA}|${transB}`, () => matmulSpec(transA, transB));
  runtime().dispatchKernel(
    k,
    { A: a.buffer, B: b.buffer, C: out.buffer },
    { M, N, K: Ka, strideA: na === 1 ? 0 : M * Ka, strideB: nbb === 1 ? 0 : Ka * N, strideC: M * N },
    [Math.ceil(N / 16), Math.ceil(M / 16), nb],
  );
  return out;
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  const out = matmulRaw(a, b);
  return record(out, 'matmul', [a, b], (g) => {
    const reduce = (t: Tensor, shape: readonly number[]) => {
      if (t.rank === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
      const r = sumToShape(t, shape);
      t.dispose();
      return r;
    };
    return [
      a.requiresGrad ? reduce(matmulRaw(g, b, false, true), a.shape) : null,
      b.requiresGrad ? reduce(matmulRaw(a, g, true, false), b.shape) : null,
    ];
  });
}
