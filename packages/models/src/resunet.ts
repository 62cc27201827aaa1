/** A residual U-Net: the reference U-Net's widths and names with residual blocks in place of plain ones. */
import { BatchNorm2d, Conv2d, ConvTranspose2d, Identity, Module } from '@mriseg/nn';
import { add, concat, type Rng, relu, type Tensor } from '@mriseg/tensor-wgsl';
import { contract, type ModelOptions, NamedSequential, SegmentationModel } from './blocks.js';

/**
 * relu(BN(conv(relu(BN(conv(x))))) + shortcut(x)), 3×3 convs without bias; the shortcut is a 1×1 conv (no bias)
 * + BN when the widths differ, else the identity. Keys: `conv1.weight`, `norm1.*`, `conv2.weight`, `norm2.*`,
 * `shortcut.0.weight`, `shortcut.1.*`.
 */
export class ResidualBlock extends Module {
  readonly conv1: Conv2d;
  readonly norm1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly norm2: BatchNorm2d;
  readonly shortcut: Module;

  constructor(inChannels: number, features: number, rng?: Rng) {
    super();
    this.conv1 = this.registerModule(
      'conv1',
      new Conv2d(inChannels, features, 3, { padding: 1, bias: false, rng }),
    );
    this.norm1 = this.registerModule('norm1', new BatchNorm2d(features));
    this.conv2 = this.registerModule(
      'conv2',
      new Conv2d(features, features, 3, { padding: 1, bias: false, rng }),
    );
    this.norm2 = this.registerModule('norm2', new BatchNorm2d(features));
    this.shortcut =
      inChannels === features
        ? this.registerModule('shortcut', new Identity())
        : this.registerModule(
            'shortcut',
            new NamedSequential([
              ['0', new Conv2d(inChannels, features, 1, { bias: false, rng })],
              ['1', new BatchNorm2d(features)],
            ]),
          );
  }

  forward(x: Tensor): Tensor {
    const h = relu(this.norm1.forward(this.conv1.forward(x)));
    return relu(add(this.norm2.forward(this.conv2.forward(h)), this.shortcut.forward(x)));
  }
}

export class ResUNet extends SegmentationModel {
  readonly architecture = 'resunet';
  private readonly encoders: ResidualBlock[] = [];
  private readonly ups: ConvTranspose2d[] = [];
  private readonly decoders: ResidualBlock[] = [];
  readonly bottleneck: ResidualBlock;
  readonly conv: Conv2d;

  constructor(options: ModelOptions = {}) {
    super(options);
    const o = this.options;
    const f = o.features;
    const rng = o.rng;
    const widths = [f, 2 * f, 4 * f, 8 * f];
    widths.forEach((w, i) => {
      this.encoders.push(
        this.registerModule(
          `encoder${i + 1}`,
          new ResidualBlock(i === 0 ? o.inChannels : widths[i - 1], w, rng),
        ),
      );
    });
    this.bottleneck = this.registerModule('bottleneck', new ResidualBlock(8 * f, 16 * f, rng));
    for (let i = 3; i >= 0; i--) {
      const c = widths[i];
      this.ups[i] = this.registerModule(
        `upconv${i + 1}`,
        new ConvTranspose2d(2 * c, c, 2, { stride: 2, rng }),
      );
      this.decoders[i] = this.registerModule(`decoder${i + 1}`, new ResidualBlock(2 * c, c, rng));
    }
    this.conv = this.registerModule('conv', new Conv2d(f, o.outChannels, 1, { rng }));
  }

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const { skips, bottom } = contract(this.encoders, this.bottleneck, x);
    let h = bottom;
    for (let i = 3; i >= 0; i--) h = this.decoders[i].forward(concat([this.ups[i].forward(h), skips[i]], 1));
    return this.conv.forward(h);
  }
}
