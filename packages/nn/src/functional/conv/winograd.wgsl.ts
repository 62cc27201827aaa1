/**
 * Winograd convolution (Lavin & Gray, 2016) for 3×3 windows at stride 1 and dilation 1, F(m×m, 3×3) with output
 * tiles of m = 2 or 4: each m×m block of outputs comes from an α×α input patch (α = m + 2) with α² multiplications
 * per (input, output) channel pair instead of 9m² (16 for 36, or 36 for 144). Four kernels: the input patches are
 * transformed (V = Bᵀ d B), the weights (U = G g Gᵀ), the α² element-wise products summed over the input channels
 * are α² GEMMs (the GEMM generator, one per grid z), and the output transform (Y = Aᵀ M A) applies the forward
 * kernel's epilogue. Layouts: V [α², C, T], U [α², K, C], M [α², K, T], with T = N·⌈P/m⌉·⌈Q/m⌉ output tiles.
 * Sizes are the forward kernel's uniforms (direct.wgsl.ts).
 * The input gradient of such a convolution is one too (dy convolved with the flipped, transposed filters): the
 * same kernels in that geometry, the weight read flipped, the output written in parts when dx is. The weight
 * gradient is F(3×3, m×m), the transposed algorithm: dw = Gᵀ [Σ over tiles (A dy Aᵀ) ⊙ (Bᵀ d B)] G, whose sum
 * over tiles is α² GEMMs with a long reduction, split across workgroups like the direct weight gradient's.
 */
import { gridIndex, gridParams, type KernelSpec, type StorageDecl } from '@mriseg/tensor-wgsl';
import { type GemmTiling, gemmWgsl, threadsOf } from '../gemm.wgsl.js';
import {
  type ConvEpilogue,
  convSpec,
  declarations,
  epilogueWgsl,
  imageStorage,
  readXFn,
  sizesAsCalls,
} from './direct.wgsl.js';
import type { ConvGeometry, WinogradTile } from './geometry.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The transforms of F(m×m, 3×3) (interpolation points 0, ±1 for m = 2; 0, ±1, ±2 for m = 4). */
const MATRICES: Record<WinogradTile, { BT: number[][]; G: number[][]; AT: number[][] }> = {
  2: {
    BT: [
      [1, 0, -1, 0],
      [0, 1, 1, 0],
      [0, -1, 1, 0],
      [0, 1, 0, -1],
    ],
    G: [
      [1, 0, 0],
      [0.5, 0.5, 0.5],
      [0.5, -0.5, 0.5],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 0],
      [0, 1, -1, -1],
    ],
  },
  4: {
    BT: [
      [4, 0, -5, 0, 1, 0],
      [0, -4, -4, 1, 1, 0],
      [0, 4, -4, -1, 1, 0],
      [0, -2, -1, 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 4, 0, -5, 0, 1],
    ],
    G: [
      [1 / 4, 0, 0],
      [-1 / 6, -1 / 6, -1 / 6],
      [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6],
      [1 / 24, -1 / 12, 1 / 6],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 1, 1, 0],
      [0, 1, -1, 2, -2, 0],
      [0, 1, 1, 4, 4, 0],
      [0, 1, -1, 8, -8, 1],
    ],
  },
};

const transpose = (m: number[][]) => m[0].map((_, j) => m.map((row) => row[j]));

/**
 * One 1-D transform applied to the rows (or columns) of a small matrix of WGSL scalars `${src}${i}_${j}`: output
 * row o is Σ_i M[o][i] · (input row i), zero coefficients left out.
 */
function transform(src: string, dst: string, M: number[][], cols: number, alongColumns: boolean): string {
  const literal = (c: number) => (Number.isInteger(c) ? `${c}.0` : `${c}`);
  const term = (c: number, i: number, j: number) => {
    const v = alongColumns ? `${src}${j}_${i}` : `${src}${i}_${j}`;
    return c === 1 ? `+ ${v}` : c === -1 ? `- ${v}` : `+ ${literal(c)} * ${v}`;
  };
  return M.flatMap((row, o) =>
    range(cols).map((j) => {
      const terms = row.flatMap((c, i) => (c === 0 ? [] : [term(c, i, j)]));
      const name = alongColumns ? `${dst}${j}_${o}` : `${dst}${o}_${j}`;
      return `let ${name} = ${terms.join(' ').replace(/^\+ /, '') || '0.0'};`;
    }),
  ).join('\n  ');
}

