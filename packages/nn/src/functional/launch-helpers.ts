/**
 * Two pieces every GEMM launcher of the convolutions needs: generated shaders kept as the same string objects
 * (so the pipeline cache finds them without hashing tens of kB again), and the split of a long reduction across
 * workgroups (split-K).
 */
import type { GemmTiling } from './gemm.wgsl.js';

/** A memo of generated shader code by key, one per launcher module (keys need only be unique within it). */
export function shaderMemo(): (key: string, make: () => string) => string {
  const codes = new Map<string, string>();
  return (key, make) => {
    let code = codes.get(key);
    if (!code) {
      code = make();
      codes.set(key, code);
    }
    return code;
  };
}

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
