/** What the page and its model worker (model-client.ts, model-worker.ts) agree on. */
import type { InferenceSpec } from '@mriseg/nn';
import type { TrainingSet } from './finetune.js';
import type { ModelChoice } from './model.js';

/** How a fine-tuning run trains (the reference recipe's optimizer and loss by default). */
export interface FinetuneOptions {
  /** Optimizer steps in this call (a resumed run continues the step count and Adam's moments). */
  steps: number;
  lr: number;
  batchSize: number;
  seed: number;
  loss: 'dice' | 'bce-dice';
  /** The reference augmentation (scale, rotation, flip) on every sample; off: the slices as they are. */
  augment: boolean;
  /** Steps between two previews of the watched slice (0: none). */
  previewEvery: number;
}

export type ModelRequest =
  | { kind: 'load'; bytes: Uint8Array; name: string; choice: ModelChoice }
  | { kind: 'predict'; image: Float32Array; shape: [number, number, number, number]; batchSize: number }
  | {
      kind: 'train';
      set: TrainingSet;
      options: FinetuneOptions;
      /** A new training set (or model): Adam's moments and the step count start again. */
      restart: boolean;
      /** One slice (3, h, w) whose prediction is sent back every `previewEvery` steps. */
      preview: Float32Array | null;
    }
  | { kind: 'stop' }
  | { kind: 'save'; extra: Record<string, string> }
  | { kind: 'bench'; batchSize: number; size: number; trainSteps: number; inferSlices: number };

export interface LoadResult {
  summary: string;
  parameters: number;
  inputSize: number;
  inference: InferenceSpec;
  adapter: string;
}

export interface TrainResult {
  /** Steps done in all (this call and the ones it resumed). */
  step: number;
  stopped: boolean;
  seconds: number;
  stepsThisCall: number;
}

export interface BenchResult {
  adapter: string;
  trainStepsPerSecond: number;
  trainImagesPerSecond: number;
  inferSlicesPerSecond: number;
  batchSize: number;
  size: number;
  parameters: number;
}

/** Messages from the worker: progress and results, tagged with the request's id. */
export type ModelEvent =
  | { id: number; kind: 'progress'; done: number; total: number }
  | { id: number; kind: 'step'; step: number; loss: number }
  | { id: number; kind: 'preview'; step: number; prob: Float32Array }
  | { id: number; kind: 'done'; result: unknown }
  | { id: number; kind: 'error'; message: string };
