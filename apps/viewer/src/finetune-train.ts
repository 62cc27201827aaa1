/**
 * The GPU side of fine-tuning, apart from the worker's messaging so that Node tests run it on Dawn: the training
 * mode, the loss, one Adam step, and the checkpoint a fine-tuned model is saved as.
 */
import type { SegmentationModel } from '@mriseg/models';
import {
  type Adam,
  BatchNorm2d,
  bceDiceLoss,
  diceLoss,
  type InferenceSpec,
  serializeCheckpoint,
} from '@mriseg/nn';
import { add, mul, scope, type Tensor, tensor } from '@mriseg/tensor-wgsl';
import type { BatchSampler } from './finetune.js';
import type { FinetuneOptions } from './model-protocol.js';

/**
 * Training mode with the BatchNorm statistics frozen: a fine-tuning batch is a few augmented copies of one
 * patient's slices, whose batch statistics are far from the ones the model was trained with, and would also drag
 * the running statistics there. The convolutions and the BatchNorm scales and shifts train.
 */
export function fineTuneMode(m: SegmentationModel): void {
  m.train();
  for (const mod of m.modules()) if (mod instanceof BatchNorm2d) mod.training = false;
}

export function lossOf(kind: FinetuneOptions['loss']): (logits: Tensor, target: Tensor) => Tensor {
  return kind === 'bce-dice' ? (l, t) => bceDiceLoss(l, t) : (l, t) => diceLoss(l, t);
}

/** One optimizer step on a host batch; returns the loss tensor (detached, the caller reads and frees it). */
export function trainStep(
  m: SegmentationModel,
  opt: Adam,
  loss: ReturnType<typeof lossOf>,
  b: ReturnType<BatchSampler['next']>,
): Tensor {
  return scope(() => {
    opt.zeroGrad();
    const [n, , h, w] = b.shape;
    const x = tensor(b.image, b.shape);
    const y = tensor(b.mask, [n, 1, h, w]);
    const heads = m.forwardHeads(x);
    // Deep supervision: the mean of the heads' losses, as `mriseg train`.
    let l = loss(heads[0], y);
    for (let i = 1; i < heads.length; i++) l = add(l, loss(heads[i], y));
    if (heads.length > 1) l = mul(l, 1 / heads.length);
    l.backward();
    opt.step();
    return l.detach();
  });
}

/**
 * The model as `mriseg train` saves it (PyTorch keys, model config, inference spec), so that `mriseg evaluate`
 * and `predict` load it; `extra` adds string entries to `__metadata__` (the fine-tuning's provenance).
 */
export function finetunedCheckpoint(
  m: SegmentationModel,
  inference: InferenceSpec,
  extra: Record<string, string>,
): Promise<Uint8Array> {
  return serializeCheckpoint({
    model: m,
    metadata: { modelName: m.architecture, config: m.config(), inference, extra },
  });
}
