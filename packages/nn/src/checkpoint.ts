/**
 * Checkpoints as safetensors bytes (browser-safe; node.ts adds the files). The model's state dict is stored
 * under its PyTorch keys, so a file holding just a PyTorch state dict loads unchanged and a checkpoint's model
 * part loads in PyTorch. Optimizer state tensors are stored under `__optimizer__/<index>.<name>`; everything
 * else is JSON in `__metadata__`. int32 buffers (num_batches_tracked) are written as I64, PyTorch's dtype.
 */
import { type DType, formatShape, type Tensor } from '@mriseg/tensor-wgsl';
import {
  entryToFloat32,
  parseSafetensors,
  type SafetensorsEntry,
  type SafetensorsWriteEntry,
  serializeSafetensors,
} from '@mriseg/tensor-wgsl/safetensors';
import type { AnyModule, HostTensor, LoadStateDictOptions } from './module.js';
import type { Optimizer, OptimizerStateInput } from './optim/optimizer.js';
import type { Scheduler, SchedulerState } from './schedules.js';
import { readTorchStateDict, TorchFileError, torchFormat } from './torch/torch-file.js';
import { VERSION } from './version.js';

export const CHECKPOINT_FORMAT = 'mriseg.checkpoint/1';
export const OPTIMIZER_PREFIX = '__optimizer__/';

/**
 * What it takes to run a checkpoint's model on new data, beside its architecture (`config`): the input it was
 * trained on and how its output becomes a mask. Stored as JSON in `__metadata__.inference`, so that evaluation,
 * prediction, benchmarks and the viewer run the model as it was trained rather than on assumed defaults.
 */
export interface InferenceSpec {
  /** Side of the square input slices, in pixels, after preprocessing. */
  inputSize: number;
  /** Input channels, in order (e.g. pre-contrast, FLAIR, post-contrast). */
  channels: string[];
  /** The preprocessing pipeline by name and its options (JSON), as the data package applies it. */
  preprocess: { name: string; options: Record<string, unknown> };
  /** What the model's output is: logits, to go through a sigmoid. */
  output: 'logits';
  /** Probability above which a voxel counts as foreground. */
  threshold: number;
  /** Post-processing of the thresholded mask (comma-separated steps; '' for none). */
  postprocess: string;
}

export interface CheckpointMetadata {
  modelName?: string;
  /** The model's configuration (any JSON value). */
  config?: unknown;
  epoch?: number;
  metrics?: Record<string, number>;
  /** How to run the model (absent in checkpoints written before it was recorded, and in plain state dicts). */
  inference?: InferenceSpec;
  /** More string entries for `__metadata__`. */
  extra?: Record<string, string>;
}

type AnyOptimizer = Optimizer<{ lr: number }>;

export interface CheckpointParts {
  model: AnyModule;
  optimizer?: AnyOptimizer;
  scheduler?: Scheduler;
  metadata?: CheckpointMetadata;
}

export interface Checkpoint {
  model: Map<string, HostTensor>;
  optimizer: OptimizerStateInput | null;
  scheduler: SchedulerState | null;
  metadata: CheckpointMetadata & { format?: string; versions?: Record<string, string> };
  /** The file's `__metadata__` as stored. */
  rawMetadata: Record<string, string>;
  /** What errors name (the path, or `<bytes>`). */
  source: string;
}

export interface ParseCheckpointOptions {
  /**
   * F32 tensors holding NaN or ±Inf (a diverged or damaged model, which would score 0 without a word): 'error'
   * (default), 'warn' (through `onWarning`) or 'allow'.
   */
  nonFinite?: 'error' | 'warn' | 'allow';
  onWarning?: (message: string) => void;
}

export class CheckpointError extends Error {
  constructor(source: string, problem: string) {
    super(`checkpoint ${source}: ${problem}`);
    this.name = 'CheckpointError';
  }
}

async function toEntry(key: string, t: Tensor): Promise<SafetensorsWriteEntry> {
  const shape = [...t.shape];
  if (t.dtype === 'f32') return { dtype: 'F32', shape, data: (await t.data()) as Float32Array };
  const ints = (await t.data()) as Int32Array;
  if (t.dtype !== 'i32') throw new CheckpointError(key, `cannot store dtype ${t.dtype}`);
  return { dtype: 'I64', shape, data: BigInt64Array.from(ints, (v) => BigInt(v)) };
}

function runtimeVersions(): Record<string, string> {
  const proc = (globalThis as { process?: { version?: string } }).process;
  return { '@mriseg/nn': VERSION, ...(proc?.version ? { node: proc.version } : {}) };
}

