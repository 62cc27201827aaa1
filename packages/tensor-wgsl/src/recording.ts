/**
 * What the runtime records while a step is captured (step-graph.ts): every dispatch with its pipeline, bind
 * group, uniform slot and workgroups, buffer copies, uploads, and host actions, in order. A replay re-encodes the
 * dispatches and copies and re-runs the host actions; nothing of the ops' JavaScript runs again.
 */
import type { Kernel, UniformValues } from './kernel.js';
import type { ArenaSlot, UniformArena } from './uniform-arena.js';

export interface RecordedDispatch {
  kind: 'dispatch';
  kernel: Kernel;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  /** The uniform slot in the recording's arena (null: the kernel has no uniforms). */
  slot: ArenaSlot | null;
  x: number;
  y: number;
  z: number;
  /** The storage buffers bound, in binding order. */
  buffers: GPUBuffer[];
  /** The uniform words as captured (compared when a capture is checked against another). */
  words: Uint32Array | null;
  /** Uniforms computed anew at every replay (an optimizer's step-dependent scalars). */
  dynamic: (() => UniformValues) | null;
}

export interface RecordedCopy {
  kind: 'copy';
  src: GPUBuffer;
  srcOffset: number;
  dst: GPUBuffer;
  dstOffset: number;
  bytes: number;
}

/** An upload inside the step: replayed as a copy of the captured bytes (constants, such as a seed gradient). */
export interface RecordedUpload {
  kind: 'upload';
  dst: GPUBuffer;
  offset: number;
  data: Uint8Array;
}

/** Host work that a replay must repeat (bookkeeping such as an optimizer's step counts), run in order. */
export interface RecordedHost {
  kind: 'host';
  fn: () => void;
}

export type RecordedOp = RecordedDispatch | RecordedCopy | RecordedUpload | RecordedHost;

export class Recording {
  readonly ops: RecordedOp[] = [];
  /** Buffers the pool handed out while recording: the step's own, which another capture may place elsewhere. */
  readonly acquired = new Set<GPUBuffer>();
  /** Why this step cannot be replayed (null: it can). */
  refused: string | null = null;
  /** The uploads' bytes, once `seal()` has turned them into copies. */
  constants: GPUBuffer | null = null;
  /** Buffers the step uses that it did not allocate (inputs, parameters, state), once it is replayed. */
  externals = new Set<GPUBuffer>();
  /** Why a replay would be wrong now (an outside buffer it reads was freed), or null. */
  stale: string | null = null;
  /** The buffers reserved for it while it is kept for replay. */
  pinned = new Set<GPUBuffer>();

  constructor(
    /** Holds the uniforms of the recorded dispatches for as long as the recording lives. */
    readonly arena: UniformArena,
  ) {}

  refuse(reason: string): void {
    this.refused ??= reason;
  }

  private nameSet: Set<string> | null = null;
  private hostSide: (RecordedHost | RecordedDispatch)[] | null = null;

  /** What a replay runs on the host, in order: host actions and dispatches with dynamic uniforms. */
  hostWork(): (RecordedHost | RecordedDispatch)[] {
    this.hostSide ??= this.ops.filter(
      (op): op is RecordedHost | RecordedDispatch =>
        op.kind === 'host' || (op.kind === 'dispatch' && op.dynamic !== null && op.slot !== null),
    );
    return this.hostSide;
  }

  /** The op names of its dispatches (once a recording is sealed it does not change). */
  names(): Set<string> {
    if (!this.nameSet) {
      this.nameSet = new Set();
      for (const op of this.ops) if (op.kind === 'dispatch') this.nameSet.add(op.kernel.name);
    }
    return this.nameSet;
  }

  get dispatches(): number {
    let n = 0;
    for (const op of this.ops) if (op.kind === 'dispatch') n++;
    return n;
  }

  /** Every storage buffer the recording reads or writes. */
  buffers(): Set<GPUBuffer> {
    const out = new Set<GPUBuffer>();
    for (const op of this.ops) {
      if (op.kind === 'dispatch') for (const b of op.buffers) out.add(b);
      else if (op.kind === 'copy') {
        out.add(op.src);
        out.add(op.dst);
      } else if (op.kind === 'upload') out.add(op.dst);
    }
    return out;
  }

