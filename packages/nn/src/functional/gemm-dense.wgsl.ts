/**
 * A dense matrix product as a variant of the GEMM generator (gemm.wgsl.ts), out = x · y for row-major x [R, K] and
 * y [K, Q]. The generator's m runs along out's rows (contiguous, like the output pixels of a convolution) and
 * its n along out's columns, so its load orders are the forward convolution's: any tiling that convolution
 * can run, this runs too. It measures what the generator's tiles reach without an im2col gather.
 */
import type { KernelSpec } from '@mriseg/tensor-wgsl';
import { type GemmTiling, gemmWgsl, threadsOf } from './gemm.wgsl.js';

export function denseGemmSpec(R: number, K: number, Q: number, tiling: GemmTiling): KernelSpec {
  const body = `const R_: u32 = ${R}u;
const K_: u32 = ${K}u;
const Q_: u32 = ${Q}u;
fn setup(z: u32) -> GemmRange {
  return GemmRange(Q_, R_, 0u, K_);
}
fn loadA(m: u32, k: u32) -> f32 {
  return Y[k * Q_ + m];
}
fn loadB(k: u32, n: u32) -> f32 {
  return X[n * K_ + k];
}
fn store(m: u32, n: u32, v: f32) {
  Out[n * Q_ + m] = v;
}`;
  return {
    name: 'dense_gemm',
    storage: [{ name: 'X' }, { name: 'Y' }, { name: 'Out', access: 'read_write' }],
    workgroupSize: threadsOf(tiling),
    code: gemmWgsl({ body, tiling, tilesN: `${Math.ceil(R / tiling.BN)}u`, aOrder: 'mn', bOrder: 'k' }),
  };
}
