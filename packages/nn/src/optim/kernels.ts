/**
 * In-place update kernels: each binds the parameter's own buffer (and its state buffers) read_write, so an
 * optimizer step allocates nothing. Scalars arrive as f32 uniform words; bias corrections and step sizes are
 * computed in double precision on the CPU, as torch.optim does with Python floats.
 */
import { grid1d, gridIndex, gridParams, metaDecl, packMeta, runtime, type Tensor } from '@mriseg/tensor-wgsl';

const head = (names: [string, 'read' | 'read_write'][], words: number) =>
  `${names.map(([n, a], i) => `@group(0) @binding(${i}) var<storage, ${a}> ${n}: array<f32>;`).join('\n')}
${metaDecl(names.length, words)}
@compute @workgroup_size(256)
fn main(${gridParams}) {
  let i = ${gridIndex()};
  if (i >= mi(0u)) { return; }`;

const f = (k: number) => `bitcast<f32>(mi(${k}u))`;

export interface AdamScalars {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
  /** AdamW: decay the weights directly (p ← p·(1 − lr·wd)) instead of adding wd·p to the gradient. */
  decoupled: boolean;
  amsgrad: boolean;
  maximize: boolean;
}

function adamWgsl(decoupled: boolean, amsgrad: boolean): string {
  const bufs: [string, 'read' | 'read_write'][] = [
    ['P', 'read_write'],
    ['G', 'read'],
    ['M', 'read_write'],
    ['V', 'read_write'],
  ];
  if (amsgrad) bufs.push(['VMax', 'read_write']);
  // Words: 0 n, 1 lr, 2 beta1, 3 beta2, 4 eps, 5 weight decay, 6 step size (lr / bc1), 7 √bc2, 8 grad sign.
  return `${head(bufs, 9)}
  var g = G[i] * ${f(8)};
  var p = P[i];
  ${decoupled ? `p = p * (1.0 - ${f(1)} * ${f(5)});` : `g = g + ${f(5)} * p;`}
  let m = M[i] + (1.0 - ${f(2)}) * (g - M[i]);
  let v = V[i] * ${f(3)} + (1.0 - ${f(3)}) * g * g;
  M[i] = m;
  V[i] = v;
  ${amsgrad ? 'let vm = max(VMax[i], v); VMax[i] = vm;' : 'let vm = v;'}
  let denom = sqrt(vm) / ${f(7)} + ${f(4)};
  P[i] = p - ${f(6)} * m / denom;
}`;
}

export function adamUpdate(
  p: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  vmax: Tensor | null,
  s: AdamScalars,
): void {
  const bc1 = 1 - s.beta1 ** s.step;
  const bc2 = 1 - s.beta2 ** s.step;
  const uniforms = packMeta([p.size, 0, 0, 0, 0, 0, 0, 0, 0], {
    1: s.lr,
    2: s.beta1,
    3: s.beta2,
    4: s.eps,
    5: s.weightDecay,
    6: s.lr / bc1,
    7: Math.sqrt(bc2),
    8: s.maximize ? -1 : 1,
  });
  const buffers = [p.buffer, g.buffer, m.buffer, v.buffer];
  if (s.amsgrad && vmax) buffers.push(vmax.buffer);
  runtime().dispatch({
    name: s.decoupled ? 'adamw_step' : 'adam_step',
    code: adamWgsl(s.decoupled, s.amsgrad),
    buffers,
    uniforms,
    workgroups: grid1d(p.size),
  });
}

export interface SgdScalars {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
  /** The momentum buffer is initialised to the first gradient (torch.optim.SGD's rule). */
  firstStep: boolean;
}

function sgdWgsl(momentum: boolean, nesterov: boolean): string {
  const bufs: [string, 'read' | 'read_write'][] = [
    ['P', 'read_write'],
    ['G', 'read'],
  ];
  if (momentum) bufs.push(['B', 'read_write']);
  // Words: 0 n, 1 lr, 2 momentum, 3 dampening, 4 weight decay, 5 first step, 6 grad sign.
  const update = momentum
    ? `var b = d;
  if (mi(5u) == 0u) { b = ${f(2)} * B[i] + (1.0 - ${f(3)}) * d; }
  B[i] = b;
  ${nesterov ? `d = d + ${f(2)} * b;` : 'd = b;'}`
    : '';
  return `${head(bufs, 7)}
  let p = P[i];
  var d = G[i] * ${f(6)} + ${f(4)} * p;
  ${update}
  P[i] = p - ${f(1)} * d;
}`;
}

export function sgdUpdate(p: Tensor, g: Tensor, buf: Tensor | null, s: SgdScalars): void {
  const useMomentum = s.momentum !== 0 && buf !== null;
  const uniforms = packMeta([p.size, 0, 0, 0, 0, s.firstStep ? 1 : 0, 0], {
    1: s.lr,
    2: s.momentum,
    3: s.dampening,
    4: s.weightDecay,
    6: s.maximize ? -1 : 1,
  });
  runtime().dispatch({
    name: 'sgd_step',
    code: sgdWgsl(useMomentum, s.nesterov),
    buffers: useMomentum ? [p.buffer, g.buffer, buf.buffer] : [p.buffer, g.buffer],
    uniforms,
    workgroups: grid1d(p.size),
  });
}

/** g ← g · min(1, maxNorm / (norm + 1e-6)) with the norm read from a one-element tensor (no readback). */
export function scaleByClipCoefficient(g: Tensor, norm: Tensor, maxNorm: number): void {
  runtime().dispatch({
    name: 'clip_grad_norm',
    code: `@group(0) @binding(0) var<storage, read_write> G: array<f32>;
@group(0) @binding(1) var<storage, read> Norm: array<f32>;
${metaDecl(2, 2)}
@compute @workgroup_size(256)
fn main(${gridParams}) {
  let i = ${gridIndex()};
  if (i >= mi(0u)) { return; }
  G[i] = G[i] * min(1.0, ${f(1)} / (Norm[0] + 1e-6));
}`,
    buffers: [g.buffer, norm.buffer],
    uniforms: packMeta([g.size, 0], { 1: maxNorm }),
    workgroups: grid1d(g.size),
  });
}
