/**
 * A model's captured inference batches (tensor-wgsl's StepGraph), by batch shape and test-time augmentation: a
 * batch's slices are uploaded into the graph's static input for that shape, so after the first few batches of a
 * shape each one replays instead of running the model's JavaScript again.
 */
import { StepGraph, type Tensor } from '@mriseg/tensor-wgsl';

const graphs = new WeakMap<object, StepGraph>();

/**
 * Runs `step` on `data` (shape `shape`) uploaded into the static input for `tag` and that shape, replayed once
 * captured. The result is the step's output: read it (`data()`) before the next call with the same tag and shape,
 * which overwrites it.
 */
export function runInference(
  model: object,
  tag: string,
  shape: readonly number[],
  data: Float32Array,
  step: (x: Tensor) => Tensor,
): Tensor {
  let graph = graphs.get(model);
  if (!graph) {
    graph = new StepGraph();
    graphs.set(model, graph);
  }
  return graph.runWithInputs(tag, [{ data, shape }], step);
}

/** Frees a model's captured inference batches and their inputs (the model's `dispose()` does this). */
export function releaseInference(model: object): void {
  graphs.get(model)?.dispose();
  graphs.delete(model);
}
