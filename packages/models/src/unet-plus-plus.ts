/** UNet++ (Zhou et al. 2018): nested, densely connected skip pathways with deep supervision. */
import { Conv2d, ConvTranspose2d, maxPool2d } from '@mriseg/nn';
import { add, mul, type Tensor } from '@mriseg/tensor-wgsl';
import { convBlock, type ModelOptions, type NamedSequential, SegmentationModel } from './blocks.js';

export interface UNetPlusPlusOptions extends ModelOptions {
  /** Train on all four heads (default true); otherwise only the last head is computed and supervised. */
  deepSupervision?: boolean;
  /** What `forward` (inference) returns: the last head's logits (default) or the mean of the heads' logits. */
  inference?: 'last' | 'mean';
}

const DEPTH = 4;

/**
 * Nodes x{i}_{j} (depth i, column j); x{i}_0 is the encoder. For j ≥ 1, x{i}_{j} is a conv block on
 * cat(x{i}_0, …, x{i}_{j−1}, up{i}_{j}(x{i+1}_{j−1})). Heads head1..4 are 1×1 convs on x0_1..x0_4. Block keys carry
 * no prefix: `x0_0.conv1.weight`, `x1_2.norm2.running_var`.
 */
export class UNetPlusPlus extends SegmentationModel {
  readonly architecture = 'unet++';
  readonly deepSupervision: boolean;
  readonly inference: 'last' | 'mean';
  private readonly nodes = new Map<string, NamedSequential>();
  private readonly ups = new Map<string, ConvTranspose2d>();
  private readonly heads: Conv2d[] = [];

  constructor(options: UNetPlusPlusOptions = {}) {
    super(options);
    const o = this.options;
    this.deepSupervision = options.deepSupervision ?? true;
    this.inference = options.inference ?? 'last';
    const F = (i: number) => o.features * 2 ** i;
    const rng = o.rng;
    for (let i = 0; i <= DEPTH; i++) {
      this.nodes.set(
        `x${i}_0`,
        this.registerModule(`x${i}_0`, convBlock(i === 0 ? o.inChannels : F(i - 1), F(i), '', rng)),
      );
    }
    for (let j = 1; j <= DEPTH; j++) {
      for (let i = 0; i <= DEPTH - j; i++) {
        this.ups.set(
          `${i}_${j}`,
          this.registerModule(`up${i}_${j}`, new ConvTranspose2d(F(i + 1), F(i), 2, { stride: 2, rng })),
        );
        this.nodes.set(
          `x${i}_${j}`,
          this.registerModule(`x${i}_${j}`, convBlock(F(i) * (j + 1), F(i), '', rng)),
        );
      }
    }
    for (let k = 1; k <= DEPTH; k++)
      this.heads.push(this.registerModule(`head${k}`, new Conv2d(F(0), o.outChannels, 1, { rng })));
  }

  private node(i: number, j: number): NamedSequential {
    return this.nodes.get(`x${i}_${j}`)!;
  }

  /** x0_1 … x0_4: the features the heads read. */
  private topRow(x: Tensor): Tensor[] {
    this.checkInput(x);
    const grid: Tensor[][] = [];
    for (let i = 0; i <= DEPTH; i++) {
      grid.push([this.node(i, 0).forward(i === 0 ? x : maxPool2d(grid[i - 1][0], 2))]);
    }
    for (let j = 1; j <= DEPTH; j++) {
      for (let i = 0; i <= DEPTH - j; i++) {
        const up = this.ups.get(`${i}_${j}`)!.forward(grid[i + 1][j - 1]);
        grid[i].push(this.node(i, j).forwardConcat([...grid[i].slice(0, j), up]));
      }
    }
    return grid[0].slice(1);
  }

  override forwardHeads(x: Tensor): Tensor[] {
    const top = this.topRow(x);
    if (!this.deepSupervision) return [this.heads[DEPTH - 1].forward(top[DEPTH - 1])];
    return top.map((t, k) => this.heads[k].forward(t));
  }

  forward(x: Tensor): Tensor {
    const top = this.topRow(x);
    if (this.inference === 'last') return this.heads[DEPTH - 1].forward(top[DEPTH - 1]);
    let sum = this.heads[0].forward(top[0]);
    for (let k = 1; k < DEPTH; k++) sum = add(sum, this.heads[k].forward(top[k]));
    return mul(sum, 1 / DEPTH);
  }

  override config(): Record<string, unknown> {
    return { ...super.config(), deepSupervision: this.deepSupervision, inference: this.inference };
  }
}
