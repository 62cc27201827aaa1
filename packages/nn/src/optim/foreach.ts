/**
 * Multi-tensor ("foreach") optimizer kernels. Recording a dispatch costs far more host time than the update
 * itself (most of a U-Net's 64 parameters have a few hundred elements), so what matters is how many dispatches
 * and bind-group entries a step records.
 *
 * The state of a parameter group lives in flat buffers (FlatState: exp_avg, exp_avg_sq, … and the gradients,
 * copied in by `Optimizer.step()`), bound once per dispatch; only the parameters, which keep their own buffers,
 * take a binding each. WGSL cannot index an array of bindings, so the kernel picks a thread's parameter with a
 * `switch`. A dispatch thus updates maxStorageBuffersPerShaderStage − (1 + state buffers) parameters: 13 for
 * Adam with Dawn's 16 (12 with amsgrad, 14 for SGD with momentum, 15 without).
 *
 * Host time of Adam's step for the 64 parameters of a U-Net (features 4; median ms, lavapipe, Dawn node; the
 * rows marked * were prototypes):
 *   one kernel a parameter                                      64 dispatches   2.5
 *   state per parameter, 4 parameters a dispatch (16 bindings)   16 dispatches   1.7
 *   flat state, gradients bound per parameter, 7 a dispatch *    10 dispatches   1.0
 *   flat state, gradients copied in (this)                        5 dispatches   0.8
 *   parameters copied in and out as well, one dispatch *          1 dispatch     0.5
 * Dawn's createBindGroup costs about 3 µs an entry, a buffer copy 2–4 µs. The last row saves another 0.3 ms of
 * host time but records three copies per parameter instead of one, each a command of its own on the GPU, and
 * moves the parameters through memory twice more, which the GPU pays once host time is no longer the
 * bottleneck.
 *
 * A uniform table maps threads to parameters: the threads of a dispatch cover the flat range of its
 * parameters, each parameter's region aligned to the workgroup size (FLAT_ALIGN), so that a workgroup never
 * straddles two parameters. The per-parameter entries `z` and `w` carry what may differ within a group: Adam's
 * bias corrections (each parameter counts its own steps, as in torch) and SGD's first-step flag. They and the
 * learning rate change from step to step, so the uniforms are dynamic: computed again from the optimizer's state
 * at every replay of a captured step.
 *
 * The arithmetic is written expression for expression as in the per-parameter kernels (kernels.ts), so the
 * results are bit-identical to them; the tests check it.
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
import { FLAT_ALIGN, type FlatState } from './flat.js';
import type { AdamScalars, SgdScalars } from './kernels.js';
import type { ParamState } from './optimizer.js';

/** Bounds the generated shader's size where a device allows very many storage buffers. */
const MAX_TENSORS = 32;
/**
 * A dispatch's threads span the flat regions between its parameters too; parameters without a gradient in
 * between cost idle threads, so a gap longer than this starts a new dispatch instead.
 */
const MAX_GAP = 1 << 16;

type Access = 'read' | 'read_write';

/** One parameter's share of a fused dispatch. */
export interface FlatMember {
  param: Tensor;
  /** Element offset of its region in the flat buffers. */
  offset: number;
  /** Its two per-parameter entries z and w, as they are now (f32 where the kernel reads floats, else u32). */
  entries: () => [number, number];
}

interface FlatKernel {
  /** Op name (the per-parameter kernel's: profiles keep one row per optimizer); also the pipeline label. */
  name: string;
  /** Flat buffers after the parameters' bindings: a name (loaded into `<lowercase>0`) and its access. */
  shared: [string, Access][];
  /** Flat buffers written back from `<lowercase>1` after `body`. */
  stores: string[];
  /** The f32 uniforms every member shares, read as `params.<name>`. */
  globals: string[];
  /** The type of the entries z and w (read as `ez`, `ew`). */
  entryType: 'f32' | 'u32';
  /** The update of one element: reads p0 and the loaded flat values, sets p1 and the stored ones. */
  body: string;
}

/** How many parameters fit in one dispatch beside `shared` flat buffers. */
export function flatCapacity(shared: number, cap = Number.POSITIVE_INFINITY): number {
  const storage = runtime().limits.maxStorageBuffersPerShaderStage;
  return Math.max(1, Math.min(MAX_TENSORS, storage - shared, Math.floor(cap)));
}

/**
 * The kernel updating `count` parameters: bindings P0…, then the shared flat buffers; uniforms `threads`, `base`
 * (the first member's flat offset), the globals, and per member its `offset`, `size` and entries `z`, `w`.
 */
