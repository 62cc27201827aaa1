/**
 * Dropout: zeroes each element with probability p and scales the rest by 1/(1 − p). The mask comes from a
 * counter-based hash of (seed, index) on the GPU, so backward regenerates it instead of storing it, and seeds
 * drawn from a seeded Rng make a run reproducible.
 */
import {
  defineKernel,
  grid1d,
  gridIndex,
  gridParams,
  type Rng,
  record,
  runtime,
  ShapeError,
  Tensor,
} from '@mriseg/tensor-wgsl';

/** Uniforms: `n`, the seeds `seedA`, `seedB`, the drop probability `p` and the kept elements' `scale` 1/(1 − p). */
const mask = (name: string) =>
  defineKernel(`dropout|${name}`, {
    name,
    storage: [{ name: 'X' }, { name: 'Y', access: 'read_write' }],
    uniforms: { n: 'u32', seedA: 'u32', seedB: 'u32', p: 'f32', scale: 'f32' },
    workgroupSize: 256,
    code: `// lowbias32 (C. Wellons): a fast integer hash with good avalanche.
fn hash32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u; x *= 0x7feb352du;
  x ^= x >> 15u; x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}
fn main(${gridParams}) {
  let i = ${gridIndex()};
  if (i >= params.n) { return; }
  let u = f32(hash32(hash32(i ^ params.seedA) + params.seedB) >> 8u) * (1.0 / 16777216.0);
  Y[i] = select(0.0, X[i] * params.scale, u >= params.p);
}`,
  });

const forwardKernel = mask('dropout');
const backwardKernel = mask('dropout_backward');

/**
 * The seeds of one dropout: drawn when its forward dispatch is recorded — again at every replay of a captured
 * step, where the forward's uniforms are recomputed before the backward's, which reuse them.
 */
interface Seeds {
  a: number;
  b: number;
}

function masked(backward: boolean, x: Tensor, seeds: Seeds, draw: Rng | null, p: number): Tensor {
  const k = backward ? backwardKernel : forwardKernel;
  const y = Tensor.empty(x.shape, 'f32', k.name);
  const n = x.size;
  runtime().dispatchKernel(
    k,
    { X: x.buffer, Y: y.buffer },
    () => {
      if (draw) {
        seeds.a = draw.nextUint32();
        seeds.b = draw.nextUint32();
      }
      return { n, seedA: seeds.a, seedB: seeds.b, p, scale: 1 / (1 - p) };
    },
    grid1d(n),
  );
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
  const seeds: Seeds = { a: 0, b: 0 };
  const y = masked(false, x, seeds, rng, p);
  return record(y, 'dropout', [x], (g) => [masked(true, g, seeds, null, p)]);
}
