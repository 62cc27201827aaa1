/**
 * PyTorch `torch.save` files holding a state dict, read without Python: the zip format of PyTorch ≥ 1.6
 * (`<name>/data.pkl` + one entry a storage under `<name>/data/`), and the legacy format of earlier releases
 * (pickles back to back — magic number, protocol, system info, the object, the storage keys — then the raw
 * storages). The pickles go through the safe reader of pickle.ts, which calls nothing but the tensor rebuild
 * functions and OrderedDict below. Tensors come back as contiguous little-endian safetensors entries: float32,
 * float64, float16 and bfloat16 as F32; int64 and int32 (BatchNorm's `num_batches_tracked`) as they are.
 */
import { entryToFloat32, type SafetensorsEntry } from '@mriseg/tensor-wgsl/safetensors';
import { unzipSync } from 'fflate';
import { PickleError, type PickleGlobal, PyTuple, TorchObject, typeName, unpickle } from './pickle.js';

/** A problem with a torch file; the caller prefixes the file's name. */
export class TorchFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TorchFileError';
  }
}

interface StorageType {
  storage: string;
  dtype: string;
  itemSize: number;
  /** The safetensors dtype it is read as, or null when it is not read at all. */
  as: 'F32' | 'I64' | 'I32' | null;
  /** The source dtype in safetensors terms, for conversion (floats). */
  from: 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | null;
}

const STORAGE_TYPES: StorageType[] = [
  { storage: 'FloatStorage', dtype: 'float32', itemSize: 4, as: 'F32', from: 'F32' },
  { storage: 'DoubleStorage', dtype: 'float64', itemSize: 8, as: 'F32', from: 'F64' },
  { storage: 'HalfStorage', dtype: 'float16', itemSize: 2, as: 'F32', from: 'F16' },
  { storage: 'BFloat16Storage', dtype: 'bfloat16', itemSize: 2, as: 'F32', from: 'BF16' },
  { storage: 'LongStorage', dtype: 'int64', itemSize: 8, as: 'I64', from: 'I64' },
  { storage: 'IntStorage', dtype: 'int32', itemSize: 4, as: 'I32', from: 'I32' },
  { storage: 'ShortStorage', dtype: 'int16', itemSize: 2, as: null, from: null },
  { storage: 'CharStorage', dtype: 'int8', itemSize: 1, as: null, from: null },
  { storage: 'ByteStorage', dtype: 'uint8', itemSize: 1, as: null, from: null },
  { storage: 'BoolStorage', dtype: 'bool', itemSize: 1, as: null, from: null },
  { storage: 'ComplexFloatStorage', dtype: 'complex64', itemSize: 8, as: null, from: null },
  { storage: 'ComplexDoubleStorage', dtype: 'complex128', itemSize: 16, as: null, from: null },
  { storage: 'QInt8Storage', dtype: 'qint8', itemSize: 1, as: null, from: null },
  { storage: 'QUInt8Storage', dtype: 'quint8', itemSize: 1, as: null, from: null },
  { storage: 'QInt32Storage', dtype: 'qint32', itemSize: 4, as: null, from: null },
];

/** A storage's bytes; in the legacy format they follow the pickle, so they are filled in after it is read. */
class Storage {
  bytes: Uint8Array | null = null;
  constructor(
    readonly type: StorageType,
    readonly key: string,
    readonly numel: number,
    /** A view into another storage (legacy `view_metadata`): that storage and the element offset. */
    readonly view: { root: Storage; offset: number } | null = null,
  ) {}

  data(): Uint8Array {
    if (this.view) {
      const root = this.view.root.data();
      const start = this.view.offset * this.type.itemSize;
      return root.subarray(start, start + this.numel * this.type.itemSize);
    }
    if (!this.bytes) throw new TorchFileError(`storage ${this.key} has no data in the file`);
    return this.bytes;
  }
}

class TorchTensor extends TorchObject {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {
    super();
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every(isInt)) throw new TorchFileError(`${what} is not a tuple of sizes`);
  return [...v] as number[];
}

