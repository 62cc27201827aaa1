/**
 * The optimizer base: parameter groups with their hyper-parameters, per-parameter state tensors, zeroGrad, and
 * a state dict in PyTorch's shape (state by parameter index, param_groups with the indices they own).
 */
import { formatShape, keep, runtime, type Tensor, zeros } from '@mriseg/tensor-wgsl';
import { assignValue, type HostTensor } from '../module.js';
import { FlatState } from './flat.js';
import type { FlatParam } from './foreach.js';

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
  /**
   * The state tensors by name. While the parameter's group keeps its state flat (`foreach`), these are only
   * the copies `stateDict()` made, until the next step frees them.
   */
  tensors: Map<string, Tensor>;
}

export abstract class Optimizer<O extends { lr: number }> {
  readonly paramGroups: ParamGroup<O>[];
  protected readonly state = new Map<Tensor, ParamState>();
  /** Groups whose state is flat: there the flat buffers hold it, not the parameters' state tensors. */
  private readonly flats = new Map<ParamGroup<O>, FlatState>();
  /** Whether `stateDict()` has made copies of flat state that the next step frees. */
  private mirrored = false;
  /**
   * Multi-tensor updates (torch's `foreach`): a group's state lives in flat buffers and a step takes a few
   * dispatches; false runs one kernel per parameter on per-parameter state tensors. Both give bit-identical
   * results, and the state moves over when this changes between steps. Not a hyper-parameter, so not part of
   * the state dict.
   */
  foreach = true;
  /** An upper bound on the parameters one fused dispatch updates (the device's binding limit sets the other). */
  maxTensorsPerDispatch = Number.POSITIVE_INFINITY;

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

  /** Updates parameters of one group whose state and (copied) gradients are in `flat`. */
  protected abstract updateFlat(items: FlatParam[], flat: FlatState, options: O): void;

  /** State tensors a new parameter state starts with (zeros of the parameter's shape). */
  protected abstract stateNames(options: O): string[];

  /** The learning rate of the first group; setting it sets every group's (schedules use `setLr` per group). */
  get lr(): number {
    return this.paramGroups[0].options.lr;
  }

  set lr(value: number) {
    for (const g of this.paramGroups) g.options.lr = value;
  }

  /**
   * One update of every parameter that has a gradient (recorded on the GPU, nothing read back). With `foreach`
   * (the default) a group's update is one copy per gradient and a few multi-tensor dispatches. The host's share
   * (step counts, freeing state copies) is a host action and the kernels' step-dependent scalars are dynamic
   * uniforms, so a captured training step replays the update correctly (step-graph.ts in tensor-wgsl).
   */
  step(): void {
    const rt = runtime();
    rt.hostAction(() => {
      if (this.mirrored && this.foreach) this.dropMirrors();
    });
    for (const group of this.paramGroups) {
      const live = group.params.filter((p) => p.grad !== null);
      // Checked before any state changes, so that a failed step leaves no half-counted steps behind.
      for (const p of live)
        if (p.disposed)
          throw new Error(`${this.constructor.name}.step(): parameter ${p.describe()} was disposed`);
      if (live.length === 0) continue;
      if (!this.foreach) this.unflatten(group);
      const flat = this.foreach ? this.flatten(group, live) : null;
      const states = live.map((p) => {
        let st = this.state.get(p);
        if (!st) {
          st = { step: 0, tensors: new Map() };
          // A flat group's regions are still zeros: nothing has written them.
          if (!flat)
            for (const name of this.stateNames(group.options)) st.tensors.set(name, keep(zeros(p.shape)));
          this.state.set(p, st);
        }
        return st;
      });
      rt.hostAction(() => {
        for (const st of states) st.step++;
      });
      if (!flat) {
        live.forEach((p, i) => {
          this.update(p, p.grad!, states[i], group.options);
        });
        continue;
      }
      const items = live.map((p, i): FlatParam => {
        flat.copyIn(p, p.grad!, flat.grads);
        return { param: p, offset: flat.offsets.get(p)!, state: states[i] };
      });
      this.updateFlat(items, flat, group.options);
    }
  }

