/** Tensor creation: from typed arrays, fills, ranges and seeded random values. */
import { runtime } from '../device.js';
import { Rng } from '../random.js';
import { checkShape, fmt, numel, type Shape, ShapeError } from '../shape.js';
import { type DType, Tensor } from '../tensor.js';
import { mapElementwise } from './elementwise.js';

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  name?: string;
}

type NumericInput =
  | Float32Array
  | Int32Array
  | Float64Array
  | Uint8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | readonly number[];

/** Uploads values to a new tensor. Without a shape the tensor is 1-D. */
export function tensor(values: NumericInput, shape?: Shape, options: CreateOptions = {}): Tensor {
  const s = shape ?? [values.length];
  checkShape('tensor', s);
  if (numel(s) !== values.length) {
    throw new ShapeError(
      'tensor',
      `${values.length} values do not fill shape ${fmt(s)} (${numel(s)} elements)`,
    );
  }
  const dtype = options.dtype ?? (values instanceof Int32Array ? 'i32' : 'f32');
  let data: Float32Array | Int32Array;
  if (dtype === 'f32')
    data = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
  else data = values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
  const t = Tensor.empty(s, dtype, options.name ?? 'tensor');
  if (data.length > 0) runtime().writeBuffer(t.buffer, data);
  if (options.requiresGrad) t.requiresGrad = true;
  if (options.name) t.name = options.name;
  return t;
}

/** A one-element tensor of shape []. */
export function scalar(value: number, options: CreateOptions = {}): Tensor {
  return tensor([value], [], options);
}

/** A tensor filled with one value, made on the GPU (no upload). */
export function full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  checkShape('full', shape);
  return mapElementwise('full', dtype === 'f32' ? 's0' : 'i32(s0)', [], {
    scalars: [value],
    outDtype: dtype,
    outShape: shape,
  });
}

export const zeros = (shape: Shape, dtype: DType = 'f32') => full(shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'f32') => full(shape, 1, dtype);
export const zerosLike = (t: Tensor) => full(t.shape, 0, t.dtype);
export const onesLike = (t: Tensor) => full(t.shape, 1, t.dtype);

/** 0, 1, …, n−1 (f32 unless dtype says otherwise). */
export function arange(n: number, dtype: DType = 'f32'): Tensor {
  const values = dtype === 'i32' ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = i;
  return tensor(values, [n], { dtype });
}

/** Uniform values in [low, high) from a seeded generator (drawn on the CPU, so runs are reproducible anywhere). */
export function rand(shape: Shape, rng: Rng, low = 0, high = 1): Tensor {
  const v = new Float32Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = low + (high - low) * rng.uniform();
  return tensor(v, shape);
}

/** Normal values (mean, std) from a seeded generator. */
export function randn(shape: Shape, rng: Rng, mean = 0, std = 1): Tensor {
  const v = new Float32Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = mean + std * rng.normal();
  return tensor(v, shape);
}

export { Rng };
