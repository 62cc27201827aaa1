/**
 * Modules in the PyTorch style: parameters, buffers and child modules are registered by name, and the dotted
 * paths of those names are the state-dict keys (`encoder1.enc1conv1.weight`, `0.running_mean`), so that state
 * dicts interchange with PyTorch's.
 *
 * Registration is explicit: `this.weight = this.registerParameter('weight', t)`; `registerBuffer` and
 * `registerModule` likewise. Registered tensors are taken out of scope tracking (they live until `dispose()`).
 * Loading a state dict copies values into the registered tensors, so references held elsewhere (optimizers)
 * stay valid.
 */
import { type DType, formatShape, keep, noGrad, runtime, type Tensor } from '@mriseg/tensor-wgsl';

/** Values on the CPU, e.g. read from a safetensors file. */
export interface HostTensor {
  dtype: DType;
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

export type StateValue = Tensor | HostTensor;
export type StateDictInput = Map<string, StateValue> | Record<string, StateValue>;

export interface LoadStateDictOptions {
  /** Require exactly the module's keys (default true). Shape and dtype mismatches are errors either way. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** A state dict that does not fit a module; the message lists every problem. */
export class StateDictError extends Error {
  constructor(
    message: string,
    readonly missingKeys: string[],
    readonly unexpectedKeys: string[],
    readonly mismatched: string[],
  ) {
    super(message);
    this.name = 'StateDictError';
  }
}

const describeValue = (v: StateValue) => `${v.dtype}${formatShape(v.shape)}`;

function isTensor(v: StateValue): v is Tensor {
  return typeof (v as Tensor).dispose === 'function';
}

interface BufferSlot {
  tensor: Tensor;
  persistent: boolean;
}

/**
 * The base of all layers and models. `I` are the argument types of `forward`, `O` its result.
 * Subclasses implement `forward`; `call` is a shorthand for it.
 */
export abstract class Module<I extends unknown[] = [Tensor], O = Tensor> {
  /** Training mode (batch statistics in BatchNorm, active dropout). Set with `train()` / `eval()`. */
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, BufferSlot>();
  private readonly children_ = new Map<string, AnyModule>();

  abstract forward(...inputs: I): O;

  call(...inputs: I): O {
    return this.forward(...inputs);
  }

  /** Registers (or replaces) a parameter: it gets requiresGrad, its key as name, and leaves scope tracking. */
  registerParameter(name: string, t: Tensor): Tensor {
    checkName(this, name);
    if (t.dtype !== 'f32')
      throw new Error(`registerParameter("${name}"): parameters must be f32, got ${t.describe()}`);
    const old = this.params.get(name);
    if (old && old !== t) old.dispose();
    keep(t);
    t.requiresGrad = true;
    t.name = name;
    this.params.set(name, t);
    return t;
  }

  /** Registers (or replaces) a buffer (running statistics, counters). Non-persistent ones are not in stateDict. */
  registerBuffer(name: string, t: Tensor, persistent = true): Tensor {
    checkName(this, name);
    const old = this.buffers.get(name);
    if (old && old.tensor !== t) old.tensor.dispose();
    keep(t);
    t.name = name;
    this.buffers.set(name, { tensor: t, persistent });
    return t;
  }

  registerModule<M extends AnyModule>(name: string, m: M): M {
    checkName(this, name);
    this.children_.set(name, m);
    return m;
  }

  namedChildren(): [string, AnyModule][] {
    return [...this.children_];
  }

  children(): AnyModule[] {
    return [...this.children_.values()];
  }

  /** This module and all below it, depth first, with dotted paths ('' for this one). */
  namedModules(prefix = ''): [string, AnyModule][] {
    const out: [string, AnyModule][] = [[prefix, this as AnyModule]];
    for (const [name, child] of this.children_)
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  modules(): AnyModule[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Parameters with their dotted keys; a tensor shared by two modules is listed once (as in PyTorch). */
  namedParameters(): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules())
      for (const [name, t] of m.params) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([path ? `${path}.${name}` : name, t]);
      }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules())
      for (const [name, slot] of m.buffers) out.push([path ? `${path}.${name}` : name, slot.tensor]);
    return out;
  }

  /** Σ elements of all parameters. */
  numParameters(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  /** Sets training mode here and below. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Parameters and persistent buffers by PyTorch key, in PyTorch's order (a module's own parameters, then its
   * buffers, then its children). The values are the live tensors: read them, do not dispose them.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.collectState('', out);
    return out;
  }

  private collectState(prefix: string, out: Map<string, Tensor>): void {
    for (const [name, t] of this.params) out.set(prefix + name, t);
    for (const [name, slot] of this.buffers) if (slot.persistent) out.set(prefix + name, slot.tensor);
    for (const [name, child] of this.children_) child.collectState(`${prefix}${name}.`, out);
  }

  /**
   * Copies a state dict into this module's tensors. Every key, shape and dtype is checked before anything is
   * copied; the error lists all missing and unexpected keys and every mismatch with both shapes.
   */
  loadStateDict(dict: StateDictInput, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const given = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [key, target] of own) {
      const v = given.get(key);
      if (!v) continue;
      const sameShape =
        v.shape.length === target.shape.length && v.shape.every((d, i) => d === target.shape[i]);
      if (!sameShape || v.dtype !== target.dtype)
        mismatched.push(`${key}: module has ${describeValue(target)}, state dict has ${describeValue(v)}`);
      else if (!isTensor(v) && v.data.length !== target.size)
        mismatched.push(`${key}: ${v.data.length} values for ${describeValue(target)}`);
    }
    const problems: string[] = [];
    if (mismatched.length) problems.push(`${mismatched.length} mismatched: ${mismatched.join('; ')}`);
    if (strict && missingKeys.length)
      problems.push(
        `${missingKeys.length} missing: ${missingKeys.map((k) => `${k} ${describeValue(own.get(k)!)}`).join(', ')}`,
      );
    if (strict && unexpectedKeys.length)
      problems.push(
        `${unexpectedKeys.length} unexpected: ${unexpectedKeys.map((k) => `${k} ${describeValue(given.get(k)!)}`).join(', ')}`,
      );
    if (problems.length)
      throw new StateDictError(
        `loadStateDict(${this.constructor.name}): ${problems.join(' | ')}`,
        missingKeys,
        unexpectedKeys,
        mismatched,
      );
    noGrad(() => {
      for (const [key, target] of own) {
        const v = given.get(key);
        if (v) assignValue(target, v);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees all parameters and buffers (the module is unusable afterwards). */
  dispose(): void {
    for (const m of this.modules()) {
      for (const t of m.params.values()) t.dispose();
      for (const s of m.buffers.values()) s.tensor.dispose();
    }
  }
}

/** Any module, whatever its forward signature (for containers and traversal; methods compare bivariantly). */
export type AnyModule = Module<unknown[], unknown>;

function checkName(m: AnyModule, name: string): void {
  if (!name || name.includes('.'))
    throw new Error(`${m.constructor.name}: invalid name "${name}" (non-empty, without dots)`);
}

/** Copies a value into a tensor of the same shape and dtype (checked by the caller). */
export function assignValue(target: Tensor, v: StateValue): void {
  if (isTensor(v)) {
    if (v !== target) runtime().copyBuffer(v.buffer, 0, target.buffer, 0, target.size * 4);
    return;
  }
  const data = target.dtype === 'i32' ? Int32Array.from(v.data) : Float32Array.from(v.data);
  if (data.length > 0) runtime().writeBuffer(target.buffer, data);
}
