/**
 * Uniform parameters of many dispatches in a few buffers: each dispatch gets an aligned slot in a 64 KiB chunk
 * and binds the chunk with a dynamic offset, so its bind group does not depend on the values. The words are
 * written on the CPU and uploaded once per submit (dirty ranges only), instead of one small buffer per distinct
 * set of values.
 */

const CHUNK_BYTES = 64 * 1024;

let nextChunkId = 1;

/** One uniform buffer and its CPU copy (three views of the same words). */
export class ArenaChunk {
  readonly id = nextChunkId++;
  readonly buffer: GPUBuffer;
  readonly u32 = new Uint32Array(CHUNK_BYTES / 4);
  readonly i32 = new Int32Array(this.u32.buffer);
  readonly f32 = new Float32Array(this.u32.buffer);
  /** Bytes handed out. */
  used = 0;
  /** Byte range written since the last upload. */
  private dirtyLo = CHUNK_BYTES;
  private dirtyHi = 0;

  constructor(device: GPUDevice, label: string) {
    this.buffer = device.createBuffer({
      size: CHUNK_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label,
    });
  }

  markDirty(offset: number, bytes: number): void {
    if (offset < this.dirtyLo) this.dirtyLo = offset;
    if (offset + bytes > this.dirtyHi) this.dirtyHi = offset + bytes;
  }

  upload(queue: GPUQueue): void {
    if (this.dirtyHi <= this.dirtyLo) return;
    queue.writeBuffer(this.buffer, this.dirtyLo, this.u32.buffer, this.dirtyLo, this.dirtyHi - this.dirtyLo);
    this.dirtyLo = CHUNK_BYTES;
    this.dirtyHi = 0;
  }
}

export interface ArenaSlot {
  chunk: ArenaChunk;
  /** Byte offset of the slot in its chunk: the dispatch's dynamic offset. */
  offset: number;
}

export class UniformArena {
  private chunks: ArenaChunk[] = [];
  private current = 0;

  constructor(
    private readonly device: GPUDevice,
    /** The device's minUniformBufferOffsetAlignment. */
    private readonly align: number,
    private readonly label: string,
  ) {}

  /** A slot of `bytes` (marked dirty: the caller writes it now). */
  alloc(bytes: number): ArenaSlot {
    const size = Math.ceil(bytes / this.align) * this.align;
    if (size > CHUNK_BYTES)
      throw new Error(`uniforms of ${bytes} bytes exceed a ${CHUNK_BYTES}-byte arena chunk`);
    let chunk = this.chunks[this.current];
    if (chunk && chunk.used + size > CHUNK_BYTES) {
      this.current++;
      chunk = this.chunks[this.current];
    }
    if (!chunk) {
      chunk = new ArenaChunk(this.device, this.label);
      this.chunks.push(chunk);
    }
    const offset = chunk.used;
    chunk.used += size;
    chunk.markDirty(offset, bytes);
    return { chunk, offset };
  }

  /** Uploads what was written since the last upload. Call before submitting work that reads it. */
  upload(queue: GPUQueue): void {
    for (const c of this.chunks) c.upload(queue);
  }

  /**
   * Starts handing out slots from the beginning again. Only once the work that read them has been submitted:
   * a later upload is ordered after that work on the queue.
   */
  reset(): void {
    for (const c of this.chunks) c.used = 0;
    this.current = 0;
  }

  get bytes(): number {
    return this.chunks.length * CHUNK_BYTES;
  }

  destroy(): void {
    for (const c of this.chunks) c.buffer.destroy();
    this.chunks = [];
    this.current = 0;
  }
}
