/**
 * The per-channel scale and shift of an eval-mode BatchNorm folded into the convolution before it:
 * BN(y) = (y − mean)·γ/√(var + eps) + β = y·scale + shift, with the convolution's bias b carried into the shift:
 * scale = γ/√(var + eps), shift = β + (b − mean)·scale. Bindings are only those the variant reads.
 * Uniform words: 0 C, 1 eps (f32).
 */
import { metaDecl } from '@mriseg/tensor-wgsl';

export function foldBatchNormWgsl(affine: boolean, convBias: boolean): string {
  const names = ['Mean', 'Var', ...(affine ? ['Gamma', 'Beta'] : []), ...(convBias ? ['ConvBias'] : [])];
  const decls = names
    .map((n, i) => `@group(0) @binding(${i}) var<storage, read> ${n}: array<f32>;`)
    .join('\n');
  return `${decls}
@group(0) @binding(${names.length}) var<storage, read_write> Scale: array<f32>;
@group(0) @binding(${names.length + 1}) var<storage, read_write> Shift: array<f32>;
${metaDecl(names.length + 2, 2)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let C = mi(0u);
  let c = gid.x;
  if (c >= C) { return; }
  let scale = ${affine ? 'Gamma[c] * ' : ''}inverseSqrt(Var[c] + bitcast<f32>(mi(1u)));
  Scale[c] = scale;
  Shift[c] = ${affine ? 'Beta[c]' : '0.0'} + (${convBias ? 'ConvBias[c]' : '0.0'} - Mean[c]) * scale;
}`;
}
