/**
 * A generic tiled GEMM kernel, C[m, n] = Σ_k A[m, k] · B[k, n], whose operands are never materialised: each
 * variant supplies WGSL functions that read A and B (e.g. an im2col gather of an image) and store C. This is
 * the "implicit GEMM" form of convolution; the three conv kernels (forward, input gradient, weight gradient)
 * are variants of it (conv/direct.wgsl.ts).
 *
 * A workgroup computes a BM×BN tile of C with (BM/TM)·(BN/TN) threads, each owning TM×TN accumulators; the
 * reduction advances BK at a time through workgroup-memory tiles of A (BK×BM) and B (BK×BN). With `prefetch`,
 * each thread reads its share of the next tiles from global memory into registers while the current tiles are
 * multiplied (one workgroup-memory buffer, global latency hidden behind the arithmetic). With `vec4`, each thread
 * owns groups of 4 adjacent rows and columns of C and reads the tiles four values at a time (one 16-byte
 * workgroup-memory read instead of four), so a 8×8 register tile needs 4 reads for its 64 FMAs instead of 16.
 * With `double`, the workgroup tiles alternate between two buffers, so that one barrier a k step suffices (the
 * next step writes the other buffer while slower threads still read this one).
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
 *   fn prepK(k: u32)                 — before each tile's loads, with the k this thread loads (may be ≥ kEnd)
 *   fn stepK()                       — with `stepK`, replaces prepK after the first tile: the thread's k has
 *                                      advanced by exactly GEMM_BK (a constant the generator declares), so the
 *                                      hook can carry its decoded index forward instead of dividing again
 * The grid folds m-tiles into x·y and (z index, n-tile) into z.
 */

export interface GemmTiling {
  BM: number;
  BN: number;
  BK: number;
  TM: number;
  TN: number;
  /** Read the next tiles into registers while multiplying the current ones. */
  prefetch?: boolean;
  /** Read workgroup memory as vec4 in the multiply (TM and TN multiples of 4). */
  vec4?: boolean;
  /** Two workgroup-memory buffers used in turn: one barrier a k step instead of two. */
  double?: boolean;
  /**
   * Convolution kernels of a 3×3, stride-1, dilation-1 convolution only: compute it by Winograd F(m×m, 3×3) with
   * output tiles of m = 2 or 4, whose GEMMs this tiling shapes (conv/winograd.ts). Not a property of the GEMM
   * kernel itself.
   */
  winograd?: 2 | 4;
  /**
   * Launch parameter of the convolution weight gradient (split-K), not of the kernel: how many workgroups its
   * reduction is split to reach (conv/direct.ts and launch-helpers.ts; default there 512).
   */
  splitTarget?: number;
}

/** Which index varies fastest between neighbouring threads while loading a tile (the coalesced direction). */
export type LoadOrder = 'mn' | 'k';

export interface GemmVariant {
  /**
   * Helper functions, `setup`, `loadA`, `loadB`, `store` (and the optional hooks); the bindings they read are
   * declared by the kernel's description (gemmWgsl makes code, not the whole shader).
   */
  body: string;
  tiling: GemmTiling;
  /** WGSL expression (uniform) for the number of BN-wide tiles along n. */
  tilesN: string;
  /** Load order of A: 'mn' when A is contiguous along m (image rows), 'k' when along the reduction. */
  aOrder: LoadOrder;
  bOrder: LoadOrder;
  prepA?: boolean;
  prepK?: boolean;
  /** With prepK: call `stepK()` instead of prepK for every tile after the first (see the header). */
  stepK?: boolean;
  /**
   * Call `prepStore(m)` once for each row of C a thread stores, before its `store(m, n, v)` calls: the row's
   * index arithmetic (divisions by image sizes) then happens once a row, not once an element.
   */
  prepStore?: boolean;
}

export function threadsOf(t: GemmTiling): number {
  return (t.BM / t.TM) * (t.BN / t.TN);
}

