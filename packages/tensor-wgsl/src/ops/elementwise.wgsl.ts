/** WGSL generator for elementwise kernels with NumPy broadcasting of up to a few inputs. */
import type { DType } from '../tensor.js';
import { gridIndex, gridParams, metaDecl } from './grid.js';

/** How an input is indexed: like the output, a single value, or through broadcast strides. */
export type InputMode = 'same' | 'scalar' | 'bcast';

export const SCALAR_SLOTS = 4;
/** Word layout: n, rank, 4 scalars (f32 bits), output shape[rank], then rank strides per broadcast input. */
export const META_HEAD = 2 + SCALAR_SLOTS;

export function elementwiseWgsl(
  expr: string,
  inputs: { dtype: DType; mode: InputMode }[],
  outDtype: DType,
  rank: number,
): string {
  const bcast = inputs.map((x, i) => (x.mode === 'bcast' ? i : -1)).filter((i) => i >= 0);
  const words = META_HEAD + rank + bcast.length * rank;
  const lines: string[] = [];
  for (const [i, x] of inputs.entries()) {
    lines.push(`@group(0) @binding(${i}) var<storage, read> in${i}: array<${x.dtype}>;`);
  }
  lines.push(`@group(0) @binding(${inputs.length}) var<storage, read_write> outBuf: array<${outDtype}>;`);
  lines.push(metaDecl(inputs.length + 1, words));
  lines.push('@compute @workgroup_size(256)');
  lines.push(`fn main(${gridParams}) {`);
  lines.push(`  let idx = ${gridIndex()};`);
  lines.push('  if (idx >= mi(0u)) { return; }');
  for (let s = 0; s < SCALAR_SLOTS; s++) lines.push(`  let s${s} = bitcast<f32>(mi(${2 + s}u));`);
  if (bcast.length > 0) {
    for (const i of bcast) lines.push(`  var o${i} = 0u;`);
    lines.push('  var rem = idx;');
    lines.push(`  for (var d = ${rank - 1}; d >= 0; d--) {`);
    lines.push(`    let dim = mi(${META_HEAD}u + u32(d));`);
    lines.push('    let c = rem % dim;');
    lines.push('    rem = rem / dim;');
    for (const [k, i] of bcast.entries())
      lines.push(`    o${i} += c * mi(${META_HEAD + rank * (k + 1)}u + u32(d));`);
    lines.push('  }');
  }
  inputs.forEach((x, i) => {
    const at = x.mode === 'same' ? 'idx' : x.mode === 'scalar' ? '0u' : `o${i}`;
    lines.push(`  let v${i} = in${i}[${at}];`);
  });
  lines.push(`  outBuf[idx] = ${expr};`);
  lines.push('}');
  return lines.join('\n');
}
