/**
 * The three convolution kernels as implicit-GEMM variants (gemm.wgsl.ts), in the geometry of a forward
 * convolution: image x [N, C, H, W], weight w [K, C, R, S], output y [N, K, P, Q], strides SH/SW, paddings
 * PH/PW, dilations DH/DW. A transposed convolution reuses them with the roles swapped (conv-transpose2d.ts).
 *
 * The geometry is compiled into each shader as constants: the index arithmetic of an implicit GEMM is mostly
 * division by these sizes, which becomes multiply-and-shift for constants. A network has few distinct layer
 * shapes, and pipelines are cached by code.
 */
import type { KernelSpec, StorageDecl, UniformType } from '@mriseg/tensor-wgsl';
import { type GemmTiling, gemmWgsl, threadsOf } from '../gemm.wgsl.js';
import { type ConvGeometry, type ConvKernel, LOAD_ORDERS } from './geometry.js';

/**
 * The uniforms of every convolution kernel: the sizes (the parts of the geometry that vary between the layers
 * of a network), and where each image part starts along the channels (SEG1…) when the image is a channel
 * concatenation of several tensors read in place. The code reads them through accessors (`N_()`, …).
 */
export const SIZE_WORDS = [
  'N_',
  'C_',
  'H_',
  'W_',
  'K_',
  'P_',
  'Q_',
  'HP',
  'WP',
  'CHUNK',
  'TILES_N',
  'SEG1',
  'SEG2',
  'SEG3',
  'SEG4',
  'SEG5',
] as const;

/** Most image parts a kernel reads (or writes) in place: six storage bindings, with the weight and output. */
export const MAX_IMAGE_PARTS = SIZE_WORDS.length - SIZE_WORDS.indexOf('SEG1') + 1;

export const SIZE_UNIFORMS: Readonly<Record<string, UniformType>> = Object.fromEntries(
  SIZE_WORDS.map((n) => [n, 'u32']),
);

/**
 * The uniform values of a dispatch; `tilesN` is the number of BN-wide tiles of C's columns, `parts` the channel
 * counts of the image's parts (one part: the image is one tensor).
 */
export function sizeUniforms(
  g: ConvGeometry,
  tilesN: number,
  chunk = 0,
  parts: readonly number[] = [g.C],
): Record<string, number> {
  const u: Record<string, number> = {
    N_: g.N,
    C_: g.C,
    H_: g.H,
    W_: g.W,
    K_: g.K,
    P_: g.P,
    Q_: g.Q,
    HP: Math.ceil(g.H / g.sh),
    WP: Math.ceil(g.W / g.sw),
    CHUNK: chunk,
    TILES_N: tilesN,
    SEG1: 0,
    SEG2: 0,
    SEG3: 0,
    SEG4: 0,
    SEG5: 0,
  };
  let start = 0;
  for (let i = 1; i < parts.length; i++) {
    start += parts[i - 1];
    u[`SEG${i}`] = start;
  }
  return u;
}

/** A convolution kernel's description: its storage, the size uniforms, and code of `threads` threads. */
export function convSpec(name: string, storage: StorageDecl[], threads: number, code: string): KernelSpec {
  return { name, storage, uniforms: SIZE_UNIFORMS, workgroupSize: threads, code };
}

/** The storage buffers of an image of `n` parts (X0, X1, …; one part keeps the name X). */
export function imageStorage(n: number, name: string, access: 'read' | 'read_write'): StorageDecl[] {
  if (n === 1) return [{ name, access }];
  return Array.from({ length: n }, (_, i) => ({ name: `${name}${i}`, access }));
}

/** The bindings of an image's parts, named as `imageStorage` names them. */
export function imageBindings(
  name: string,
  parts: readonly { buffer: GPUBuffer }[],
): Record<string, GPUBuffer> {
  if (parts.length === 1) return { [name]: parts[0].buffer };
  return Object.fromEntries(parts.map((t, i) => [`${name}${i}`, t.buffer]));
}

/** Bounds of image part i along the channels, as WGSL expressions. */
const partStart = (i: number) => (i === 0 ? '0u' : `SEG${i}`);
const partEnd = (i: number, n: number) => (i === n - 1 ? 'C_' : `SEG${i + 1}`);

/**
 * fn readX(img, c, pix) for an image of n parts: the value of channel c of image img at pixel offset pix
 * (h·W + w), from the part that holds channel c.
 */
