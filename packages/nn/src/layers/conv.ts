import type { Rng, Tensor } from '@mriseg/tensor-wgsl';
import { convTranspose2d } from '../functional/conv-transpose2d.js';
import { conv2d, type Pair } from '../functional/conv2d.js';
import { defaultBias, defaultRng, kaimingUniform } from '../init.js';
import { Module } from '../module.js';

const two = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

export interface Conv2dLayerOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  /** Default true. */
  bias?: boolean;
  rng?: Rng;
}

/**
 * Weight and optional bias of a convolution with PyTorch's default initialisation. PyTorch lays the weight out
 * as [out, in, kh, kw] for convolutions and [in, out, kh, kw] for transposed ones.
 */
abstract class ConvBase<O extends Conv2dLayerOptions> extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    readonly options: O,
    transposed: boolean,
  ) {
    super();
    this.kernelSize = two(kernelSize);
    const rng = options.rng ?? defaultRng();
    const shape = transposed
      ? [inChannels, outChannels, ...this.kernelSize]
      : [outChannels, inChannels, ...this.kernelSize];
    this.weight = this.registerParameter('weight', kaimingUniform(shape, Math.sqrt(5), rng));
    this.bias =
      options.bias === false ? null : this.registerParameter('bias', defaultBias(outChannels, shape, rng));
  }
}

/** nn.Conv2d (groups 1, zero padding): weight [out, in, kh, kw], bias [out]. */
export class Conv2d extends ConvBase<Conv2dLayerOptions> {
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: Conv2dLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, options, false);
  }

  forward(x: Tensor): Tensor {
    const { stride, padding, dilation } = this.options;
    return conv2d(x, this.weight, this.bias, { stride, padding, dilation });
  }
}

export interface ConvTranspose2dLayerOptions extends Conv2dLayerOptions {
  outputPadding?: Pair;
}

/** nn.ConvTranspose2d (groups 1): weight [in, out, kh, kw], bias [out]. */
export class ConvTranspose2d extends ConvBase<ConvTranspose2dLayerOptions> {
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: Pair,
    options: ConvTranspose2dLayerOptions = {},
  ) {
    super(inChannels, outChannels, kernelSize, options, true);
  }

  forward(x: Tensor): Tensor {
    const { stride, padding, outputPadding, dilation } = this.options;
    return convTranspose2d(x, this.weight, this.bias, { stride, padding, outputPadding, dilation });
  }
}
