/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON
 * header mapping names to {dtype, shape, data_offsets} plus an optional string map `__metadata__`, then the raw
 * little-endian data. Pure byte-level code, so it runs in Node and in browsers alike.
 */

export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U8'
  | 'U16'
  | 'U32'
  | 'U64'
  | 'BOOL';

export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** The raw bytes of this entry (a view into the file's bytes; copy it to keep it beyond the file's life). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

const DTYPE_SIZE: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  U16: 2,
  U32: 4,
  U64: 8,
  BOOL: 1,
};

export class SafetensorsError extends Error {
  constructor(source: string, problem: string) {
    super(`safetensors ${source}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

/**
 * Parses a safetensors file. `source` names the file in error messages. Checks what the format's reference
 * implementation checks: every offset and size, tensors that tile the data section exactly (no overlap, no gap, no
 * trailing bytes: a file with them is damaged or crafted) and `__metadata__` as an object of strings.
 */
export function parseSafetensors(bytes: Uint8Array, source = '<bytes>'): SafetensorsFile {
  if (bytes.byteLength < 8)
    throw new SafetensorsError(source, `file is ${bytes.byteLength} bytes, too short for a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > bytes.byteLength - 8) {
    throw new SafetensorsError(
      source,
      `header length ${headerLen} runs past the end of the ${bytes.byteLength}-byte file (truncated?)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new SafetensorsError(source, `header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new SafetensorsError(source, 'header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  const spans: { name: string; start: number; end: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        throw new SafetensorsError(source, `__metadata__ is ${describeJson(raw)}, not an object of strings`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string')
          throw new SafetensorsError(source, `__metadata__."${k}" is ${describeJson(v)}, not a string`);
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = e?.dtype as SafetensorsDtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZE))
      throw new SafetensorsError(source, `tensor "${name}" has unknown dtype ${JSON.stringify(e?.dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(source, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((o) => Number.isInteger(o) && o >= 0) ||
      off[0] > off[1]
    ) {
      throw new SafetensorsError(source, `tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const want = numel * DTYPE_SIZE[dtype];
    if (off[1] - off[0] !== want) {
      throw new SafetensorsError(
        source,
        `tensor "${name}" ${dtype}[${shape.join(',')}] needs ${want} bytes but data_offsets span ${off[1] - off[0]}`,
      );
    }
    if (off[1] > dataLen) {
      throw new SafetensorsError(
        source,
        `tensor "${name}" ends at byte ${off[1]} of a ${dataLen}-byte data section (truncated file?)`,
      );
    }
    tensors.set(name, {
      dtype,
      shape: shape as number[],
      bytes: bytes.subarray(dataStart + off[0], dataStart + off[1]),
    });
    spans.push({ name, start: off[0], end: off[1] });
  }
  checkTiling(spans, dataLen, source);
  return { tensors, metadata };
}

/** The tensors must cover the data section back to back: overlapping or unclaimed bytes are refused. */
function checkTiling(
  spans: { name: string; start: number; end: number }[],
  dataLen: number,
  source: string,
): void {
  spans.sort((a, b) => a.start - b.start || a.end - b.end);
  let at = 0;
  let last = '';
  for (const s of spans) {
    if (s.start < at) {
      throw new SafetensorsError(
        source,
        `tensors "${last}" and "${s.name}" overlap (bytes ${s.start}..${at} of the data section are claimed twice)`,
      );
    }
    if (s.start > at) {
      throw new SafetensorsError(source, `bytes ${at}..${s.start} of the data section belong to no tensor`);
    }
    at = s.end;
    last = s.name;
  }
  if (at !== dataLen) {
    throw new SafetensorsError(
      source,
      `${dataLen - at} bytes follow the last tensor (the data section is ${dataLen} bytes, tensors end at ${at})`,
    );
  }
}

function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v} (${JSON.stringify(v)})`;
}

export type SafetensorsInput =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface SafetensorsWriteEntry {
  dtype?: SafetensorsDtype;
  shape: number[];
  data: SafetensorsInput;
}

function defaultDtype(data: SafetensorsInput): SafetensorsDtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Uint16Array) return 'U16';
  if (data instanceof Uint32Array) return 'U32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof BigUint64Array) return 'U64';
  return 'U8';
}

/**
 * Serializes tensors (in the given order; names sorted when `sort` is set, as the Python writer does) with an
 * optional string metadata map. The header is padded with spaces to a multiple of 8 bytes.
 */
export function serializeSafetensors(
  entries: Iterable<[string, SafetensorsWriteEntry]>,
  metadata?: Record<string, string>,
  sort = true,
): Uint8Array {
  let list = [...entries];
  if (sort) list = list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, e] of list) {
    const dtype = e.dtype ?? defaultDtype(e.data);
    const numel = e.shape.reduce((a, b) => a * b, 1);
    if (numel * DTYPE_SIZE[dtype] !== e.data.byteLength) {
      throw new SafetensorsError(
        name,
        `shape [${e.shape.join(',')}] as ${dtype} needs ${numel * DTYPE_SIZE[dtype]} bytes, data has ${e.data.byteLength}`,
      );
    }
    header[name] = { dtype, shape: e.shape, data_offsets: [offset, offset + e.data.byteLength] };
    offset += e.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const [, e] of list) {
    out.set(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength), at);
    at += e.data.byteLength;
  }
  return out;
}

/** An entry's values as a Float32Array (F32 copied out aligned; F64/F16/BF16/integers converted). */
export function entryToFloat32(e: SafetensorsEntry): Float32Array {
  const n = e.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
  const out = new Float32Array(n);
  const size = DTYPE_SIZE[e.dtype];
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (e.dtype) {
      case 'F32':
        out[i] = dv.getFloat32(o, true);
        break;
      case 'F64':
        out[i] = dv.getFloat64(o, true);
        break;
      case 'F16':
        out[i] = halfToFloat(dv.getUint16(o, true));
        break;
      case 'BF16':
        out[i] = bf16ToFloat(dv.getUint16(o, true));
        break;
      case 'I64':
        out[i] = Number(dv.getBigInt64(o, true));
        break;
      case 'U64':
        out[i] = Number(dv.getBigUint64(o, true));
        break;
      case 'I32':
        out[i] = dv.getInt32(o, true);
        break;
      case 'U32':
        out[i] = dv.getUint32(o, true);
        break;
      case 'I16':
        out[i] = dv.getInt16(o, true);
        break;
      case 'U16':
        out[i] = dv.getUint16(o, true);
        break;
      case 'I8':
        out[i] = dv.getInt8(o);
        break;
      default:
        out[i] = dv.getUint8(o);
    }
  }
  return out;
}

/** An IEEE half-precision bit pattern as a number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The IEEE half-precision bit pattern nearest to `x` (rounded to nearest, ties to even, as PyTorch's
 * `.half()`): values past the half range become ±Inf, NaN stays NaN, tiny values become subnormals or ±0.
 */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  // The value rounded to a whole number of half-precision steps at its exponent (subnormal steps below 2^-14).
  const e = exp - 127;
  if (e < -25) return sign;
  const shift = e < -14 ? 13 + (-14 - e) : 13;
  const full = e < -14 ? mant | 0x800000 : mant;
  const halfway = 1 << (shift - 1);
  let q = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  if (rest > halfway || (rest === halfway && q & 1)) q++;
  if (e < -14) return sign | q; // a carry into bit 10 is exactly the smallest normal
  const h = ((e + 15) << 10) + q; // a mantissa carry moves into the exponent, as it should
  return h >= 0x7c00 ? sign | 0x7c00 : sign | h;
}

function bf16ToFloat(b: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setUint32(0, b << 16);
  return buf.getFloat32(0);
}