  /** Turns the uploads into copies from one buffer holding their bytes, so a replay needs no queue writes. */
  seal(device: GPUDevice): void {
    const uploads = this.ops.filter((o): o is RecordedUpload => o.kind === 'upload');
    if (uploads.length === 0) return;
    const total = uploads.reduce((s, u) => s + Math.ceil(u.data.byteLength / 4) * 4, 0);
    const constants = device.createBuffer({
      size: Math.max(4, total),
      usage: GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
      label: 'step constants',
    });
    const bytes = new Uint8Array(constants.getMappedRange());
    let at = 0;
    for (let i = 0; i < this.ops.length; i++) {
      const op = this.ops[i];
      if (op.kind !== 'upload') continue;
      bytes.set(op.data, at);
      this.ops[i] = {
        kind: 'copy',
        src: constants,
        srcOffset: at,
        dst: op.dst,
        dstOffset: op.offset,
        bytes: op.data.byteLength,
      };
      at += Math.ceil(op.data.byteLength / 4) * 4;
    }
    constants.unmap();
    this.constants = constants;
  }

  destroy(): void {
    this.arena.destroy();
    this.constants?.destroy();
    this.constants = null;
  }
}

/**
 * Why two recordings of the same step differ, or null when they are the same step: the same kernels, workgroups,
 * static uniforms, copies and uploads, over buffers that are either the same or, where the step allocated them
 * itself, correspond one to one. A step that reads a different outside buffer each time (a new input tensor
 * instead of a static one) differs, so it is never replayed with stale data.
 */
export function differences(a: Recording, b: Recording): string | null {
  if (a.ops.length !== b.ops.length) return `${a.ops.length} operations, then ${b.ops.length}`;
  const ab = new Map<GPUBuffer, GPUBuffer>();
  const ba = new Map<GPUBuffer, GPUBuffer>();
  const same = (x: GPUBuffer, y: GPUBuffer): boolean => {
    const mx = ab.get(x);
    const my = ba.get(y);
    if (mx !== undefined || my !== undefined) return mx === y && my === x;
    // Different buffers correspond only where each capture allocated its own.
    if (x !== y && (!a.acquired.has(x) || !b.acquired.has(y))) return false;
    ab.set(x, y);
    ba.set(y, x);
    return true;
  };
  for (let i = 0; i < a.ops.length; i++) {
    const p = a.ops[i];
    const q = b.ops[i];
    const where = `operation ${i + 1}`;
    if (p.kind !== q.kind) return `${where} is a ${p.kind}, then a ${q.kind}`;
    if (p.kind === 'dispatch' && q.kind === 'dispatch') {
      const at = `${where} (${p.kernel.name})`;
      if (p.kernel !== q.kernel) return `${where} runs ${p.kernel.name}, then ${q.kernel.name}`;
      if (p.x !== q.x || p.y !== q.y || p.z !== q.z) return `${at} launches other workgroups`;
      if ((p.dynamic === null) !== (q.dynamic === null)) return `${at} has dynamic uniforms once`;
      if (p.dynamic === null && !sameWords(p.words, q.words)) return `${at} has other uniform values`;
      for (let k = 0; k < p.buffers.length; k++)
        if (!same(p.buffers[k], q.buffers[k])) return `${at} binds another ${p.kernel.storageNames[k]}`;
    } else if (p.kind === 'copy' && q.kind === 'copy') {
      if (p.srcOffset !== q.srcOffset || p.dstOffset !== q.dstOffset || p.bytes !== q.bytes)
        return `${where} copies another range`;
      if (!same(p.src, q.src) || !same(p.dst, q.dst)) return `${where} copies between other buffers`;
    } else if (p.kind === 'upload' && q.kind === 'upload') {
      if (p.offset !== q.offset || !sameBytes(p.data, q.data)) return `${where} uploads other data`;
      if (!same(p.dst, q.dst)) return `${where} uploads into another buffer`;
    }
  }
  return null;
}

function sameWords(a: Uint32Array | null, b: Uint32Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