function rebuildTensor(args: unknown[]): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof Storage)) throw new TorchFileError(`a tensor rebuilt from a ${typeName(storage)}`);
  if (!isInt(offset)) throw new TorchFileError('a tensor with a bad storage offset');
  const s = intList(size, 'a tensor size');
  const st = intList(stride, 'a tensor stride');
  if (s.length !== st.length) throw new TorchFileError('a tensor whose size and stride differ in length');
  return new TorchTensor(storage, offset, s, st);
}

function tensorArg(v: unknown, fn: string): TorchTensor {
  if (!(v instanceof TorchTensor)) throw new TorchFileError(`${fn} of a ${typeName(v)}, not a tensor`);
  return v;
}

/** The globals a state dict's pickle may name; nothing else is resolved. */
function allowedGlobals(): Map<string, PickleGlobal> {
  const g = new Map<string, PickleGlobal>();
  g.set('collections.OrderedDict', { call: () => new Map() });
  g.set('torch._utils._rebuild_tensor', { call: rebuildTensor });
  g.set('torch._utils._rebuild_tensor_v2', { call: rebuildTensor });
  g.set('torch._utils._rebuild_parameter', {
    call: (a) => tensorArg(a[0], '_rebuild_parameter'),
  });
  g.set('torch._utils._rebuild_parameter_with_state', {
    call: (a) => tensorArg(a[0], '_rebuild_parameter_with_state'),
  });
  const classes = new Set<unknown>();
  for (const name of ['torch.Tensor', 'torch.nn.parameter.Parameter']) {
    const cls = { value: name };
    classes.add(cls);
    g.set(name, cls);
  }
  // A tensor (sub)class rebuilt through its base: func(*args), the class being Tensor or Parameter.
  g.set('torch._tensor._rebuild_from_type_v2', {
    call: ([func, cls, args]) => {
      if (!classes.has(cls)) throw new TorchFileError('_rebuild_from_type_v2 of a class other than a tensor');
      const f = func as PickleGlobal;
      if (!f?.call || !Array.isArray(args))
        throw new TorchFileError('_rebuild_from_type_v2 without a rebuild');
      return tensorArg(f.call(args), '_rebuild_from_type_v2');
    },
  });
  for (const t of STORAGE_TYPES) g.set(`torch.${t.storage}`, { value: t });
  return g;
}

function storageType(v: unknown): StorageType {
  const t = (v as PickleGlobal | null)?.value;
  if (!STORAGE_TYPES.includes(t as StorageType))
    throw new TorchFileError(`a storage whose type is a ${typeName(v)}`);
  return t as StorageType;
}

/** A storage reference: ('storage', type, key, location, numel[, view_metadata of the legacy format]). */
function storageRef(pid: unknown): { type: StorageType; key: string; numel: number; view: unknown } {
  if (!(pid instanceof PyTuple) || pid[0] !== 'storage' || pid.length < 5)
    throw new TorchFileError(`a persistent id that is not a storage (${typeName(pid)})`);
  const key = String(pid[2]);
  const numel = pid[4];
  if (!isInt(numel)) throw new TorchFileError(`storage ${key} has a bad element count`);
  return { type: storageType(pid[1]), key, numel, view: pid[5] };
}

/** Storage references of the zip format: ('storage', type, key, location, numel). */
function zipStorages(entries: Record<string, Uint8Array>, prefix: string) {
  const cache = new Map<string, Storage>();
  return (pid: unknown): Storage => {
    const { type, key, numel } = storageRef(pid);
    const known = cache.get(key);
    if (known) return known;
    const bytes = entries[`${prefix}data/${key}`];
    if (!bytes) throw new TorchFileError(`storage ${key} is missing (no entry ${prefix}data/${key})`);
    if (bytes.length < numel * type.itemSize)
      throw new TorchFileError(
        `storage ${key} holds ${bytes.length} bytes, ${numel * type.itemSize} expected (truncated)`,
      );
    const s = new Storage(type, key, numel);
    s.bytes = bytes;
    cache.set(key, s);
    return s;
  };
}

