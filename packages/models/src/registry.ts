/** Models by name, for the CLI, the viewer and checkpoints. */
import { AttentionUNet } from './attention-unet.js';
import type { ModelOptions, SegmentationModel } from './blocks.js';
import { ResUNet } from './resunet.js';
import { UNet } from './unet.js';
import { UNetPlusPlus, type UNetPlusPlusOptions } from './unet-plus-plus.js';

export const MODEL_NAMES = ['unet', 'attention-unet', 'unet++', 'resunet'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

const ALIASES: Record<string, ModelName> = {
  unet: 'unet',
  'attention-unet': 'attention-unet',
  attentionunet: 'attention-unet',
  'attn-unet': 'attention-unet',
  'unet++': 'unet++',
  unetplusplus: 'unet++',
  'nested-unet': 'unet++',
  resunet: 'resunet',
  'res-unet': 'resunet',
};

export type CreateModelOptions = ModelOptions & Pick<UNetPlusPlusOptions, 'deepSupervision' | 'inference'>;

/** Builds a model by name ('unet', 'attention-unet', 'unet++', 'resunet', or an alias such as 'nested-unet'). */
export function createModel(name: string, options: CreateModelOptions = {}): SegmentationModel {
  const canonical = ALIASES[name.toLowerCase()];
  switch (canonical) {
    case 'unet':
      return new UNet(options);
    case 'attention-unet':
      return new AttentionUNet(options);
    case 'unet++':
      return new UNetPlusPlus(options);
    case 'resunet':
      return new ResUNet(options);
    default:
      throw new Error(`unknown model "${name}"; choose one of ${MODEL_NAMES.join(', ')}`);
  }
}

/** Rebuilds a model from the `config()` a checkpoint stored. */
export function modelFromConfig(config: unknown): SegmentationModel {
  if (
    config === null ||
    typeof config !== 'object' ||
    typeof (config as { architecture?: unknown }).architecture !== 'string'
  ) {
    throw new Error(`model config ${JSON.stringify(config)} has no "architecture"`);
  }
  const { architecture, ...options } = config as { architecture: string } & CreateModelOptions;
  return createModel(architecture, options);
}
