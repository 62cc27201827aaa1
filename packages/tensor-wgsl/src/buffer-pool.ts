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
  /** The most bytes ever held (live + pooled). */
  peakBytes: number;
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
    peakBytes: 0,
    created: 0,
    reused: 0,
  };

  constructor(
    private readonly device: GPUDevice,
    /** Pooled bytes kept at most; beyond it released buffers are destroyed. */
    private readonly maxPooledBytes = 4 * 1024 ** 3,
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
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes + this.stats.pooledBytes);
    return buf;
  }

  release(buf: GPUBuffer): void {
    const size = buf.size;
    this.stats.liveBuffers--;
    this.stats.liveBytes -= size;
    if (this.stats.pooledBytes + size > this.maxPooledBytes) {
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
    this.stats.peakBytes = this.stats.liveBytes + this.stats.pooledBytes;
  }
}