export function tilingKey(t: GemmTiling): string {
  const split = t.splitTarget === undefined ? '' : `s${t.splitTarget}`;
  const winograd = t.winograd === 4 ? 'w4' : t.winograd ? 'w' : '';
  const flags = `${t.prefetch ? 'p' : ''}${t.vec4 ? 'v' : ''}${t.double ? 'd' : ''}${winograd}`;
  return `${t.BM}x${t.BN}x${t.BK}/${t.TM}x${t.TN}${flags}${split}`;
}

/** The tiling a `tilingKey` names, or null for text that is not one. */
export function parseTilingKey(key: string): GemmTiling | null {
  const m = /^(\d+)x(\d+)x(\d+)\/(\d+)x(\d+)(p?)(v?)(d?)(w4|w)?(?:s(\d+))?$/.exec(key);
  if (!m) return null;
  const [BM, BN, BK, TM, TN] = m.slice(1, 6).map(Number);
  return {
    BM,
    BN,
    BK,
    TM,
    TN,
    ...(m[6] ? { prefetch: true } : {}),
    ...(m[7] ? { vec4: true } : {}),
    ...(m[8] ? { double: true } : {}),
    ...(m[9] ? { winograd: m[9] === 'w4' ? (4 as const) : (2 as const) } : {}),
    ...(m[10] ? { splitTarget: Number(m[10]) } : {}),
  };
}

/** Why a tiling cannot be generated for these load orders, or null when it can. */
export function tilingProblem(t: GemmTiling, aOrder: LoadOrder, bOrder: LoadOrder): string | null {
  const { BM, BN, BK, TM, TN } = t;
  if (![BM, BN, BK, TM, TN].every((v) => Number.isInteger(v) && v > 0))
    return 'sizes must be positive integers';
  if (BM % TM || BN % TN) return 'BM/TM and BN/TN must be integers';
  if (t.vec4 && (TM % 4 || TN % 4)) return 'vec4 needs TM and TN to be multiples of 4';
  if (t.splitTarget !== undefined && !(Number.isInteger(t.splitTarget) && t.splitTarget > 0))
    return 'splitTarget must be a positive integer';
  if (t.winograd !== undefined && t.winograd !== 2 && t.winograd !== 4) return 'winograd must be 2 or 4';
  const threads = threadsOf(t);
  if (threads > 256) return `${threads} threads exceed 256`;
  for (const [extent, order] of [
    [BM, aOrder],
    [BN, bOrder],
  ] as const) {
    const fast = order === 'mn' ? extent : BK;
    if (threads % fast !== 0) return `${threads} threads do not divide the tile side ${fast}`;
    if (t.prefetch && (extent * BK) % threads !== 0)
      return `prefetch needs the ${BK}×${extent} tile to split evenly over ${threads} threads`;
  }
  return null;
}

/**
 * Workgroup-memory row stride of a tile: tiles loaded k-fastest get padding so that the BK threads writing one
 * column land in different banks (32 banks of 4 bytes); reads in the multiply loop stay conflict-free. Rows
 * read as vec4 keep a whole number of vec4s.
 */
function rowStride(extent: number, t: GemmTiling, order: LoadOrder): number {
  if (order !== 'k') return extent;
  const pad = Math.max(1, Math.floor(32 / t.BK));
  return extent + (t.vec4 ? Math.ceil(pad / 4) * 4 : pad);
}

/** Bytes of workgroup memory the kernel declares for a tiling (the device's limit may be as low as 16 KiB). */
export function workgroupStorageBytes(t: GemmTiling, aOrder: LoadOrder, bOrder: LoadOrder): number {
  return (t.double ? 2 : 1) * 4 * t.BK * (rowStride(t.BM, t, aOrder) + rowStride(t.BN, t, bOrder));
}

