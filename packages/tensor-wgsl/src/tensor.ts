/**
 * A dense, contiguous tensor stored in a GPU buffer. Ops are recorded on the GPU immediately and return new
 * tensors; reading values back (`data()`, `item()`) is the only thing that waits for the GPU.
 */
import { type GradNode, backward as runBackward } from './autograd.js';
import { bucketSize } from './buffer-pool.js';
import { runtime } from './device.js';
import { track } from './scope.js';
import { fmt, numel, type Shape, ShapeError } from './shape.js';

export type DType = 'f32' | 'i32';
export type TypedArrayFor<D extends DType> = D extends 'i32' ? Int32Array : Float32Array;

let nextId = 1;

/** The largest buffer a kernel can bind on a runtime's device (read once per runtime: tensors are made often). */
const bindingLimits = new WeakMap<object, number>();
function largestBinding(rt: ReturnType<typeof runtime>): number {
  let limit = bindingLimits.get(rt);
  if (limit === undefined) {
    limit = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
    bindingLimits.set(rt, limit);
  }
  return limit;
}

/** A GPU buffer shared by a tensor and its views (reshape, detach). */
export class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) runtime().pool.release(this.buffer);
  }
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  private _storage: Storage | null;
  /** Set on leaf tensors whose gradient is wanted (parameters), and on results of ops on such tensors. */
  requiresGrad = false;
  /** The accumulated gradient of a leaf after `backward()`. Owned by this tensor (disposed with it). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, for backward (null for leaves and under `noGrad`). */
  gradFn: GradNode | null = null;
  /** A name for error messages and debugging (e.g. a parameter's key). */
  name?: string;

  constructor(
    storage: Storage,
    shape: Shape,
    readonly dtype: DType = 'f32',
  ) {
    this.shape = Object.freeze([...shape]);
    this.size = numel(shape);
    this._storage = storage;
    track(this);
  }

  /**
   * A new tensor with its own freshly allocated (uninitialised) buffer. A size the device cannot hold in one
   * storage binding is a RangeError here, naming the op: WebGPU would only report it later, at an unrelated read.
   */
  static empty(shape: Shape, dtype: DType = 'f32', label = 'tensor'): Tensor {
    const bytes = Math.max(4, numel(shape) * 4);
    const rt = runtime();
    const limit = largestBinding(rt);
    const size = bucketSize(bytes);
    if (size > limit) {
      const rounded = size === bytes ? '' : ` (${size} as the buffer pool rounds sizes)`;
      throw new RangeError(
        `${label}: a ${dtype}${fmt(shape)} tensor needs ${bytes} bytes${rounded}, more than the ${limit} bytes ` +
          'this device can bind as one buffer (maxStorageBufferBindingSize / maxBufferSize)',
      );
    }
    const buf = rt.pool.acquire(bytes, label);
    return new Tensor(new Storage(buf, bytes), shape, dtype);
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this._storage === null;
  }

  get storage(): Storage {
    if (!this._storage) throw new Error(`tensor ${this.describe()} was used after dispose()`);
    return this._storage;
  }

  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  describe(): string {
    return `${this.name ? `"${this.name}" ` : ''}${this.dtype}${fmt(this.shape)}`;
  }

  toString(): string {
    return `Tensor(${this.describe()})`;
  }

  /** Frees this tensor's hold on its buffer (the buffer returns to the pool when no view uses it) and its grad. */
  dispose(): void {
    if (!this._storage) return;
    this._storage.release();
    this._storage = null;
    // gradFn stays: a graph may pass through a disposed view whose values backward does not need.
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** A tensor with the same storage and a new shape (no copy). Not recorded for autograd: see `reshape()`. */
  view(shape: Shape): Tensor {
    const storage = this.storage;
    // A view of another size would read past this tensor's values (or leave some unread) without any error.
    if (numel(shape) !== this.size || shape.some((d) => !Number.isInteger(d) || d < 0))
      throw new ShapeError('view', `cannot view ${this.describe()} as ${fmt(shape)}`);
    return new Tensor(storage.retain(), shape, this.dtype);
  }

  /** The same values, cut from the autograd graph (shares the buffer). */
  detach(): Tensor {
    return this.view(this.shape);
  }

  /** Copies the values to the CPU. */
  async data(): Promise<TypedArrayFor<this['dtype']>> {
    const bytes = await runtime().readBuffer(this.buffer, this.size * 4, `data() of ${this.describe()}`);
    return (this.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes)) as TypedArrayFor<
      this['dtype']
    >;
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item(): ${this.describe()} has ${this.size} elements, not 1`);
    return (await this.data())[0];
  }

  /**
   * Reverse-mode differentiation from this tensor: accumulates d(this)/d(leaf) into `leaf.grad` of every leaf
   * with `requiresGrad`. Without `grad` this must be a one-element tensor (seeded with 1).
   */
  backward(grad?: Tensor): void {
    runBackward(this, grad);
  }

  /** Sets `requiresGrad` (leaves only) and returns this. */
  requiresGrad_(value = true): this {
    if (!this.isLeaf)
      throw new Error(`requiresGrad_(): ${this.describe()} is not a leaf; use detach() first`);
    this.requiresGrad = value;
    return this;
  }
}
