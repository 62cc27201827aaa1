/**
 * One training step, the unit `train` and `bench` repeat: forward, loss, backward, optional gradient clipping,
 * optimizer step; and `TrainSteps`, which feeds it batches through static inputs so that it is replayed from a
 * capture of its dispatches (tensor-wgsl StepGraph) instead of running the ops' JavaScript every step.
 */
import type { SegmentationModel } from '@mriseg/models';
import { clipGradNorm, deepSupervision, type Optimizer } from '@mriseg/nn';
import { keep, runtime, StepGraph, scope, Tensor } from '@mriseg/tensor-wgsl';

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
   * One step on `b`; its loss goes into `log` (a replay writes the step's loss into the same buffer every time, so
   * the log keeps a copy of each).
   */
  step(b: HostBatch, log: LossLog): void {
    const loss = this.graph.runWithInputs(
      'train',
      [
        { data: b.image, shape: b.imageShape },
        { data: b.mask, shape: b.maskShape },
      ],
      (x, y) => trainStep(this.parts, x, y),
    );
    log.add(loss, b.imageShape[0]);
    loss.dispose();
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

/** Losses of steps read back so far: their values and how many steps and images they cover. */
export interface LossBatch {
  values: number[];
  images: number;
}

/**
 * The training losses on the GPU, read back in blocks without making the GPU wait: each step's loss is copied into
 * a slot of one of two buffers; `rotate()` queues the copy of the filled buffer to the host, switches to the other
 * and returns the block queued at the previous rotation — by then long finished, so the training loop never
 * waits for the GPU to drain, and a NaN is seen one block later.
 */
export class LossLog {
  private readonly bufs: [Tensor, Tensor];
  private cur = 0;
  private count = 0;
  private images = 0;
  private reading: Promise<LossBatch> | null = null;

  constructor(private readonly capacity: number) {
    this.bufs = [
      keep(Tensor.empty([capacity], 'f32', 'loss log')),
      keep(Tensor.empty([capacity], 'f32', 'loss log')),
    ];
  }

  /** Steps recorded since the last rotation. */
  get size(): number {
    return this.count;
  }

  /** Copies a step's loss (one element) into the current block; `images`: the step's batch. */
  add(loss: Tensor, images: number): void {
    if (this.count >= this.capacity) throw new Error('LossLog: the block is full; rotate() first');
    runtime().copyBuffer(loss.buffer, 0, this.bufs[this.cur].buffer, this.count * 4, 4);
    this.count++;
    this.images += images;
  }

  /** Queues the current block's read and returns the previous one's (empty at the first rotation). */
  async rotate(): Promise<LossBatch> {
    const previous = this.reading;
    this.reading = null;
    if (this.count > 0) {
      const n = this.count;
      const images = this.images;
      // readBuffer queues its copy now; the next steps write the other buffer.
      const bytes = runtime().readBuffer(this.bufs[this.cur].buffer, n * 4, 'training loss');
      this.reading = bytes.then((b) => ({ values: Array.from(new Float32Array(b)), images }));
      this.reading.catch(() => {});
      this.cur = 1 - this.cur;
      this.count = 0;
      this.images = 0;
    }
    return previous ? await previous : { values: [], images: 0 };
  }

  /** Every loss recorded and not yet returned, waiting for the GPU where needed. */
  async drain(): Promise<LossBatch> {
    const older = await this.rotate();
    const last = await this.rotate();
    return { values: [...older.values, ...last.values], images: older.images + last.images };
  }

  dispose(): void {
    for (const b of this.bufs) b.dispose();
  }
}