interface TileSpec {
  name: 'A' | 'B';
  extent: number;
  stride: number;
  order: LoadOrder;
  vec4: boolean;
  /** Two buffers: the one in use starts at array element (or vec4) `Abuf` / `Bbuf`. */
  double: boolean;
}

/** Start of the buffer in use, as a prefix of an index expression. */
const bufferStart = (s: TileSpec) => (s.double ? `${s.name}buf + ` : '');

/** The workgroup-memory element at row ki, column xi of a tile (a component of a vec4 when read as vec4). */
function smem(s: TileSpec, ki: string, xi: string): string {
  if (!s.vec4) return `${s.name}s[${bufferStart(s)}(${ki}) * ${s.stride}u + ${xi}]`;
  return `${s.name}s[${bufferStart(s)}(${ki}) * ${s.stride / 4}u + (${xi}) / 4u][(${xi}) % 4u]`;
}

/** Coordinates (x along m or n, k within the tile) of the element a thread loads at index `i` of the tile. */
function coords(s: TileSpec, BK: number, i: string): { xi: string; ki: string } {
  const fast = s.order === 'mn' ? s.extent : BK;
  const lane = `(${i}) % ${fast}u`;
  const step = `(${i}) / ${fast}u`;
  return s.order === 'mn' ? { xi: lane, ki: step } : { xi: step, ki: lane };
}

/**
 * The coordinates of a thread's j-th prefetched element, index lidx + j·threads: the thread count is a multiple
 * of the fast side (tilingProblem), so the lane is lidx's and the step advances by a constant, written so that
 * no compiler has to prove it.
 */
function slotCoords(s: TileSpec, BK: number, threads: number, j: number): { xi: string; ki: string } {
  const fast = s.order === 'mn' ? s.extent : BK;
  const lane = `lidx % ${fast}u`;
  const step = `lidx / ${fast}u + ${(j * threads) / fast}u`;
  return s.order === 'mn' ? { xi: lane, ki: step } : { xi: step, ki: lane };
}

/** `target = load(x, k)` inside the bounds, 0 outside (loaders are never called out of range). */
function guardedRead(s: TileSpec, target: string): string {
  const limit = s.name === 'A' ? 'gM' : 'gN';
  const read = s.name === 'A' ? 'loadA(x, k)' : 'loadB(k, x)';
  return `${target} = 0.0; if (x < ${limit} && k < kEnd) { ${target} = ${read}; }`;
}

/**
 * Loads one BK×extent tile straight into workgroup memory. Each thread keeps one coordinate fixed (its lane
 * modulo the fast extent) and steps the other, so the fixed one's index arithmetic can be hoisted.
 */
function directLoad(s: TileSpec, BK: number, threads: number): string {
  const { xi, ki } = coords(s, BK, 'i');
  const base = s.name === 'A' ? 'm0' : 'n0';
  // The trip count depends on lidx, which keeps shader compilers from unrolling the loop: unrolled loads make
  // CPU (lavapipe) pipelines take seconds to compile and gain little on a GPU, where loads are memory-bound.
  return `
    for (var i = lidx; i < ${s.extent * BK}u; i += ${threads}u) {
      let xi = ${xi}; let ki = ${ki};
      let x = ${base} + xi; let k = k0 + ki;
      var v: f32;
      ${guardedRead(s, 'v')}
      ${smem(s, 'ki', 'xi')} = v;
    }`;
}

/** Reads this thread's share of the tile starting at `kStart` into registers p{A|B}0, p{A|B}1, … */
function fetchToRegisters(s: TileSpec, BK: number, threads: number, kStart: string): string {
  const base = s.name === 'A' ? 'm0' : 'n0';
  const count = (s.extent * BK) / threads;
  const lines: string[] = [];
  for (let j = 0; j < count; j++) {
    const { xi, ki } = slotCoords(s, BK, threads, j);
    lines.push(`{ let x = ${base} + ${xi}; let k = ${kStart} + ${ki}; ${guardedRead(s, `p${s.name}${j}`)} }`);
  }
  return lines.join('\n      ');
}

