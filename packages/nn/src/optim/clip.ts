import {
  abs,
  add,
  max,
  maximum,
  mul,
  noGrad,
  ShapeError,
  scope,
  sqrt,
  sum,
  type Tensor,
  zeros,
} from '@mriseg/tensor-wgsl';
import { scaleByClipCoefficient } from './kernels.js';

/**
 * torch.nn.utils.clip_grad_norm_: the norm of all gradients together (2-norm, or ∞ for the largest magnitude),
 * then every gradient × min(1, maxNorm / (norm + 1e-6)), in place. Returns the total norm as a one-element
 * tensor (read it with `item()` when needed; nothing is read back here).
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType: 2 | 'inf' = 2): Tensor {
  if (!(maxNorm >= 0)) throw new ShapeError('clipGradNorm', `maxNorm ${maxNorm} must be ≥ 0`);
  const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
  return noGrad(() =>
    scope(() => {
      if (grads.length === 0) return zeros([]);
      const parts = grads.map((g) => (normType === 'inf' ? max(abs(g)) : sum(mul(g, g))));
      let total = parts[0];
      for (const part of parts.slice(1)) total = normType === 'inf' ? maximum(total, part) : add(total, part);
      const norm = normType === 'inf' ? total : sqrt(total);
      for (const g of grads) scaleByClipCoefficient(g, norm, maxNorm);
      return norm;
    }),
  );
}
