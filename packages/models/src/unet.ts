/** The reference U-Net (M. Buda's brain-segmentation-pytorch), with its PyTorch parameter names. */
import { Conv2d, ConvTranspose2d, maxPool2d } from '@mriseg/nn';
import type { Tensor } from '@mriseg/tensor-wgsl';
import { convBlock, type ModelOptions, type NamedSequential, SegmentationModel } from './blocks.js';

export class UNet extends SegmentationModel {
  readonly architecture = 'unet';
  readonly encoder1: NamedSequential;
  readonly encoder2: NamedSequential;
  readonly encoder3: NamedSequential;
  readonly encoder4: NamedSequential;
  readonly bottleneck: NamedSequential;
  readonly upconv4: ConvTranspose2d;
  readonly decoder4: NamedSequential;
  readonly upconv3: ConvTranspose2d;
  readonly decoder3: NamedSequential;
  readonly upconv2: ConvTranspose2d;
  readonly decoder2: NamedSequential;
  readonly upconv1: ConvTranspose2d;
  readonly decoder1: NamedSequential;
  readonly conv: Conv2d;

  constructor(options: ModelOptions = {}) {
    super(options);
    const o = this.options;
    const f = o.features;
    const rng = o.rng;
    // Registration order = PyTorch's attribute order, so stateDict() lists keys as torch does.
    this.encoder1 = this.registerModule('encoder1', convBlock(o.inChannels, f, 'enc1', rng));
    this.encoder2 = this.registerModule('encoder2', convBlock(f, 2 * f, 'enc2', rng));
    this.encoder3 = this.registerModule('encoder3', convBlock(2 * f, 4 * f, 'enc3', rng));
    this.encoder4 = this.registerModule('encoder4', convBlock(4 * f, 8 * f, 'enc4', rng));
    this.bottleneck = this.registerModule('bottleneck', convBlock(8 * f, 16 * f, 'bottleneck', rng));
    this.upconv4 = this.registerModule('upconv4', new ConvTranspose2d(16 * f, 8 * f, 2, { stride: 2, rng }));
    this.decoder4 = this.registerModule('decoder4', convBlock(16 * f, 8 * f, 'dec4', rng));
    this.upconv3 = this.registerModule('upconv3', new ConvTranspose2d(8 * f, 4 * f, 2, { stride: 2, rng }));
    this.decoder3 = this.registerModule('decoder3', convBlock(8 * f, 4 * f, 'dec3', rng));
    this.upconv2 = this.registerModule('upconv2', new ConvTranspose2d(4 * f, 2 * f, 2, { stride: 2, rng }));
    this.decoder2 = this.registerModule('decoder2', convBlock(4 * f, 2 * f, 'dec2', rng));
    this.upconv1 = this.registerModule('upconv1', new ConvTranspose2d(2 * f, f, 2, { stride: 2, rng }));
    this.decoder1 = this.registerModule('decoder1', convBlock(2 * f, f, 'dec1', rng));
    this.conv = this.registerModule('conv', new Conv2d(f, o.outChannels, 1, { rng }));
  }

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const e1 = this.encoder1.forward(x);
    const e2 = this.encoder2.forward(maxPool2d(e1, 2));
    const e3 = this.encoder3.forward(maxPool2d(e2, 2));
    const e4 = this.encoder4.forward(maxPool2d(e3, 2));
    const b = this.bottleneck.forward(maxPool2d(e4, 2));
    const d4 = this.decoder4.forwardConcat([this.upconv4.forward(b), e4]);
    const d3 = this.decoder3.forwardConcat([this.upconv3.forward(d4), e3]);
    const d2 = this.decoder2.forwardConcat([this.upconv2.forward(d3), e2]);
    const d1 = this.decoder1.forwardConcat([this.upconv1.forward(d2), e1]);
    return this.conv.forward(d1);
  }
}