function storeRegisters(s: TileSpec, BK: number, threads: number): string {
  const count = (s.extent * BK) / threads;
  const lines: string[] = [];
  for (let j = 0; j < count; j++) {
    const { xi, ki } = slotCoords(s, BK, threads, j);
    lines.push(`${smem(s, ki, xi)} = p${s.name}${j};`);
  }
  return lines.join('\n    ');
}

export function gemmWgsl(v: GemmVariant): string {
  const t = v.tiling;
  const { BM, BN, BK, TM, TN } = t;
  const problem = tilingProblem(t, v.aOrder, v.bOrder);
  if (problem) throw new Error(`gemm: tiling ${tilingKey(t)}: ${problem}`);
  if (v.prepA && v.aOrder !== 'mn') throw new Error('gemm: prepA needs A loaded m-fastest');
  if (v.prepK && (v.aOrder !== 'k' || v.bOrder !== 'k')) throw new Error('gemm: prepK needs k-fastest loads');
  if (v.stepK && !v.prepK) throw new Error('gemm: stepK needs prepK');
  const TX = BM / TM;
  const TY = BN / TN;
  const threads = TX * TY;
  const vec4 = t.vec4 === true;
  const double = t.double === true;
  const spec = (name: 'A' | 'B', extent: number, order: LoadOrder): TileSpec => ({
    name,
    extent,
    stride: rowStride(extent, t, order),
    order,
    vec4,
    double,
  });
  const A = spec('A', BM, v.aOrder);
  const B = spec('B', BN, v.bOrder);
  // Array elements of one buffer (vec4s when read as vec4).
  const bufferLength = (s: TileSpec) => (BK * s.stride) / (vec4 ? 4 : 1);
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  // Register i of a thread's TM (or TN) holds row (column) tx + i·TX of the tile, or with vec4 the i%4-th of
  // the 4 adjacent rows (tx + ⌊i/4⌋·TX)·4 + i%4.
  const offset = (i: number, lane: string, T: number) =>
    vec4 ? `(${lane} + ${Math.floor(i / 4) * T}u) * 4u + ${i % 4}u` : `${lane} + ${i * T}u`;
  // The register tile is written out statement by statement: scalar accumulators with constant names stay in
  // registers whatever a compiler's unrolling heuristics decide.
  const accDecl = range(TM)
    .map(
      (i) =>
        `var c${i}_0 = 0.0;${range(TN - 1)
          .map((j) => ` var c${i}_${j + 1} = 0.0;`)
          .join('')}`,
    )
    .join('\n  ');
  const reads = (s: TileSpec, r: string, lane: string, T: number, count: number) =>
    vec4
      ? range(count / 4).map(
          (g) => `let ${r}v${g} = ${s.name}s[${bufferStart(s)}kk * ${s.stride / 4}u + ${lane} + ${g * T}u];`,
        )
      : range(count).map(
          (i) => `let ${r}${i} = ${s.name}s[${bufferStart(s)}kk * ${s.stride}u + ${lane} + ${i * T}u];`,
        );
  const reg = (r: string, i: number) => (vec4 ? `${r}v${Math.floor(i / 4)}.${'xyzw'[i % 4]}` : `${r}${i}`);
  const multiply = [
    ...reads(A, 'a', 'tx', TX, TM),
    ...reads(B, 'b', 'ty', TY, TN),
    ...range(TM).flatMap((i) =>
      range(TN).map((j) => `c${i}_${j} = fma(${reg('a', i)}, ${reg('b', j)}, c${i}_${j});`),
    ),
  ].join('\n      ');
  const epilogue = range(TM)
    .map((i) => {
      const stores = range(TN)
        .map((j) => `{ let n = n0 + ${offset(j, 'ty', TY)}; if (n < gN) { store(m, n, c${i}_${j}); } }`)
        .join('\n      ');
      const prep = v.prepStore ? 'prepStore(m);\n      ' : '';
      return `{ let m = m0 + ${offset(i, 'tx', TX)};\n    if (m < gM) {\n      ${prep}${stores}\n    } }`;
    })
    .join('\n  ');
  const prepK = (kStart: string) => (v.prepK ? `prepK(${kStart} + lidx % ${BK}u);` : '');
  // A later tile's k: stepped from the previous one's where the variant can, else decoded again.
  const nextK = (kStart: string) => (v.stepK ? 'stepK();' : prepK(kStart));
  // With two buffers, step i uses buffer i mod 2 and the barrier that ends a step is not needed: a thread can
  // only write a buffer again two steps later, after the next step's barrier, which every thread reaches only
  // once it has finished reading that buffer.
  const stepBegin = double
    ? `let Abuf = (stage & 1u) * ${bufferLength(A)}u; let Bbuf = (stage & 1u) * ${bufferLength(B)}u;`
    : '';
  const stepEnd = double ? 'stage++;' : 'workgroupBarrier();';
  const stageDecl = double ? 'var stage = 0u;' : '';
  let loop: string;
  if (t.prefetch) {
    const regs = (s: TileSpec) =>
      range((s.extent * BK) / threads)
        .map((j) => `var p${s.name}${j} = 0.0;`)
        .join(' ');
    loop = `${regs(A)}
  ${regs(B)}
  ${prepK('rg.kBegin')}
  ${fetchToRegisters(A, BK, threads, 'rg.kBegin')}
  ${fetchToRegisters(B, BK, threads, 'rg.kBegin')}
  ${stageDecl}
  for (var k0 = rg.kBegin; k0 < kEnd; k0 += ${BK}u) {
    ${stepBegin}
    ${storeRegisters(A, BK, threads)}
    ${storeRegisters(B, BK, threads)}
    workgroupBarrier();
    let kNext = k0 + ${BK}u;
    if (kNext < kEnd) {
      ${nextK('kNext')}
      ${fetchToRegisters(A, BK, threads, 'kNext')}
      ${fetchToRegisters(B, BK, threads, 'kNext')}
    }
    for (var kk = 0u; kk < ${BK}u; kk++) {
      ${multiply}
    }
    ${stepEnd}
  }`;
  } else {
    // With stepK the first tile's k is decoded before the loop and each step ends by stepping it (once more
    // than needed after the last tile, which loads nothing).
    loop = `${stageDecl}
  ${v.stepK ? prepK('rg.kBegin') : ''}
  for (var k0 = rg.kBegin; k0 < kEnd; k0 += ${BK}u) {
    ${stepBegin}
    ${v.stepK ? '' : prepK('k0')}${directLoad(A, BK, threads)}${directLoad(B, BK, threads)}
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      ${multiply}
    }
    ${v.stepK ? 'stepK();' : ''}
    ${stepEnd}
  }`;
  }
  return `struct GemmRange { M: u32, N: u32, kBegin: u32, kEnd: u32 }
const GEMM_BK: u32 = ${BK}u;
${v.body}
var<workgroup> As: array<${vec4 ? 'vec4<f32>' : 'f32'}, ${(double ? 2 : 1) * bufferLength(A)}>;
var<workgroup> Bs: array<${vec4 ? 'vec4<f32>' : 'f32'}, ${(double ? 2 : 1) * bufferLength(B)}>;

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
  ${accDecl}
  ${loop}
  ${epilogue}
}
`;
}

/** Workgroup grid for `tilesM` m-tiles (folded into x·y when over the per-dimension limit) and z·tilesN. */
export function gemmGrid(tilesM: number, zCount: number, maxPerDim: number): [number, number, number] {
  const x = Math.min(tilesM, maxPerDim);
  const y = Math.ceil(tilesM / x);
  return [x, y, zCount];
}