/** M·X·Mᵀ for the matrix of scalars `src` (X has `srcCols` columns), through `mid`, into `dst`. */
const sandwich = (src: string, mid: string, dst: string, M: number[][], srcCols: number) =>
  `${transform(src, mid, M, srcCols, false)}\n  ${transform(mid, dst, M, M.length, true)}`;

/** One statement per element ξ = n·i + j of an n×n matrix. */
const eachElement = (n: number, line: (xi: number, ij: string, i: number, j: number) => string) =>
  range(n * n)
    .map((xi) => line(xi, `${Math.floor(xi / n)}_${xi % n}`, Math.floor(xi / n), xi % n))
    .join('\n  ');

/** Tile counts as WGSL, from the uniform sizes. */
const tiles = (m: WinogradTile) =>
  `let TH = (P_ + ${m - 1}u) / ${m}u; let TW = (Q_ + ${m - 1}u) / ${m}u; let T = N_ * TH * TW;`;

/** Which image and m×m block a tile index t is. */
const TILE_OF_T = 'let tw = t % TW; let r = t / TW; let th = r % TH; let img = r / TH;';

/**
 * A kernel with one thread per element of a `count`-element index space (decoded from e by `index`): loads a
 * small matrix, transforms it (`body`), stores it.
 */
function transformKernel(
  g: ConvGeometry,
  m: WinogradTile,
  k: { name: string; storage: StorageDecl[]; helpers?: string; count: string; index: string; body: string },
): KernelSpec {
  return convSpec(
    k.name,
    k.storage,
    256,
    sizesAsCalls(`${declarations(g)}
${k.helpers ?? ''}
fn main(${gridParams}) {
  ${tiles(m)}
  let e = ${gridIndex()};
  if (e >= ${k.count}) { return; }
  ${k.index}
  ${k.body}
}`),
  );
}

/** V[ξ, c, t] = (Bᵀ d B)[ξ] for the α×α patch d of channel c at tile t (zero outside the image). */
export function winogradInputSpec(g: ConvGeometry, parts: number, m: WinogradTile): KernelSpec {
  const a = m + 2;
  const read =
    parts === 1 ? 'X[((img * C_ + c) * H_ + u32(h)) * W_ + u32(w)]' : 'readX(img, c, u32(h) * W_ + u32(w))';
  const loads = eachElement(
    a,
    (_, ij, i, j) =>
      `var d${ij} = 0.0; { let h = h0 + ${i}; let w = w0 + ${j}; if (h >= 0 && w >= 0 && h < i32(H_) && w < i32(W_)) { d${ij} = ${read}; } }`,
  );
  return transformKernel(g, m, {
    name: 'conv2d_winograd_input',
    storage: [...imageStorage(parts, 'X', 'read'), { name: 'V', access: 'read_write' }],
    helpers: parts > 1 ? readXFn(parts) : '',
    count: 'C_ * T',
    index: `let t = e % T; let c = e / T;
  ${TILE_OF_T}
  let h0 = i32(th * ${m}u) - i32(PH);
  let w0 = i32(tw * ${m}u) - i32(PW);`,
    body: `${loads}
  ${sandwich('d', 'b', 'v', MATRICES[m].BT, a)}
  ${eachElement(a, (xi, ij) => `V[(${xi}u * C_ + c) * T + t] = v${ij};`)}`,
  });
}

/**
 * U[ξ, k, c] = (G g Gᵀ)[ξ] for the 3×3 filter g of output channel k and input channel c; `flipped`: the weight is
 * stored [C, K, 3, 3] and read rotated by 180° (the input gradient's filters).
 */
