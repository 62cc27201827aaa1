/** Building blocks shared by the architectures. */

import { BatchNorm2d, Conv2d, Module, maxPool2d, ReLU, Sequential } from '@mriseg/nn';
import { type Rng, ShapeError, type Tensor } from '@mriseg/tensor-wgsl';
import { releaseInference } from './inference-graph.js';

/** Modules run in order under the names they were given (PyTorch's `Sequential(OrderedDict(...))`). */
export class NamedSequential extends Module {
  private readonly order: Module[] = [];

  constructor(entries: [string, Module][]) {
    super();
    for (const [name, m] of entries) {
      this.registerModule(name, m);
      this.order.push(m);
    }
  }

  forward(x: Tensor): Tensor {
    return Sequential.forwardChain(this.order, x);
  }

  /** forward(concat(xs, 1)) without making the concatenation: the first convolution reads the parts in place. */
  forwardConcat(xs: readonly Tensor[]): Tensor {
    return Sequential.forwardChain(this.order, xs);
  }
}

/**
 * [conv3×3 (no bias) → BN → ReLU] × 2 with children `${prefix}conv1`, `${prefix}norm1`, `${prefix}relu1`, … — the
 * reference U-Net's `_block` (prefix `enc1`, `bottleneck`, …) and UNet++'s nodes (no prefix).
 */
export function convBlock(inChannels: number, features: number, prefix: string, rng?: Rng): NamedSequential {
  return new NamedSequential([
    [`${prefix}conv1`, new Conv2d(inChannels, features, 3, { padding: 1, bias: false, rng })],
    [`${prefix}norm1`, new BatchNorm2d(features)],
    [`${prefix}relu1`, new ReLU()],
    [`${prefix}conv2`, new Conv2d(features, features, 3, { padding: 1, bias: false, rng })],
    [`${prefix}norm2`, new BatchNorm2d(features)],
    [`${prefix}relu2`, new ReLU()],
  ]);
}

/** Options every architecture takes. */
export interface ModelOptions {
  inChannels?: number;
  outChannels?: number;
  /** Width of the first level (f); level i has f·2^i channels. */
  features?: number;
  /** Generator for the initial weights (the default generator of @mriseg/nn otherwise). */
  rng?: Rng;
}

export type ResolvedModelOptions = Required<Omit<ModelOptions, 'rng'>> & { rng?: Rng };

export function resolveOptions(o: ModelOptions): ResolvedModelOptions {
  const r = {
    inChannels: o.inChannels ?? 3,
    outChannels: o.outChannels ?? 1,
    features: o.features ?? 32,
    rng: o.rng,
  };
  for (const [k, v] of Object.entries(r)) {
    if (k !== 'rng' && (!Number.isInteger(v) || (v as number) < 1))
      throw new Error(`model option ${k} = ${v} must be a positive integer`);
  }
  return r;
}

/**
 * A segmentation network: `forward` gives the logits used at inference, `forwardHeads` every output that
 * training supervises (one for most models, one per head with deep supervision).
 */
export abstract class SegmentationModel extends Module {
  abstract readonly architecture: string;
  readonly options: ResolvedModelOptions;

  constructor(options: ModelOptions) {
    super();
    this.options = resolveOptions(options);
  }

  /**
   * Checks an input before the forward pass: (N, inChannels, H, W) with H and W multiples of 16. Four 2×2 poolings
   * halve the size four times and the decoder concatenates each up-sampled feature with its skip, so any other
   * size would fail deep inside with a concatenation shape error.
   */
  protected checkInput(x: Tensor): void {
    const [n, c, h, w] = x.shape;
    if (x.rank !== 4 || c !== this.options.inChannels) {
      throw new ShapeError(
        this.architecture,
        `input ${x.describe()} must be (batch, ${this.options.inChannels} channels, height, width)`,
      );
    }
    if (h % 16 !== 0 || w % 16 !== 0 || h === 0 || w === 0 || n === 0) {
      throw new ShapeError(
        this.architecture,
        `input ${x.describe()}: height ${h} and width ${w} must be multiples of 16 (the model pools 4 times by 2)`,
      );
    }
  }

  /** Every supervised output; a single-head model returns its logits. */
  forwardHeads(x: Tensor): Tensor[] {
    return [this.forward(x)];
  }

  /** The options to rebuild this model with `createModel` (saved in checkpoints). */
  config(): Record<string, unknown> {
    const { inChannels, outChannels, features } = this.options;
    return { architecture: this.architecture, inChannels, outChannels, features };
  }

  /** Frees the parameters and buffers, and the captured inference batches of `predictVolume`. */
  override dispose(): void {
    releaseInference(this);
    super.dispose();
  }
}

/**
 * The contracting path shared by the U-Net variants: encoder i runs on the 2×2 max-pool of encoder i−1's output
 * (the first on the input), the bottleneck on the pool of the last. Returns the skips and the bottleneck output.
 */
export function contract(
  encoders: readonly Module[],
  bottleneck: Module,
  x: Tensor,
): { skips: Tensor[]; bottom: Tensor } {
  const skips: Tensor[] = [];
  let h = x;
  for (let i = 0; i < encoders.length; i++) {
    h = encoders[i].forward(i === 0 ? h : maxPool2d(h, 2));
    skips.push(h);
  }
  return { skips, bottom: bottleneck.forward(maxPool2d(h, 2)) };
}
