/**
 * The process-wide WebGPU runtime: one adapter and device, a buffer pool, a pipeline cache, and a command
 * encoder that batches every dispatch until a readback (or a size threshold) forces a submit.
 */
import { BufferPool, type PoolStats } from './buffer-pool.js';
import { type DawnOptions, NoAdapterError, obtainGpu } from './gpu-provider.js';
import type { Bindings, Kernel, UniformValues } from './kernel.js';
import { DispatchProfiler, type GpuProfile } from './profile.js';
import { type RecordedDispatch, Recording } from './recording.js';
import { type ArenaSlot, UniformArena } from './uniform-arena.js';

export interface InitOptions {
  /** Options for Dawn's `create()` in Node. */
  dawnOptions?: DawnOptions;
  powerPreference?: GPUPowerPreference;
  /**
   * Wrap every dispatch in an error scope so that a WebGPU error is reported with the exact op that caused it
   * (slower). Also on when the environment variable MRISEG_VALIDATE=1.
   */
  validate?: boolean;
  /** Dispatches recorded before a submit is forced. */
  maxDispatchesPerSubmit?: number;
  /**
   * WebGPU's guard against untrusted shaders (default true): Dawn clamps every array index into bounds and zeroes
   * workgroup memory before each workgroup runs. This library's kernels index in bounds by construction (their
   * tests and goldens also run with the guard off), so `false` drops the clamps from their inner loops (Dawn
   * toggles `disable_robustness` and `disable_workgroup_init`; Node only, browsers ignore it). Also `false` when
   * the environment variable MRISEG_ROBUSTNESS=0.
   */
  robustness?: boolean;
}

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU drivers (lavapipe, SwiftShader) and the spec's fallback adapters. */
  isCpu: boolean;
  features: string[];
  limits: Record<string, number>;
}

/** An error raised by WebGPU (validation, out of memory, internal) or a lost device, naming the op. */
export class WebGPUError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGPUError';
  }
}

const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize',
] as const;

const WANTED_FEATURES = ['subgroups', 'timestamp-query', 'shader-f16', 'subgroup-size-control'];

const ALL_LIMITS = [
  ...WANTED_LIMITS,
  'maxBindGroups',
  'maxBindingsPerBindGroup',
  'maxStorageTexturesPerShaderStage',
  'maxUniformBuffersPerShaderStage',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
] as const;

/** A kernel's pipeline on one device, and its bind groups by the buffers they bind. */
interface CompiledKernel {
  device: GPUDevice;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  groups: Map<string, GPUBindGroup>;
  /** Whether the uniform names of a dispatch have been checked against the description. */
  checked: boolean;
}

/** Bind groups kept per kernel; beyond this the oldest half are dropped. */
const MAX_GROUPS_PER_KERNEL = 512;

/**
 * A small integer per buffer for bind-group keys. Never reused, so a key naming a destroyed buffer is simply
 * never asked for again.
 */
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
function bufferId(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) {
    id = nextBufferId++;
    bufferIds.set(b, id);
  }
  return id;
}

/** Thrown when a step being captured does something a replay could not repeat. */
export class CaptureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaptureError';
  }
}

interface PendingScope {
  op: string;
  promise: Promise<GPUError | null>;
}

/**
 * Dawn rounds timestamps to 65.536 µs (a browser's defence against timing attacks), which would turn most
 * kernels of a per-kernel profile into 0 or 65 µs. A Node process has no such attacker, so the rounding is
 * turned off unless the caller's options say otherwise. Browsers ignore these options.
 */
function withPreciseTimestamps(options: DawnOptions = []): DawnOptions {
  if (options.some((o) => o.includes('timestamp_quantization'))) return options;
  return withToggles(options, 'disable', ['timestamp_quantization']);
}

/** `options` with Dawn toggles added to its `enable-dawn-features=` or `disable-dawn-features=` entry. */
export function withToggles(
  options: DawnOptions,
  which: 'enable' | 'disable',
  toggles: string[],
): DawnOptions {
  const prefix = `${which}-dawn-features=`;
  const i = options.findIndex((o) => o.startsWith(prefix));
  if (i < 0) return [...options, `${prefix}${toggles.join(',')}`];
  const have = options[i].slice(prefix.length).split(',');
  const out = [...options];
  out[i] = `${prefix}${[...have, ...toggles.filter((t) => !have.includes(t))].join(',')}`;
  return out;
}

