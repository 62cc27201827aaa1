/**
 * In-place update kernels: each binds the parameter's own buffer (and its state buffers) read_write, so an
 * optimizer step allocates nothing. Scalars arrive as f32 uniforms; bias corrections and step sizes are computed
 * in double precision on the CPU, as torch.optim does with Python floats. They change every step, so they are
 * dynamic uniforms: computed again from the optimizer's state at every replay of a captured step.
 */
import {
  grid1d,
  gridIndex,
  gridParams,
  type KernelSpec,
  kernel,
  runtime,
  type StorageDecl,
  type Tensor,
  type UniformType,
} from '@mriseg/tensor-wgsl';

/** A one-thread-an-element update over `n` elements. */
const updateSpec = (
  name: string,
  storage: StorageDecl[],
  uniforms: Record<string, UniformType>,
  body: string,
): KernelSpec => ({
  name,
  storage,
  uniforms: { n: 'u32', ...uniforms },
  workgroupSize: 256,
  code: `fn main(${gridParams}) {
  let i = ${gridIndex()};
  if (i >= params.n) { return; }
${body}
}`,
});

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

/** Uniforms: lr, beta1, beta2, eps, weightDecay, stepSize (lr / bc1), sqrtBc2 (√bc2), gradSign. */
function adamSpec(decoupled: boolean, amsgrad: boolean): KernelSpec {
  const storage: StorageDecl[] = [
    { name: 'P', access: 'read_write' },
    { name: 'G' },
    { name: 'M', access: 'read_write' },
    { name: 'V', access: 'read_write' },
  ];
  if (amsgrad) storage.push({ name: 'VMax', access: 'read_write' });
  const f32 = 'f32' as const;
  return updateSpec(
    decoupled ? 'adamw_step' : 'adam_step',
    storage,
    {
      lr: f32,
      beta1: f32,
      beta2: f32,
      eps: f32,
      weightDecay: f32,
      stepSize: f32,
      sqrtBc2: f32,
      gradSign: f32,
    },
    `  var g = G[i] * params.gradSign;
  var p = P[i];
  ${decoupled ? 'p = p * (1.0 - params.lr * params.weightDecay);' : 'g = g + params.weightDecay * p;'}
  let m = M[i] + (1.0 - params.beta1) * (g - M[i]);
  let v = V[i] * params.beta2 + (1.0 - params.beta2) * g * g;
  M[i] = m;
  V[i] = v;
  ${amsgrad ? 'let vm = max(VMax[i], v); VMax[i] = vm;' : 'let vm = v;'}
  let denom = sqrt(vm) / params.sqrtBc2 + params.eps;
  P[i] = p - params.stepSize * m / denom;`,
  );
}

