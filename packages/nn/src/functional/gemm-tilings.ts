/**
 * GEMM tiling policy: the tilings a device runs by default (small register tiles on a CPU driver, register-blocked
 * prefetching ones on a GPU), the candidates the autotuner times and the variants it climbs through. The
 * generator (gemm.wgsl.ts) says only what a tiling is and whether it can be generated.
 */
import { type GemmTiling, tilingKey } from './gemm.wgsl.js';

/**
 * Tiles for a CPU adapter, or any GEMM of extent M×N (256 threads each): narrow n tiles when C has few columns
 * (few output channels), short m tiles when it has few rows (the weight gradient of a layer with ≤ 32 output
 * channels: as short as its rows, since every row of a tile is computed whether it exists or not — a layer of 4
 * or 8 output channels in a 32-row tile wasted 7/8 or 3/4 of the work). Small register tiles keep shader
 * compilation on a CPU driver to a few seconds.
 */
export function pickTiling(M: number, N: number): GemmTiling {
  // One row or column (a convolution to one channel, its weight gradient): one thread an output (a k step of 8
  // keeps the 256-wide tile within 16 KiB of workgroup memory).
  if (M <= 1) return { BM: 1, BN: 256, BK: 8, TM: 1, TN: 1 };
  if (M <= 4)
    return N <= 64 ? { BM: 4, BN: 64, BK: 16, TM: 1, TN: 1 } : { BM: 4, BN: 128, BK: 16, TM: 1, TN: 2 };
  if (M <= 8)
    return N <= 64 ? { BM: 8, BN: 64, BK: 16, TM: 1, TN: 2 } : { BM: 8, BN: 128, BK: 16, TM: 1, TN: 4 };
  if (M <= 16) return { BM: 16, BN: 64, BK: 16, TM: 2, TN: 2 };
  if (M <= 32) {
    if (N <= 8) return { BM: 32, BN: 8, BK: 16, TM: 1, TN: 1 };
    if (N <= 16) return { BM: 32, BN: 16, BK: 16, TM: 2, TN: 1 };
    if (N <= 32) return { BM: 32, BN: 32, BK: 16, TM: 2, TN: 2 };
    // A k step of 32 halves the barriers: 15–30 % faster on lavapipe for this tile and 64x32 (timed per shape; the
    // others were not faster with it). 64x64 would need over 16 KiB of workgroup memory, WebGPU's minimum, and
    // these tiles are the fallback and the autotuner's reference on every device.
    return { BM: 32, BN: 64, BK: 32, TM: 2, TN: 4 };
  }
  if (N <= 1) return { BM: 256, BN: 1, BK: 8, TM: 1, TN: 1 };
  if (N <= 4) return { BM: 128, BN: 4, BK: 16, TM: 2, TN: 1 };
  if (N <= 8) return { BM: 128, BN: 8, BK: 16, TM: 4, TN: 1 };
  if (N <= 16) return { BM: 64, BN: 16, BK: 16, TM: 4, TN: 1 };
  if (N <= 32) return { BM: 64, BN: 32, BK: 32, TM: 4, TN: 2 };
  return { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 };
}

/**
 * Register-blocked tiles for a GPU: up to 8×8 accumulators a thread, so that each value read from workgroup
 * memory feeds up to 8 FMAs (a 4×4 tile spends half its issue slots on those reads), with prefetching. The
 * largest tile that still gives `minTiles` workgroups (a few per multiprocessor of a large GPU) wins.
 */
