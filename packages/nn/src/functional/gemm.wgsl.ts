/**
 * A generic tiled GEMM kernel, C[m, n] = Σ_k A[m, k] · B[k, n], whose operands are never materialised: each
 * variant supplies WGSL functions that read A and B (e.g. an im2col gather of an image) and store C. This is
 * the "implicit GEMM" form of convolution; the three conv kernels (forward, input gradient, weight gradient)
 * are variants of it (conv.wgsl.ts).
 *
 * A workgroup computes a BM×BN tile of C with (BM/TM)·(BN/TN) threads, each owning TM×TN accumulators; the
 * reduction advances BK at a time through workgroup-memory tiles of A (BK×BM) and B (BK×BN).
 *
 * The variant's WGSL must define:
 *   fn setup(z: u32) -> GemmRange    — called first with the z index (phase, split …); returns the extent of
 *                                      C (M, N) and the reduction range [kBegin, kEnd) for that z, and may set
 *                                      private variables that the loaders read. (Returning the range instead of
 *                                      setting private variables keeps the barrier loop provably uniform.)
 *   fn loadA(m: u32, k: u32) -> f32  — only called with m < M, kBegin ≤ k < kEnd
 *   fn loadB(k: u32, n: u32) -> f32  — only called with n < N, kBegin ≤ k < kEnd
 *   fn store(m: u32, n: u32, v: f32) — only called with m < M, n < N
 * and may define hooks that hoist index arithmetic out of the loads (each thread loads a fixed row of A when
 * A is loaded m-fastest, and a fixed k when both tiles are loaded k-fastest):
 *   fn prepA(m: u32)                 — once, with the row of A this thread loads (may be ≥ M)
 *   fn prepK(k: u32)                 — every reduction step, with the k this thread loads (may be ≥ kEnd)
 * The grid folds m-tiles into x·y and (z index, n-tile) into z.
 */

export interface GemmTiling {
  BM: number;
  BN: number;
  BK: number;
  TM: number;
  TN: number;
}

/** Which index varies fastest between neighbouring threads while loading a tile (the coalesced direction). */
export type LoadOrder = 'mn' | 'k';

export interface GemmVariant {
  /** Bindings, helper functions, `setup`, `loadA`, `loadB`, `store` (and the optional hooks). */
  body: string;
  tiling: GemmTiling;
  /** WGSL expression (uniform) for the number of BN-wide tiles along n. */
  tilesN: string;
  /** Load order of A: 'mn' when A is contiguous along m (image rows), 'k' when along the reduction. */
  aOrder: LoadOrder;
  bOrder: LoadOrder;
  prepA?: boolean;
  prepK?: boolean;
}

export function threadsOf(t: GemmTiling): number {
  return (t.BM / t.TM) * (t.BN / t.TN);
}

/**
 * Loads one BK×extent tile. Each thread keeps one coordinate fixed (its lane modulo the fast extent) and steps
 * the other, so the fixed one's index arithmetic can be hoisted.
 */
function tileLoad(name: 'A' | 'B', extent: number, BK: number, threads: number, order: LoadOrder): string {
  const fast = order === 'mn' ? extent : BK;
  if (threads % fast !== 0) throw new Error(`gemm: ${threads} threads do not divide the tile side ${fast}`);
  const total = extent * BK;
  const [xi, ki] = order === 'mn' ? ['lane', 'step'] : ['step', 'lane'];
  const base = name === 'A' ? 'm0' : 'n0';
  const limit = name === 'A' ? 'gM' : 'gN';
  const read = name === 'A' ? 'loadA(x, k)' : 'loadB(k, x)';
  // The trip count depends on lidx, which keeps shader compilers from unrolling the loop: unrolled loads make
  // CPU (lavapipe) pipelines take seconds to compile and gain little on a GPU, where loads are memory-bound.
  return `
    for (var i = lidx; i < ${total}u; i += ${threads}u) {
      let lane = lidx % ${fast}u;
      let step = i / ${fast}u;
      let xi = ${xi}; let ki = ${ki};
      let x = ${base} + xi; let k = k0 + ki;
      var v = 0.0;
      if (x < ${limit} && k < kEnd) { v = ${read}; }
      ${name}s[ki * ${extent}u + xi] = v;
    }`;
}

