/**
 * The per-channel scale and shift of an eval-mode BatchNorm folded into the convolution before it:
 * BN(y) = (y − mean)·γ/√(var + eps) + β = y·scale + shift, with the convolution's bias b carried into the shift:
 * scale = γ/√(var + eps), shift = β + (b − mean)·scale. Bindings are only those the variant reads.
 * Uniforms: the channel count `C` and BatchNorm's `eps`.
 */
import type { KernelSpec } from '@mriseg/tensor-wgsl';

export function foldBatchNormSpec(affine: boolean, convBias: boolean): KernelSpec {
  const names = ['Mean', 'Var', ...(affine ? ['Gamma', 'Beta'] : []), ...(convBias ? ['ConvBias'] : [])];
  return {
    name: 'conv2d_batch_norm_fold',
    storage: [
      ...names.map((name) => ({ name })),
      { name: 'Scale', access: 'read_write' },
      { name: 'Shift', access: 'read_write' },
    ],
    uniforms: { C: 'u32', eps: 'f32' },
    workgroupSize: 64,
    code: `fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.C) { return; }
  let scale = ${affine ? 'Gamma[c] * ' : ''}inverseSqrt(Var[c] + params.eps);
  Scale[c] = scale;
  Shift[c] = ${affine ? 'Beta[c]' : '0.0'} + (${convBias ? 'ConvBias[c]' : '0.0'} - Mean[c]) * scale;
}`,
  };
}
