/** GPU-side helpers shared by the tests: moving arrays between the reference and tensors, and comparisons. */
import { expect } from 'vitest';
import { type DType, mul, Rng, scope, sum, type Tensor, tensor } from '../src/index.js';
import { type ND, nd, numericGrad, randomND, relL2 } from './reference.js';

/** A tensor holding a reference array (float32, or int32 when asked). */
export function up(x: ND, options: { requiresGrad?: boolean; dtype?: DType } = {}): Tensor {
  const values = options.dtype === 'i32' ? Int32Array.from(x.data) : Float32Array.from(x.data);
  return tensor(values, x.shape, options);
}

export async function down(t: Tensor): Promise<ND> {
  return nd(t.shape, await t.data());
}

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

/** Elementwise |a − b| ≤ atol + rtol·|b| with NaN matching NaN; the failure names the first bad element. */
export function expectAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-6 }: Tolerance = {},
  label = '',
): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const b = expected[i];
    const ok = Number.isNaN(b)
      ? Number.isNaN(a)
      : a === b || (Number.isFinite(b) && Math.abs(a - b) <= atol + rtol * Math.abs(b));
    if (!ok) expect.fail(`${label}: element ${i} is ${a}, expected ${b} (rtol ${rtol}, atol ${atol})`);
  }
}

/** Reads a tensor and checks its shape and values against a reference array. */
export async function expectTensor(t: Tensor, ref: ND, tol: Tolerance = {}, label = ''): Promise<void> {
  expect([...t.shape], `${label}: shape`).toEqual(ref.shape);
  expectAllClose(await t.data(), ref.data, tol, label);
}

export interface GradCase {
  inputs: ND[];
  /** Which inputs get `requiresGrad` (default: all). */
  grad?: boolean[];
  gpu: (ts: Tensor[]) => Tensor;
  ref: (xs: ND[]) => ND;
  /** Forward tolerance. */
  fwd?: Tolerance;
  /** Relative L2 tolerance of the gradients. */
  tol?: number;
  eps?: number;
}

/**
 * Checks the GPU autograd gradient of loss = Σ w ⊙ f(x) (w random) against central differences of the same loss
 * evaluated with the float64 reference. Also checks the forward values, and that inputs without requiresGrad get
 * no gradient. Everything the check allocates is released again.
 */
export async function checkGrad(c: GradCase, seed: number, label = ''): Promise<void> {
  const rng = new Rng(seed);
  const wants = c.inputs.map((_, i) => c.grad?.[i] ?? true);
  const ts = c.inputs.map((x, i) => up(x, { requiresGrad: wants[i] }));
  const refOut = c.ref(c.inputs);
  const w = randomND(rng, refOut.shape, -1, 1);
  const wt = up(w);
  const out = scope(() => {
    const o = c.gpu(ts);
    sum(mul(o, wt)).backward();
    return o;
  });
  try {
    await expectTensor(out, refOut, c.fwd ?? { rtol: 1e-5, atol: 1e-5 }, `${label} forward`);
    const loss = (xs: ND[]) => {
      const y = c.ref(xs);
      let s = 0;
      for (let i = 0; i < y.data.length; i++) s += w.data[i] * y.data[i];
      return s;
    };
    const xs = c.inputs.map((x) => ({ shape: x.shape, data: x.data.slice() }));
    for (let i = 0; i < ts.length; i++) {
      if (!wants[i]) {
        expect(ts[i].grad, `${label}: input ${i} without requiresGrad got a gradient`).toBeNull();
        continue;
      }
      const g = ts[i].grad;
      expect(g, `${label}: input ${i} has no gradient`).not.toBeNull();
      expect([...g!.shape], `${label}: gradient shape of input ${i}`).toEqual(c.inputs[i].shape);
      const analytic = await g!.data();
      const numeric = numericGrad(loss, xs, i, c.eps ?? 1e-6);
      const scale = Math.sqrt(numeric.data.reduce((s, v) => s + v * v, 0));
      if (scale < 1e-9) {
        expectAllClose(
          analytic,
          numeric.data,
          { atol: 1e-6, rtol: 0 },
          `${label}: zero gradient of input ${i}`,
        );
      } else {
        const err = relL2(analytic, numeric.data);
        expect(err, `${label}: gradient of input ${i} relative L2 error`).toBeLessThan(c.tol ?? 1e-3);
      }
    }
  } finally {
    out.dispose();
    wt.dispose();
    for (const t of ts) t.dispose();
  }
}