function flatSpec(k: FlatKernel, count: number): KernelSpec {
  const storage: StorageDecl[] = [];
  for (let t = 0; t < count; t++) storage.push({ name: `P${t}`, access: 'read_write' });
  for (const [name, access] of k.shared) storage.push({ name, access });
  const uniforms: Record<string, UniformType> = { threads: 'u32', base: 'u32' };
  for (const g of k.globals) uniforms[g] = 'f32';
  uniforms.offset = `u32[${count}]`;
  uniforms.size = `u32[${count}]`;
  uniforms.z = `${k.entryType}[${count}]`;
  uniforms.w = `${k.entryType}[${count}]`;
  const arms = (line: (t: number) => string) =>
    `switch t {\n${Array.from({ length: count }, (_, t) => `    case ${t}u: { ${line(t)} }`).join('\n')}\n    default: {}\n  }`;
  return {
    name: k.name,
    storage,
    uniforms,
    workgroupSize: FLAT_ALIGN,
    code: `fn main(${gridParams}) {
  let i = ${gridIndex(FLAT_ALIGN)};
  if (i >= params.threads) { return; }
  let f = params.base + i;
  var t = 0u;
  for (var k = 1u; k < ${count}u; k++) { if (f >= offsetAt(k)) { t = k; } }
  let j = f - offsetAt(t);
  if (j >= sizeAt(t)) { return; }
  let ez = zAt(t);
  let ew = wAt(t);
  var p0: f32;
  ${arms((t) => `p0 = P${t}[j];`)}
  ${k.shared.map(([n]) => `let ${n.toLowerCase()}0 = ${n}[f];`).join(' ')}
${k.body}
  ${arms((t) => `P${t}[j] = p1;`)}
  ${k.stores.map((n) => `${n}[f] = ${n.toLowerCase()}1;`).join(' ')}
}`,
  };
}

/**
 * Records the update of `members` (in flat order) with kernel `k`, `capacity` parameters a dispatch at most.
 * `globals()` gives the values of `k.globals`, as they are now.
 */
function dispatchFlat(
  k: FlatKernel,
  key: string,
  members: FlatMember[],
  shared: Record<string, GPUBuffer>,
  globals: () => Record<string, number>,
  capacity: number,
): void {
  let batch: FlatMember[] = [];
  let bound = new Set<GPUBuffer>();
  const flush = () => {
    if (batch.length > 0) dispatchBatch(k, key, batch, shared, globals);
    batch = [];
    bound = new Set();
  };
  for (const m of members) {
    const last = batch[batch.length - 1];
    // WebGPU rejects a writable buffer bound twice in one bind group (parameters sharing storage).
    if (
      batch.length >= capacity ||
      bound.has(m.param.buffer) ||
      (last && m.offset - (last.offset + last.param.size) > MAX_GAP)
    )
      flush();
    batch.push(m);
    bound.add(m.param.buffer);
  }
  flush();
}

function dispatchBatch(
  k: FlatKernel,
  key: string,
  batch: FlatMember[],
  shared: Record<string, GPUBuffer>,
  globals: () => Record<string, number>,
): void {
  const kern = kernel(`${key}|${batch.length}`, () => flatSpec(k, batch.length));
  const bindings: Record<string, GPUBuffer> = { ...shared };
  batch.forEach((m, t) => {
    bindings[`P${t}`] = m.param.buffer;
  });
  const last = batch[batch.length - 1];
  const base = batch[0].offset;
  const threads = last.offset + last.param.size - base;
  const offset = batch.map((m) => m.offset);
  const size = batch.map((m) => m.param.size);
  runtime().dispatchKernel(
    kern,
    bindings,
    () => {
      // The globals first: the entries read the hyper-parameters they fetched.
      const g = globals();
      const z: number[] = [];
      const w: number[] = [];
      for (const m of batch) {
        const [a, b] = m.entries();
        z.push(a);
        w.push(b);
      }
      return { threads, base, ...g, offset, size, z, w };
    },
    grid1d(threads, FLAT_ALIGN),
  );
}

/** Adam's scalars without the step: each parameter of a fused update keeps its own step count. */
export type AdamFlatScalars = Omit<AdamScalars, 'step'>;

/** A parameter due for an update: its region in the flat state and its state (whose step count it reads). */
export interface FlatParam {
  param: Tensor;
  offset: number;
  state: ParamState;
}