export function readXFn(n: number): string {
  const lines = Array.from({ length: n }, (_, i) => {
    const read = `return X${i}[(img * (${partEnd(i, n)} - ${partStart(i)}) + c - ${partStart(i)}) * H_ * W_ + pix];`;
    return i === n - 1 ? `  ${read}` : `  if (c < ${partEnd(i, n)}) { ${read} }`;
  });
  return `fn readX(img: u32, c: u32, pix: u32) -> f32 {\n${lines.join('\n')}\n}`;
}

/** fn writeDX(img, c, pix, v) for an input gradient of n parts. */
function writeDXFn(n: number): string {
  const lines = Array.from({ length: n }, (_, i) => {
    const write = `DX${i}[(img * (${partEnd(i, n)} - ${partStart(i)}) + c - ${partStart(i)}) * H_ * W_ + pix] = v; return;`;
    return i === n - 1 ? `  ${write}` : `  if (c < ${partEnd(i, n)}) { ${write} }`;
  });
  return `fn writeDX(img: u32, c: u32, pix: u32, v: f32) {\n${lines.join('\n')}\n}`;
}

/**
 * The kernel window (size, stride, padding, dilation) is compiled in as constants: the index arithmetic of an
 * implicit GEMM is mostly division by these, which becomes multiply-and-shift. Image and channel sizes are
 * uniforms, so all layers with one window shape share a pipeline (each pipeline costs seconds to compile on
 * a CPU adapter).
 */
export function declarations(g: ConvGeometry): string {
  const window: [string, number][] = [
    ['R_', g.R],
    ['S_', g.S],
    ['SH', g.sh],
    ['SW', g.sw],
    ['PH', g.ph],
    ['PW', g.pw],
    ['DLH', g.dh],
    ['DLW', g.dw],
  ];
  return [
    ...window.map(([n, v]) => `const ${n}: u32 = ${v}u;`),
    ...SIZE_WORDS.map((n) => `fn ${n}() -> u32 { return params.${n}; }`),
  ].join('\n');
}

/**
 * The GEMM of one convolution kernel, with the load orders the tilings are checked against (LOAD_ORDERS) and
 * the index-hoisting hook those orders allow.
 */
function kernelGemm(kernel: ConvKernel, body: string, tiling: GemmTiling): string {
  const [aOrder, bOrder] = LOAD_ORDERS[kernel];
  return gemmWgsl({
    body: sizesAsCalls(body),
    tiling,
    tilesN: 'TILES_N()',
    aOrder,
    bOrder,
    prepA: aOrder === 'mn',
    prepK: aOrder === 'k' && bOrder === 'k',
    stepK: aOrder === 'k' && bOrder === 'k',
    prepStore: kernel !== 'weight_grad',
  });
}

/** Size names in a body become calls of their accessor functions (not the uniform fields `params.N_`). */
export const sizesAsCalls = (body: string) =>
  body.replace(new RegExp(`(?<!\\.)\\b(${SIZE_WORDS.join('|')})\\b(?!\\()`, 'g'), '$1()');

/**
 * The im2col gather of x at (this thread's output pixel, k = (c, r, s)); aBase is the image's offset in X (one
 * part) and aImg its index (several parts).
 */
function gatherX(parts: number): string {
  const read =
    parts === 1 ? 'X[aBase + c * H_ * W_ + u32(h) * W_ + u32(w)]' : 'readX(aImg, c, u32(h) * W_ + u32(w))';
  return `
  let s = k % S_; let t = k / S_; let r = t % R_; let c = t / R_;
  let h = aH0 + i32(r * DLH);
  let w = aW0 + i32(s * DLW);
  if (h < 0 || w < 0 || h >= i32(H_) || w >= i32(W_)) { return 0.0; }
  return ${read};`;
}

/** Windows of at most this many taps get a per-thread mask of the taps inside the image (one bit a tap). */
export const MAX_MASKED_TAPS = 32;

/**
 * `aMask`, bit r·S + s set when tap (r, s) of this thread's output pixel falls inside the image: computed once a
 * thread (prepA) instead of four bounds checks an element.
 */
const TAP_MASK = `
  var mask = 0u;
  for (var r = 0u; r < R_; r++) {
    let h = aH0 + i32(r * DLH);
    if (h < 0 || h >= i32(H_)) { continue; }
    for (var s = 0u; s < S_; s++) {
      let w = aW0 + i32(s * DLW);
      if (w >= 0 && w < i32(W_)) { mask |= 1u << (r * S_ + s); }
    }
  }
  aMask = mask;`;

