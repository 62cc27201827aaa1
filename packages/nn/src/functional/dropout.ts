/**
 * Dropout: zeroes each element with probability p and scales the rest by 1/(1 − p). The mask comes from a
 * counter-based hash of (seed, index) on the GPU, so backward regenerates it instead of storing it, and seeds
 * drawn from a seeded Rng make a run reproducible.
 */
import {
  grid1d,
  gridIndex,
  gridParams,
  metaDecl,
  packMeta,
  type Rng,
  record,
  runtime,
  ShapeError,
  Tensor,
} from '@mriseg/tensor-wgsl';

/** Uniform words: 0 n, 1 seed a, 2 seed b, 3 p (f32), 4 1/(1 − p) (f32). */
function dropoutWgsl(): string {
  return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
${metaDecl(2, 5)}
// lowbias32 (C. Wellons): a fast integer hash with good avalanche.
fn hash32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u; x *= 0x7feb352du;
  x ^= x >> 15u; x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}
@compute @workgroup_size(256)
fn main(${gridParams}) {
  let i = ${gridIndex()};
  if (i >= mi(0u)) { return; }
  let u = f32(hash32(hash32(i ^ mi(1u)) + mi(2u)) >> 8u) * (1.0 / 16777216.0);
  Y[i] = select(0.0, X[i] * bitcast<f32>(mi(4u)), u >= bitcast<f32>(mi(3u)));
}`;
}

function masked(op: string, x: Tensor, seeds: [number, number], p: number): Tensor {
  const y = Tensor.empty(x.shape, 'f32', op);
  runtime().dispatch({
    name: op,
    code: dropoutWgsl(),
    buffers: [x.buffer, y.buffer],
    uniforms: packMeta([x.size, seeds[0], seeds[1], 0, 0], { 3: p, 4: 1 / (1 - p) }),
    workgroups: grid1d(x.size),
  });
  return y;
}

/**
 * Dropout in training (identity when `training` is false or p = 0: x itself is returned). p = 1 drops
 * everything (the 1/(1 − p) scale is never applied to a kept element).
 */
export function dropout(x: Tensor, p: number, training: boolean, rng: Rng): Tensor {
  if (!(p >= 0 && p <= 1)) throw new ShapeError('dropout', `p = ${p} must be in [0, 1]`);
  if (x.dtype !== 'f32') throw new ShapeError('dropout', `needs f32, got ${x.describe()}`);
  if (!training || p === 0) return x;
  const seeds: [number, number] = [rng.nextUint32(), rng.nextUint32()];
  const y = masked('dropout', x, seeds, p);
  return record(y, 'dropout', [x], (g) => [masked('dropout_backward', g, seeds, p)]);
}