/** Reads the model (and optimizer) state back from the GPU and serializes it with the metadata. */
export async function serializeCheckpoint(parts: CheckpointParts): Promise<Uint8Array> {
  const entries: [string, SafetensorsWriteEntry][] = [];
  for (const [key, t] of parts.model.stateDict()) {
    if (key.startsWith(OPTIMIZER_PREFIX))
      throw new CheckpointError(key, `model keys must not start with ${OPTIMIZER_PREFIX}`);
    entries.push([key, await toEntry(key, t)]);
  }
  const meta: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    versions: JSON.stringify(runtimeVersions()),
  };
  const m = parts.metadata ?? {};
  if (m.modelName !== undefined) meta.model = m.modelName;
  if (m.config !== undefined) meta.config = JSON.stringify(m.config);
  if (m.epoch !== undefined) meta.epoch = String(m.epoch);
  if (m.metrics !== undefined) meta.metrics = JSON.stringify(m.metrics);
  if (m.inference !== undefined)
    meta.inference = JSON.stringify(checkInferenceSpec(m.inference, '<metadata>'));
  if (parts.optimizer) {
    const sd = parts.optimizer.stateDict();
    for (const [key, t] of sd.tensors) entries.push([OPTIMIZER_PREFIX + key, await toEntry(key, t)]);
    meta.optimizer = JSON.stringify({ type: sd.type, paramGroups: sd.paramGroups, steps: sd.steps });
  }
  if (parts.scheduler) meta.scheduler = JSON.stringify(parts.scheduler.stateDict());
  for (const [k, v] of Object.entries(m.extra ?? {})) {
    if (k in meta) throw new CheckpointError(k, `extra metadata key "${k}" is reserved`);
    meta[k] = v;
  }
  return serializeSafetensors(entries, meta);
}

function toHost(source: string, key: string, e: SafetensorsEntry, bad: NonFinite[]): HostTensor {
  const n = e.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
  let dtype: DType;
  let data: Float32Array | Int32Array;
  switch (e.dtype) {
    case 'F32': {
      dtype = 'f32';
      data = new Float32Array(n);
      let nan = 0;
      let inf = 0;
      for (let i = 0; i < n; i++) {
        const v = dv.getFloat32(4 * i, true);
        data[i] = v;
        if (v - v !== 0) {
          if (Number.isNaN(v)) nan++;
          else inf++;
        }
      }
      if (nan + inf > 0) bad.push({ key, nan, inf, size: n });
      break;
    }
    case 'F16':
    case 'BF16':
    case 'F64': {
      // Stored at another precision (e.g. a half-precision copy to halve a download): computed in f32 here.
      dtype = 'f32';
      data = entryToFloat32(e);
      let nan = 0;
      let inf = 0;
      for (const v of data) {
        if (v - v !== 0) {
          if (Number.isNaN(v)) nan++;
          else inf++;
        }
      }
      if (nan + inf > 0) bad.push({ key, nan, inf, size: n });
      break;
    }
    case 'I64':
      dtype = 'i32';
      data = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(8 * i, true);
        if (v > 2147483647n || v < -2147483648n)
          throw new CheckpointError(source, `"${key}" holds ${v}, outside the int32 range used here`);
        data[i] = Number(v);
      }
      break;
    case 'I32':
      dtype = 'i32';
      data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = dv.getInt32(4 * i, true);
      break;
    default:
      throw new CheckpointError(
        source,
        `"${key}" ${e.dtype}${formatShape(e.shape)} has an unsupported dtype (F32, F16, BF16 or F64 for parameters, I64 or I32 for counters)`,
      );
  }
  return { dtype, shape: e.shape, data };
}

