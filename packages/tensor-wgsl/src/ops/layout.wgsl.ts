/**
 * WGSL for copies between layouts. `gather`: every output element reads input position
 * start_d + c_d·step_d on each axis (outside [0, L_d) gives the pad value) — permute, slice, pad, flip and expand are
 * all this kernel with different numbers. `scatter`: every input element is written at base + Σ c_d·outStride_d
 * (concatenation, strided slice gradients).
 */
import type { DType } from '../tensor.js';
import { gridIndex, gridParams, metaDecl } from './grid.js';

/** Words: n, pad value (f32 bits), then per output axis: size, start, step, bound, input stride. */
export function gatherWgsl(dtype: DType, rank: number): string {
  const words = 2 + 5 * rank;
  const pad = dtype === 'f32' ? 'bitcast<f32>(mi(1u))' : 'bitcast<i32>(mi(1u))';
  return `@group(0) @binding(0) var<storage, read> x: array<${dtype}>;
@group(0) @binding(1) var<storage, read_write> y: array<${dtype}>;
${metaDecl(2, words)}
@compute @workgroup_size(256)
fn main(${gridParams}) {
  let idx = ${gridIndex()};
  if (idx >= mi(0u)) { return; }
  var rem = idx;
  var off = 0i;
  var inside = true;
  for (var d = ${rank - 1}; d >= 0; d--) {
    let b = 2u + 5u * u32(d);
    let dim = mi(b);
    let c = i32(rem % dim);
    rem = rem / dim;
    let p = bitcast<i32>(mi(b + 1u)) + c * bitcast<i32>(mi(b + 2u));
    if (p < 0 || p >= bitcast<i32>(mi(b + 3u))) { inside = false; }
    off += p * bitcast<i32>(mi(b + 4u));
  }
  if (inside) { y[idx] = x[u32(off)]; } else { y[idx] = ${pad}; }
}`;
}

/** Words: n, base offset, then per input axis: size, output stride. */
export function scatterWgsl(dtype: DType, rank: number): string {
  const words = 2 + 2 * rank;
  return `@group(0) @binding(0) var<storage, read> x: array<${dtype}>;
@group(0) @binding(1) var<storage, read_write> y: array<${dtype}>;
${metaDecl(2, words)}
@compute @workgroup_size(256)
fn main(${gridParams}) {
  let idx = ${gridIndex()};
  if (idx >= mi(0u)) { return; }
  var rem = idx;
  var off = mi(1u);
  for (var d = ${rank - 1}; d >= 0; d--) {
    let b = 2u + 2u * u32(d);
    let dim = mi(b);
    off += (rem % dim) * mi(b + 1u);
    rem = rem / dim;
  }
  y[off] = x[idx];
}`;
}
