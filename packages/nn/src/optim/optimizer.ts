/**
 * The optimizer base: parameter groups with their hyper-parameters, per-parameter state tensors, zeroGrad, and
 * a state dict in PyTorch's shape (state by parameter index, param_groups with the indices they own).
 */
import { formatShape, keep, type Tensor, zeros } from '@mriseg/tensor-wgsl';
import { assignValue, type HostTensor } from '../module.js';

export interface ParamGroup<O> {
  params: Tensor[];
  options: O;
}

/** Parameters, or groups of parameters with options that override the defaults (e.g. another lr). */
export type ParamsInput<O> = Tensor[] | { params: Tensor[]; options?: Partial<O> }[];

export interface OptimizerStateDict {
  /** Optimizer class name (checked on load). */
  type: string;
  /** Hyper-parameters of each group and the (global) indices of its parameters. */
  paramGroups: (Record<string, unknown> & { params: number[] })[];
  /** Steps taken per parameter index (absent = no state yet). */
  steps: Record<string, number>;
  /** State tensors by `<param index>.<name>`, e.g. `0.exp_avg` (PyTorch's names). */
  tensors: Map<string, Tensor>;
}

export interface OptimizerStateInput {
  type: string;
  paramGroups: (Record<string, unknown> & { params: number[] })[];
  steps: Record<string, number>;
  tensors: Map<string, Tensor | HostTensor>;
}

interface ParamState {
  step: number;
  tensors: Map<string, Tensor>;
}

export abstract class Optimizer<O extends { lr: number }> {
  readonly paramGroups: ParamGroup<O>[];
  protected readonly state = new Map<Tensor, ParamState>();

  constructor(params: ParamsInput<O>, defaults: O) {
    const groups: { params: Tensor[]; options?: Partial<O> }[] =
      params.length > 0 && !('params' in params[0])
        ? [{ params: params as Tensor[] }]
        : (params as { params: Tensor[]; options?: Partial<O> }[]);
    this.paramGroups = groups.map((g) => ({ params: [...g.params], options: { ...defaults, ...g.options } }));
    const all = this.paramGroups.flatMap((g) => g.params);
    if (all.length === 0) throw new Error(`${this.constructor.name}: no parameters to optimise`);
    if (new Set(all).size !== all.length)
      throw new Error(`${this.constructor.name}: a parameter appears in more than one group`);
    for (const p of all)
      if (p.dtype !== 'f32')
        throw new Error(`${this.constructor.name}: parameter ${p.describe()} is not f32`);
    for (const g of this.paramGroups) this.validate(g.options);
  }

  protected abstract validate(options: O): void;

  /** Updates one parameter that has a gradient. */
  protected abstract update(p: Tensor, grad: Tensor, state: ParamState, options: O): void;

  /** State tensors a new parameter state starts with (zeros of the parameter's shape). */
  protected abstract stateNames(options: O): string[];

  /** The learning rate of the first group; setting it sets every group's (schedules use `setLr` per group). */
  get lr(): number {
    return this.paramGroups[0].options.lr;
  }

  set lr(value: number) {
    for (const g of this.paramGroups) g.options.lr = value;
  }

  /** One update of every parameter that has a gradient (recorded on the GPU, nothing read back). */
  step(): void {
    for (const group of this.paramGroups)
      for (const p of group.params) {
        if (!p.grad) continue;
        if (p.disposed)
          throw new Error(`${this.constructor.name}.step(): parameter ${p.describe()} was disposed`);
        let st = this.state.get(p);
        if (!st) {
          st = { step: 0, tensors: new Map() };
          for (const name of this.stateNames(group.options)) st.tensors.set(name, keep(zeros(p.shape)));
          this.state.set(p, st);
        }
        st.step++;
        this.update(p, p.grad, st, group.options);
      }
  }

  /** Drops the gradients of all parameters (PyTorch's set_to_none behaviour). */
  zeroGrad(): void {
    for (const g of this.paramGroups)
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
  }

  private indexed(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  stateDict(): OptimizerStateDict {
    const params = this.indexed();
    const tensors = new Map<string, Tensor>();
    const steps: Record<string, number> = {};
    params.forEach((p, i) => {
      const st = this.state.get(p);
      if (!st) return;
      steps[i] = st.step;
      for (const [name, t] of st.tensors) tensors.set(`${i}.${name}`, t);
    });
    let at = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const indices = g.params.map((_, k) => at + k);
      at += g.params.length;
      return { ...(g.options as Record<string, unknown>), params: indices };
    });
    return { type: this.constructor.name, paramGroups, steps, tensors };
  }

  /** Restores hyper-parameters and state; checks the type, group sizes, and every state tensor's shape. */
  loadStateDict(sd: OptimizerStateInput): void {
    const name = this.constructor.name;
    if (sd.type !== name) throw new Error(`${name}.loadStateDict: state dict is for ${sd.type}`);
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new Error(
        `${name}.loadStateDict: ${sd.paramGroups.length} parameter groups in the state dict, ${this.paramGroups.length} here`,
      );
    const params = this.indexed();
    const problems: string[] = [];
    sd.paramGroups.forEach((g, i) => {
      if (g.params.length !== this.paramGroups[i].params.length)
        problems.push(
          `group ${i} has ${g.params.length} parameters in the state dict, ${this.paramGroups[i].params.length} here`,
        );
    });
    const expected = new Set<string>();
    for (const [key, step] of Object.entries(sd.steps)) {
      const i = Number(key);
      const p = params[i];
      if (!p || !Number.isInteger(step) || step < 0) {
        problems.push(`state for parameter ${key} (step ${step}) does not fit ${params.length} parameters`);
        continue;
      }
      const group = this.paramGroups.find((g) => g.params.includes(p))!;
      const opts = { ...group.options, ...stripParams(sd.paramGroups[this.paramGroups.indexOf(group)]) } as O;
      for (const s of this.stateNames(opts)) {
        const k = `${i}.${s}`;
        expected.add(k);
        const v = sd.tensors.get(k);
        if (!v) problems.push(`missing ${k}`);
        else if (v.dtype !== 'f32' || formatShape(v.shape) !== formatShape(p.shape))
          problems.push(
            `${k}: parameter is f32${formatShape(p.shape)}, state has ${v.dtype}${formatShape(v.shape)}`,
          );
      }
    }
    for (const k of sd.tensors.keys()) if (!expected.has(k)) problems.push(`unexpected ${k}`);
    if (problems.length) throw new Error(`${name}.loadStateDict: ${problems.join('; ')}`);
    sd.paramGroups.forEach((g, i) => {
      Object.assign(this.paramGroups[i].options as Record<string, unknown>, stripParams(g));
      this.validate(this.paramGroups[i].options);
    });
    for (const st of this.state.values()) for (const t of st.tensors.values()) t.dispose();
    this.state.clear();
    for (const [key, step] of Object.entries(sd.steps)) {
      const i = Number(key);
      const p = params[i];
      const group = this.paramGroups.find((g) => g.params.includes(p))!;
      const st: ParamState = { step, tensors: new Map() };
      for (const s of this.stateNames(group.options)) {
        const t = keep(zeros(p.shape));
        assignValue(t, sd.tensors.get(`${i}.${s}`)!);
        st.tensors.set(s, t);
      }
      this.state.set(p, st);
    }
  }

  /** Frees the state tensors. */
  dispose(): void {
    for (const st of this.state.values()) for (const t of st.tensors.values()) t.dispose();
    this.state.clear();
  }
}

function stripParams(g: Record<string, unknown>): Record<string, unknown> {
  const { params: _, ...rest } = g;
  return rest;
}

export type { ParamState };
