/** Layers without parameters: activations, pooling, dropout, up-sampling, identity. */
import { Rng, relu, sigmoid, type Tensor } from '@mriseg/tensor-wgsl';
import type { Pair } from '../functional/conv2d.js';
import { dropout } from '../functional/dropout.js';
import { type AvgPool2dOptions, avgPool2d, maxPool2d, type Pool2dOptions } from '../functional/pool.js';
import { type UpsampleOptions, upsample } from '../functional/upsample.js';
import { defaultRng } from '../init.js';
import { Module } from '../module.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** Returns its input unchanged (the same tensor). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: Pool2dOptions = {},
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly options: AvgPool2dOptions = {},
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.options);
  }
}

/** Dropout with its own mask generator: `rng`, or one seeded from the default generator at construction. */
export class Dropout extends Module {
  readonly rng: Rng;

  constructor(
    readonly p = 0.5,
    options: { rng?: Rng } = {},
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p = ${p} must be in [0, 1]`);
    this.rng = options.rng ?? new Rng(defaultRng().nextUint32());
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.rng);
  }
}

export class Upsample extends Module {
  constructor(readonly options: UpsampleOptions) {
    super();
  }

  forward(x: Tensor): Tensor {
    return upsample(x, this.options);
  }
}
