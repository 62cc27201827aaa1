/**
 * The process-wide WebGPU runtime: one adapter and device, a buffer pool, a pipeline cache, and a command
 * encoder that batches every dispatch until a readback (or a size threshold) forces a submit.
 */
import { BufferPool, type PoolStats } from './buffer-pool.js';
import { type DawnOptions, NoAdapterError, obtainGpu } from './gpu-provider.js';
import { DispatchProfiler, type GpuProfile } from './profile.js';

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

/** A compute dispatch: storage buffers bound at 0..n-1 in order, then the uniform parameters (if any) at n. */
export interface DispatchSpec {
  /** The op's name: pipeline label, and the name in error messages. */
  name: string;
  code: string;
  entryPoint?: string;
  constants?: Record<string, number>;
  buffers: GPUBuffer[];
  /** Small parameters (shapes, strides, scalars), uploaded once per distinct content and cached. */
  uniforms?: Uint32Array | Int32Array | Float32Array;
  workgroups: [number, number?, number?];
}

interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
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
  /**
   * Pipelines by code, then by entry point and constants. Keyed by the code string itself: callers that cache
   * their generated code pass the same string object every time, whose hash V8 keeps, so a lookup costs no
   * pass over the (often tens of kB of) WGSL; a key built by concatenation would be hashed anew every dispatch.
   */
  private pipelines = new Map<string, Map<string, CachedPipeline>>();
  private uniformCache = new Map<string, GPUBuffer>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
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
  /** Counters for benchmarks and tests. */
  readonly counters = { dispatches: 0, submits: 0, readbacks: 0, uploads: 0, pipelinesCreated: 0 };

  private constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly report: AdapterReport,
    options: InitOptions,
  ) {
    this.pool = new BufferPool(device, undefined, (buf) => this.destroyAfterSubmit(buf));
    const env = processEnv();
    this.validate = options.validate ?? env.MRISEG_VALIDATE === '1';
    this.robustness = robustnessOf(options, env);
    this.maxDispatches = options.maxDispatchesPerSubmit ?? 512;
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

  /** The compute pipeline for a shader (cached by code, entry point and override constants). */
  pipeline(
    name: string,
    code: string,
    entryPoint = 'main',
    constants?: Record<string, number>,
  ): GPUComputePipeline {
    return this.cachedPipeline(name, code, entryPoint, constants).pipeline;
  }

  private cachedPipeline(
    name: string,
    code: string,
    entryPoint = 'main',
    constants?: Record<string, number>,
  ): CachedPipeline {
    let byEntry = this.pipelines.get(code);
    if (!byEntry) {
      byEntry = new Map();
      this.pipelines.set(code, byEntry);
    }
    const key = constants ? `${entryPoint}|${JSON.stringify(constants)}` : entryPoint;
    let p = byEntry.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code, label: name });
      const pipeline = this.device.createComputePipeline({
        layout: 'auto',
        label: name,
        compute: { module, entryPoint, ...(constants ? { constants } : {}) },
      });
      // Each getBindGroupLayout() call makes a new wrapper object; one per pipeline is enough.
      p = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      byEntry.set(key, p);
      this.counters.pipelinesCreated++;
    }
    return p;
  }

  private uniformBuffer(data: Uint32Array | Int32Array | Float32Array): GPUBuffer {
    const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
    const key = words.join(',');
    let buf = this.uniformCache.get(key);
    if (buf) {
      // Re-insert so the map's order is least-recently-used first.
      this.uniformCache.delete(key);
      this.uniformCache.set(key, buf);
      return buf;
    }
    const size = Math.max(16, Math.ceil(words.byteLength / 16) * 16);
    buf = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.UNIFORM,
      mappedAtCreation: true,
      label: 'params',
    });
    new Uint32Array(buf.getMappedRange()).set(words);
    buf.unmap();
    this.uniformCache.set(key, buf);
    if (this.uniformCache.size > 8192) {
      // The oldest entry may still be referenced by recorded work; destroying is deferred by WebGPU until then.
      const [oldKey, old] = this.uniformCache.entries().next().value as [string, GPUBuffer];
      this.uniformCache.delete(oldKey);
      this.pendingDestroy.push(old);
    }
    return buf;
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
    if (!this.pass) this.pass = this.encoder.beginComputePass();
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

  dispatch(spec: DispatchSpec): void {
    this.checkAlive(spec.name);
    const [x, y = 1, z = 1] = spec.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new WebGPUError(
        `${spec.name}: dispatch of ${x}×${y}×${z} workgroups exceeds the limit ${maxWg} per dimension`,
      );
    }
    if (this.validate) this.device.pushErrorScope('validation');
    const { pipeline, layout } = this.cachedPipeline(spec.name, spec.code, spec.entryPoint, spec.constants);
    const entries: GPUBindGroupEntry[] = spec.buffers.map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    if (spec.uniforms)
      entries.push({ binding: entries.length, resource: { buffer: this.uniformBuffer(spec.uniforms) } });
    const bindGroup = this.device.createBindGroup({
      layout,
      entries,
      label: spec.name,
    });
    if (this.profiler) {
      const encoder = this.endPass();
      const timestampWrites = this.profiler.next(encoder, spec.name);
      const pass = encoder.beginComputePass({ timestampWrites, label: spec.name });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
    } else {
      const pass = this.beginPass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y, z);
    }
    if (this.validate) this.scopes.push({ op: spec.name, promise: this.device.popErrorScope() });
    this.counters.dispatches++;
    this.dispatchesInBatch++;
    this.opsInBatch.add(spec.name);
    if (this.dispatchesInBatch >= this.maxDispatches) this.flush();
  }

  /** Records a buffer-to-buffer copy in order with the dispatches. */
  copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkAlive('copy');
    this.endPass().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.dispatchesInBatch++;
    this.profiler?.countCopy();
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

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    const encoder = this.endPass();
    this.profiler?.resolve(encoder);
    this.device.queue.submit([encoder.finish()]);
    this.encoder = null;
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
  }

  /** Copies `bytes` bytes of a buffer back to the CPU. Submits pending work; reports any WebGPU error first. */
  async readBuffer(buffer: GPUBuffer, bytes: number, op = 'read'): Promise<ArrayBuffer> {
    this.checkAlive(op);
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
    for (const b of this.uniformCache.values()) b.destroy();
    this.uniformCache.clear();
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
