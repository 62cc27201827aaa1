/** WGSL for elementwise kernels with NumPy broadcasting of up to a few inputs. */
import type { KernelSpec, UniformType } from '../kernel.js';
import type { DType } from '../tensor.js';
import { gridIndex, gridParams } from './grid.js';

/** How an input is indexed: like the output, a single value, or through broadcast strides. */
export type InputMode = 'same' | 'scalar' | 'bcast';

export const SCALAR_SLOTS = 4;

export interface ElementwiseInput {
  dtype: DType;
  mode: InputMode;
}

/** The cache key of an elementwise kernel: everything its code depends on, and its op name (profiles by op). */
export function elementwiseKey(
  name: string,
  expr: string,
  inputs: readonly ElementwiseInput[],
  outDtype: DType,
  rank: number,
): string {
  const bcast = inputs.some((x) => x.mode === 'bcast');
  return `ew|${name}|${expr}|${inputs.map((x) => `${x.dtype}:${x.mode}`).join(',')}|${outDtype}|${bcast ? rank : 0}`;
}

/**
 * Bindings `in0`, `in1`, … and `outBuf`; uniforms `n` (elements), scalars `s0`…`s3` (f32), and with broadcast
 * inputs the output `shape` and each such input's `stridesI` (element strides by output axis, 0 on broadcast axes).
 */
export function elementwiseSpec(
  name: string,
  expr: string,
  inputs: readonly ElementwiseInput[],
  outDtype: DType,
  rank: number,
): KernelSpec {
  const bcast = inputs.map((x, i) => (x.mode === 'bcast' ? i : -1)).filter((i) => i >= 0);
  const uniforms: Record<string, UniformType> = { n: 'u32' };
  for (let s = 0; s < SCALAR_SLOTS; s++) uniforms[`s${s}`] = 'f32';
  if (bcast.length > 0) {
    uniforms.shape = `u32[${rank}]`;
    for (const i of bcast) uniforms[`strides${i}`] = `u32[${rank}]`;
  }
  const lines: string[] = [];
  lines.push(`fn main(${gridParams}) {`);
  lines.push(`  let idx = ${gridIndex()};`);
  lines.push('  if (idx >= params.n) { return; }');
  for (let s = 0; s < SCALAR_SLOTS; s++) lines.push(`  let s${s} = params.s${s};`);
  if (bcast.length > 0) {
    for (const i of bcast) lines.push(`  var o${i} = 0u;`);
    lines.push('  var rem = idx;');
    lines.push(`  for (var d = ${rank - 1}; d >= 0; d--) {`);
    lines.push('    let dim = shapeAt(u32(d));');
    lines.push('    let c = rem % dim;');
    lines.push('    rem = rem / dim;');
    for (const i of bcast) lines.push(`    o${i} += c * strides${i}At(u32(d));`);
    lines.push('  }');
  }
  inputs.forEach((x, i) => {
    const at = x.mode === 'same' ? 'idx' : x.mode === 'scalar' ? '0u' : `o${i}`;
    lines.push(`  let v${i} = in${i}[${at}];`);
  });
  lines.push(`  outBuf[idx] = ${expr};`);
  lines.push('}');
  return {
    name,
    storage: [
      ...inputs.map((x, i) => ({ name: `in${i}`, type: x.dtype })),
      { name: 'outBuf', type: outDtype, access: 'read_write' as const },
    ],
    uniforms,
    workgroupSize: 256,
    code: lines.join('\n'),
  };
}
