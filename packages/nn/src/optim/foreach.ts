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
 * straddles two parameters. The per-parameter words carry what may differ within a group: Adam's bias
 * corrections (each parameter counts its own steps, as in torch) and SGD's first-step flag.
 *
 * The arithmetic is written expression for expression as in the per-parameter kernels (kernels.ts), so the
 * results are bit-identical to them; the tests check it.
 */
import { grid1d, gridIndex, gridParams, metaDecl, runtime, type Tensor } from '@mriseg/tensor-wgsl';
import { FLAT_ALIGN, type FlatState } from './flat.js';
import type { AdamScalars, SgdScalars } from './kernels.js';

/** Globals occupy the first two vec4s of the uniform words; the table follows, one vec4 a parameter. */
const GLOBAL_WORDS = 8;
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
  /** Two per-parameter words (table entries z and w): f32 where the kernel reads floats, else u32. */
  words: [number, number];
}

interface FlatKernel {
  /** Op name (the per-parameter kernel's: profiles keep one row per optimizer); also the pipeline label. */
  name: string;
  /** Flat buffers after the parameters' bindings: a name (loaded into `<lowercase>0`) and its access. */
  shared: [string, Access][];
  /** Flat buffers written back from `<lowercase>1` after `body`. */
  stores: string[];
  /** Whether table words z and w hold floats. */
  floatWords: boolean;
  /** The update of one element: reads p0 and the loaded flat values, sets p1 and the stored ones. */
  body: string;
}

/** How many parameters fit in one dispatch beside `shared` flat buffers. */
export function flatCapacity(shared: number, cap = Number.POSITIVE_INFINITY): number {
  const storage = runtime().limits.maxStorageBuffersPerShaderStage;
  return Math.max(1, Math.min(MAX_TENSORS, storage - shared, Math.floor(cap)));
}

// Kernels and their shaders (by parameter count) are memoised so that the same string object reaches the
// pipeline cache each step instead of a freshly generated one that has to be hashed again.
const kernels = new Map<string, FlatKernel>();
const shaders = new WeakMap<FlatKernel, string[]>();

function memo(key: string, make: () => FlatKernel): FlatKernel {
  let k = kernels.get(key);
  if (!k) {
    k = make();
    kernels.set(key, k);
  }
  return k;
}

function shader(k: FlatKernel, count: number): string {
  let byCount = shaders.get(k);
  if (!byCount) {
    byCount = [];
    shaders.set(k, byCount);
  }
  let code = byCount[count];
  if (code) return code;
  const decls: string[] = [];
  for (let t = 0; t < count; t++)
    decls.push(`@group(0) @binding(${t}) var<storage, read_write> P${t}: array<f32>;`);
  k.shared.forEach(([n, a], s) => {
    decls.push(`@group(0) @binding(${count + s}) var<storage, ${a}> ${n}: array<f32>;`);
  });
  const arms = (line: (t: number) => string) =>
    `switch t {\n${Array.from({ length: count }, (_, t) => `    case ${t}u: { ${line(t)} }`).join('\n')}\n    default: {}\n  }`;
  code = `${decls.join('\n')}
${metaDecl(count + k.shared.length, GLOBAL_WORDS + 4 * count)}
@compute @workgroup_size(${FLAT_ALIGN})
fn main(${gridParams}) {
  let i = ${gridIndex(FLAT_ALIGN)};
  if (i >= mi(0u)) { return; }
  let f = mi(7u) + i;
  var t = 0u;
  for (var k = 1u; k < ${count}u; k++) { if (f >= params[2u + k].x) { t = k; } }
  let entry = params[2u + t];
  let j = f - entry.x;
  if (j >= entry.y) { return; }
  var p0: f32;
  ${arms((t) => `p0 = P${t}[j];`)}
  ${k.shared.map(([n]) => `let ${n.toLowerCase()}0 = ${n}[f];`).join(' ')}
${k.body}
  ${arms((t) => `P${t}[j] = p1;`)}
  ${k.stores.map((n) => `${n}[f] = ${n.toLowerCase()}1;`).join(' ')}
}`;
  byCount[count] = code;
  return code;
}

/**
 * Records the update of `members` (in flat order) with kernel `k`, `capacity` parameters a dispatch at most.
 * `globals` are the words 1…6 shared by all members; `floatGlobals` are the indices among them holding floats.
 */
