/**
 * Step capture and replay, like CUDA graphs: a training or inference step is recorded once — every dispatch
 * with its pipeline, bind group, uniforms and workgroups, its copies and host actions — and later steps replay
 * the recording, so the host pays a few µs per dispatch instead of running every op's JavaScript.
 *
 * `graph.run(key, fn)`: the first call for a key runs `fn` as it is (a warm-up: lazily made state, such as an
 * optimizer's, is made there), the next two run it for real while recording it, and the two recordings are
 * compared. Only a step that records the same work twice is replayed from the fourth call on; a
 * step that differs (a new input tensor each call instead of a static one, uniforms that change without being
 * declared dynamic, a data-dependent branch) or that reads back from the GPU runs eagerly for good, and
 * `status(key)` says why. What may change between replays must reach the GPU through buffers written before
 * `run` (the static inputs: `writeBuffer` into the same tensors), through host actions or dynamic uniforms
 * (`Runtime.hostAction`, a uniforms function in `dispatchKernel`), as an optimizer's step counts and learning
 * rate do. The key names everything else a step depends on (shapes, train/eval mode): another key captures
 * another recording. `Runtime.invalidateGraphs()` (new kernel choices, replaced parameters) makes every key
 * capture again.
 *
 * Memory: the buffers a replayed step uses are reserved for it (pinned in the pool) until the graph is disposed
 * or captures again; the tensors `fn` returns are the same buffers at every replay (returned as new views).
 */
import { runtime } from './device.js';
import { tensor, zeros } from './ops/creation.js';
import { differences, type Recording } from './recording.js';
import { keep } from './scope.js';
import { Tensor } from './tensor.js';

/** What a step may return: nothing, a tensor, or an array or record of tensors. */
// biome-ignore lint/suspicious/noConfusingVoidType: a step is often a function that returns nothing.
export type StepOutput = void | undefined | Tensor | readonly Tensor[] | Readonly<Record<string, Tensor>>;

/** Host values for a static input of a step: uploaded into the same tensor before every run. */
export interface HostInput {
  data: Float32Array | Int32Array;
  shape: readonly number[];
}

/** How a key's step runs now. */
export type StepMode = 'capturing' | 'replaying' | 'eager';

interface KeyState {
  epoch: number;
  /** Times the kept recording went stale (an outside buffer it reads was freed). */
  stale: number;
  /** Whether the warm-up call has run. */
  warm: boolean;
  /** Captures made so far (at most the last one is kept). */
  captures: number;
  last: Recording | null;
  /** The replayed recording and the outputs it writes (views kept by the graph). */
  replay: { rec: Recording; outputs: Tensor[]; shape: OutputShape } | null;
  /** Why this key runs eagerly (null while capturing or replaying). */
  eager: string | null;
  /** The static inputs of `runWithInputs` for this key. */
  inputs: Tensor[];
}

/** How the outputs are arranged, to rebuild the same structure from the kept tensors. */
type OutputShape =
  | { kind: 'none' }
  | { kind: 'one' }
  | { kind: 'array' }
  | { kind: 'record'; keys: string[] };

export interface StepGraphOptions {
  /** Replay at all (default true; MRISEG_REPLAY=0 turns it off process-wide). */
  enabled?: boolean;
  /** Keys kept at once; the least recently used beyond it is dropped (default 4). */
  maxKeys?: number;
}

const envDisabled = () =>
  typeof process !== 'undefined' && typeof process.env === 'object' && process.env.MRISEG_REPLAY === '0';

export class StepGraph {
  private readonly states = new Map<string, KeyState>();
  readonly enabled: boolean;
  private readonly maxKeys: number;
  /** The key of the last `run` or `runWithInputs` (for `status`). */
  lastKey: string | null = null;

  constructor(options: StepGraphOptions = {}) {
    this.enabled = (options.enabled ?? true) && !envDisabled();
    this.maxKeys = options.maxKeys ?? 4;
  }

  /** Runs the step `fn` under `key`: captured, replayed or eager (see the module comment). */
  run<T extends StepOutput>(key: string, fn: () => T): T {
    this.lastKey = key;
    if (!this.enabled) return fn();
    const rt = runtime();
    const st = this.stateOf(key);
    // Inside another capture the step is part of that one.
    if (rt.capturing) return fn();
    if (st.replay?.rec.stale) {
      const why = st.replay.rec.stale;
      const stale = st.stale + 1;
      this.reset(st);
      st.stale = stale;
      // Once is a change of inputs (new state, say), which a new capture follows; twice is a step that reads
      // tensors it does not keep, which no replay can serve.
      if (stale > 1)
        st.eager = `it was captured twice and each time ${why}: pass inputs in tensors that live across steps`;
    }
    if (st.replay) {
      rt.replay(st.replay.rec);
      return rebuild(st.replay.outputs, st.replay.shape) as T;
    }
    if (st.eager !== null || rt.profiling) return fn();
    if (!st.warm) {
      st.warm = true;
      return fn();
    }
    return this.capture(st, fn);
  }

