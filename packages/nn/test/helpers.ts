/** Test helpers: golden fixtures, tolerances, and upload/readback shortcuts. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { readSafetensorsFile } from '@mriseg/tensor-wgsl/node';
import { entryToFloat32, type SafetensorsFile } from '@mriseg/tensor-wgsl/safetensors';
import { expect } from 'vitest';

export const GOLDEN_DIR = fileURLToPath(new URL('../../../../shared/golden/', import.meta.url));

export interface Golden {
  file: SafetensorsFile;
  meta: Record<string, string>;
  /** Values of an entry as f32. */
  get(name: string): Float32Array;
  shape(name: string): number[];
  /** Uploads an entry. */
  t(name: string, requiresGrad?: boolean): Tensor;
}

/** Loads golden/<rel>.safetensors; fails (never skips) when it is missing. */
export function golden(rel: string): Golden {
  const path = `${GOLDEN_DIR}${rel}.safetensors`;
  if (!existsSync(path)) throw new Error(`golden fixture missing: ${path}`);
  const file = readSafetensorsFile(path);
  const entry = (name: string) => {
    const e = file.tensors.get(name);
    if (!e)
      throw new Error(`golden ${rel} has no entry "${name}" (has ${[...file.tensors.keys()].join(', ')})`);
    return e;
  };
  return {
    file,
    meta: file.metadata,
    get: (name) => entryToFloat32(entry(name)),
    shape: (name) => entry(name).shape,
    t: (name, requiresGrad = false) =>
      tensor(entryToFloat32(entry(name)), entry(name).shape, { requiresGrad }),
  };
}

/** ‖a − b‖₂ / ‖b‖₂ (absolute when b is all zeros). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relL2: lengths ${a.length} and ${b.length} differ`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export const FWD_TOL = 1e-4;
export const GRAD_TOL = 1e-3;

/** Expects relative L2 error ≤ tol and returns it (for reports). */
export async function expectClose(
  label: string,
  actual: Tensor | ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
): Promise<number> {
  const a = 'buffer' in actual ? await (actual as Tensor).data() : (actual as ArrayLike<number>);
  const err = relL2(a, expected);
  if (process.env.MRISEG_REPORT) console.log(`${label}: rel L2 ${err.toExponential(2)}`);
  expect(err, `${label}: relative L2 error ${err}`).toBeLessThanOrEqual(tol);
  expect(Number.isFinite(err), `${label}: non-finite`).toBe(true);
  return err;
}

/** Deterministic pseudo-random values in [-1, 1) for CPU references (independent of the library's Rng). */
export function values(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

export const up = (v: ArrayLike<number>, shape: number[], requiresGrad = false): Tensor =>
  tensor(Float32Array.from(v), shape, { requiresGrad });

/**
 * Central finite differences of a scalar function f of a flat float64 input, at every element.
 * With a float64 reference f the truncation error (h²) dominates; h = 1e-4 keeps it near 1e-8.
 */
export function finiteDiff(f: (x: Float64Array) => number, x: Float64Array, h = 1e-4): Float64Array {
  const g = new Float64Array(x.length);
  const y = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    y[i] = x[i] + h;
    const fp = f(y);
    y[i] = x[i] - h;
    const fm = f(y);
    y[i] = x[i];
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Σ out · dout: the scalar whose gradient is the backward of an op with upstream gradient dout. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
