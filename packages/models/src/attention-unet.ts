/** Attention U-Net (Oktay et al. 2018): the U-Net with additive attention gates on the skip connections. */
import { BatchNorm2d, Conv2d, ConvTranspose2d, Module, Sigmoid } from '@mriseg/nn';
import { add, mul, type Rng, relu, type Tensor } from '@mriseg/tensor-wgsl';
import { contract, convBlock, type ModelOptions, NamedSequential, SegmentationModel } from './blocks.js';

/**
 * gate(g, x) = x · ψ(relu(W_g·g + W_x·x)) with W_g, W_x = 1×1 conv + BN and ψ = 1×1 conv to one channel + BN +
 * sigmoid; g is the up-sampled decoder feature, x the encoder's skip. Keys `W_g.0.weight`, `psi.1.running_mean`, …
 */
export class AttentionGate extends Module<[Tensor, Tensor]> {
  readonly W_g: NamedSequential;
  readonly W_x: NamedSequential;
  readonly psi: NamedSequential;

  constructor(fG: number, fL: number, fInt: number, rng?: Rng) {
    super();
    this.W_g = this.registerModule(
      'W_g',
      new NamedSequential([
        ['0', new Conv2d(fG, fInt, 1, { rng })],
        ['1', new BatchNorm2d(fInt)],
      ]),
    );
    this.W_x = this.registerModule(
      'W_x',
      new NamedSequential([
        ['0', new Conv2d(fL, fInt, 1, { rng })],
        ['1', new BatchNorm2d(fInt)],
      ]),
    );
    this.psi = this.registerModule(
      'psi',
      new NamedSequential([
        ['0', new Conv2d(fInt, 1, 1, { rng })],
        ['1', new BatchNorm2d(1)],
        ['2', new Sigmoid()],
      ]),
    );
  }

  forward(g: Tensor, x: Tensor): Tensor {
    const a = relu(add(this.W_g.forward(g), this.W_x.forward(x)));
    return mul(x, this.psi.forward(a));
  }
}

export class AttentionUNet extends SegmentationModel {
  readonly architecture = 'attention-unet';
  private readonly encoders: NamedSequential[];
  private readonly ups: ConvTranspose2d[];
  private readonly gates: AttentionGate[];
  private readonly decoders: NamedSequential[];
  readonly bottleneck: NamedSequential;
  readonly conv: Conv2d;

  constructor(options: ModelOptions = {}) {
    super(options);
    const o = this.options;
    const f = o.features;
    const rng = o.rng;
    const widths = [f, 2 * f, 4 * f, 8 * f];
    this.encoders = widths.map((w, i) =>
      this.registerModule(
        `encoder${i + 1}`,
        convBlock(i === 0 ? o.inChannels : widths[i - 1], w, `enc${i + 1}`, rng),
      ),
    );
    this.bottleneck = this.registerModule('bottleneck', convBlock(8 * f, 16 * f, 'bottleneck', rng));
    // PyTorch attribute order: upconv4, attention4, decoder4, upconv3, …
    const ups: ConvTranspose2d[] = [];
    const gates: AttentionGate[] = [];
    const decoders: NamedSequential[] = [];
    for (let i = 3; i >= 0; i--) {
      const c = widths[i];
      ups[i] = this.registerModule(`upconv${i + 1}`, new ConvTranspose2d(2 * c, c, 2, { stride: 2, rng }));
      gates[i] = this.registerModule(`attention${i + 1}`, new AttentionGate(c, c, c, rng));
      decoders[i] = this.registerModule(`decoder${i + 1}`, convBlock(2 * c, c, `dec${i + 1}`, rng));
    }
    this.ups = ups;
    this.gates = gates;
    this.decoders = decoders;
    this.conv = this.registerModule('conv', new Conv2d(f, o.outChannels, 1, { rng }));
  }

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const { skips, bottom } = contract(this.encoders, this.bottleneck, x);
    let h = bottom;
    for (let i = 3; i >= 0; i--) {
      const u = this.ups[i].forward(h);
      h = this.decoders[i].forwardConcat([u, this.gates[i].forward(u, skips[i])]);
    }
    return this.conv.forward(h);
  }
}