export function winogradWeightSpec(g: ConvGeometry, flipped: boolean, m: WinogradTile): KernelSpec {
  const at = (r: number, s: number) =>
    flipped ? `(c * K_ + k) * 9u + ${8 - (r * 3 + s)}u` : `e * 9u + ${r * 3 + s}u`;
  return transformKernel(g, m, {
    name: 'conv2d_winograd_weight',
    storage: [{ name: 'Wt' }, { name: 'U', access: 'read_write' }],
    count: 'K_ * C_',
    index: 'let c = e % C_; let k = e / C_;',
    body: `${eachElement(3, (_, ij, r, s) => `let g${ij} = Wt[${at(r, s)}];`)}
  ${sandwich('g', 'a', 'u', MATRICES[m].G, 3)}
  ${eachElement(m + 2, (xi, ij) => `U[(${xi}u * K_ + k) * C_ + c] = u${ij};`)}`,
  });
}

/** M[ξ] = U[ξ] · V[ξ] summed over input channels: GEMM with m = tile, n = output channel, k = input channel. */
export function winogradGemmSpec(g: ConvGeometry, tiling: GemmTiling, m: WinogradTile): KernelSpec {
  const body = `${declarations(g)}
var<private> aBase: u32;
var<private> bBase: u32;
var<private> mBase: u32;
var<private> tileCount: u32;
fn setup(z: u32) -> GemmRange {
  ${tiles(m)}
  aBase = z * C_ * T;
  bBase = z * K_ * C_;
  mBase = z * K_ * T;
  tileCount = T;
  return GemmRange(T, K_, 0u, C_);
}
fn loadA(m: u32, k: u32) -> f32 {
  return V[aBase + k * tileCount + m];
}
fn loadB(k: u32, n: u32) -> f32 {
  return U[bBase + n * C_ + k];
}
fn store(m: u32, n: u32, v: f32) {
  Mo[mBase + n * tileCount + m] = v;
}`;
  return convSpec(
    'conv2d_winograd_gemm',
    [{ name: 'V' }, { name: 'U' }, { name: 'Mo', access: 'read_write' }],
    threadsOf(tiling),
    gemmWgsl({ body: sizesAsCalls(body), tiling, tilesN: 'TILES_N()', aOrder: 'mn', bOrder: 'k' }),
  );
}

/**
 * fn writeY(img, k, pix, v) for an output in `n` channel parts (Y0, Y1, …), whose boundaries are the SEG words:
 * an input gradient written straight into the gradients of a concatenation's inputs.
 */
function writeYFn(n: number): string {
  const start = (i: number) => (i === 0 ? '0u' : `SEG${i}`);
  const end = (i: number) => (i === n - 1 ? 'K_' : `SEG${i + 1}`);
  const lines = range(n).map((i) => {
    const write = `Y${i}[(img * (${end(i)} - ${start(i)}) + k - ${start(i)}) * P_ * Q_ + pix] = v; return;`;
    return i === n - 1 ? `  ${write}` : `  if (k < ${end(i)}) { ${write} }`;
  });
  return `fn writeY(img: u32, k: u32, pix: u32, v: f32) {\n${lines.join('\n')}\n}`;
}

/** y = epilogue(Aᵀ M A) for each m×m output block (the parts outside the output dropped), y in `parts`. */
export function winogradOutputSpec(
  g: ConvGeometry,
  epilogue: ConvEpilogue,
  parts: number,
  m: WinogradTile,
): KernelSpec {
  const e = epilogueWgsl(epilogue);
  if (parts > 1 && epilogue !== 'none')
    throw new Error('conv2d (winograd): an epilogue with an output in parts');
  const write = (value: string) =>
    parts > 1 ? `writeY(img, n, p * Q_ + q, ${value});` : `Y[((img * K_ + n) * P_ + p) * Q_ + q] = ${value};`;
  const stores = eachElement(
    m,
    (_, ij, i, j) =>
      `{ let p = th * ${m}u + ${i}u; let q = tw * ${m}u + ${j}u; if (p < P_ && q < Q_) { let v = y${ij}; ${write(e.value)} } }`,
  );
  return transformKernel(g, m, {
    name: 'conv2d_winograd_output',
    storage: [{ name: 'Mo' }, ...e.storage, ...imageStorage(parts, 'Y', 'read_write')],
    helpers: parts > 1 ? writeYFn(parts) : '',
    count: 'K_ * T',
    index: `let t = e % T; let n = e / T;
  ${TILE_OF_T}`,
    body: `${eachElement(m + 2, (xi, ij) => `let m${ij} = Mo[(${xi}u * K_ + n) * T + t];`)}
  ${sandwich('m', 's', 'y', MATRICES[m].AT, m + 2)}
  ${stores}`,
  });
}

