import { concat, needsGrad, type Tensor } from '@mriseg/tensor-wgsl';
import { conv2dBatchNormEval } from '../functional/conv-bn.js';
import { conv2dConcat } from '../functional/conv2d.js';
import { Module } from '../module.js';
import { BatchNorm2d } from './batchnorm.js';
import { Conv2d } from './conv.js';
import { ReLU } from './simple.js';

/**
 * True when `m` is a plain BatchNorm2d and `next` a plain ReLU. A subclass that overrides forward must run its
 * own code, so it is not fused.
 */
function fusesWithRelu(m: Module, next: Module | undefined): m is BatchNorm2d {
  return (
    m instanceof BatchNorm2d &&
    m.forward === BatchNorm2d.prototype.forward &&
    next instanceof ReLU &&
    next.forward === ReLU.prototype.forward
  );
}

const plain = (m: Module | undefined, type: typeof Conv2d | typeof BatchNorm2d | typeof ReLU): boolean =>
  m instanceof type && m.forward === type.prototype.forward;

/**
 * How many modules from `i` on run as one folded inference kernel (Conv2d → eval BatchNorm2d [→ ReLU]): 0 unless
 * the BatchNorm uses running statistics and no gradient is wanted, so the fold changes nothing observable.
 */
function foldableInference(modules: readonly Module[], i: number, xs: readonly Tensor[]): number {
  const conv = modules[i];
  const bn = modules[i + 1];
  if (!plain(conv, Conv2d) || !plain(bn, BatchNorm2d)) return 0;
  const c = conv as Conv2d;
  const b = bn as BatchNorm2d;
  if (b.training || !b.runningMean || needsGrad(...xs, c.weight, c.bias, b.weight, b.bias)) return 0;
  return plain(modules[i + 2], ReLU) ? 3 : 2;
}

/** Runs its modules in order; they are registered as '0', '1', … (PyTorch's keys). */
export class Sequential extends Module {
  private readonly list: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /**
   * Runs `modules` in order as a Sequential does, for containers that keep their own list (named children).
   * BatchNorm2d directly followed by ReLU runs as one fused call: BN → ReLU ends every U-Net conv block, and
   * fusing it saves a kernel and an activation tensor in forward and another kernel in backward, with the same
   * values and gradients. At inference (eval, no gradients) Conv2d → BatchNorm2d [→ ReLU] runs as one
   * convolution with the BatchNorm folded into its output (equal up to float rounding). The modules themselves,
   * and so the state-dict keys, stay as they are.
   *
   * `x` may be several tensors: the input is then their channel concatenation, which a leading Conv2d reads in
   * place (conv2dConcat) instead of having it made; anything else gets the concatenated tensor.
   */
  static forwardChain(modules: readonly Module[], x: Tensor | readonly Tensor[]): Tensor {
    let xs: readonly Tensor[] | null = Array.isArray(x) ? x : null;
    let y = xs ? xs[0] : (x as Tensor);
    if (xs?.length === 1) xs = null;
    if (xs && !plain(modules[0], Conv2d)) {
      y = concat(xs, 1);
      xs = null;
    }
    for (let i = 0; i < modules.length; i++) {
      const m = modules[i];
      const input = xs ?? [y];
      const folded = foldableInference(modules, i, input);
      if (folded > 0) {
        const conv = m as Conv2d;
        const bn = modules[i + 1] as BatchNorm2d;
        const { stride, padding, dilation } = conv.options;
        y = conv2dBatchNormEval(
          input,
          conv.weight,
          conv.bias,
          {
            runningMean: bn.runningMean!,
            runningVar: bn.runningVar!,
            weight: bn.weight,
            bias: bn.bias,
            eps: bn.eps,
          },
          { stride, padding, dilation, relu: folded === 3 },
        );
        i += folded - 1;
      } else if (xs) {
        const conv = m as Conv2d;
        const { stride, padding, dilation } = conv.options;
        y = conv2dConcat(xs, conv.weight, conv.bias, { stride, padding, dilation });
      } else if (fusesWithRelu(m, modules[i + 1])) {
        y = m.forwardFused(y, 'relu');
        i++;
      } else y = m.forward(y);
      xs = null;
    }
    return y;
  }

  append(m: Module): this {
    this.registerModule(String(this.list.length), m);
    this.list.push(m);
    return this;
  }

  get length(): number {
    return this.list.length;
  }

  at(i: number): Module {
    const m = this.list[i < 0 ? i + this.list.length : i];
    if (!m) throw new Error(`Sequential.at(${i}): ${this.list.length} modules`);
    return m;
  }

  forward(x: Tensor): Tensor {
    return Sequential.forwardChain(this.list, x);
  }

  /** forward(concat(xs, 1)), with a leading Conv2d reading the parts in place (see forwardChain). */
  forwardConcat(xs: readonly Tensor[]): Tensor {
    return Sequential.forwardChain(this.list, xs);
  }
}
