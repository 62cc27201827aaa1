/**
 * Winograd F(2×2, 3×3) forward convolution (Lavin & Gray, 2016) for 3×3 windows at stride 1 and dilation 1: each
 * 2×2 block of outputs comes from a 4×4 input patch with 16 multiplications per (input, output) channel pair
 * instead of 36. Four kernels: the input patches are transformed (V = Bᵀ d B), the weights (U = G g Gᵀ), the 16
 * element-wise products summed over the input channels are 16 GEMMs (the GEMM generator, one per grid z), and
 * the output transform (Y = Aᵀ M A) applies the forward kernel's epilogue. Layouts: V [16, C, T], U [16, K, C],
 * M [16, K, T], with T = N·⌈P/2⌉·⌈Q/2⌉ output tiles. Sizes are the forward kernel's uniforms (conv.wgsl.ts).
 * The input gradient of such a convolution is one too (dy convolved with the flipped, transposed filters): the
 * same kernels in that geometry, the weight read flipped, the output written in parts when dx is. The weight
 * gradient is F(3×3, 2×2), the transposed algorithm: dw = Gᵀ [Σ over tiles (A dy Aᵀ) ⊙ (Bᵀ d B)] G, whose sum
 * over tiles is 16 GEMMs with a long reduction, split across workgroups like the direct weight gradient's.
 */
import { gridIndex, gridParams } from '@mriseg/tensor-wgsl';
import type { ConvGeometry } from './conv.js';
import {
  type ConvEpilogue,
  declarations,
  epilogueWgsl,
  imageBindings,
  readXFn,
  sizesAsCalls,
} from './conv.wgsl.js';
import { type GemmTiling, gemmWgsl } from './gemm.wgsl.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Tile counts as WGSL, from the uniform sizes. */
const TILES = `let TH = (P_ + 1u) / 2u; let TW = (Q_ + 1u) / 2u; let T = N_ * TH * TW;`;

/**
 * One 1-D transform applied to the rows (or columns) of a small matrix of WGSL scalars `${src}${i}_${j}`: each
 * output row is a signed sum of input rows, `rows[o] = [[coefficient, input row], …]`.
 */
function transform(
  src: string,
  dst: string,
  rows: [number, number][][],
  cols: number,
  alongColumns: boolean,
): string {
  const term = (c: number, i: number, j: number) => {
    const v = alongColumns ? `${src}${j}_${i}` : `${src}${i}_${j}`;
    return c === 1 ? `+ ${v}` : c === -1 ? `- ${v}` : `+ ${c} * ${v}`;
  };
  return rows
    .flatMap((row, o) =>
      range(cols).map((j) => {
        const sum = row.map(([c, i]) => term(c, i, j)).join(' ');
        const name = alongColumns ? `${dst}${j}_${o}` : `${dst}${o}_${j}`;
        return `let ${name} = ${sum.replace(/^\+ /, '')};`;
      }),
    )
    .join('\n  ');
}

/** M·X·Mᵀ for the matrix of scalars `src` (X has `srcCols` columns), through `mid`, into `dst`. */
const sandwich = (src: string, mid: string, dst: string, m: [number, number][][], srcCols: number) =>
  `${transform(src, mid, m, srcCols, false)}\n  ${transform(mid, dst, m, m.length, true)}`;

/** One statement per element ξ = 4i + j of a 4×4 matrix. */
const each16 = (line: (xi: number, ij: string) => string) =>
  range(16)
    .map((xi) => line(xi, `${Math.floor(xi / 4)}_${xi % 4}`))
    .join('\n  ');

/** Which image and 2×2 block a tile index t is. */
const TILE_OF_T = 'let tw = t % TW; let r = t / TW; let th = r % TH; let img = r / TH;';

/**
 * A kernel with one thread per element of a `count`-element index space (decoded from e by `index`): loads a
 * small matrix, transforms it (`body`), stores it. `head`: the bindings, with the sizes' uniform at `meta`.
 */
function transformKernel(
  g: ConvGeometry,
  k: { head: string; meta: number; helpers?: string; count: string; index: string; body: string },
): string {
  return sizesAsCalls(`${k.head}
${declarations(g, k.meta)}
${k.helpers ?? ''}
@compute @workgroup_size(256)
fn main(${gridParams}) {
  ${TILES}
  let e = ${gridIndex()};
  if (e >= ${k.count}) { return; }
  ${k.index}
  ${k.body}
}`);
}

// Bᵀ (4×4), G (4×3), Aᵀ (2×4) as signed row sums.
const BT: [number, number][][] = [
  [
    [1, 0],
    [-1, 2],
  ],
  [
    [1, 1],
    [1, 2],
  ],
  [
    [-1, 1],
    [1, 2],
  ],
  [
    [1, 1],
    [-1, 3],
  ],
];
const G: [number, number][][] = [
  [[1, 0]],
  [
    [0.5, 0],
    [0.5, 1],
    [0.5, 2],
  ],
  [
    [0.5, 0],
    [-0.5, 1],
    [0.5, 2],
  ],
  [[1, 2]],
];
const AT: [number, number][][] = [
  [
    [1, 0],
    [1, 1],
    [1, 2],
  ],
  [
    [1, 1],
    [-1, 2],
    [-1, 3],
  ],
];