function parseJson<T>(source: string, key: string, text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new CheckpointError(source, `__metadata__.${key} is not valid JSON (${(e as Error).message})`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Checks the shape of an inference spec (from a file or a caller); errors name the field. */
export function checkInferenceSpec(v: unknown, source: string): InferenceSpec {
  const bad = (field: string, want: string) =>
    new CheckpointError(source, `__metadata__.inference.${field} must be ${want}`);
  if (!isObject(v)) throw new CheckpointError(source, '__metadata__.inference must be a JSON object');
  if (!Number.isInteger(v.inputSize) || (v.inputSize as number) < 1)
    throw bad('inputSize', 'a positive integer');
  if (
    !Array.isArray(v.channels) ||
    v.channels.length === 0 ||
    !v.channels.every((c) => typeof c === 'string')
  )
    throw bad('channels', 'a non-empty list of channel names');
  const pre = v.preprocess;
  if (!isObject(pre) || typeof pre.name !== 'string' || !isObject(pre.options))
    throw bad('preprocess', 'an object {name, options}');
  if (v.output !== 'logits') throw bad('output', '"logits"');
  const t = v.threshold;
  if (typeof t !== 'number' || !(t > 0 && t < 1)) throw bad('threshold', 'a number in (0, 1)');
  if (typeof v.postprocess !== 'string') throw bad('postprocess', 'a string of steps');
  return {
    inputSize: v.inputSize as number,
    channels: [...(v.channels as string[])],
    preprocess: { name: pre.name, options: { ...pre.options } },
    output: 'logits',
    threshold: t,
    postprocess: v.postprocess,
  };
}

interface NonFinite {
  key: string;
  nan: number;
  inf: number;
  size: number;
}

function reportNonFinite(source: string, bad: NonFinite[], options: ParseCheckpointOptions): void {
  const policy = options.nonFinite ?? 'error';
  if (bad.length === 0 || policy === 'allow') return;
  const first = bad[0];
  const problem =
    `"${first.key}" holds ${first.nan} NaN and ${first.inf} infinite value(s) of ${first.size}` +
    (bad.length > 1 ? ` (and ${bad.length - 1} more tensor(s) likewise)` : '') +
    ': a diverged or damaged model';
  if (policy === 'error') {
    throw new CheckpointError(source, `${problem}; pass nonFinite: 'allow' to load it anyway`);
  }
  options.onWarning?.(`checkpoint ${source}: ${problem}`);
}

/**
 * Parses checkpoint bytes (or a plain safetensors state dict, e.g. one saved from PyTorch, or a PyTorch `.pt`
 * state dict: see parseTorchCheckpoint). Tensors with NaN or ±Inf are refused unless `options.nonFinite` says
 * otherwise.
 */
export function parseCheckpoint(
  bytes: Uint8Array,
  source = '<bytes>',
  options: ParseCheckpointOptions = {},
): Checkpoint {
  if (torchFormat(bytes) !== null) return parseTorchCheckpoint(bytes, source, options);
  const file = parseSafetensors(bytes, source);
  const model = new Map<string, HostTensor>();
  const optTensors = new Map<string, HostTensor>();
  const bad: NonFinite[] = [];
  for (const [key, e] of file.tensors) {
    if (key.startsWith(OPTIMIZER_PREFIX))
      optTensors.set(key.slice(OPTIMIZER_PREFIX.length), toHost(source, key, e, bad));
    else model.set(key, toHost(source, key, e, bad));
  }
  reportNonFinite(source, bad, options);
  const raw = file.metadata;
  const opt = parseJson<Omit<OptimizerStateInput, 'tensors'>>(source, 'optimizer', raw.optimizer);
  if (!opt && optTensors.size > 0)
    throw new CheckpointError(source, `${optTensors.size} optimizer tensors but no __metadata__.optimizer`);
  const epoch = raw.epoch === undefined ? undefined : Number(raw.epoch);
  if (epoch !== undefined && !Number.isFinite(epoch))
    throw new CheckpointError(source, `__metadata__.epoch "${raw.epoch}" is not a number`);
  return {
    model,
    optimizer: opt ? { ...opt, tensors: optTensors } : null,
    scheduler: parseJson<SchedulerState>(source, 'scheduler', raw.scheduler) ?? null,
    metadata: {
      format: raw.format,
      modelName: raw.model,
      config: parseJson(source, 'config', raw.config),
      epoch,
      metrics: parseJson(source, 'metrics', raw.metrics),
      inference:
        raw.inference === undefined
          ? undefined
          : checkInferenceSpec(parseJson(source, 'inference', raw.inference), source),
      versions: parseJson(source, 'versions', raw.versions),
    },
    rawMetadata: raw,
    source,
  };
}

/**
 * A PyTorch `torch.save` state dict (zip format, or the legacy format of PyTorch < 1.6) as a checkpoint with no
 * metadata: float32/64/16 and bfloat16 tensors become f32, int64/int32 counters i32, so `loadStateDict` takes it
 * as it is. The pickle is read by a safe subset that calls nothing but tensor rebuilds and OrderedDict.
 */
export function parseTorchCheckpoint(
  bytes: Uint8Array,
  source = '<bytes>',
  options: ParseCheckpointOptions = {},
): Checkpoint {
  let entries: Map<string, SafetensorsEntry>;
  try {
    entries = readTorchStateDict(bytes);
  } catch (e) {
    if (e instanceof TorchFileError) throw new CheckpointError(source, `PyTorch file: ${e.message}`);
    throw e;
  }
  const model = new Map<string, HostTensor>();
  const bad: NonFinite[] = [];
  for (const [key, e] of entries) model.set(key, toHost(source, key, e, bad));
  reportNonFinite(source, bad, options);
  return { model, optimizer: null, scheduler: null, metadata: {}, rawMetadata: {}, source };
}

/**
 * A JSON entry of the checkpoint's `__metadata__` (undefined when absent); bad JSON is a CheckpointError naming
 * the file and the key, not a bare SyntaxError.
 */
export function checkpointMetadataJson<T = unknown>(ck: Checkpoint, key: string): T | undefined {
  return parseJson<T>(ck.source, key, ck.rawMetadata[key]);
}

export interface ApplyTargets extends LoadStateDictOptions {
  model: AnyModule;
  optimizer?: AnyOptimizer;
  scheduler?: Scheduler;
}

/** Loads a parsed checkpoint into a model (and optimizer, scheduler); all checks happen before any copy. */
export function applyCheckpoint(ck: Checkpoint, targets: ApplyTargets, source = '<bytes>'): void {
  if (targets.optimizer && !ck.optimizer) throw new CheckpointError(source, 'has no optimizer state');
  if (targets.scheduler && !ck.scheduler) throw new CheckpointError(source, 'has no scheduler state');
  targets.model.loadStateDict(ck.model, { strict: targets.strict });
  if (targets.optimizer && ck.optimizer) targets.optimizer.loadStateDict(ck.optimizer);
  if (targets.scheduler && ck.scheduler) targets.scheduler.loadStateDict(ck.scheduler);
}
