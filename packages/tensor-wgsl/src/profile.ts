/**
 * Per-kernel GPU time: while a profile is active the runtime gives each dispatch its own compute pass whose
 * beginning and end write timestamps, and the durations are summed by the dispatch's op name.
 */

/** GPU time of one op name over a profile. */
export interface OpProfile {
  name: string;
  dispatches: number;
  /** Sum of the op's dispatch durations (end minus beginning of its pass), milliseconds. */
  totalMs: number;
}

export interface GpuProfile {
  /** Every op dispatched while profiling, most GPU time first. */
  ops: OpProfile[];
  dispatches: number;
  /** The sum of every dispatch's duration: GPU busy time, without the gaps between passes. */
  totalMs: number;
  /** Buffer-to-buffer copies recorded meanwhile: counted, not timed (a copy has no pass to time). */
  copies: number;
}

// 1024 dispatches a query set: two timestamps each.
const QUERIES_PER_CHUNK = 2048;
// resolveQuerySet wants a destination offset that is a multiple of 256 bytes, i.e. of 32 timestamps.
const RESOLVE_ALIGN = 32;

interface Chunk {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  readback: GPUBuffer;
  /** Op name of each dispatch, in query order (dispatch i wrote queries first + 2i and first + 2i + 1). */
  names: string[];
  /** Query index of each dispatch's beginning timestamp. */
  starts: number[];
  /** Next free query index. */
  used: number;
  /** Queries below this index have had their resolve and copy recorded. */
  resolved: number;
}

/** Timestamp bookkeeping of one profile; the runtime owns the passes and tells it where to record. */
export class DispatchProfiler {
  private chunks: Chunk[] = [];
  private copies = 0;

  constructor(private readonly device: GPUDevice) {}

  /**
   * The timestamp writes for the pass of the next dispatch, named `name`. `encoder` must have no pass open:
   * a full query set is resolved into it before a new one is started.
   */
  next(encoder: GPUCommandEncoder, name: string): GPUComputePassTimestampWrites {
    let chunk = this.chunks.at(-1);
    if (!chunk || chunk.used + 2 > QUERIES_PER_CHUNK) {
      if (chunk) this.resolve(encoder);
      chunk = this.newChunk();
    }
    const begin = chunk.used;
    chunk.used += 2;
    chunk.names.push(name);
    chunk.starts.push(begin);
    return { querySet: chunk.querySet, beginningOfPassWriteIndex: begin, endOfPassWriteIndex: begin + 1 };
  }

  countCopy(): void {
    this.copies++;
  }

  /** Records (outside any pass) the resolve and readback copy of every timestamp not yet resolved. */
  resolve(encoder: GPUCommandEncoder): void {
    const chunk = this.chunks.at(-1);
    if (!chunk || chunk.used === chunk.resolved) return;
    const count = chunk.used - chunk.resolved;
    const offset = chunk.resolved * 8;
    encoder.resolveQuerySet(chunk.querySet, chunk.resolved, count, chunk.resolve, offset);
    encoder.copyBufferToBuffer(chunk.resolve, offset, chunk.readback, offset, count * 8);
    // The next resolve of this set must start on an aligned query; the skipped ones are never written.
    chunk.used = Math.min(QUERIES_PER_CHUNK, Math.ceil(chunk.used / RESOLVE_ALIGN) * RESOLVE_ALIGN);
    chunk.resolved = chunk.used;
  }

  /** Reads every timestamp back; the commands that resolve them must have been submitted. Frees the buffers. */
  async read(): Promise<GpuProfile> {
    const byName = new Map<string, OpProfile>();
    let dispatches = 0;
    let totalMs = 0;
    try {
      for (const chunk of this.chunks) {
        if (chunk.names.length === 0) continue;
        await chunk.readback.mapAsync(GPUMapMode.READ);
        const t = new BigUint64Array(chunk.readback.getMappedRange().slice(0));
        chunk.readback.unmap();
        chunk.names.forEach((name, i) => {
          const begin = t[chunk.starts[i]];
          const end = t[chunk.starts[i] + 1];
          // Timestamps are not guaranteed monotonic across passes on every implementation; a backwards
          // pair says nothing about the dispatch, so it counts as zero rather than negative.
          const ms = end > begin ? Number(end - begin) / 1e6 : 0;
          let op = byName.get(name);
          if (!op) {
            op = { name, dispatches: 0, totalMs: 0 };
            byName.set(name, op);
          }
          op.dispatches++;
          op.totalMs += ms;
          dispatches++;
          totalMs += ms;
        });
      }
    } finally {
      this.destroy();
    }
    const ops = [...byName.values()].sort((a, b) => b.totalMs - a.totalMs || a.name.localeCompare(b.name));
    return { ops, dispatches, totalMs, copies: this.copies };
  }

  destroy(): void {
    for (const c of this.chunks) {
      c.querySet.destroy();
      c.resolve.destroy();
      c.readback.destroy();
    }
    this.chunks = [];
  }

  private newChunk(): Chunk {
    const bytes = QUERIES_PER_CHUNK * 8;
    const chunk: Chunk = {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_CHUNK, label: 'profile' }),
      resolve: this.device.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
        label: 'profile resolve',
      }),
      readback: this.device.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: 'profile readback',
      }),
      names: [],
      starts: [],
      used: 0,
      resolved: 0,
    };
    this.chunks.push(chunk);
    return chunk;
  }
}