/** V[ξ, c, t] = (Bᵀ d B)[ξ] for the 4×4 patch d of channel c at tile t (zero outside the image). */
export function winogradInputWgsl(g: ConvGeometry, parts: number): string {
  const read =
    parts === 1 ? 'X[((img * C_ + c) * H_ + u32(h)) * W_ + u32(w)]' : 'readX(img, c, u32(h) * W_ + u32(w))';
  const loads = each16(
    (xi, ij) =>
      `var d${ij} = 0.0; { let h = h0 + ${Math.floor(xi / 4)}; let w = w0 + ${xi % 4}; if (h >= 0 && w >= 0 && h < i32(H_) && w < i32(W_)) { d${ij} = ${read}; } }`,
  );
  return transformKernel(g, {
    head: `${imageBindings(parts, 0, 'read', 'X')}
@group(0) @binding(${parts}) var<storage, read_write> V: array<f32>;`,
    meta: parts + 1,
    helpers: parts > 1 ? readXFn(parts) : '',
    count: 'C_ * T',
    index: `let t = e % T; let c = e / T;
  ${TILE_OF_T}
  let h0 = i32(th * 2u) - i32(PH);
  let w0 = i32(tw * 2u) - i32(PW);`,
    body: `${loads}
  ${sandwich('d', 'b', 'v', BT, 4)}
  ${each16((xi, ij) => `V[(${xi}u * C_ + c) * T + t] = v${ij};`)}`,
  });
}

/**
 * U[ξ, k, c] = (G g Gᵀ)[ξ] for the 3×3 filter g of output channel k and input channel c; `flipped`: the weight is
 * stored [C, K, 3, 3] and read rotated by 180° (the input gradient's filters).
 */
export function winogradWeightWgsl(g: ConvGeometry, flipped: boolean): string {
  const at = (r: number, s: number) =>
    flipped ? `(c * K_ + k) * 9u + ${8 - (r * 3 + s)}u` : `e * 9u + ${r * 3 + s}u`;
  const loads = range(9)
    .map((i) => `let g${Math.floor(i / 3)}_${i % 3} = Wt[${at(Math.floor(i / 3), i % 3)}];`)
    .join('\n  ');
  return transformKernel(g, {
    head: `@group(0) @binding(0) var<storage, read> Wt: array<f32>;
@group(0) @binding(1) var<storage, read_write> U: array<f32>;`,
    meta: 2,
    count: 'K_ * C_',
    index: 'let c = e % C_; let k = e / C_;',
    body: `${loads}
  ${sandwich('g', 'a', 'u', G, 3)}
  ${each16((xi, ij) => `U[(${xi}u * K_ + k) * C_ + c] = u${ij};`)}`,
  });
}