  /**
   * The group's flat state, made from its parameters' state tensors (then freed) where it has none yet or
   * where the current one lacks a parameter (added to the group since) or a state the options now need.
   */
  private flatten(group: ParamGroup<O>, live: Tensor[]): FlatState {
    const names = this.stateNames(group.options);
    const current = this.flats.get(group);
    if (current && live.every((p) => current.offsets.has(p)) && names.every((n) => current.names.includes(n)))
      return current;
    this.unflatten(group);
    const all = new Set(names);
    for (const p of group.params) for (const n of this.state.get(p)?.tensors.keys() ?? []) all.add(n);
    const flat = new FlatState([...group.params], [...all]);
    for (const p of group.params) {
      const st = this.state.get(p);
      if (!st) continue;
      for (const [n, t] of st.tensors) {
        flat.copyIn(p, t, flat.buffers.get(n)!);
        t.dispose();
      }
      st.tensors.clear();
    }
    this.flats.set(group, flat);
    return flat;
  }

  /** Copies a flat group's state into the parameters' state tensors (made where missing). */
  private mirror(flat: FlatState): void {
    for (const p of flat.params) {
      const st = this.state.get(p);
      if (!st) continue;
      for (const n of flat.names) {
        let t = st.tensors.get(n);
        if (!t) {
          t = keep(zeros(p.shape));
          st.tensors.set(n, t);
        }
        flat.copyOut(p, flat.buffers.get(n)!, t);
      }
    }
  }

  /**
   * Frees the copies `stateDict()` made of flat state, which would otherwise hold a second copy of the state
   * on the GPU for the rest of the run.
   */
  private dropMirrors(): void {
    for (const flat of this.flats.values())
      for (const p of flat.params) {
        const st = this.state.get(p);
        if (!st) continue;
        for (const t of st.tensors.values()) t.dispose();
        st.tensors.clear();
      }
    this.mirrored = false;
  }

  /** Moves a group's state back into per-parameter tensors. */
  private unflatten(group: ParamGroup<O>): void {
    const flat = this.flats.get(group);
    if (!flat) return;
    this.mirror(flat);
    flat.dispose();
    this.flats.delete(group);
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

  /**
   * The state in PyTorch's layout. With `foreach` the state itself lives in flat buffers, so its tensors here
   * are copies taken now, owned by the optimizer and freed by its next `step()`: read (or save) them first.
   */
  stateDict(): OptimizerStateDict {
    for (const flat of this.flats.values()) this.mirror(flat);
    if (this.flats.size > 0) this.mirrored = true;
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
    this.disposeState();
    // Captured steps bound the old state's buffers.
    runtime().invalidateGraphs();
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

  /**
   * Forgets the state as a new optimizer on the same parameters would start (moments zero, no steps taken), in
   * place: the state keeps its buffers, so a captured training step goes on replaying this optimizer.
   */
  restart(): void {
    const zero = (t: Tensor) => runtime().writeBuffer(t.buffer, new Float32Array(t.size));
    for (const st of this.state.values()) {
      st.step = 0;
      for (const t of st.tensors.values()) zero(t);
    }
    for (const flat of this.flats.values()) for (const t of flat.buffers.values()) zero(t);
  }

  /** Frees the state tensors. */
  dispose(): void {
    this.disposeState();
  }

  private disposeState(): void {
    for (const st of this.state.values()) for (const t of st.tensors.values()) t.dispose();
    this.state.clear();
    for (const flat of this.flats.values()) flat.dispose();
    this.flats.clear();
    this.mirrored = false;
  }
}

function stripParams(g: Record<string, unknown>): Record<string, unknown> {
  const { params: _, ...rest } = g;
  return rest;
}

export type { ParamState };
