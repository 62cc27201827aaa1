/**
 * The page's side of the model worker: one worker (one WebGPU device, one model) for the tab, requests as promises,
 * progress as callbacks. Typed arrays are handed over (transferred) where the page keeps no use for them.
 */
import type { TrainingSet } from './finetune.js';
import type { ModelChoice } from './model.js';
import type {
  BenchResult,
  FinetuneOptions,
  LoadResult,
  ModelEvent,
  ModelRequest,
  TrainResult,
} from './model-protocol.js';

type Listener = (e: ModelEvent) => void;

export class ModelWorker {
  private readonly worker: Worker;
  private nextId = 1;
  /** What the worker's model was built from: the page's checkpoint object and the model options, as JSON. */
  private loaded: { checkpoint: object; choice: string; result: Promise<LoadResult> } | null = null;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; listener?: Listener }
  >();

  constructor() {
    this.worker = new Worker(new URL('./model-worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (ev: MessageEvent<ModelEvent>) => {
      const e = ev.data;
      const p = this.pending.get(e.id);
      if (!p) return;
      if (e.kind === 'done') {
        this.pending.delete(e.id);
        p.resolve(e.result);
      } else if (e.kind === 'error') {
        this.pending.delete(e.id);
        p.reject(new Error(e.message));
      } else {
        p.listener?.(e);
      }
    };
    this.worker.onerror = (ev: ErrorEvent) => {
      const err = new Error(`the model worker stopped (${ev.message || 'out of memory?'})`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  private send<T>(request: ModelRequest, transfer: Transferable[] = [], listener?: Listener): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, listener });
      this.worker.postMessage({ id, request }, transfer);
    });
  }

  /**
   * The worker's model for this checkpoint and these options: built once (fine-tuning then changes it in place),
   * again after `invalidate()` or for another checkpoint or options.
   */
  ensure(checkpoint: { bytes: Uint8Array; name: string }, choice: ModelChoice): Promise<LoadResult> {
    const key = JSON.stringify(choice);
    if (this.loaded?.checkpoint !== checkpoint || this.loaded.choice !== key) {
      const result = this.load(checkpoint.bytes, checkpoint.name, choice);
      this.loaded = { checkpoint, choice: key, result };
      result.catch(() => {
        if (this.loaded?.result === result) this.loaded = null;
      });
    }
    return this.loaded.result;
  }

  /** The next `ensure` builds the model from its checkpoint again (fine-tuned weights are dropped). */
  invalidate(): void {
    this.loaded = null;
  }

  /** Builds the checkpoint's model in the worker (a copy of the bytes goes there). */
  load(bytes: Uint8Array, name: string, choice: ModelChoice): Promise<LoadResult> {
    const copy = bytes.slice();
    return this.send({ kind: 'load', bytes: copy, name, choice }, [copy.buffer]);
  }

  /** Probabilities (n, h, w) of slices (n, 3, h, w), `batchSize` slices a forward pass; the image is copied. */
  predict(
    image: Float32Array,
    shape: [number, number, number, number],
    batchSize: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<Float32Array> {
    const copy = image.slice();
    return this.send({ kind: 'predict', image: copy, shape, batchSize }, [copy.buffer], (e) => {
      if (e.kind === 'progress') onProgress?.(e.done, e.total);
    });
  }

  train(
    set: TrainingSet,
    options: FinetuneOptions,
    restart: boolean,
    preview: Float32Array | null,
    on: { step?: (step: number, loss: number) => void; preview?: (step: number, prob: Float32Array) => void },
  ): Promise<TrainResult> {
    return this.send({ kind: 'train', set, options, restart, preview }, [], (e) => {
      if (e.kind === 'step') on.step?.(e.step, e.loss);
      else if (e.kind === 'preview') on.preview?.(e.step, e.prob);
    });
  }

  stop(): Promise<void> {
    return this.send({ kind: 'stop' });
  }

  /** The model's safetensors checkpoint (config and inference spec included, as `mriseg train` writes them). */
  save(extra: Record<string, string>): Promise<Uint8Array> {
    return this.send({ kind: 'save', extra });
  }

  bench(batchSize: number, size: number, trainSteps: number, inferSlices: number): Promise<BenchResult> {
    return this.send({ kind: 'bench', batchSize, size, trainSteps, inferSlices });
  }
}
