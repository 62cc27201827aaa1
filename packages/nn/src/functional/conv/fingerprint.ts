/**
 * A fingerprint of the convolution kernels' generated code, stored with tuned tilings: a tiling chosen for one
 * version of the kernels says nothing about another (its speed, or whether the tuner checked its results), so
 * a saved tuning is used only while the code it was tuned on is unchanged.
 */
import { Kernel, type KernelSpec } from '@mriseg/tensor-wgsl';
import type { GemmTiling } from '../gemm.wgsl.js';
import { candidateTilings, tilingVariants } from '../gemm-tilings.js';
import { SPLIT_TARGETS } from './autotune.js';
import { convForwardSpec, convInputGradSpec, convWeightGradSpec } from './direct.wgsl.js';
import type { ConvGeometry } from './geometry.js';
import {
  winogradGemmSpec,
  winogradInputSpec,
  winogradOutputGradSpec,
  winogradOutputSpec,
  winogradWeightGradGemmSpec,
  winogradWeightGradOutputSpec,
  winogradWeightSpec,
} from './winograd.wgsl.js';

/** FNV-1a, 64 bits, as 16 hex digits. */
function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < text.length; i++) h = ((h ^ BigInt(text.charCodeAt(i))) * prime) & mask;
  return h.toString(16).padStart(16, '0');
}

let memo: string | null = null;

/**
 * Hash of every kernel family a tiling selects (direct forward, input and weight gradient; each Winograd
 * stage), generated for a 3×3 and a strided window with a register-blocked tiling using every GEMM option, and
 * of the candidates the tuner tries (a new candidate may beat a saved choice).
 */
export function convKernelsFingerprint(): string {
  if (memo) return memo;
  const g3: ConvGeometry = {
    N: 2,
    C: 8,
    H: 9,
    W: 9,
    K: 8,
    P: 9,
    Q: 9,
    R: 3,
    S: 3,
    sh: 1,
    sw: 1,
    ph: 1,
    pw: 1,
    dh: 1,
    dw: 1,
  };
  const g2: ConvGeometry = { ...g3, P: 5, Q: 5, sh: 2, sw: 2 };
  const t: GemmTiling = { BM: 128, BN: 64, BK: 8, TM: 8, TN: 4, prefetch: true, vec4: true, double: true };
  const plain: GemmTiling = { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 };
  const parts: string[] = [];
  // The whole shader each description makes (declarations included), without registering it.
  const shader = (spec: KernelSpec) => new Kernel('fingerprint', spec).wgsl;
  for (const g of [g3, g2])
    for (const tiling of [t, plain])
      parts.push(
        shader(convForwardSpec('conv2d', g, tiling, 'affine-relu', 2)),
        shader(convInputGradSpec('conv2d_input_grad', g, tiling, true, 1)),
        shader(convInputGradSpec('conv2d_input_grad', g, tiling, false, 2)),
        shader(convWeightGradSpec('conv2d_weight_grad', g, { ...tiling, splitTarget: 256 }, 2)),
      );
  for (const m of [2, 4] as const)
    parts.push(
      shader(winogradInputSpec(g3, 2, m)),
      shader(winogradWeightSpec(g3, true, m)),
      shader(winogradGemmSpec(g3, t, m)),
      shader(winogradOutputSpec(g3, 'affine-relu', 1, m)),
      shader(winogradOutputSpec(g3, 'none', 2, m)),
      shader(winogradOutputGradSpec(g3, m)),
      shader(winogradWeightGradGemmSpec(g3, t, m)),
      shader(winogradWeightGradOutputSpec(g3, m)),
    );
  for (const [M, N] of [
    [1 << 20, 32],
    [4096, 512],
    [32, 288],
    [65536, 1],
  ])
    parts.push(JSON.stringify(candidateTilings(M, N)));
  parts.push(JSON.stringify(tilingVariants(t)), JSON.stringify(tilingVariants(plain)), SPLIT_TARGETS.join());
  memo = fnv1a64(parts.join('\u0000'));
  return memo;
}
