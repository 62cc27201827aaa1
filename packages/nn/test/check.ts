/**
 * Checks an op against a float64 CPU reference: the forward output, and the gradient of Σ out·dout with respect
 * to each input against central finite differences of the reference (at every element, or a sample of them).
 */
import { noGrad, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import { expect } from 'vitest';
import { dot, FWD_TOL, GRAD_TOL, relL2, values } from './helpers.js';

export interface OpInput {
  name: string;
  shape: number[];
  /** Values; random in [-1, 1) when missing. */
  data?: ArrayLike<number>;
  /** Compare this input's gradient (default true). */
  grad?: boolean;
}

export interface CheckResult {
  forward: number;
  grads: Record<string, number>;
}

export async function checkOp(
  label: string,
  inputs: OpInput[],
  gpu: (xs: Tensor[]) => Tensor,
  ref: (xs: Float64Array[]) => Float64Array,
  options: { samples?: number; h?: number; seed?: number } = {},
): Promise<CheckResult> {
  const seed = options.seed ?? 7;
  // Inputs rounded to f32 so that both sides see the same numbers.
  const data = inputs.map((inp, i) => {
    const n = inp.shape.reduce((a, b) => a * b, 1);
    return Float64Array.from(Float32Array.from(inp.data ?? values(n, seed * 31 + i)));
  });
  const ts = inputs.map((inp, i) =>
    tensor(Float32Array.from(data[i]), inp.shape, { requiresGrad: inp.grad !== false }),
  );
  const out = gpu(ts);
  const expected = ref(data);
  const got = await out.data();
  const forward = relL2(got, expected);
  expect(forward, `${label}: forward rel L2 ${forward}`).toBeLessThanOrEqual(FWD_TOL);
  const dout = Float64Array.from(Float32Array.from(values(expected.length, seed * 97 + 5)));
  out.backward(tensor(Float32Array.from(dout), out.shape));
  const grads: Record<string, number> = {};
  for (const [i, inp] of inputs.entries()) {
    if (inp.grad === false) continue;
    const g = ts[i].grad;
    expect(g, `${label}: no gradient for ${inp.name}`).toBeTruthy();
    const analytic = await g!.data();
    const n = data[i].length;
    const idx =
      options.samples && options.samples < n
        ? Array.from({ length: options.samples }, (_, k) => Math.floor(((k + 0.5) * n) / options.samples!))
        : Array.from({ length: n }, (_, k) => k);
    const h = options.h ?? 1e-4;
    const fd = idx.map((j) => {
      const probe = data.map((d) => Float64Array.from(d));
      probe[i][j] = data[i][j] + h;
      const fp = dot(ref(probe), dout);
      probe[i][j] = data[i][j] - h;
      const fm = dot(ref(probe), dout);
      return (fp - fm) / (2 * h);
    });
    const err = relL2(
      idx.map((j) => analytic[j]),
      fd,
    );
    grads[inp.name] = err;
    expect(err, `${label}: gradient of ${inp.name} rel L2 ${err}`).toBeLessThanOrEqual(GRAD_TOL);
  }
  noGrad(() => {
    for (const t of ts) t.dispose();
    out.dispose();
  });
  if (process.env.MRISEG_REPORT)
    console.log(`${label}: forward ${forward.toExponential(2)}, grads ${JSON.stringify(grads)}`);
  return { forward, grads };
}