export function pickGpuTiling(M: number, N: number, minTiles = 256): GemmTiling {
  const tiles = (t: GemmTiling) => Math.ceil(M / t.BM) * Math.ceil(N / t.BN);
  const pf = { BK: 8, prefetch: true } as const;
  let ladder: GemmTiling[];
  // A GEMM of a few rows or columns (a convolution to one channel, its weight gradient) wastes most of a
  // register-blocked tile: the short tiles waste least.
  if (N <= 8 || M <= 16) return pickTiling(M, N);
  if (M <= 32)
    ladder = [
      { BM: 32, BN: 128, TM: 4, TN: 4, ...pf },
      { BM: 32, BN: 64, TM: 2, TN: 4, ...pf },
    ];
  else if (M <= 64)
    ladder = [
      { BM: 64, BN: 128, TM: 4, TN: 8, ...pf },
      { BM: 64, BN: 64, TM: 4, TN: 4, ...pf },
    ];
  else if (N <= 16) ladder = [{ BM: 256, BN: 16, TM: 8, TN: 2, ...pf, BK: 16 }];
  else if (N <= 32)
    ladder = [
      { BM: 256, BN: 32, TM: 8, TN: 4, ...pf },
      { BM: 128, BN: 32, TM: 4, TN: 4, ...pf },
    ];
  else if (N <= 64)
    ladder = [
      { BM: 128, BN: 64, TM: 8, TN: 4, ...pf },
      { BM: 64, BN: 64, TM: 4, TN: 4, ...pf },
    ];
  else
    ladder = [
      { BM: 128, BN: 128, TM: 8, TN: 8, ...pf },
      { BM: 128, BN: 64, TM: 8, TN: 4, ...pf },
      { BM: 64, BN: 64, TM: 4, TN: 4, ...pf },
    ];
  return ladder.find((t) => tiles(t) >= minTiles) ?? ladder[ladder.length - 1];
}

/**
 * The tile shapes worth timing for a GEMM of extent M×N: the CPU and GPU defaults and the register-blocked shapes
 * that are not much larger than the GEMM itself (about ten, each a pipeline to compile). How the fastest of them
 * reads and stages its tiles is refined afterwards (`tilingVariants`).
 */
export function candidateTilings(M: number, N: number): GemmTiling[] {
  // [BM, BN, TM, TN, BK]: 256 threads each, but for two 8×8 tiles of 128 threads (more workgroups resident per
  // multiprocessor for the same registers); BK so that each thread prefetches a whole number of values.
  const shapes: [number, number, number, number, number][] = [
    [64, 64, 4, 4, 8],
    [128, 64, 8, 4, 8],
    [64, 128, 4, 8, 8],
    [128, 128, 8, 8, 8],
    [256, 32, 8, 4, 8],
    [128, 32, 4, 4, 8],
    [32, 128, 4, 4, 8],
    [256, 16, 8, 2, 16],
    [64, 128, 8, 8, 8],
    [128, 64, 8, 8, 8],
  ];
  const fits = (BM: number, BN: number) => BM <= Math.max(32, 2 * M) && BN <= Math.max(8, 2 * N);
  const out: GemmTiling[] = [pickTiling(M, N), pickGpuTiling(M, N)];
  for (const [BM, BN, TM, TN, BK] of shapes)
    if (fits(BM, BN)) out.push({ BM, BN, BK, TM, TN, prefetch: true });
  // A GEMM one column or row wide (a 1×1 convolution to one channel, its weight gradient) wastes most of any
  // tile above: one thread an output, the tile as narrow as the GEMM.
  if (N <= 2) out.push({ BM: 256, BN: 1, BK: 16, TM: 1, TN: 1 });
  if (M <= 2) out.push({ BM: 1, BN: 256, BK: 16, TM: 1, TN: 1 });
  return distinctTilings(out);
}

/**
 * The same tile shape read and staged differently, one change each: vec4 workgroup-memory reads or not, a k step
 * twice as deep (or half), prefetching or not, one or two workgroup buffers. Which of these wins depends on the
 * driver's compiler more than on the GEMM, so they are timed only around the shapes that did best, and around
 * each improvement again (the autotuner climbs while a variant is faster). Some may not be generable for a load
 * order (the caller filters with `tilingProblem`).
 */
export function tilingVariants(t: GemmTiling): GemmTiling[] {
  const withFlag = (base: GemmTiling, flag: 'vec4' | 'prefetch' | 'double', on: boolean): GemmTiling => {
    const { [flag]: _, ...rest } = base;
    return on ? { ...rest, [flag]: true } : rest;
  };
  const otherBK = { ...t, BK: t.BK >= 16 ? t.BK / 2 : t.BK * 2 };
  return distinctTilings(
    [
      withFlag(t, 'vec4', !t.vec4),
      otherBK,
      withFlag(t, 'prefetch', !t.prefetch),
      withFlag(t, 'double', !t.double),
    ].filter((v) => tilingKey(v) !== tilingKey(t)),
  );
}

function distinctTilings(list: GemmTiling[]): GemmTiling[] {
  const seen = new Set<string>();
  return list.filter((t) => {
    const key = tilingKey(t);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
