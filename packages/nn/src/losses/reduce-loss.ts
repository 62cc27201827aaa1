import { mean, sum, type Tensor } from '@mriseg/tensor-wgsl';

export type Reduction = 'mean' | 'sum' | 'none';

/** Applies a PyTorch-style reduction to an elementwise loss map. */
export function reduceLoss(map: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return map;
  return reduction === 'mean' ? mean(map) : sum(map);
}

/** Checks that logits and target agree, naming the loss. */
export function checkPair(loss: string, logits: Tensor, target: Tensor): void {
  if (logits.shape.length !== target.shape.length || logits.shape.some((d, i) => d !== target.shape[i])) {
    throw new Error(
      `${loss}: logits [${logits.shape.join(', ')}] and target [${target.shape.join(', ')}] must have the same shape`,
    );
  }
  if (logits.rank < 2)
    throw new Error(`${loss}: expected (N, C, ...) tensors, got [${logits.shape.join(', ')}]`);
}