function adamKernel(decoupled: boolean, amsgrad: boolean): FlatKernel {
  const shared: [string, Access][] = [
    ['G', 'read'],
    ['M', 'read_write'],
    ['V', 'read_write'],
  ];
  if (amsgrad) shared.push(['X', 'read_write']);
  // Per parameter: z the step size lr / bc1, w √bc2.
  return {
    name: decoupled ? 'adamw_step' : 'adam_step',
    shared,
    stores: amsgrad ? ['M', 'V', 'X'] : ['M', 'V'],
    globals: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'gradSign'],
    entryType: 'f32',
    body: `  var g = g0 * params.gradSign;
  var p = p0;
  ${decoupled ? 'p = p * (1.0 - params.lr * params.weightDecay);' : 'g = g + params.weightDecay * p;'}
  let m1 = m0 + (1.0 - params.beta1) * (g - m0);
  let v1 = v0 * params.beta2 + (1.0 - params.beta2) * g * g;
  ${amsgrad ? 'let x1 = max(x0, v1); let vm = x1;' : 'let vm = v1;'}
  let denom = sqrt(vm) / ew + params.eps;
  let p1 = p - ez * m1 / denom;`,
  };
}

/**
 * torch.optim.Adam/AdamW's update of `items`, whose state and gradients are in `flat`; `scalars()` gives the
 * group's hyper-parameters as they are now (called again at every replay, with the items' step counts).
 */
export function adamFlat(
  items: FlatParam[],
  flat: FlatState,
  scalars: () => AdamFlatScalars,
  maxPerDispatch: number,
): void {
  const s0 = scalars();
  const shared: Record<string, GPUBuffer> = {
    G: flat.grads.buffer,
    M: flat.buffers.get('exp_avg')!.buffer,
    V: flat.buffers.get('exp_avg_sq')!.buffer,
  };
  if (s0.amsgrad) shared.X = flat.buffers.get('max_exp_avg_sq')!.buffer;
  const key = `adam_flat|${s0.decoupled}|${s0.amsgrad}`;
  const k = adamKernel(s0.decoupled, s0.amsgrad);
  // One read of the hyper-parameters per dispatch: every member's entries use the same.
  let current = s0;
  const members: FlatMember[] = items.map((it) => ({
    param: it.param,
    offset: it.offset,
    entries: () => {
      const bc1 = 1 - current.beta1 ** it.state.step;
      const bc2 = 1 - current.beta2 ** it.state.step;
      return [current.lr / bc1, Math.sqrt(bc2)];
    },
  }));
  const globals = () => {
    current = scalars();
    const s = current;
    return {
      lr: s.lr,
      beta1: s.beta1,
      beta2: s.beta2,
      eps: s.eps,
      weightDecay: s.weightDecay,
      gradSign: s.maximize ? -1 : 1,
    };
  };
  dispatchFlat(k, key, members, shared, globals, flatCapacity(Object.keys(shared).length, maxPerDispatch));
}

/** SGD's scalars without the first-step flag: each parameter of a fused update keeps its own. */
export type SgdFlatScalars = Omit<SgdScalars, 'firstStep'>;

function sgdKernel(momentum: boolean, nesterov: boolean): FlatKernel {
  const shared: [string, Access][] = [['G', 'read']];
  if (momentum) shared.push(['B', 'read_write']);
  // Per parameter: z 1 on its first step.
  const update = momentum
    ? `var b1 = d;
  if (ez == 0u) { b1 = params.momentum * b0 + (1.0 - params.dampening) * d; }
  ${nesterov ? 'd = d + params.momentum * b1;' : 'd = b1;'}`
    : '';
  return {
    name: 'sgd_step',
    shared,
    stores: momentum ? ['B'] : [],
    globals: ['lr', 'momentum', 'dampening', 'weightDecay', 'gradSign'],
    entryType: 'u32',
    body: `  let p = p0;
  var d = g0 * params.gradSign + params.weightDecay * p;
  ${update}
  let p1 = p - params.lr * d;`,
  };
}

/**
 * torch.optim.SGD's update of `items`. Momentum applies where the group has a momentum buffer, as the
 * per-parameter path applies it where the parameter has one.
 */
export function sgdFlat(
  items: FlatParam[],
  flat: FlatState,
  scalars: () => SgdFlatScalars,
  maxPerDispatch: number,
): void {
  const s0 = scalars();
  const buf = s0.momentum !== 0 ? flat.buffers.get('momentum_buffer') : undefined;
  const shared: Record<string, GPUBuffer> = { G: flat.grads.buffer };
  if (buf) shared.B = buf.buffer;
  const key = `sgd_flat|${buf !== undefined}|${s0.nesterov}`;
  const k = sgdKernel(buf !== undefined, s0.nesterov);
  const members: FlatMember[] = items.map((it) => ({
    param: it.param,
    offset: it.offset,
    entries: () => [it.state.step === 1 ? 1 : 0, 0],
  }));
  const globals = () => {
    const s = scalars();
    return {
      lr: s.lr,
      momentum: s.momentum,
      dampening: s.dampening,
      weightDecay: s.weightDecay,
      gradSign: s.maximize ? -1 : 1,
    };
  };
  dispatchFlat(k, key, members, shared, globals, flatCapacity(Object.keys(shared).length, maxPerDispatch));
}