/** M[ξ] = U[ξ] · V[ξ] summed over input channels: GEMM with m = tile, n = output channel, k = input channel. */
export function winogradGemmWgsl(g: ConvGeometry, tiling: GemmTiling): string {
  const body = `@group(0) @binding(0) var<storage, read> V: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read_write> Mo: array<f32>;
${declarations(g, 3)}
var<private> aBase: u32;
var<private> bBase: u32;
var<private> mBase: u32;
var<private> tiles: u32;
fn setup(z: u32) -> GemmRange {
  ${TILES}
  aBase = z * C_ * T;
  bBase = z * K_ * C_;
  mBase = z * K_ * T;
  tiles = T;
  return GemmRange(T, K_, 0u, C_);
}
fn loadA(m: u32, k: u32) -> f32 {
  return V[aBase + k * tiles + m];
}
fn loadB(k: u32, n: u32) -> f32 {
  return U[bBase + n * C_ + k];
}
fn store(m: u32, n: u32, v: f32) {
  Mo[mBase + n * tiles + m] = v;
}`;
  return gemmWgsl({
    body: sizesAsCalls(body),
    tiling,
    tilesN: 'TILES_N()',
    aOrder: 'mn',
    bOrder: 'k',
  });
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

/** y = epilogue(Aᵀ M A) for each 2×2 output block (the parts outside the output dropped), y in `parts`. */
export function winogradOutputWgsl(g: ConvGeometry, epilogue: ConvEpilogue, parts = 1): string {
  const e = epilogueWgsl(epilogue);
  if (parts > 1 && epilogue !== 'none')
    throw new Error('conv2d (winograd): an epilogue with an output in parts');
  // The epilogue's vectors sit right after M here (binding 1…), not after an image and a weight.
  const decls = e.decls.replace(/@binding\((\d)\)/g, (_, b) => `@binding(${Number(b) - 1})`);
  const out = e.out - 1;
  const write = (value: string) =>
    parts > 1 ? `writeY(img, n, p * Q_ + q, ${value});` : `Y[((img * K_ + n) * P_ + p) * Q_ + q] = ${value};`;
  const stores = range(4)
    .map((b) => {
      const [i, j] = [Math.floor(b / 2), b % 2];
      return `{ let p = th * 2u + ${i}u; let q = tw * 2u + ${j}u; if (p < P_ && q < Q_) { let v = y${i}_${j}; ${write(e.value)} } }`;
    })
    .join('\n  ');
  return transformKernel(g, {
    head: `@group(0) @binding(0) var<storage, read> Mo: array<f32>;
${decls}
${imageBindings(parts, out, 'read_write', 'Y')}`,
    meta: out + parts,
    helpers: parts > 1 ? writeYFn(parts) : '',
    count: 'K_ * T',
    index: `let t = e % T; let n = e / T;
  ${TILE_OF_T}`,
    body: `${each16((xi, ij) => `let m${ij} = Mo[(${xi}u * K_ + n) * T + t];`)}
  ${sandwich('m', 's', 'y', AT, 4)}
  ${stores}`,
  });
}

// A (4×2) and Gᵀ (3×4) as signed row sums, for the weight gradient.
const A: [number, number][][] = [
  [[1, 0]],
  [
    [1, 0],
    [1, 1],
  ],
  [
    [1, 0],
    [-1, 1],
  ],
  [[-1, 1]],
];
const GT: [number, number][][] = [
  [
    [1, 0],
    [0.5, 1],
    [0.5, 2],
  ],
  [
    [0.5, 1],
    [-0.5, 2],
  ],
  [
    [0.5, 1],
    [0.5, 2],
    [1, 3],
  ],
];

/** W[ξ, k, t] = (A e Aᵀ)[ξ] for the 2×2 block e of dy's channel k at tile t (zero past the output's edge). */
export function winogradOutputGradWgsl(g: ConvGeometry): string {
  const loads = range(4)
    .map((b) => {
      const [i, j] = [Math.floor(b / 2), b % 2];
      return `var e${i}_${j} = 0.0; { let p = th * 2u + ${i}u; let q = tw * 2u + ${j}u; if (p < P_ && q < Q_) { e${i}_${j} = DY[((img * K_ + k) * P_ + p) * Q_ + q]; } }`;
    })
    .join('\n  ');
  return transformKernel(g, {
    head: `@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read_write> Wd: array<f32>;`,
    meta: 2,
    count: 'K_ * T',
    index: `let t = e % T; let k = e / T;
  ${TILE_OF_T}`,
    body: `${loads}
  ${sandwich('e', 'a', 'w', A, 2)}
  ${each16((xi, ij) => `Wd[(${xi}u * K_ + k) * T + t] = w${ij};`)}`,
  });
}

/**
 * Z[split, ξ, k, c] = Σ over the split's tiles t of W[ξ, k, t] · V[ξ, c, t]: GEMM with m = output channel,
 * n = input channel, reduction over tiles in chunks of CHUNK (grid z = ξ·splits + split).
 */
export function winogradWeightGradGemmWgsl(g: ConvGeometry, tiling: GemmTiling): string {
  const body = `@group(0) @binding(0) var<storage, read> Wd: array<f32>;
@group(0) @binding(1) var<storage, read> V: array<f32>;
@group(0) @binding(2) var<storage, read_write> Z: array<f32>;
${declarations(g, 3)}
var<private> aBase: u32;
var<private> bBase: u32;
var<private> zBase: u32;
var<private> tiles: u32;
fn setup(z: u32) -> GemmRange {
  ${TILES}
  let splits = (T + CHUNK - 1u) / CHUNK;
  let xi = z / splits;
  let split = z % splits;
  aBase = xi * K_ * T;
  bBase = xi * C_ * T;
  zBase = (split * 16u + xi) * K_ * C_;
  tiles = T;
  let begin = split * CHUNK;
  return GemmRange(K_, C_, begin, min(T, begin + CHUNK));
}
fn loadA(m: u32, k: u32) -> f32 {
  return Wd[aBase + m * tiles + k];
}
fn loadB(k: u32, n: u32) -> f32 {
  return V[bBase + n * tiles + k];
}
fn store(m: u32, n: u32, v: f32) {
  Z[zBase + m * C_ + n] = v;
}`;
  return gemmWgsl({ body: sizesAsCalls(body), tiling, tilesN: 'TILES_N()', aOrder: 'k', bOrder: 'k' });
}

/** dw[k, c] = Gᵀ Z[·, k, c] G: the 3×3 filter gradient from the 16 summed products. */
export function winogradWeightGradOutputWgsl(g: ConvGeometry): string {
  const stores = range(9)
    .map((i) => `DW[e * 9u + ${i}u] = o${Math.floor(i / 3)}_${i % 3};`)
    .join('\n  ');
  return transformKernel(g, {
    head: `@group(0) @binding(0) var<storage, read> Z: array<f32>;
@group(0) @binding(1) var<storage, read_write> DW: array<f32>;`,
    meta: 2,
    count: 'K_ * C_',
    index: 'let c = e % C_; let k = e / C_;',
    body: `${each16((xi, ij) => `let z${ij} = Z[(${xi}u * K_ + k) * C_ + c];`)}
  ${sandwich('z', 'h', 'o', GT, 4)}
  ${stores}`,
  });
}