/** Storage references of the legacy format: ('storage', type, key, location, numel, view_metadata). */
function legacyStorages(roots: Map<string, Storage>) {
  const views = new Map<string, Storage>();
  return (pid: unknown): Storage => {
    const { type, key, numel, view } = storageRef(pid);
    let root = roots.get(key);
    if (!root) {
      root = new Storage(type, key, numel);
      roots.set(key, root);
    }
    if (view === null || view === undefined) return root;
    if (!(view instanceof PyTuple) || view.length !== 3 || !isInt(view[1]) || !isInt(view[2]))
      throw new TorchFileError(`storage ${key} has a bad view description`);
    const viewKey = String(view[0]);
    let s = views.get(viewKey);
    if (!s) {
      if (view[1] + view[2] > numel)
        throw new TorchFileError(`storage view ${viewKey} passes the end of ${key}`);
      s = new Storage(type, viewKey, view[2], { root, offset: view[1] });
      views.set(viewKey, s);
    }
    return s;
  };
}

const MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** What kind of torch file the bytes start like, or null when they look like none. */
export function torchFormat(bytes: Uint8Array): 'zip' | 'legacy' | 'tar' | null {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)
    return 'zip';
  // The legacy format opens with a pickle (PROTO n) of the magic number, a 10-byte LONG1.
  if (bytes.length >= 5 && bytes[0] === 0x80 && bytes[2] === 0x8a && bytes[3] === 0x0a) return 'legacy';
  if (bytes.length >= 262 && new TextDecoder('latin1').decode(bytes.subarray(257, 262)) === 'ustar')
    return 'tar';
  return null;
}

function readZip(bytes: Uint8Array): { value: unknown } {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new TorchFileError(`a damaged or truncated zip archive (${(e as Error).message})`);
  }
  const pkl = Object.keys(entries).find((n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl');
  if (!pkl) throw new TorchFileError('a zip archive without data.pkl: not a torch.save file');
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const order = entries[`${prefix}byteorder`];
  if (order && new TextDecoder().decode(order).trim() !== 'little')
    throw new TorchFileError('big-endian storages, which are not supported');
  const persistentLoad = zipStorages(entries, prefix);
  const read = inPickle('data.pkl', () =>
    unpickle(entries[pkl], { globals: allowedGlobals(), persistentLoad }),
  );
  return { value: read.value };
}

function inPickle<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PickleError || e instanceof TorchFileError)
      throw new TorchFileError(`${where}: ${e.message}`);
    throw e;
  }
}

function readLegacy(bytes: Uint8Array): { value: unknown } {
  const none = { globals: new Map<string, PickleGlobal>() };
  const magic = inPickle('magic number', () => unpickle(bytes, none));
  if (magic.value !== MAGIC)
    throw new TorchFileError('a pickle that is not a torch.save file (wrong magic number)');
  const proto = inPickle('protocol', () => unpickle(bytes, none, magic.end));
  if (proto.value !== LEGACY_PROTOCOL)
    throw new TorchFileError(`legacy format protocol ${String(proto.value)}, not ${LEGACY_PROTOCOL}`);
  const info = inPickle('system info', () => unpickle(bytes, none, proto.end));
  const sys = info.value instanceof Map ? info.value : new Map();
  if (sys.get('little_endian') === false)
    throw new TorchFileError('big-endian storages, which are not supported');
  const roots = new Map<string, Storage>();
  const obj = inPickle('the pickled object', () =>
    unpickle(bytes, { globals: allowedGlobals(), persistentLoad: legacyStorages(roots) }, info.end),
  );
  const keysPickle = inPickle('storage keys', () => unpickle(bytes, none, obj.end));
  const keys = keysPickle.value;
  if (!Array.isArray(keys)) throw new TorchFileError('the storage key list is not a list');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keysPickle.end;
  for (const k of keys) {
    const s = roots.get(String(k));
    if (!s) throw new TorchFileError(`storage ${String(k)} is listed but no tensor uses it`);
    if (pos + 8 > bytes.length) throw new TorchFileError(`the file ends before storage ${s.key} (truncated)`);
    const n = dv.getBigInt64(pos, true);
    if (n !== BigInt(s.numel))
      throw new TorchFileError(`storage ${s.key} holds ${n} elements, the pickle says ${s.numel}`);
    pos += 8;
    const len = s.numel * s.type.itemSize;
    if (pos + len > bytes.length)
      throw new TorchFileError(`the file ends inside storage ${s.key} (truncated)`);
    s.bytes = bytes.subarray(pos, pos + len);
    pos += len;
  }
  return { value: obj.value };
}

