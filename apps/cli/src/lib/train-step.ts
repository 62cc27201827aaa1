/**
 * One training step, the unit `train` and `bench` repeat: forward, loss, backward, optional gradient clipping,
 * optimizer step; and `TrainSteps`, which feeds it batches through static inputs so that it is replayed from a
 * capture of its dispatches (tensor-wgsl StepGraph) instead of running the ops' JavaScript every step.
 */
import type { SegmentationModel } from '@mriseg/models';
import { clipGradNorm, deepSupervision, type Optimizer } from '@mriseg/nn';
import { runtime, StepGraph, scope, Tensor } from '@mriseg/tensor-wgsl';

type LossFn = (logits: Tensor, target: Tensor) => Tensor;

export interface StepParts {
  model: SegmentationModel;
  optimizer: Optimizer<{ lr: number }>;
  /** The loss of the model's heads (one head, or the deep-supervision mean of several). */
  loss: (heads: Tensor[], target: Tensor) => Tensor;
  /** Global L2 norm the gradients are clipped to; 0: no clipping. */
  clipGrad: number;
  params: readonly Tensor[];
}

/** The loss of a model's output heads: `loss` of the only head, or the mean over the heads (deep supervision). */
export function headsLoss(loss: LossFn): StepParts['loss'] {
  const mean = deepSupervision(loss);
  return (heads, target) => (heads.length > 1 ? mean(heads, target) : loss(heads[0], target));
}

/** One optimizer step on the batch (x, y). Returns the loss, detached and not read back (the caller owns it). */
export function trainStep(p: StepParts, x: Tensor, y: Tensor): Tensor {
  return scope(() => {
    p.optimizer.zeroGrad();
    const loss = p.loss(p.model.forwardHeads(x), y);
    loss.backward();
    if (p.clipGrad > 0) clipGradNorm(p.params, p.clipGrad);
    p.optimizer.step();
    return loss.detach();
  });
}

/** A batch as the loader gives it: images and masks on the host. */
export interface HostBatch {
  image: Float32Array;
  imageShape: number[];
  mask: Float32Array;
  maskShape: number[];
}

/**
 * Training steps on host batches: each batch is uploaded into the static inputs of its shape and the step runs
 * through a StepGraph — eager for its first calls, then replayed (same results, bit for bit). The learning rate
 * a scheduler sets and the optimizer's step counts reach the replays (dynamic uniforms, host actions).
 */
export class TrainSteps {
  readonly graph: StepGraph;

  constructor(
    private readonly parts: StepParts,
    replay = true,
  ) {
    this.graph = new StepGraph({ enabled: replay });
  }

  /**
   * One step on `b`. Returns its loss as a tensor of its own (the caller reads and frees it): a replay writes the
   * step's loss into the same buffer every time, so that one is copied.
   */
  step(b: HostBatch): Tensor {
    const loss = this.graph.runWithInputs(
      'train',
      [
        { data: b.image, shape: b.imageShape },
        { data: b.mask, shape: b.maskShape },
      ],
      (x, y) => trainStep(this.parts, x, y),
    );
    const own = Tensor.empty([], 'f32', 'loss');
    runtime().copyBuffer(loss.buffer, 0, own.buffer, 0, 4);
    loss.dispose();
    return own;
  }

  /** How the last step's batch shape runs now (replayed, or eager and why). */
  describe(): string {
    const s = this.graph.status(this.graph.lastKey ?? '');
    if (s.mode === 'replaying') return `replayed (${s.dispatches} dispatches a step)`;
    return `${s.mode}${s.reason ? `: ${s.reason}` : ''}`;
  }

  dispose(): void {
    this.graph.dispose();
  }
}
