/** The split of a long GEMM reduction across workgroups (split-K), shared by the convolution launchers. */
import type { GemmTiling } from './gemm.wgsl.js';

/**
 * Enough workgroups to fill a large GPU several times over; partial sums cost one output's floats per split. A
 * tiling's `splitTarget` (set by the autotuner) overrides it.
 */
const TARGET_WORKGROUPS = 512;
const MIN_CHUNK_STEPS = 16;

/**
 * How a reduction of `length` is split for a GEMM of `tiles` output tiles: `splits` chunks of `chunk` (a
 * multiple of BK, at least MIN_CHUNK_STEPS k steps), about `splitTarget` workgroups in all; and the tiling without
 * its split target (the kernel, whose code does not depend on the split).
 */
export function splitReduction(
  length: number,
  tiles: number,
  tiling: GemmTiling,
): { splits: number; chunk: number; kernel: GemmTiling } {
  const { splitTarget = TARGET_WORKGROUPS, ...kernel } = tiling;
  const maxSplits = Math.max(1, Math.floor(length / (tiling.BK * MIN_CHUNK_STEPS)));
  const wanted = Math.max(1, Math.min(Math.ceil(splitTarget / tiles), maxSplits));
  const chunk = Math.ceil(length / wanted / tiling.BK) * tiling.BK;
  return { splits: Math.ceil(length / chunk), chunk, kernel };
}