/** Dawn toggles that turn WebGPU's shader robustness off (see InitOptions.robustness). */
export const NO_ROBUSTNESS_TOGGLES = ['disable_robustness', 'disable_workgroup_init'];

type Env = Record<string, string | undefined>;

const processEnv = (): Env => (typeof process !== 'undefined' ? process.env : {});

const robustnessOf = (options: InitOptions, env: Env) => options.robustness ?? env.MRISEG_ROBUSTNESS !== '0';

/** The Dawn options a runtime is created with. */
export function dawnOptionsFor(options: InitOptions, env: Env = {}): DawnOptions {
  const out = withPreciseTimestamps(options.dawnOptions);
  return robustnessOf(options, env) ? out : withToggles(out, 'enable', NO_ROBUSTNESS_TOGGLES);
}

let current: Runtime | null = null;
let initializing: Promise<Runtime> | null = null;

/** Creates (once) and returns the runtime. Every other call of the library needs it to have resolved. */
export function initDevice(options: InitOptions = {}): Promise<Runtime> {
  if (current) return Promise.resolve(current);
  if (!initializing) {
    initializing = Runtime.create(options).then(
      (r) => {
        current = r;
        return r;
      },
      (e) => {
        initializing = null;
        throw e;
      },
    );
  }
  return initializing;
}

/** The runtime; throws if `initDevice()` has not completed. */
export function runtime(): Runtime {
  if (!current) throw new Error('mriseg: the WebGPU device is not initialised; `await initDevice()` first');
  return current;
}

export function hasRuntime(): boolean {
  return current !== null;
}

export class Runtime {
  readonly pool: BufferPool;
  readonly validate: boolean;
  /** Whether Dawn guards the shaders' indexing (InitOptions.robustness). */
  readonly robustness: boolean;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** The pipeline last set in the open pass (setPipeline is skipped when a dispatch repeats it). */
  private passPipeline: GPUComputePipeline | null = null;
  private dispatchesInBatch = 0;
  private opsInBatch = new Set<string>();
  /** Ops of every submit since errors were last checked: an error may come from any of them, not just the last. */
  private opsSinceCheck = new Set<string>();
  private uncaptured: string[] = [];
  private scopes: PendingScope[] = [];
  private lostReason: string | null = null;
  private readonly maxDispatches: number;
  private stagingFree: GPUBuffer[] = [];
  private profiler: DispatchProfiler | null = null;
  /** Uniform slots of eager dispatches, reused after every submit. */
  private readonly eagerArena: UniformArena;
  /** Where dispatches take their uniform slots: the eager arena, or the arena of the step being captured. */
  private arena: UniformArena;
  /** The step being captured (step-graph.ts), if any. */
  private recorder: Recording | null = null;
  /** Recordings kept for replay: their buffers are pinned in the pool. */
  private readonly replayable = new Set<Recording>();
  private readonly offsets = [0];
  /**
   * Bumped by `invalidateGraphs()` (new kernel choices, replaced parameters): captured steps made before it
   * are captured again.
   */
  graphEpoch = 0;
  /** Counters for benchmarks and tests. */
  readonly counters = {
    dispatches: 0,
    submits: 0,
    readbacks: 0,
    uploads: 0,
    pipelinesCreated: 0,
    bindGroupsCreated: 0,
    /** Steps replayed from a capture (their dispatches count in `dispatches`). */
    replays: 0,
  };

