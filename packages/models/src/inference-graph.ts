/**
 * A model's captured inference batches (tensor-wgsl's StepGraph), by batch shape and test-time augmentation, with
 * the static input tensors they read: a batch's slices are uploaded into the same tensor every time, so after
 * the first few batches of a shape each one replays instead of running the model's JavaScript again.
 */
import { keep, runtime, StepGraph, type Tensor, zeros } from '@mriseg/tensor-wgsl';

interface InferenceCache {
  graph: StepGraph;
  inputs: Map<string, Tensor>;
}

const caches = new WeakMap<object, InferenceCache>();

/**
 * Runs `step` on `data` (shape `shape`) uploaded into the static input for `key`, replayed once captured. The
 * result is the step's output: read it (`data()`) before the next call with the same key, which overwrites it.
 */
export function runInference(
  model: object,
  key: string,
  shape: readonly number[],
  data: Float32Array,
  step: (x: Tensor) => Tensor,
): Tensor {
  let cache = caches.get(model);
  if (!cache) {
    cache = { graph: new StepGraph(), inputs: new Map() };
    caches.set(model, cache);
  }
  let x = cache.inputs.get(key);
  if (!x) {
    x = keep(zeros(shape));
    cache.inputs.set(key, x);
  }
  runtime().writeBuffer(x.buffer, data);
  const input = x;
  return cache.graph.run(key, () => step(input));
}

/** Frees a model's captured inference batches and their inputs (the model's `dispose()` does this). */
export function releaseInference(model: object): void {
  const cache = caches.get(model);
  if (!cache) return;
  cache.graph.dispose();
  for (const t of cache.inputs.values()) t.dispose();
  caches.delete(model);
}
