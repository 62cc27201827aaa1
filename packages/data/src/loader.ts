import { type AugmentOptions, drawAugmentParams, REFERENCE_AUGMENT } from './augment.js';
import { WorkerPool } from './pool.js';
import type { Volume } from './preprocess.js';
import { ReferenceSampler, type Sampler, type SliceRef, UniformSampler } from './sampler.js';
import { deriveRng } from './seed.js';
import type { AugmentItem, AugmentResult, SharedVolume } from './tasks.js';

/** A batch on the CPU: images (n, 3, h, w) and masks (n, 1, h, w), float32, row-major. */
export interface Batch {
  image: Float32Array;
  imageShape: [number, number, number, number];
  mask: Float32Array;
  maskShape: [number, number, number, number];
  /** Which slices, in order. */
  refs: SliceRef[];
  epoch: number;
  index: number;
}

export interface LoaderOptions {
  /** Training volumes (all of one in-plane size). */
  volumes: readonly Volume[];
  /** 'reference' (tumour-area weighted, default) or 'uniform', or your own Sampler. */
  sampler?: 'reference' | 'uniform' | Sampler;
  batchSize?: number;
  /** Drop a last, smaller batch (the reference does). Default true. */
  dropLast?: boolean;
  /** null: no augmentation. Default REFERENCE_AUGMENT. */
  augment?: AugmentOptions | null;
  seed?: number;
  /** Batches prepared ahead of the one being consumed. Default 2. */
  prefetch?: number;
  /** A pool to share (left open); otherwise one is made (see PoolOptions.workers) and closed by close(). */
  pool?: WorkerPool;
  workers?: number;
}

let nextRegistry = 1;

/**
 * Training batches: sampling and augmentation draws happen here (deterministic for a seed, whatever the worker
 * count); slice warping runs in the pool's threads on volumes shared with them once (SharedArrayBuffer).
 * `epoch(e, transform)` keeps `prefetch` batches in flight, transform included, so a GPU upload passed as
 * `transform` runs ahead of the training step:
 *
 *   for await (const b of loader.epoch(e, (batch) => upload(batch))) await trainStep(b);
 */
export class BatchLoader {
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  readonly sampler: Sampler;
  readonly pool: WorkerPool;
  private readonly registry = nextRegistry++;
  private readonly ownPool: boolean;
  private readonly options: LoaderOptions;