/**
 * The im2col gather with the tap mask: k = (c, tap) by one division by the (constant) window size, the tap's
 * offset from the thread's pixel by constants.
 */
function gatherMasked(parts: number): string {
  const offset = 'u32(aPix + i32(r * DLH) * i32(W_) + i32(s * DLW))';
  const read = parts === 1 ? `X[aBase + c * H_ * W_ + ${offset}]` : `readX(aImg, c, ${offset})`;
  return `
  let tap = k % (R_ * S_); let c = k / (R_ * S_);
  if (((aMask >> tap) & 1u) == 0u) { return 0.0; }
  let r = tap / S_; let s = tap % S_;
  return ${read};`;
}

/**
 * What the forward kernel does with each output value: nothing, add a per-channel bias, or a per-channel
 * affine map (an eval-mode BatchNorm folded in: v·scale + shift), optionally followed by ReLU.
 */
export type ConvEpilogue = 'none' | 'bias' | 'affine' | 'affine-relu';

export function epilogueWgsl(e: ConvEpilogue): { storage: StorageDecl[]; value: string } {
  if (e === 'none') return { storage: [], value: 'v' };
  if (e === 'bias') return { storage: [{ name: 'Bias' }], value: 'v + Bias[n]' };
  const affine = 'fma(v, Scale[n], Shift[n])';
  return {
    storage: [{ name: 'Scale' }, { name: 'Shift' }],
    value: e === 'affine-relu' ? `max(${affine}, 0.0)` : affine,
  };
}

/** The bindings of an epilogue's vectors: `extra` is [bias] or [scale, shift] (as `epilogueWgsl` names them). */
export function epilogueBindings(e: ConvEpilogue, extra: readonly GPUBuffer[]): Record<string, GPUBuffer> {
  if (e === 'bias') return { Bias: extra[0] };
  if (e === 'affine' || e === 'affine-relu') return { Scale: extra[0], Shift: extra[1] };
  return {};
}

/**
 * y = epilogue(conv(x, w)): C[m, n] with m = (image, p, q), n = output channel, k = (c, r, s). A is an im2col
 * gather of x (contiguous along q, so loaded m-fastest, and each thread's pixel is decoded once); B is the
 * weight, contiguous along k. `bias` true is the 'bias' epilogue.
 */
