/**
 * WGSL for reductions over a block [outer, R, inner] of a contiguous tensor, optionally split into chunks of R
 * (a first pass of partial results for very long reductions with few outputs).
 * Uniforms: `outputs` (outer·chunks·inner), `R`, `inner`, `chunks`, `C` (chunk length), `init` (the initial
 * value of max/min: ±infinity, which WGSL constant expressions cannot hold).
 */
import type { KernelSpec } from '../kernel.js';
import { gridIndex, gridParams } from './grid.js';

export type ReduceKind = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

const INIT: Record<ReduceKind, string> = {
  sum: '0.0',
  max: 'params.init',
  min: 'params.init',
  argmax: 'params.init',
  argmin: 'params.init',
};

// NaN wins (as in PyTorch): once the accumulator is NaN no comparison replaces it. NaN is tested on the bits:
// shader compilers may assume finite math and fold `v != v` to false.
const BETTER: Record<ReduceKind, (v: string, acc: string) => string> = {
  sum: () => 'false',
  max: (v, acc) => `(${v} > ${acc} || (isNan(${v}) && !isNan(${acc})))`,
  min: (v, acc) => `(${v} < ${acc} || (isNan(${v}) && !isNan(${acc})))`,
  argmax: (v, acc) => `(${v} > ${acc} || (isNan(${v}) && !isNan(${acc})))`,
  argmin: (v, acc) => `(${v} < ${acc} || (isNan(${v}) && !isNan(${acc})))`,
};

const IS_NAN = 'fn isNan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }\n';

const isArg = (k: ReduceKind) => k === 'argmax' || k === 'argmin';

function accumulate(kind: ReduceKind, v: string, r: string): string {
  if (kind === 'sum') return `acc += ${v};`;
  if (isArg(kind)) return `if (${BETTER[kind](v, 'acc')}) { acc = ${v}; arg = ${r}; }`;
  return `if (${BETTER[kind](v, 'acc')}) { acc = ${v}; }`;
}

/** A reduction kernel's description around its code. */
const spec = (name: string, kind: ReduceKind, code: string): KernelSpec => ({
  name,
  storage: [{ name: 'x' }, { name: 'y', type: isArg(kind) ? 'i32' : 'f32', access: 'read_write' }],
  uniforms: { outputs: 'u32', R: 'u32', inner: 'u32', chunks: 'u32', C: 'u32', init: 'f32' },
  workgroupSize: 256,
  code: `${IS_NAN}${code}`,
});

const result = (kind: ReduceKind) => (isArg(kind) ? 'i32(arg)' : 'acc');

/** One thread per output: loops over its slice of R with stride `inner` (coalesced when inner is large). */
export function reduceStridedSpec(kind: ReduceKind): KernelSpec {
  return spec(
    kind,
    kind,
    `
fn main(${gridParams}) {
  let o = ${gridIndex()};
  if (o >= params.outputs) { return; }
  let R = params.R; let inner = params.inner; let chunks = params.chunks; let C = params.C;
  let i = o % inner; let t = o / inner; let ch = t % chunks; let ou = t / chunks;
  let r0 = ch * C; let r1 = min(R, r0 + C);
  var acc: f32 = ${INIT[kind]};
  var arg: u32 = r0;
  var p = (ou * R + r0) * inner + i;
  for (var r = r0; r < r1; r++) {
    let v = x[p];
    ${accumulate(kind, 'v', 'r')}
    p += inner;
  }
  y[o] = ${result(kind)};
}`,
  );
}

/** One workgroup per output (inner = 1): a strided loop, then a tree in workgroup memory. */
export function reduceRowSpec(kind: ReduceKind): KernelSpec {
  const combine =
    kind === 'sum'
      ? 'sv[l] = sv[l] + sv[l + s];'
      : isArg(kind)
        ? `let a = sv[l]; let b = sv[l + s]; let ia = si[l]; let ib = si[l + s];
      if (${BETTER[kind]('b', 'a')} || ((b == a || (isNan(a) && isNan(b))) && ib < ia)) { sv[l] = b; si[l] = ib; }`
        : `let a = sv[l]; let b = sv[l + s]; if (${BETTER[kind]('b', 'a')}) { sv[l] = b; }`;
  return spec(
    kind,
    kind,
    `
var<workgroup> sv: array<f32, 256>;
var<workgroup> si: array<u32, 256>;
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= params.outputs) { return; }
  let R = params.R; let chunks = params.chunks; let C = params.C;
  let row = w / chunks; let ch = w % chunks;
  let r0 = ch * C; let r1 = min(R, r0 + C);
  let l = lid.x;
  var acc: f32 = ${INIT[kind]};
  var arg: u32 = r0;
  for (var r = r0 + l; r < r1; r += 256u) {
    let v = x[row * R + r];
    ${accumulate(kind, 'v', 'r')}
  }
  sv[l] = acc;
  si[l] = arg;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (l < s) {
      ${combine}
    }
    workgroupBarrier();
  }
  if (l == 0u) {
    let acc = sv[0]; let arg = si[0];
    y[w] = ${result(kind)};
  }
}`,
  );
}