  private constructor(options: LoaderOptions, pool: WorkerPool, sampler: Sampler) {
    this.options = options;
    this.pool = pool;
    this.ownPool = !options.pool;
    this.sampler = sampler;
    this.batchSize = options.batchSize ?? 16;
    const n = sampler.epochLength;
    this.batchesPerEpoch =
      (options.dropLast ?? true) ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  static async create(options: LoaderOptions): Promise<BatchLoader> {
    const vols = options.volumes;
    if (vols.length === 0) throw new Error('BatchLoader: no volumes');
    const { height, width } = vols[0];
    for (const v of vols) {
      if (v.height !== height || v.width !== width) {
        throw new Error(
          `BatchLoader: ${v.id} is ${v.width}×${v.height}, ${vols[0].id} is ${width}×${height}`,
        );
      }
    }
    const s = options.sampler ?? 'reference';
    const sampler =
      s === 'reference' ? new ReferenceSampler(vols) : s === 'uniform' ? new UniformSampler(vols) : s;
    const pool = options.pool ?? new WorkerPool({ workers: options.workers });
    const loader = new BatchLoader(options, pool, sampler);
    await pool.broadcast({ kind: 'register', registry: loader.registry, volumes: vols.map(shareVolume) });
    return loader;
  }

  /** The slices and augmentation draws of an epoch (deterministic for seed and epoch). */
  plan(epoch: number): AugmentItem[][] {
    const seed = this.options.seed ?? 0;
    const refs = this.sampler.epoch(deriveRng(seed, 'sample', epoch));
    const aug = this.options.augment === undefined ? REFERENCE_AUGMENT : this.options.augment;
    const rng = deriveRng(seed, 'augment', epoch);
    const items = refs.map((r) => ({ ...r, params: aug ? drawAugmentParams(rng, aug) : null }));
    const out: AugmentItem[][] = [];
    for (let b = 0; b < this.batchesPerEpoch; b++)
      out.push(items.slice(b * this.batchSize, (b + 1) * this.batchSize));
    return out;
  }

  /** Prepares one batch: its items split over the pool's threads. */
  async prepare(items: AugmentItem[], epoch: number, index: number): Promise<Batch> {
    const { height: h, width: w } = this.options.volumes[0];
    const plane = h * w;
    const n = items.length;
    const chunks = Math.min(this.pool.size, n);
    const per = Math.ceil(n / chunks);
    const parts: Promise<AugmentResult>[] = [];
    for (let i = 0; i < n; i += per) {
      parts.push(
        this.pool.run<AugmentResult>({
          kind: 'augment',
          registry: this.registry,
          items: items.slice(i, i + per),
        }),
      );
    }
    const image = new Float32Array(n * 3 * plane);
    const mask = new Float32Array(n * plane);
    (await Promise.all(parts)).forEach((r, k) => {
      image.set(r.image, k * per * 3 * plane);
      mask.set(r.mask, k * per * plane);
    });
    return {
      image,
      imageShape: [n, 3, h, w],
      mask,
      maskShape: [n, 1, h, w],
      refs: items.map(({ volume, slice }) => ({ volume, slice })),
      epoch,
      index,
    };
  }

  /** The batches of one epoch, `prefetch` of them (and their `transform`) prepared ahead. */
  async *epoch<T = Batch>(epoch: number, transform?: (b: Batch) => T | Promise<T>): AsyncGenerator<T> {
    const plan = this.plan(epoch);
    const ahead = Math.max(1, (this.options.prefetch ?? 2) + 1);
    const inflight: Promise<T>[] = [];
    const start = (i: number) => {
      const p = this.prepare(plan[i], epoch, i).then((b) => (transform ? transform(b) : (b as unknown as T)));
      // Avoid an unhandled rejection for a batch not yet awaited; the error surfaces when it is.
      p.catch(() => {});
      inflight.push(p);
    };
    let next = 0;
    while (next < plan.length && inflight.length < ahead) start(next++);
    while (inflight.length > 0) {
      const b = await inflight.shift()!;
      if (next < plan.length) start(next++);
      yield b;
    }
  }

  async close(): Promise<void> {
    if (this.ownPool) await this.pool.close();
    else await this.pool.broadcast({ kind: 'unregister', registry: this.registry });
  }
}

/** Volume arrays in SharedArrayBuffers, so every worker reads them without a copy. */
function shareVolume(v: Volume): SharedVolume {
  const toShared = <A extends Float32Array | Uint8Array>(a: A, make: (b: SharedArrayBuffer) => A): A => {
    if (a.buffer instanceof SharedArrayBuffer) return a;
    const s = make(new SharedArrayBuffer(a.byteLength));
    s.set(a);
    return s;
  };
  return {
    depth: v.depth,
    height: v.height,
    width: v.width,
    image: toShared(v.image, (b) => new Float32Array(b)),
    mask: toShared(v.mask, (b) => new Uint8Array(b)),
  };
}

/** Validation: a volume's slices in order, unaugmented, as batches of at most batchSize. */
export function* volumeBatches(v: Volume, batchSize = 16): Generator<Batch> {
  const plane = v.height * v.width;
  for (let z = 0, index = 0; z < v.depth; z += batchSize, index++) {
    const n = Math.min(batchSize, v.depth - z);
    const mask = new Float32Array(n * plane);
    for (let i = 0; i < mask.length; i++) mask[i] = v.mask[z * plane + i];
    yield {
      image: v.image.slice(z * 3 * plane, (z + n) * 3 * plane),
      imageShape: [n, 3, v.height, v.width],
      mask,
      maskShape: [n, 1, v.height, v.width],
      refs: Array.from({ length: n }, (_, i) => ({ volume: 0, slice: z + i })),
      epoch: 0,
      index,
    };
  }
}