export function convForwardSpec(
  name: string,
  g: ConvGeometry,
  tiling: GemmTiling,
  bias: boolean | ConvEpilogue,
  parts = 1,
): KernelSpec {
  const e = epilogueWgsl(bias === true ? 'bias' : bias === false ? 'none' : bias);
  const storage: StorageDecl[] = [
    ...imageStorage(parts, 'X', 'read'),
    { name: 'Wt' },
    ...e.storage,
    { name: 'Y', access: 'read_write' },
  ];
  const masked = g.R * g.S <= MAX_MASKED_TAPS;
  const body = `${declarations(g)}
${parts > 1 ? readXFn(parts) : ''}
var<private> aBase: u32;
var<private> aImg: u32;
var<private> aH0: i32;
var<private> aW0: i32;

fn setup(z: u32) -> GemmRange {
  return GemmRange(N_ * P_ * Q_, K_, 0u, C_ * R_ * S_);
}
${masked ? 'var<private> aMask: u32;\nvar<private> aPix: i32;' : ''}
fn prepA(m: u32) {
  let q = m % Q_; let t = m / Q_; let p = t % P_; let n = t / P_;
  aBase = n * C_ * H_ * W_;
  aImg = n;
  aH0 = i32(p * SH) - i32(PH);
  aW0 = i32(q * SW) - i32(PW);${
    masked
      ? `${TAP_MASK}
  aPix = aH0 * i32(W_) + aW0;`
      : ''
  }
}
fn loadA(m: u32, k: u32) -> f32 {${masked ? gatherMasked(parts) : gatherX(parts)}
}
fn loadB(k: u32, n: u32) -> f32 {
  return Wt[n * C_ * R_ * S_ + k];
}
// Y[b, n, p, q] for output pixel m = (b, p, q): yRow (channel 0) + n·P·Q.
var<private> yRow: u32;
fn prepStore(m: u32) {
  let q = m % Q_; let t = m / Q_; let p = t % P_; let b = t / P_;
  yRow = (b * K_ * P_ + p) * Q_ + q;
}
fn store(m: u32, n: u32, v: f32) {
  Y[yRow + n * P_ * Q_] = ${e.value};
}`;
  return convSpec(name, storage, threadsOf(tiling), kernelGemm('forward', body, tiling));
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Per phase of one axis: the first kernel tap that reaches pixels of that phase, and how many taps do. */
export function phaseTaps(
  stride: number,
  pad: number,
  dil: number,
  size: number,
): { step: number; first: number[]; count: number[] } {
  const step = stride / gcd(stride, dil);
  const first: number[] = [];
  const count: number[] = [];
  for (let phase = 0; phase < stride; phase++) {
    let f = -1;
    for (let t = 0; t < step; t++)
      if ((((phase + pad - t * dil) % stride) + stride) % stride === 0) {
        f = t;
        break;
      }
    first.push(f < 0 ? size : f);
    count.push(f < 0 || f >= size ? 0 : Math.ceil((size - f) / step));
  }
  return { step, first, count };
}

const table = (name: string, v: number[]) =>
  `fn ${name}(i: u32) -> u32 { ${v.map((x, i) => `if (i == ${i}u) { return ${x}u; }`).join(' ')} return 0u; }`;

/**
 * dx = conv input gradient of dy (also the forward of a transposed convolution, with an optional bias over
 * the C channels of dx). A strided convolution's input pixels split into SH·SW phases (h mod SH, w mod SW);
 * within one phase the kernel taps that reach an output pixel are the same for every pixel, r = first + j·step,
 * so each phase (grid z) is a dense GEMM: m = (image, h', w') with h = h'·SH + phase, n = c, k = (k, jr, js).
 * Stride 1 is the single phase with every tap; a k2 s2 transposed convolution has one tap per phase.
 */
export function convInputGradSpec(
  name: string,
  g: ConvGeometry,
  tiling: GemmTiling,
  bias: boolean,
  parts = 1,
): KernelSpec {
  if (bias && parts > 1) throw new Error('conv2d_input_grad: a bias with a gradient in parts');
  const storage: StorageDecl[] = [
    { name: 'DY' },
    { name: 'Wt' },
    ...(bias ? [{ name: 'Bias' }] : []),
    ...imageStorage(parts, 'DX', 'read_write'),
  ];
  const th = phaseTaps(g.sh, g.ph, g.dh, g.R);
  const tw = phaseTaps(g.sw, g.pw, g.dw, g.S);
  // Tap counts that are equal in every phase become constants (cheap division).
  const nr = new Set(th.count).size === 1 ? `${th.count[0]}u` : 'nr';
  const ns = new Set(tw.count).size === 1 ? `${tw.count[0]}u` : 'ns';
  const body = `${declarations(g)}
${parts > 1 ? writeDXFn(parts) : ''}
const RSTEP: u32 = ${th.step}u;
const SSTEP: u32 = ${tw.step}u;
${table('firstR', th.first)}
${table('countR', th.count)}
${table('firstS', tw.first)}
${table('countS', tw.count)}
var<private> phh: u32;
var<private> phw: u32;
var<private> rBase: u32;
var<private> sBase: u32;
var<private> nr: u32;
var<private> ns: u32;
var<private> aImg: u32;
var<private> aHp: i32;
var<private> aWp: i32;

fn setup(z: u32) -> GemmRange {
  // The range is computed from locals: reads of private variables would not count as uniform.
  let ph_ = z / SW;
  let pw_ = z % SW;
  let cr = countR(ph_);
  let cs = countS(pw_);
  phh = ph_; phw = pw_; rBase = firstR(ph_); sBase = firstS(pw_); nr = cr; ns = cs;
  return GemmRange(N_ * HP * WP, C_, 0u, K_ * cr * cs);
}
fn prepA(m: u32) {
  let wp = m % WP; let t = m / WP; let hp = t % HP;
  aImg = (t / HP) * K_;
  aHp = i32(hp);
  aWp = i32(wp);
}
fn loadA(m: u32, k: u32) -> f32 {
  let js = k % ${ns}; let t2 = k / ${ns}; let jr = t2 % ${nr}; let ko = t2 / ${nr};
  let r = rBase + jr * RSTEP;
  let s = sBase + js * SSTEP;
  // phase + pad − tap·dil is a multiple of the stride by the choice of taps.
  let p = aHp + (i32(phh + PH) - i32(r * DLH)) / i32(SH);
  let q = aWp + (i32(phw + PW) - i32(s * DLW)) / i32(SW);
  if (p < 0 || q < 0 || p >= i32(P_) || q >= i32(Q_)) { return 0.0; }
  return DY[((aImg + ko) * P_ + u32(p)) * Q_ + u32(q)];
}
fn loadB(k: u32, c: u32) -> f32 {
  let js = k % ${ns}; let t2 = k / ${ns}; let jr = t2 % ${nr}; let ko = t2 / ${nr};
  let r = rBase + jr * RSTEP;
  let s = sBase + js * SSTEP;
  return Wt[((ko * C_ + c) * R_ + r) * S_ + s];
}
// dx pixel of row m = (image, hp, wp) of this phase: dxImg, dxPix = h·W + w, and whether it lies in the image.
var<private> dxImg: u32;
var<private> dxPix: u32;
var<private> dxIn: bool;
fn prepStore(m: u32) {
  let wp = m % WP; let t = m / WP; let hp = t % HP;
  let h = hp * SH + phh;
  let w = wp * SW + phw;
  dxImg = t / HP;
  dxPix = h * W_ + w;
  dxIn = h < H_ && w < W_;
}
fn store(m: u32, c: u32, v: f32) {
  if (dxIn) {
    ${parts > 1 ? 'writeDX(dxImg, c, dxPix, v);' : `DX[(dxImg * C_ + c) * H_ * W_ + dxPix] = v${bias ? ' + Bias[c]' : ''};`}
  }
}`;
  return convSpec(name, storage, threadsOf(tiling), kernelGemm('input_grad', body, tiling));
}

/**
 * dw = Σ over images and output pixels of dy ⊗ im2col(x): C[m, n] with m = output channel k, n = (c, r, s),
 * k = (image, p, q). The reduction is long (N·P·Q) and C small, so it is split into chunks along grid z, each
 * writing its own partial [split, K, C·R·S], summed afterwards (deterministic, no atomics). Both tiles load
 * k-fastest (contiguous along q), so each thread decodes its output pixel once per step.
 */
export function convWeightGradSpec(name: string, g: ConvGeometry, tiling: GemmTiling, parts = 1): KernelSpec {
  const storage: StorageDecl[] = [
    { name: 'DY' },
    ...imageStorage(parts, 'X', 'read'),
    { name: 'DW', access: 'read_write' },
  ];
  const body = `${declarations(g)}
${parts > 1 ? readXFn(parts) : ''}
var<private> split: u32;
var<private> dyBase: u32;
var<private> aBase: u32;
var<private> aImg: u32;
var<private> aH0: i32;
var<private> aW0: i32;
// This thread's reduction index j = (image jn, output pixel jp, jq), stepped along by stepK.
var<private> jAt: u32;
var<private> jn: u32;
var<private> jp: u32;
var<private> jq: u32;

fn setup(z: u32) -> GemmRange {
  split = z;
  let begin = z * CHUNK;
  return GemmRange(K_, C_ * R_ * S_, begin, min(N_ * P_ * Q_, begin + CHUNK));
}
fn setPixel() {
  dyBase = jn * K_ * P_ * Q_ + jp * Q_ + jq;
  aBase = jn * C_ * H_ * W_;
  aImg = jn;
  aH0 = i32(jp * SH) - i32(PH);
  aW0 = i32(jq * SW) - i32(PW);
}
fn prepK(j: u32) {
  jAt = j;
  jq = j % Q_; let t = j / Q_; jp = t % P_; jn = t / P_;
  setPixel();
}
// Division by the (uniform) image sizes costs tens of instructions on a GPU, four of them per tile against a
// few hundred FMAs; stepping j by GEMM_BK needs at most one carry into the row and one into the image.
fn stepK() {
  jAt += GEMM_BK;
  jq += GEMM_BK;
  if (jq < Q_) {
    dyBase += GEMM_BK;
    aW0 += i32(GEMM_BK * SW);
    return;
  }
  if (Q_ < GEMM_BK) {
    prepK(jAt);
    return;
  }
  jq -= Q_;
  jp++;
  if (jp == P_) {
    jp = 0u;
    jn++;
  }
  setPixel();
}
fn loadA(ko: u32, j: u32) -> f32 {
  return DY[dyBase + ko * P_ * Q_];
}
fn loadB(j: u32, k: u32) -> f32 {${gatherX(parts)}
}
fn store(m: u32, col: u32, v: f32) {
  DW[(split * K_ + m) * C_ * R_ * S_ + col] = v;
}`;
  return convSpec(name, storage, threadsOf(tiling), kernelGemm('weight_grad', body, tiling));
}