/** Where a state dict sits in a training checkpoint saved as a dict ({'state_dict': …, 'epoch': …}). */
const NESTED_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'weights'];

const allTensors = (m: Map<unknown, unknown>) =>
  m.size > 0 && [...m.values()].every((v) => v instanceof TorchTensor);

function stateDictOf(value: unknown): Map<unknown, unknown> {
  if (!(value instanceof Map))
    throw new TorchFileError(`holds a Python ${typeName(value)}, not a state dict (save model.state_dict())`);
  if (allTensors(value)) return value;
  for (const k of NESTED_KEYS) {
    const v = value.get(k);
    if (v instanceof Map && allTensors(v)) return v;
  }
  const keys = [...value.keys()].slice(0, 6).map(String);
  const bad = [...value.entries()].find(([, v]) => !(v instanceof TorchTensor));
  throw new TorchFileError(
    `holds a dict that is not a state dict of tensors: "${String(bad?.[0])}" is a Python ${typeName(bad?.[1])} (keys: ${keys.join(', ')}${value.size > 6 ? ', …' : ''})`,
  );
}

/** A tensor's elements in order (its strides followed), little-endian, as a safetensors entry. */
function toEntry(key: string, t: TorchTensor): SafetensorsEntry {
  const { type } = t.storage;
  if (!type.as || !type.from)
    throw new TorchFileError(
      `"${key}" has dtype ${type.dtype}; only float32, float64, float16 and bfloat16 tensors (and int64/int32 counters) are read`,
    );
  const src = t.storage.data();
  const size = type.itemSize;
  const numel = t.size.reduce((a, b) => a * b, 1);
  let last = t.offset;
  for (let d = 0; d < t.size.length; d++) if (t.size[d] > 0) last += (t.size[d] - 1) * t.stride[d];
  if (numel > 0 && (last + 1) * size > src.length)
    throw new TorchFileError(
      `"${key}" [${t.size.join(', ')}] reaches element ${last} of a storage of ${src.length / size}`,
    );
  const out = new Uint8Array(numel * size);
  const idx = new Array<number>(t.size.length).fill(0);
  let from = t.offset;
  for (let i = 0; i < numel; i++) {
    out.set(src.subarray(from * size, from * size + size), i * size);
    for (let d = t.size.length - 1; d >= 0; d--) {
      idx[d]++;
      from += t.stride[d];
      if (idx[d] < t.size[d]) break;
      from -= t.stride[d] * t.size[d];
      idx[d] = 0;
    }
  }
  const entry: SafetensorsEntry = { dtype: type.from, shape: [...t.size], bytes: out };
  if (type.as === type.from) return entry;
  const f = entryToFloat32(entry);
  return { dtype: 'F32', shape: entry.shape, bytes: new Uint8Array(f.buffer) };
}

/**
 * The state dict of a `torch.save` file (zip or legacy) as safetensors entries by key (float tensors as F32).
 * Throws TorchFileError; the caller names the file.
 */
export function readTorchStateDict(bytes: Uint8Array): Map<string, SafetensorsEntry> {
  const format = torchFormat(bytes);
  if (format === 'tar')
    throw new TorchFileError('the tar format of PyTorch before 0.1.10, which is not supported; re-save it');
  if (format === null)
    throw new TorchFileError('not a torch.save file (neither a zip archive nor a legacy pickle)');
  const { value } = format === 'zip' ? readZip(bytes) : readLegacy(bytes);
  const dict = stateDictOf(value);
  const out = new Map<string, SafetensorsEntry>();
  for (const [k, v] of dict) {
    if (typeof k !== 'string') throw new TorchFileError(`a state dict key that is a ${typeName(k)}`);
    out.set(k, toEntry(k, v as TorchTensor));
  }
  return out;
}
