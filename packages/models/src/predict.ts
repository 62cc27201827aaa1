/** Inference helpers: probabilities for a whole volume in batches, with optional flip test-time augmentation. */
import { add, flip, mul, noGrad, scope, sigmoid, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import type { SegmentationModel } from './blocks.js';
import { runInference } from './inference-graph.js';

export interface VolumeInput {
  /** Slices × channels × height × width, float32. */
  data: Float32Array;
  shape: readonly [number, number, number, number];
}

export interface PredictOptions {
  batchSize?: number;
  /** Average with the prediction of flipped inputs: left-right, or left-right and up-down. */
  tta?: 'none' | 'hflip' | 'hvflip';
  /** Called after each batch with the number of slices done. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Replay captured batches (default true): batches of one shape after the first few run from a recording of
   * their dispatches instead of the model's JavaScript (tensor-wgsl StepGraph). Same values either way.
   */
  replay?: boolean;
  /**
   * Refuse NaN or ±Inf in the input volume and in the probabilities read back (both are on the CPU here, so the
   * check costs one pass over each array and no GPU time). Default true; false lets NaN through as `forward`
   * itself does (nothing on the GPU side checks values — see `assertFinite` for an opt-in check there).
   */
  checkFinite?: boolean;
}

/** The index of the first NaN or ±Inf in `a`, or −1. */
function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return i;
  return -1;
}

/** Probabilities of one batch (a tensor the caller disposes). */
function probabilities(model: SegmentationModel, x: Tensor, tta: PredictOptions['tta']): Tensor {
  const p = sigmoid(model.forward(x));
  if (!tta || tta === 'none') return p;
  const flips: number[][] = tta === 'hflip' ? [[3]] : [[3], [2], [2, 3]];
  let sum = p;
  for (const axes of flips) sum = add(sum, flip(sigmoid(model.forward(flip(x, axes))), axes));
  return mul(sum, 1 / (flips.length + 1));
}

/**
 * Runs the model in eval mode over every slice and returns sigmoid probabilities, slices × out-channels × H × W.
 * The next batch is recorded on the GPU while the previous one is read back (its copy to the CPU is queued
 * first: a replayed batch writes the same output buffer).
 */
export async function predictVolume(
  model: SegmentationModel,
  volume: VolumeInput,
  options: PredictOptions = {},
): Promise<Float32Array> {
  const [D, C, H, W] = volume.shape;
  if (volume.data.length !== D * C * H * W) {
    throw new Error(`predictVolume: ${volume.data.length} values for shape [${volume.shape.join(', ')}]`);
  }
  const check = options.checkFinite ?? true;
  if (check) {
    const bad = firstNonFinite(volume.data);
    if (bad >= 0) {
      throw new RangeError(
        `predictVolume: the input holds ${volume.data[bad]} at slice ${Math.floor(bad / (C * H * W))} ` +
          '(NaN or infinite input values would give NaN probabilities)',
      );
    }
  }
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const wasTraining = model.training;
  model.eval();
  const sliceIn = C * H * W;
  let out: Float32Array | null = null;
  let outPerSlice = 0;
  const replay = options.replay ?? true;
  const launch = (start: number): [number, Tensor] => {
    const n = Math.min(batchSize, D - start);
    const data = volume.data.subarray(start * sliceIn, (start + n) * sliceIn);
    const shape = [n, C, H, W];
    const p = scope(() =>
      noGrad(() =>
        replay
          ? runInference(model, `predict|${options.tta ?? 'none'}`, shape, data, (x) =>
              probabilities(model, x, options.tta),
            )
          : probabilities(model, tensor(data, shape), options.tta),
      ),
    );
    return [start, p];
  };
  try {
    let pending = D > 0 ? launch(0) : null;
    while (pending) {
      const [start, p] = pending;
      const next = start + p.shape[0];
      const reading = p.data();
      pending = next < D ? launch(next) : null;
      const values = await reading;
      if (check && firstNonFinite(values) >= 0) {
        p.dispose();
        pending?.[1].dispose();
        throw new RangeError(
          `predictVolume: ${model.architecture} gave NaN or infinite probabilities for slices ${start}..${next - 1} ` +
            'of a finite input (NaN or infinite weights or running statistics?)',
        );
      }
      if (!out) {
        outPerSlice = p.size / p.shape[0];
        out = new Float32Array(D * outPerSlice);
      }
      out.set(values, start * outPerSlice);
      p.dispose();
      options.onProgress?.(next, D);
    }
  } finally {
    model.train(wasTraining);
  }
  return out ?? new Float32Array(0);
}

/** σ(x) of logits already on the CPU. */
export function sigmoidArray(logits: Float32Array): Float32Array {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = 1 / (1 + Math.exp(-logits[i]));
  return out;
}