/** W[ξ, k, t] = (A e Aᵀ)[ξ] for the m×m block e of dy's channel k at tile t (zero past the output's edge). */
export function winogradOutputGradSpec(g: ConvGeometry, m: WinogradTile): KernelSpec {
  const loads = eachElement(
    m,
    (_, ij, i, j) =>
      `var e${ij} = 0.0; { let p = th * ${m}u + ${i}u; let q = tw * ${m}u + ${j}u; if (p < P_ && q < Q_) { e${ij} = DY[((img * K_ + k) * P_ + p) * Q_ + q]; } }`,
  );
  return transformKernel(g, m, {
    name: 'conv2d_winograd_dy',
    storage: [{ name: 'DY' }, { name: 'Wd', access: 'read_write' }],
    count: 'K_ * T',
    index: `let t = e % T; let k = e / T;
  ${TILE_OF_T}`,
    body: `${loads}
  ${sandwich('e', 'a', 'w', transpose(MATRICES[m].AT), m)}
  ${eachElement(m + 2, (xi, ij) => `Wd[(${xi}u * K_ + k) * T + t] = w${ij};`)}`,
  });
}

/**
 * Z[split, ξ, k, c] = Σ over the split's tiles t of W[ξ, k, t] · V[ξ, c, t]: GEMM with m = output channel,
 * n = input channel, reduction over tiles in chunks of CHUNK (grid z = ξ·splits + split).
 */
export function winogradWeightGradGemmSpec(g: ConvGeometry, tiling: GemmTiling, m: WinogradTile): KernelSpec {
  const count = (m + 2) ** 2;
  const body = `${declarations(g)}
var<private> aBase: u32;
var<private> bBase: u32;
var<private> zBase: u32;
var<private> tileCount: u32;
fn setup(z: u32) -> GemmRange {
  ${tiles(m)}
  let splits = (T + CHUNK - 1u) / CHUNK;
  let xi = z / splits;
  let split = z % splits;
  aBase = xi * K_ * T;
  bBase = xi * C_ * T;
  zBase = (split * ${count}u + xi) * K_ * C_;
  tileCount = T;
  let begin = split * CHUNK;
  return GemmRange(K_, C_, begin, min(T, begin + CHUNK));
}
fn loadA(m: u32, k: u32) -> f32 {
  return Wd[aBase + m * tileCount + k];
}
fn loadB(k: u32, n: u32) -> f32 {
  return V[bBase + n * tileCount + k];
}
fn store(m: u32, n: u32, v: f32) {
  Z[zBase + m * C_ + n] = v;
}`;
  return convSpec(
    'conv2d_winograd_weight_grad',
    [{ name: 'Wd' }, { name: 'V' }, { name: 'Z', access: 'read_write' }],
    threadsOf(tiling),
    gemmWgsl({ body: sizesAsCalls(body), tiling, tilesN: 'TILES_N()', aOrder: 'k', bOrder: 'k' }),
  );
}

/** dw[k, c] = Gᵀ Z[·, k, c] G: the 3×3 filter gradient from the α² summed products. */
export function winogradWeightGradOutputSpec(g: ConvGeometry, m: WinogradTile): KernelSpec {
  return transformKernel(g, m, {
    name: 'conv2d_winograd_weight_grad_output',
    storage: [{ name: 'Z' }, { name: 'DW', access: 'read_write' }],
    count: 'K_ * C_',
    index: 'let c = e % C_; let k = e / C_;',
    body: `${eachElement(m + 2, (xi, ij) => `let z${ij} = Z[(${xi}u * K_ + k) * C_ + c];`)}
  ${sandwich('z', 'h', 'o', transpose(MATRICES[m].G), m + 2)}
  ${eachElement(3, (xi, ij) => `DW[e * 9u + ${xi}u] = o${ij};`)}`,
  });
}
