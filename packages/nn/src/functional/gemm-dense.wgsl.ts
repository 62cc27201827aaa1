/**
 * A dense matrix product as a variant of the GEMM generator (gemm.wgsl.ts), out = x · y for row-major x [R, K] and
 * y [K, Q]. The generator's m runs along out's rows (contiguous, like the output pixels of a convolution) and
 * its n along out's columns, so its load orders are the forward convolution's: any tiling that convolution
 * can run, this runs too. It measures what the generator's tiles reach without an im2col gather.
 */
import { type GemmTiling, gemmWgsl } from './gemm.wgsl.js';

export function denseGemmWgsl(R: number, K: number, Q: number, tiling: GemmTiling): string {
  const body = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
const R_: u32 = ${R}u;
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
  return gemmWgsl({ body, tiling, tilesN: `${Math.ceil(R / tiling.BN)}u`, aOrder: 'mn', bOrder: 'k' });
}
