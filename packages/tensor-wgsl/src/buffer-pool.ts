/**
 * A size-bucketed pool of storage buffers. Sizes are rounded up to buckets 2^(1/4) apart (at most 19 % waste),
 * so buffers of similar sizes (a training step's activations) are reused instead of re-created.
 */

export const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const k = Math.ceil(4 * Math.log2(bytes));
  const b = Math.ceil(2 ** (k / 4) / 256) * 256;
  return b >= bytes ? b : Math.ceil(bytes / 256) * 256;
}

export interface PoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  liveBytes: number;
  /** Free buffers kept for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** Released buffers that a captured step still uses (step-graph.ts): reserved for its replays. */
  heldBuffers: number;
  heldBytes: number;
  /** The most bytes ever held (live + pooled + held): what the pool reserves from the device at its peak. */
  peakBytes: number;
  /**
   * The most bytes ever in use at once (live + held by captured steps): comparable to PyTorch's
   * `max_memory_allocated`, where `peakBytes` compares with its `max_memory_reserved`.
   */
  peakLiveBytes: number;
  created: number;
  reused: number;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private stats: PoolStats = {
    liveBuffers: 0,
    liveBytes: 0,
    pooledBuffers: 0,
    pooledBytes: 0,
    heldBuffers: 0,
    heldBytes: 0,
    peakBytes: 0,
    peakLiveBytes: 0,
    created: 0,
    reused: 0,
  };

  /** Told of every buffer handed out (a capture records which buffers a step allocated itself). */
  onAcquire: ((buf: GPUBuffer) => void) | null = null;
  /**
   * While a step is captured every released buffer is kept: the recording may bind it, and a replay must find it
   * alive (those it binds are pinned when the capture ends; the cap applies again to later releases).
   */
  keepAll = false;
  /** Told when a pinned buffer is released by its owner (a captured step may read a buffer nobody owns now). */
  onHold: ((buf: GPUBuffer) => void) | null = null;
  /** Buffers used by captured steps, with how many steps use each. */
  private pins = new Map<GPUBuffer, number>();
  /** Pinned buffers released by their owner: kept out of the free lists until unpinned. */
  private held = new Set<GPUBuffer>();

  constructor(
    private readonly device: GPUDevice,
    /** Pooled bytes kept at most; beyond it released buffers are destroyed (except while a step is captured). */
    public maxPooledBytes = 4 * 1024 ** 3,
    /**
     * Destroys a buffer the pool lets go of. A released buffer may still be used by commands recorded but not
     * yet submitted (destroying it then invalidates the whole submit), so the runtime defers this until after
     * the next submit.
     */
    private readonly destroy: (buf: GPUBuffer) => void = (buf) => buf.destroy(),
  ) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.stats.reused++;
      this.stats.pooledBuffers--;
      this.stats.pooledBytes -= size;
    } else {
      buf = this.device.createBuffer({ size, usage: STORAGE_USAGE, label });
      this.stats.created++;
    }
    this.stats.liveBuffers++;
    this.stats.liveBytes += size;
    this.updatePeak();
    this.onAcquire?.(buf);
    return buf;
  }

  private updatePeak(): void {
    const s = this.stats;
    s.peakBytes = Math.max(s.peakBytes, s.liveBytes + s.pooledBytes + s.heldBytes);
    s.peakLiveBytes = Math.max(s.peakLiveBytes, s.liveBytes + s.heldBytes);
  }

  release(buf: GPUBuffer): void {
    const size = buf.size;
    this.stats.liveBuffers--;
    this.stats.liveBytes -= size;
    if (this.pins.has(buf)) {
      this.hold(buf);
      this.onHold?.(buf);
      return;
    }
    this.putFree(buf);
  }

  private hold(buf: GPUBuffer): void {
    this.held.add(buf);
    this.stats.heldBuffers++;
    this.stats.heldBytes += buf.size;
  }

  private putFree(buf: GPUBuffer): void {
    const size = buf.size;
    if (!this.keepAll && this.stats.pooledBytes + size > this.maxPooledBytes) {
      this.destroy(buf);
      return;
    }
    let list = this.free.get(size);
    if (!list) {
      list = [];
      this.free.set(size, list);
    }
    list.push(buf);
    this.stats.pooledBuffers++;
    this.stats.pooledBytes += size;
  }

  /**
   * Reserves buffers for a captured step: while pinned, a buffer is never handed out again, and if its owner
   * releases it the pool holds it until `unpin`. Pinned buffers that are free now leave the free lists.
   */
  pin(buffers: Iterable<GPUBuffer>): void {
    for (const b of buffers) {
      const n = this.pins.get(b) ?? 0;
      this.pins.set(b, n + 1);
      if (n > 0) continue;
      const list = this.free.get(b.size);
      const i = list ? list.indexOf(b) : -1;
      if (i >= 0) {
        list!.splice(i, 1);
        this.stats.pooledBuffers--;
        this.stats.pooledBytes -= b.size;
        this.hold(b);
      }
    }
  }

  /** Ends a `pin`: held buffers no longer pinned go back to the free lists. */
  unpin(buffers: Iterable<GPUBuffer>): void {
    for (const b of buffers) {
      const n = this.pins.get(b);
      if (n === undefined) continue;
      if (n > 1) {
        this.pins.set(b, n - 1);
        continue;
      }
      this.pins.delete(b);
      if (this.held.delete(b)) {
        this.stats.heldBuffers--;
        this.stats.heldBytes -= b.size;
        this.putFree(b);
      }
    }
  }

  /** Destroys every pooled (free) buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) this.destroy(b);
    this.free.clear();
    this.stats.pooledBuffers = 0;
    this.stats.pooledBytes = 0;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }

  resetPeak(): void {
    this.stats.peakBytes = this.stats.liveBytes + this.stats.pooledBytes + this.stats.heldBytes;
    this.stats.peakLiveBytes = this.stats.liveBytes + this.stats.heldBytes;
  }
}
