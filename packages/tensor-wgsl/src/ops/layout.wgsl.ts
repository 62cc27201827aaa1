/**
 * WGSL for copies between layouts. `gather`: every output element reads input position
 * start_d + c_d·step_d on each axis (outside [0, bound_d) gives the pad value) — permute, slice, pad, flip and
 * expand are all this kernel with different numbers. `scatter`: every input element is written at
 * base + Σ c_d·outStride_d (concatenation, strided slice gradients).
 */
import type { KernelSpec } from '../kernel.js';
import type { DType } from '../tensor.js';
import { gridIndex, gridParams } from './grid.js';

/** Uniforms: `n`, `pad`, and per output axis `size`, `start`, `step`, `bound`, `stride` (of the input). */
export function gatherSpec(dtype: DType, rank: number): KernelSpec {
  const r = Math.max(1, rank);
  return {
    name: 'gather',
    storage: [
      { name: 'x', type: dtype },
      { name: 'y', type: dtype, access: 'read_write' },
    ],
    uniforms: {
      n: 'u32',
      pad: dtype,
      size: `u32[${r}]`,
      start: `i32[${r}]`,
      step: `i32[${r}]`,
      bound: `i32[${r}]`,
      stride: `i32[${r}]`,
    },
    workgroupSize: 256,
    code: `fn main(${gridParams}) {
  let idx = ${gridIndex()};
  if (idx >= params.n) { return; }
  var rem = idx;
  var off = 0i;
  var inside = true;
  for (var d = ${rank - 1}; d >= 0; d--) {
    let dim = sizeAt(u32(d));
    let c = i32(rem % dim);
    rem = rem / dim;
    let p = startAt(u32(d)) + c * stepAt(u32(d));
    if (p < 0 || p >= boundAt(u32(d))) { inside = false; }
    off += p * strideAt(u32(d));
  }
  if (inside) { y[idx] = x[u32(off)]; } else { y[idx] = params.pad; }
}`,
  };
}

/** Uniforms: `n`, `base`, and per input axis `size` and `outStride`. */
export function scatterSpec(dtype: DType, rank: number): KernelSpec {
  const r = Math.max(1, rank);
  return {
    name: 'scatter',
    storage: [
      { name: 'x', type: dtype },
      { name: 'y', type: dtype, access: 'read_write' },
    ],
    uniforms: { n: 'u32', base: 'u32', size: `u32[${r}]`, outStride: `u32[${r}]` },
    workgroupSize: 256,
    code: `fn main(${gridParams}) {
  let idx = ${gridIndex()};
  if (idx >= params.n) { return; }
  var rem = idx;
  var off = params.base;
  for (var d = ${rank - 1}; d >= 0; d--) {
    let dim = sizeAt(u32(d));
    off += (rem % dim) * outStrideAt(u32(d));
    rem = rem / dim;
  }
  y[off] = x[idx];
}`,
  };
}
