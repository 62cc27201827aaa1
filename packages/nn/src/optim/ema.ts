import type { Tensor } from '@mriseg/tensor-wgsl';
import { type AnyModule, assignValue } from '../module.js';
import { lerpInPlace } from './kernels.js';

/**
 * An exponential moving average of a model's weights, kept in a second model of the same architecture:
 * `torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)`.
 * The first `update` copies the model; each later one moves every floating-point parameter and buffer (BatchNorm's
 * running statistics too, so the averaged model can be evaluated as it is) by `ema ← ema + (1 − decay)·(p − ema)`
 * on the device; integer buffers (`num_batches_tracked`) are copied.
 */
export class ExponentialMovingAverage {
  /** Updates so far (`n_averaged` of AveragedModel). */
  numUpdates = 0;
  private readonly pairs: [Tensor, Tensor][];

  constructor(
    /** The model whose weights are averaged. */
    readonly source: AnyModule,
    /** Holds the average: a model of the same architecture (its own weights are overwritten). */
    readonly average: AnyModule,
    readonly decay: number,
  ) {
    if (!(decay >= 0 && decay < 1))
      throw new Error(`ExponentialMovingAverage: decay ${decay} must be in [0, 1)`);
    const src = [...source.stateDict()];
    const dst = average.stateDict();
    this.pairs = src.map(([k, t]) => {
      const e = dst.get(k);
      if (!e || e.size !== t.size || e.dtype !== t.dtype)
        throw new Error(
          `ExponentialMovingAverage: the averaged model has no ${t.dtype}[${t.shape.join(',')}] "${k}"`,
        );
      return [e, t];
    });
    if (dst.size !== src.length)
      throw new Error('ExponentialMovingAverage: the averaged model has other state than the source');
  }

  /** One step of the average (call after each optimizer step). */
  update(): void {
    const first = this.numUpdates === 0;
    for (const [e, p] of this.pairs) {
      if (p.dtype !== 'f32' || first) assignValue(e, p);
      else lerpInPlace(e, p, () => 1 - this.decay);
    }
    this.numUpdates++;
  }
}