export function gemmWgsl(v: GemmVariant): string {
  const { BM, BN, BK, TM, TN } = v.tiling;
  const TX = BM / TM;
  const TY = BN / TN;
  const threads = TX * TY;
  if (!Number.isInteger(TX) || !Number.isInteger(TY))
    throw new Error('gemm: BM/TM and BN/TN must be integers');
  if (v.prepA && v.aOrder !== 'mn') throw new Error('gemm: prepA needs A loaded m-fastest');
  if (v.prepK && (v.aOrder !== 'k' || v.bOrder !== 'k')) throw new Error('gemm: prepK needs k-fastest loads');
  const accInit = Array.from({ length: TM * TN }, () => '0.0').join(', ');
  return `struct GemmRange { M: u32, N: u32, kBegin: u32, kEnd: u32 }
${v.body}
var<workgroup> As: array<f32, ${BK * BM}>;
var<workgroup> Bs: array<f32, ${BK * BN}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
  let rg = setup(wid.z / ${v.tilesN});
  let gM = rg.M;
  let gN = rg.N;
  let kEnd = rg.kEnd;
  let m0 = (wid.x + wid.y * nwg.x) * ${BM}u;
  let n0 = (wid.z % ${v.tilesN}) * ${BN}u;
  // Uniform control flow: every thread of the workgroup takes the same branch.
  if (m0 >= gM) { return; }
  ${v.prepA ? `prepA(m0 + lidx % ${BM}u);` : ''}
  let tx = lidx % ${TX}u;
  let ty = lidx / ${TX}u;
  var acc = array<f32, ${TM * TN}>(${accInit});
  for (var k0 = rg.kBegin; k0 < kEnd; k0 += ${BK}u) {
    ${v.prepK ? `prepK(k0 + lidx % ${BK}u);` : ''}${tileLoad('A', BM, BK, threads, v.aOrder)}${tileLoad('B', BN, BK, threads, v.bOrder)}
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      var a: array<f32, ${TM}>;
      var b: array<f32, ${TN}>;
      for (var i = 0u; i < ${TM}u; i++) { a[i] = As[kk * ${BM}u + tx + i * ${TX}u]; }
      for (var j = 0u; j < ${TN}u; j++) { b[j] = Bs[kk * ${BN}u + ty + j * ${TY}u]; }
      for (var i = 0u; i < ${TM}u; i++) {
        for (var j = 0u; j < ${TN}u; j++) { acc[i * ${TN}u + j] = fma(a[i], b[j], acc[i * ${TN}u + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${TM}u; i++) {
    let m = m0 + tx + i * ${TX}u;
    if (m >= gM) { continue; }
    for (var j = 0u; j < ${TN}u; j++) {
      let n = n0 + ty + j * ${TY}u;
      if (n < gN) { store(m, n, acc[i * ${TN}u + j]); }
    }
  }
}
`;
}

/**
 * Tiles for a GEMM of extent M×N (256 threads each): narrow n tiles when C has few columns (few output
 * channels), short m tiles when it has few rows (the weight gradient of a layer with ≤ 32 output channels).
 */
export function pickTiling(M: number, N: number): GemmTiling {
  if (M <= 32) {
    if (N <= 8) return { BM: 32, BN: 8, BK: 16, TM: 1, TN: 1 };
    if (N <= 16) return { BM: 32, BN: 16, BK: 16, TM: 2, TN: 1 };
    if (N <= 32) return { BM: 32, BN: 32, BK: 16, TM: 2, TN: 2 };
    return { BM: 32, BN: 64, BK: 16, TM: 2, TN: 4 };
  }
  if (N <= 8) return { BM: 128, BN: 8, BK: 16, TM: 4, TN: 1 };
  if (N <= 16) return { BM: 64, BN: 16, BK: 16, TM: 4, TN: 1 };
  if (N <= 32) return { BM: 64, BN: 32, BK: 16, TM: 4, TN: 2 };
  return { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 };
}

/** Workgroup grid for `tilesM` m-tiles (folded into x·y when over the per-dimension limit) and z·tilesN. */
export function gemmGrid(tilesM: number, zCount: number, maxPerDim: number): [number, number, number] {
  const x = Math.min(tilesM, maxPerDim);
  const y = Math.ceil(tilesM / x);
  return [x, y, zCount];
}