  private constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly report: AdapterReport,
    options: InitOptions,
  ) {
    this.pool = new BufferPool(device, undefined, (buf) => this.destroyAfterSubmit(buf));
    this.pool.onAcquire = (buf) => this.recorder?.acquired.add(buf);
    this.pool.onHold = (buf) => {
      for (const rec of this.replayable)
        if (rec.externals.has(buf))
          rec.stale ??= 'a buffer it reads that it did not allocate (an input, a parameter, state) was freed';
    };
    const env = processEnv();
    this.validate = options.validate ?? env.MRISEG_VALIDATE === '1';
    this.robustness = robustnessOf(options, env);
    this.maxDispatches = options.maxDispatchesPerSubmit ?? 512;
    this.eagerArena = this.newArena('params');
    this.arena = this.eagerArena;
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.uncaptured.push(ev.error.message);
    };
    device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
  }

  static async create(options: InitOptions): Promise<Runtime> {
    const gpu = await obtainGpu(dawnOptionsFor(options, processEnv()));
    const adapter = await gpu.requestAdapter({
      powerPreference: options.powerPreference ?? 'high-performance',
    });
    if (!adapter) throw new NoAdapterError('requestAdapter() returned null');
    const requiredLimits: Record<string, number> = {};
    const lim = adapter.limits as unknown as Record<string, number>;
    for (const name of WANTED_LIMITS) if (typeof lim[name] === 'number') requiredLimits[name] = lim[name];
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'mriseg' });
    const info = adapter.info;
    const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
    const limits: Record<string, number> = {};
    const dl = device.limits as unknown as Record<string, number>;
    for (const name of ALL_LIMITS) if (typeof dl[name] === 'number') limits[name] = dl[name];
    const report: AdapterReport = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isCpu:
        (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
        /llvmpipe|lavapipe|swiftshader|software/.test(text),
      features: [...device.features].sort(),
      limits,
    };
    return new Runtime(adapter, device, report, options);
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  hasFeature(name: string): boolean {
    return this.device.features.has(name);
  }

  private newArena(label: string): UniformArena {
    return new UniformArena(this.device, this.device.limits.minUniformBufferOffsetAlignment, label);
  }

  /** A kernel's pipeline and bind-group cache on this device, made on first use. */
  private compiled(k: Kernel): CompiledKernel {
    const c = k.compiled as CompiledKernel | null;
    if (c && c.device === this.device) return c;
    const entries: GPUBindGroupLayoutEntry[] = k.storage.map((s, binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: s.access === 'read' ? 'read-only-storage' : 'storage' },
    }));
    if (k.uniformBytes > 0)
      entries.push({
        binding: k.storage.length,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: k.uniformBytes },
      });
    const layout = this.device.createBindGroupLayout({ entries, label: k.name });
    const module = this.device.createShaderModule({ code: k.wgsl, label: k.name });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout], label: k.name }),
      label: k.name,
      compute: { module, entryPoint: 'main' },
    });
    this.counters.pipelinesCreated++;
    const made: CompiledKernel = { device: this.device, pipeline, layout, groups: new Map(), checked: false };
    k.compiled = made;
    return made;
  }

  /** The compute pipeline of a kernel on this device (compiled on first use). */
  pipelineOf(k: Kernel): GPUComputePipeline {
    return this.compiled(k).pipeline;
  }

  private bindGroup(
    k: Kernel,
    c: CompiledKernel,
    buffers: GPUBuffer[],
    slot: ArenaSlot | null,
  ): GPUBindGroup {
    let key = slot ? `${slot.chunk.id}` : '';
    for (const b of buffers) key += `,${bufferId(b)}`;
    let group = c.groups.get(key);
    if (group) return group;
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    if (slot)
      entries.push({
        binding: buffers.length,
        resource: { buffer: slot.chunk.buffer, offset: 0, size: k.uniformBytes },
      });
    group = this.device.createBindGroup({ layout: c.layout, entries, label: k.name });
    this.counters.bindGroupsCreated++;
    if (c.groups.size >= MAX_GROUPS_PER_KERNEL) {
      let drop = c.groups.size >> 1;
      for (const old of c.groups.keys()) {
        if (drop-- <= 0) break;
        c.groups.delete(old);
      }
    }
    c.groups.set(key, group);
    return group;
  }

  private pendingDestroy: GPUBuffer[] = [];

  /** Destroys a buffer once the commands recorded so far (which may use it) have been submitted. */
  destroyAfterSubmit(buf: GPUBuffer): void {
    if (this.encoder) this.pendingDestroy.push(buf);
    else buf.destroy();
  }

  private checkAlive(op: string): void {
    if (this.lostReason) throw new WebGPUError(`${op}: the GPU device was lost (${this.lostReason})`);
  }

  private beginPass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'mriseg' });
    if (!this.pass) {
      this.pass = this.encoder.beginComputePass();
      this.passPipeline = null;
    }
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'mriseg' });
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return this.encoder;
  }

  private timestampQuery: GPUQuerySet | null = null;

  /**
   * GPU time in milliseconds of the work `body` records, from timestamps written by two empty compute passes
   * around it; null (after running `body` and waiting for it) without the `timestamp-query` feature. Browsers
   * may quantise timestamps (to about 0.1 ms), so time work that takes well over that.
   */
  async timeGpu(body: () => void): Promise<number | null> {
    this.refuseCapture('timeGpu');
    if (!this.hasFeature('timestamp-query')) {
      body();
      await this.sync('timeGpu');
      return null;
    }
    if (!this.timestampQuery)
      this.timestampQuery = this.device.createQuerySet({ type: 'timestamp', count: 2 });
    const querySet = this.timestampQuery;
    const mark = (index: number) => {
      this.endPass()
        .beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: index } })
        .end();
    };
    mark(0);
    body();
    mark(1);
    const resolved = this.device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: 'timestamps',
    });
    this.endPass().resolveQuerySet(querySet, 0, 2, resolved, 0);
    const bytes = await this.readBuffer(resolved, 16, 'timeGpu');
    resolved.destroy();
    const [t0, t1] = new BigUint64Array(bytes);
    return Number(t1 - t0) / 1e6;
  }

  /**
   * Records a dispatch of `k`: its storage buffers by binding name, its uniforms by name (a function: computed
   * now and again at every replay of a captured step — for values that change from step to step), and the
   * workgroup counts.
   */
  dispatchKernel(
    k: Kernel,
    bindings: Bindings,
    uniforms: UniformValues | (() => UniformValues) | null,
    workgroups: readonly [number, number?, number?],
  ): void {
    this.checkAlive(k.name);
    const x = workgroups[0];
    const y = workgroups[1] ?? 1;
    const z = workgroups[2] ?? 1;
    if (x === 0 || y === 0 || z === 0) return;
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new WebGPUError(
        `${k.name}: dispatch of ${x}×${y}×${z} workgroups exceeds the limit ${maxWg} per dimension`,
      );
    }
    // Pipeline and bind-group creation are inside the scope: an invalid shader is this op's error.
    if (this.validate) this.device.pushErrorScope('validation');
    const c = this.compiled(k);
    const names = k.storageNames;
    const buffers: GPUBuffer[] = new Array(names.length);
    for (let i = 0; i < names.length; i++) {
      const b = bindings[names[i]];
      if (!b) throw new Error(`kernel ${k.name}: no buffer for its binding '${names[i]}'`);
      buffers[i] = b;
    }
    let slot: ArenaSlot | null = null;
    const dynamic = typeof uniforms === 'function' ? uniforms : null;
    if (k.uniformBytes > 0) {
      const values = dynamic ? dynamic() : uniforms;
      if (!values || typeof values === 'function')
        throw new Error(`kernel ${k.name}: its uniforms are missing`);
      if (!c.checked) {
        k.checkUniformNames(values);
        c.checked = true;
      }
      slot = this.arena.alloc(k.uniformBytes);
      k.packUniforms(values, slot.chunk.u32, slot.chunk.i32, slot.chunk.f32, slot.offset >> 2);
    }
    const group = this.bindGroup(k, c, buffers, slot);
    this.encodeDispatch(k.name, c.pipeline, group, slot, x, y, z);
    if (this.validate) this.scopes.push({ op: k.name, promise: this.device.popErrorScope() });
    if (this.recorder) {
      const words =
        slot && !dynamic ? slot.chunk.u32.slice(slot.offset >> 2, (slot.offset + k.uniformBytes) >> 2) : null;
      const op: RecordedDispatch = {
        kind: 'dispatch',
        kernel: k,
        pipeline: c.pipeline,
        bindGroup: group,
        slot,
        x,
        y,
        z,
        buffers,
        words,
        dynamic,
      };
      this.recorder.ops.push(op);
    }
    this.counted(k.name);
  }

  private counted(name: string): void {
    this.counters.dispatches++;
    this.dispatchesInBatch++;
    this.opsInBatch.add(name);
    if (this.dispatchesInBatch >= this.maxDispatches) this.flush();
  }

  private encodeDispatch(
    name: string,
    pipeline: GPUComputePipeline,
    group: GPUBindGroup,
    slot: ArenaSlot | null,
    x: number,
    y: number,
    z: number,
  ): void {
    const offsets = this.offsets;
    if (this.profiler) {
      const encoder = this.endPass();
      const timestampWrites = this.profiler.next(encoder, name);
      const pass = encoder.beginComputePass({ timestampWrites, label: name });
      pass.setPipeline(pipeline);
      if (slot) {
        offsets[0] = slot.offset;
        pass.setBindGroup(0, group, offsets);
      } else pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
      return;
    }
    const pass = this.beginPass();
    if (this.passPipeline !== pipeline) {
      pass.setPipeline(pipeline);
      this.passPipeline = pipeline;
    }
    if (slot) {
      offsets[0] = slot.offset;
      pass.setBindGroup(0, group, offsets);
    } else pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
  }

  /** Records a buffer-to-buffer copy in order with the dispatches. */
  copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkAlive('copy');
    this.endPass().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.dispatchesInBatch++;
    this.profiler?.countCopy();
    this.recorder?.ops.push({ kind: 'copy', src, srcOffset, dst, dstOffset, bytes });
  }

  /**
   * Runs host work that belongs to the step being recorded (bookkeeping such as step counts): now, and again,
   * in order, at every replay of a captured step.
   */
  hostAction(fn: () => void): void {
    fn();
    this.recorder?.ops.push({ kind: 'host', fn });
  }

  /** True while a step is being captured. */
  get capturing(): boolean {
    return this.recorder !== null;
  }

  private refuseCapture(op: string): void {
    this.recorder?.refuse(`it ${op === 'sync' ? 'waits for the GPU' : `calls ${op}`} inside the step`);
  }

  /**
   * Starts recording everything the runtime is asked to do (see step-graph.ts). The step runs for real while
   * it is recorded.
   */
  beginCapture(): Recording {
    if (this.recorder) throw new Error('mriseg: a step is already being captured (captures do not nest)');
    if (this.profiler) throw new Error('mriseg: a step cannot be captured while a GPU profile runs');
    this.flush();
    const rec = new Recording(this.newArena('step params'));
    this.recorder = rec;
    this.arena = rec.arena;
    this.pool.keepAll = true;
    return rec;
  }

  /** Ends the capture begun by `beginCapture()`: submits its work and seals the recording. */
  endCapture(rec: Recording): Recording {
    if (this.recorder !== rec) throw new Error('mriseg: endCapture() of a capture that is not running');
    this.flush();
    this.recorder = null;
    this.arena = this.eagerArena;
    this.pool.keepAll = false;
    if (!rec.refused) rec.seal(this.device);
    return rec;
  }

  /**
   * Replays a sealed recording: runs its host actions and recomputes its dynamic uniforms in order, uploads
   * them, encodes its dispatches and copies, and submits.
   */
  replay(rec: Recording): void {
    if (this.recorder)
      throw new Error('mriseg: a captured step cannot be replayed while another is captured');
    this.checkAlive('replay');
    // Work recorded before (an earlier replay among it) must be on the queue before the uploads below, which
    // it would otherwise read.
    this.flush();
    for (const op of rec.hostWork()) {
      if (op.kind === 'host') op.fn();
      else if (op.dynamic && op.slot) {
        const { chunk, offset } = op.slot;
        op.kernel.packUniforms(op.dynamic(), chunk.u32, chunk.i32, chunk.f32, offset >> 2);
        chunk.markDirty(offset, op.kernel.uniformBytes);
      }
    }
    rec.arena.upload(this.device.queue);
    if (this.validate || this.profiler) this.replaySlow(rec);
    else this.replayFast(rec);
    this.counters.replays++;
    this.flush();
  }

  /**
   * Keeps a sealed recording for replay: every buffer it uses (and `also`, such as the buffers of its outputs)
   * is reserved in the pool until `releaseRecording`, and it turns stale if its owner frees a buffer the step
   * did not allocate itself.
   */
  retainRecording(rec: Recording, also: Iterable<GPUBuffer> = []): void {
    const used = rec.buffers();
    for (const b of used) if (!rec.acquired.has(b)) rec.externals.add(b);
    for (const b of also) used.add(b);
    this.pool.pin(used);
    rec.pinned = used;
    this.replayable.add(rec);
  }

  /** Ends `retainRecording`: its buffers go back to the pool (work already submitted may still read them). */
  releaseRecording(rec: Recording): void {
    if (!this.replayable.delete(rec)) return;
    this.pool.unpin(rec.pinned);
    rec.pinned = new Set();
  }

  /**
   * The replay's inner loop, as little as it can be: consecutive dispatches share a pass and a pipeline set once,
   * and the names its error messages need are added once a replay.
   */
  private replayFast(rec: Recording): void {
    const offsets = this.offsets;
    let dispatches = 0;
    for (const op of rec.ops) {
      if (op.kind === 'dispatch') {
        const pass = this.pass ?? this.beginPass();
        if (this.passPipeline !== op.pipeline) {
          pass.setPipeline(op.pipeline);
          this.passPipeline = op.pipeline;
        }
        if (op.slot) {
          offsets[0] = op.slot.offset;
          pass.setBindGroup(0, op.bindGroup, offsets);
        } else pass.setBindGroup(0, op.bindGroup);
        pass.dispatchWorkgroups(op.x, op.y, op.z);
        dispatches++;
      } else if (op.kind === 'copy') {
        this.endPass().copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.bytes);
      }
    }
    this.counters.dispatches += dispatches;
    for (const name of rec.names()) this.opsInBatch.add(name);
  }

  /** The replay with per-dispatch error scopes (validate) or timestamps (a profile running). */
  private replaySlow(rec: Recording): void {
    for (const op of rec.ops) {
      if (op.kind === 'dispatch') {
        if (this.validate) this.device.pushErrorScope('validation');
        this.encodeDispatch(op.kernel.name, op.pipeline, op.bindGroup, op.slot, op.x, op.y, op.z);
        if (this.validate) this.scopes.push({ op: op.kernel.name, promise: this.device.popErrorScope() });
        this.counters.dispatches++;
        this.opsInBatch.add(op.kernel.name);
      } else if (op.kind === 'copy') {
        this.endPass().copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.bytes);
        this.profiler?.countCopy();
      }
    }
  }

  /** Makes every captured step capture anew before its next replay (kernel choices or parameters changed). */
  invalidateGraphs(): void {
    this.graphEpoch++;
  }

  /** True between `startProfile()` and `stopProfile()`. */
  get profiling(): boolean {
    return this.profiler !== null;
  }

  /**
   * Starts timing every dispatch on the GPU, by op name, until `stopProfile()`. Each dispatch then gets its own
   * compute pass with timestamps, which costs GPU time between passes (kernels no longer overlap or share a
   * pass), so profile to see where time goes, and measure throughput without it. Needs 'timestamp-query'.
   */
  startProfile(): void {
    if (this.profiler) throw new Error('mriseg: a GPU profile is already running; stopProfile() first');
    if (this.recorder) throw new Error('mriseg: a GPU profile cannot start while a step is captured');
    if (!this.hasFeature('timestamp-query')) {
      throw new WebGPUError(
        "profiling needs the WebGPU feature 'timestamp-query', which this device does not have " +
          `(${this.report.description || this.report.vendor}; features: ${this.report.features.join(', ') || 'none'})`,
      );
    }
    this.profiler = new DispatchProfiler(this.device);
  }

  /** Ends the profile: waits for the GPU and returns the GPU time of each op dispatched since `startProfile()`. */
  async stopProfile(): Promise<GpuProfile> {
    const profiler = this.profiler;
    if (!profiler) throw new Error('mriseg: stopProfile() without startProfile()');
    // The flush records the resolve of the last timestamps while the profiler is still attached.
    this.flush();
    this.profiler = null;
    try {
      await this.sync('profile');
    } catch (e) {
      profiler.destroy();
      throw e;
    }
    return profiler.read();
  }

  /** True when recorded work has not been submitted yet. */
  get hasPendingWork(): boolean {
    return this.encoder !== null;
  }

  /** Submits everything recorded so far (after uploading the uniforms it reads). */
  flush(): void {
    if (!this.encoder) return;
    const encoder = this.endPass();
    this.profiler?.resolve(encoder);
    this.arena.upload(this.device.queue);
    this.device.queue.submit([encoder.finish()]);
    this.encoder = null;
    if (this.arena === this.eagerArena) this.arena.reset();
    this.counters.submits++;
    for (const op of this.opsInBatch) this.opsSinceCheck.add(op);
    this.opsInBatch.clear();
    this.dispatchesInBatch = 0;
    for (const b of this.pendingDestroy) b.destroy();
    this.pendingDestroy = [];
  }

  /** Writes bytes into a buffer. Recorded work is submitted first so that it sees the buffer's old contents. */
  writeBuffer(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.checkAlive('upload');
    if (this.encoder) this.flush();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
    this.counters.uploads++;
    this.recorder?.ops.push({
      kind: 'upload',
      dst: buffer,
      offset,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
    });
  }

  /** Copies `bytes` bytes of a buffer back to the CPU. Submits pending work; reports any WebGPU error first. */
  async readBuffer(buffer: GPUBuffer, bytes: number, op = 'read'): Promise<ArrayBuffer> {
    this.checkAlive(op);
    this.refuseCapture(op);
    const size = Math.ceil(bytes / 4) * 4;
    let staging = this.stagingFree.find((b) => b.size >= size);
    if (staging) this.stagingFree.splice(this.stagingFree.indexOf(staging), 1);
    else {
      staging = this.device.createBuffer({
        size: Math.max(256, 2 ** Math.ceil(Math.log2(size))),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: 'staging',
      });
    }
    this.endPass().copyBufferToBuffer(buffer, 0, staging, 0, size);
    this.flush();
    this.counters.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, size);
    } catch (e) {
      await this.throwIfErrors(op);
      throw new WebGPUError(`${op}: reading back from the GPU failed (${(e as Error).message})`);
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    if (this.stagingFree.length < 8) this.stagingFree.push(staging);
    else staging.destroy();
    await this.throwIfErrors(op);
    return out;
  }

  /** Submits pending work and waits for the GPU to finish it; reports any WebGPU error. */
  async sync(op = 'sync'): Promise<void> {
    this.refuseCapture('sync');
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.throwIfErrors(op);
  }

  private async throwIfErrors(op: string): Promise<void> {
    const submitted = [...this.opsSinceCheck];
    this.opsSinceCheck.clear();
    if (this.scopes.length > 0) {
      const scopes = this.scopes;
      this.scopes = [];
      const errors = await Promise.all(scopes.map((s) => s.promise));
      const i = errors.findIndex((e) => e !== null);
      if (i >= 0) throw new WebGPUError(`${scopes[i].op}: ${errors[i]!.message}`);
    }
    if (this.uncaptured.length > 0) {
      const msgs = this.uncaptured;
      this.uncaptured = [];
      const ops = submitted.length ? submitted.join(', ') : 'unknown';
      throw new WebGPUError(
        `WebGPU error before ${op} (ops submitted since the last check: ${ops}; set MRISEG_VALIDATE=1 to pin the op): ${msgs.slice(0, 3).join(' | ')}${msgs.length > 3 ? ` (+${msgs.length - 3} more)` : ''}`,
      );
    }
    this.checkAlive(op);
  }

  memory(): PoolStats {
    return this.pool.snapshot();
  }

  /** GPU time of recorded work is not tracked here; see timing helpers in benchmarks. */
  destroy(): void {
    this.flush();
    this.profiler?.destroy();
    this.profiler = null;
    this.pool.trim();
    this.eagerArena.destroy();
    this.device.destroy();
    if (current === this) {
      current = null;
      initializing = null;
    }
  }
}

export async function adapterInfo(): Promise<AdapterReport> {
  return (await initDevice()).report;
}
