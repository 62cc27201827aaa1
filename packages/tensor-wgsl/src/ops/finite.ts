/**
 * Opt-in checks for NaN and ±Inf. Nothing checks values on its own (as in PyTorch, NaN flows through ops without an
 * error): each check reads one number back, so it waits for the GPU — call it where a wrong value must stop work.
 */
import { noGrad } from '../autograd.js';
import type { Tensor } from '../tensor.js';
import { abs } from './elementwise.js';
import { max } from './reduce.js';

/** Whether every value of `t` is finite (`torch.isfinite(t).all()`). */
export async function allFinite(t: Tensor): Promise<boolean> {
  if (t.dtype !== 'f32' || t.size === 0) return true;
  // max() propagates NaN and abs() turns −Inf into +Inf, so one reduction finds both.
  const largest = noGrad(() => {
    const a = abs(t);
    const m = max(a);
    a.dispose();
    return m;
  });
  try {
    return Number.isFinite(await largest.item());
  } finally {
    largest.dispose();
  }
}

/** Throws a RangeError naming `what` when `t` holds NaN or ±Inf. */
export async function assertFinite(t: Tensor, what = t.describe()): Promise<void> {
  if (!(await allFinite(t))) throw new RangeError(`${what} holds NaN or infinite values`);
}