  /**
   * Uploads `inputs` into static tensors — one set per `tag` and input shapes, kept by the graph — and runs
   * `fn(...tensors)` under that key: the way to feed a replayed step a new batch. An input's dtype follows its
   * array (Int32Array: i32). Without replay the inputs are fresh tensors, freed after the step.
   */
  runWithInputs<T extends StepOutput>(
    tag: string,
    inputs: readonly HostInput[],
    fn: (...xs: Tensor[]) => T,
  ): T {
    const dtypeOf = (i: HostInput) => (i.data instanceof Int32Array ? 'i32' : 'f32');
    if (!this.enabled) {
      const xs = inputs.map((i) => tensor(i.data, i.shape, { dtype: dtypeOf(i) }));
      try {
        return fn(...xs);
      } finally {
        for (const x of xs) x.dispose();
      }
    }
    const key = `${tag}|${inputs.map((i) => `${dtypeOf(i)}[${i.shape.join(',')}]`).join('|')}`;
    const st = this.stateOf(key);
    if (st.inputs.length === 0) st.inputs = inputs.map((i) => keep(zeros(i.shape, dtypeOf(i))));
    const rt = runtime();
    inputs.forEach((i, k) => {
      rt.writeBuffer(st.inputs[k].buffer, i.data);
    });
    const xs = st.inputs;
    return this.run(key, () => fn(...xs));
  }

  /** The state of `key` (made, and the oldest key dropped, when new; reset when kernels or state changed). */
  private stateOf(key: string): KeyState {
    const rt = runtime();
    let st = this.states.get(key);
    if (st) {
      // Most recently used last.
      this.states.delete(key);
      this.states.set(key, st);
      if (st.epoch !== rt.graphEpoch) {
        this.reset(st);
        st.epoch = rt.graphEpoch;
      }
      return st;
    }
    st = {
      epoch: rt.graphEpoch,
      stale: 0,
      warm: false,
      captures: 0,
      last: null,
      replay: null,
      eager: null,
      inputs: [],
    };
    this.states.set(key, st);
    this.trim();
    return st;
  }

  private capture<T extends StepOutput>(st: KeyState, fn: () => T): T {
    const rt = runtime();
    const rec = rt.beginCapture();
    let out: T;
    try {
      out = fn();
    } catch (e) {
      rt.endCapture(rec).destroy();
      throw e;
    }
    rt.endCapture(rec);
    st.captures++;
    const prev = st.last;
    st.last = rec;
    if (rec.refused) return this.giveUp(st, `the step cannot be replayed: ${rec.refused}`, out);
    if (!prev) return out;
    const diff = differences(prev, rec);
    prev.destroy();
    if (diff) return this.giveUp(st, `the step differs between two calls: ${diff}`, out);
    const tensors = collect(out);
    if (!tensors) return this.giveUp(st, 'the step returns something other than tensors', out);
    // The graph keeps its own views of the outputs: a replay writes the same buffers and returns new views.
    const kept = tensors.map((t) => keep(t.detach()));
    rt.retainRecording(
      rec,
      kept.map((t) => t.buffer),
    );
    st.replay = { rec, outputs: kept, shape: shapeOf(out) };
    st.last = null;
    return out;
  }

  private giveUp<T>(st: KeyState, why: string, out: T): T {
    st.eager = why;
    st.last?.destroy();
    st.last = null;
    return out;
  }

  /** How `key`'s step runs now, and why it is eager when it is. */
  status(key: string): { mode: StepMode; reason?: string; dispatches?: number } {
    const st = this.states.get(key);
    if (!this.enabled) return { mode: 'eager', reason: 'replay is off' };
    if (st?.replay) return { mode: 'replaying', dispatches: st.replay.rec.dispatches };
    if (st?.eager != null) return { mode: 'eager', reason: st.eager };
    return { mode: 'capturing' };
  }

  /** Frees every recording, the buffers reserved for replays and the static inputs. */
  dispose(): void {
    for (const st of this.states.values()) this.drop(st);
    this.states.clear();
  }

  /** Resets a key and frees its static inputs. */
  private drop(st: KeyState): void {
    this.reset(st);
    for (const x of st.inputs) x.dispose();
    st.inputs = [];
  }

  private reset(st: KeyState): void {
    st.last?.destroy();
    st.last = null;
    if (st.replay) {
      const rt = runtime();
      // Replays still queued read these buffers: they return to the pool, which hands them out only for work
      // recorded after this point.
      rt.releaseRecording(st.replay.rec);
      for (const t of st.replay.outputs) t.dispose();
      const rec = st.replay.rec;
      rt.flush();
      rec.destroy();
      st.replay = null;
    }
    st.captures = 0;
    st.warm = false;
    st.eager = null;
  }

  private trim(): void {
    while (this.states.size > this.maxKeys) {
      const [oldest, st] = this.states.entries().next().value as [string, KeyState];
      this.drop(st);
      this.states.delete(oldest);
    }
  }
}

function collect(out: StepOutput): Tensor[] | null {
  if (out === undefined || out === null) return [];
  if (isTensor(out)) return [out];
  if (Array.isArray(out)) return out.every(isTensor) ? [...out] : null;
  const values = Object.values(out as Record<string, unknown>);
  return values.every(isTensor) ? (values as Tensor[]) : null;
}

const isTensor = (v: unknown): v is Tensor => v instanceof Tensor;

function shapeOf(out: StepOutput): OutputShape {
  if (out === undefined || out === null) return { kind: 'none' };
  if (isTensor(out)) return { kind: 'one' };
  if (Array.isArray(out)) return { kind: 'array' };
  return { kind: 'record', keys: Object.keys(out as Record<string, Tensor>) };
}

function rebuild(kept: Tensor[], shape: OutputShape): StepOutput {
  const views = kept.map((t) => t.view(t.shape));
  switch (shape.kind) {
    case 'none':
      return undefined;
    case 'one':
      return views[0];
    case 'array':
      return views;
    case 'record':
      return Object.fromEntries(shape.keys.map((k, i) => [k, views[i]]));
  }
}