/** One parameter's Adam update; `scalars` is called now and at every replay (it reads the current step). */
export function adamUpdate(
  p: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  vmax: Tensor | null,
  scalars: () => AdamScalars,
): void {
  const first = scalars();
  const amsgrad = first.amsgrad && vmax !== null;
  const k = kernel(`adam|${first.decoupled}|${amsgrad}`, () => adamSpec(first.decoupled, amsgrad));
  const n = p.size;
  const bindings: Record<string, GPUBuffer> = { P: p.buffer, G: g.buffer, M: m.buffer, V: v.buffer };
  if (amsgrad && vmax) bindings.VMax = vmax.buffer;
  let now: AdamScalars | null = first;
  runtime().dispatchKernel(
    k,
    bindings,
    () => {
      const s = now ?? scalars();
      now = null;
      const bc1 = 1 - s.beta1 ** s.step;
      const bc2 = 1 - s.beta2 ** s.step;
      return {
        n,
        lr: s.lr,
        beta1: s.beta1,
        beta2: s.beta2,
        eps: s.eps,
        weightDecay: s.weightDecay,
        stepSize: s.lr / bc1,
        sqrtBc2: Math.sqrt(bc2),
        gradSign: s.maximize ? -1 : 1,
      };
    },
    grid1d(n),
  );
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

/** Uniforms: lr, momentum, dampening, weightDecay, firstStep (1 on the first), gradSign. */
function sgdSpec(momentum: boolean, nesterov: boolean): KernelSpec {
  const storage: StorageDecl[] = [{ name: 'P', access: 'read_write' }, { name: 'G' }];
  if (momentum) storage.push({ name: 'B', access: 'read_write' });
  const update = momentum
    ? `var b = d;
  if (params.firstStep == 0u) { b = params.momentum * B[i] + (1.0 - params.dampening) * d; }
  B[i] = b;
  ${nesterov ? 'd = d + params.momentum * b;' : 'd = b;'}`
    : '';
  return updateSpec(
    'sgd_step',
    storage,
    { lr: 'f32', momentum: 'f32', dampening: 'f32', weightDecay: 'f32', firstStep: 'u32', gradSign: 'f32' },
    `  let p = P[i];
  var d = G[i] * params.gradSign + params.weightDecay * p;
  ${update}
  P[i] = p - params.lr * d;`,
  );
}

/** One parameter's SGD update; `scalars` is called now and at every replay (it reads the current step). */
export function sgdUpdate(p: Tensor, g: Tensor, buf: Tensor | null, scalars: () => SgdScalars): void {
  const first = scalars();
  const useMomentum = first.momentum !== 0 && buf !== null;
  const k = kernel(`sgd|${useMomentum}|${first.nesterov}`, () => sgdSpec(useMomentum, first.nesterov));
  const n = p.size;
  const bindings: Record<string, GPUBuffer> = { P: p.buffer, G: g.buffer };
  if (useMomentum && buf) bindings.B = buf.buffer;
  let now: SgdScalars | null = first;
  runtime().dispatchKernel(
    k,
    bindings,
    () => {
      const s = now ?? scalars();
      now = null;
      return {
        n,
        lr: s.lr,
        momentum: s.momentum,
        dampening: s.dampening,
        weightDecay: s.weightDecay,
        firstStep: s.firstStep ? 1 : 0,
        gradSign: s.maximize ? -1 : 1,
      };
    },
    grid1d(n),
  );
}

const clipKernel = kernel('clip_grad_norm', () =>
  updateSpec(
    'clip_grad_norm',
    [{ name: 'G', access: 'read_write' }, { name: 'Norm' }],
    { maxNorm: 'f32' },
    '  G[i] = G[i] * min(1.0, params.maxNorm / (Norm[0] + 1e-6));',
  ),
);

/** g ← g · min(1, maxNorm / (norm + 1e-6)) with the norm read from a one-element tensor (no readback). */
export function scaleByClipCoefficient(g: Tensor, norm: Tensor, maxNorm: number): void {
  runtime().dispatchKernel(
    clipKernel,
    { G: g.buffer, Norm: norm.buffer },
    { n: g.size, maxNorm },
    grid1d(g.size),
  );
}

/**
 * E ← lerp(E, P, w) in place, with torch.lerp's two-sided formula (E + w·(P − E) for w < 0.5, else
 * P − (P − E)·(1 − w)), so w = 1 copies P exactly.
 */
const lerpKernel = kernel('lerp_inplace', () =>
  updateSpec(
    'lerp_inplace',
    [{ name: 'E', access: 'read_write' }, { name: 'P' }],
    { weight: 'f32' },
    `  let e = E[i];
  let d = P[i] - e;
  if (params.weight < 0.5) { E[i] = e + params.weight * d; } else { E[i] = P[i] - d * (1.0 - params.weight); }`,
  ),
);

export function lerpInPlace(e: Tensor, p: Tensor, weight: () => number): void {
  const n = e.size;
  runtime().dispatchKernel(
    lerpKernel,
    { E: e.buffer, P: p.buffer },
    () => ({ n, weight: weight() }),
    grid1d(n),
  );
}