function dispatchFlat(
  k: FlatKernel,
  members: FlatMember[],
  shared: GPUBuffer[],
  globals: number[],
  floatGlobals: number[],
  capacity: number,
): void {
  let batch: FlatMember[] = [];
  let bound = new Set<GPUBuffer>();
  const flush = () => {
    if (batch.length > 0) dispatchBatch(k, batch, shared, globals, floatGlobals);
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
  batch: FlatMember[],
  shared: GPUBuffer[],
  globals: number[],
  floatGlobals: number[],
): void {
  const words = new Uint32Array(GLOBAL_WORDS + 4 * batch.length);
  const floats = new Float32Array(words.buffer);
  globals.forEach((w, i) => {
    if (floatGlobals.includes(i + 1)) floats[i + 1] = w;
    else words[i + 1] = w >>> 0;
  });
  batch.forEach((m, t) => {
    const at = GLOBAL_WORDS + 4 * t;
    words[at] = m.offset;
    words[at + 1] = m.param.size;
    if (k.floatWords) {
      floats[at + 2] = m.words[0];
      floats[at + 3] = m.words[1];
    } else {
      words[at + 2] = m.words[0] >>> 0;
      words[at + 3] = m.words[1] >>> 0;
    }
  });
  const last = batch[batch.length - 1];
  const base = batch[0].offset;
  const threads = last.offset + last.param.size - base;
  words[0] = threads;
  words[7] = base;
  runtime().dispatch({
    name: k.name,
    code: shader(k, batch.length),
    buffers: [...batch.map((m) => m.param.buffer), ...shared],
    uniforms: words,
    workgroups: grid1d(threads, FLAT_ALIGN),
  });
}

const f = (k: number) => `bitcast<f32>(mi(${k}u))`;

/** Adam's scalars without the step: each parameter of a fused update keeps its own step count. */
export type AdamFlatScalars = Omit<AdamScalars, 'step'>;

/** A parameter due for an update: its region in the flat state and its step count (the step just taken). */
export interface FlatParam {
  param: Tensor;
  offset: number;
  step: number;
}

function adamKernel(decoupled: boolean, amsgrad: boolean): FlatKernel {
  const shared: [string, Access][] = [
    ['G', 'read'],
    ['M', 'read_write'],
    ['V', 'read_write'],
  ];
  if (amsgrad) shared.push(['X', 'read_write']);
  // Globals: 1 lr, 2 beta1, 3 beta2, 4 eps, 5 weight decay, 6 grad sign; per parameter: z step size, w √bc2.
  return {
    name: decoupled ? 'adamw_step' : 'adam_step',
    shared,
    stores: amsgrad ? ['M', 'V', 'X'] : ['M', 'V'],
    floatWords: true,
    body: `  var g = g0 * ${f(6)};
  var p = p0;
  ${decoupled ? `p = p * (1.0 - ${f(1)} * ${f(5)});` : `g = g + ${f(5)} * p;`}
  let m1 = m0 + (1.0 - ${f(2)}) * (g - m0);
  let v1 = v0 * ${f(3)} + (1.0 - ${f(3)}) * g * g;
  ${amsgrad ? 'let x1 = max(x0, v1); let vm = x1;' : 'let vm = v1;'}
  let denom = sqrt(vm) / bitcast<f32>(entry.w) + ${f(4)};
  let p1 = p - bitcast<f32>(entry.z) * m1 / denom;`,
  };
}

/** torch.optim.Adam/AdamW's update of `items`, whose state and gradients are in `flat`. */
export function adamFlat(
  items: FlatParam[],
  flat: FlatState,
  s: AdamFlatScalars,
  maxPerDispatch: number,
): void {
  const shared = [flat.grads, flat.buffers.get('exp_avg')!, flat.buffers.get('exp_avg_sq')!];
  if (s.amsgrad) shared.push(flat.buffers.get('max_exp_avg_sq')!);
  const k = memo(`adam|${s.decoupled}|${s.amsgrad}`, () => adamKernel(s.decoupled, s.amsgrad));
  const members: FlatMember[] = items.map((it) => {
    const bc1 = 1 - s.beta1 ** it.step;
    const bc2 = 1 - s.beta2 ** it.step;
    return { param: it.param, offset: it.offset, words: [s.lr / bc1, Math.sqrt(bc2)] };
  });
  dispatchFlat(
    k,
    members,
    shared.map((t) => t.buffer),
    [s.lr, s.beta1, s.beta2, s.eps, s.weightDecay, s.maximize ? -1 : 1],
    [1, 2, 3, 4, 5, 6],
    flatCapacity(shared.length, maxPerDispatch),
  );
}

/** SGD's scalars without the first-step flag: each parameter of a fused update keeps its own. */
export type SgdFlatScalars = Omit<SgdScalars, 'firstStep'>;

function sgdKernel(momentum: boolean, nesterov: boolean): FlatKernel {
  const shared: [string, Access][] = [['G', 'read']];
  if (momentum) shared.push(['B', 'read_write']);
  // Globals: 1 lr, 2 momentum, 3 dampening, 4 weight decay, 5 grad sign; per parameter: z first step.
  const update = momentum
    ? `var b1 = d;
  if (entry.z == 0u) { b1 = ${f(2)} * b0 + (1.0 - ${f(3)}) * d; }
  ${nesterov ? `d = d + ${f(2)} * b1;` : 'd = b1;'}`
    : '';
  return {
    name: 'sgd_step',
    shared,
    stores: momentum ? ['B'] : [],
    floatWords: false,
    body: `  let p = p0;
  var d = g0 * ${f(5)} + ${f(4)} * p;
  ${update}
  let p1 = p - ${f(1)} * d;`,
  };
}

/**
 * torch.optim.SGD's update of `items`. Momentum applies where the group has a momentum buffer, as the
 * per-parameter path applies it where the parameter has one.
 */
export function sgdFlat(
  items: FlatParam[],
  flat: FlatState,
  s: SgdFlatScalars,
  maxPerDispatch: number,
): void {
  const buf = s.momentum !== 0 ? flat.buffers.get('momentum_buffer') : undefined;
  const shared = buf ? [flat.grads, buf] : [flat.grads];
  const k = memo(`sgd|${buf !== undefined}|${s.nesterov}`, () => sgdKernel(buf !== undefined, s.nesterov));
  dispatchFlat(
    k,
    items.map((it) => ({ param: it.param, offset: it.offset, words: [it.step === 1 ? 1 : 0, 0] })),
    shared.map((t) => t.buffer),
    [s.lr, s.momentum, s.dampening, s.weightDecay, s.maximize ? -1 : 1],
    [1, 2, 3, 4, 5],
    flatCapacity(shared.length, maxPerDispatch),
  );
}
