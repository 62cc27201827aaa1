/**
 * The pretrained models mriseg knows, hub-style: what each one is (architecture, input, preprocessing), the
 * files it comes as with their sizes and SHA-256, where it came from, how well it did and under which terms.
 * `loadPretrained` (browser: `@mriseg/models`, Node: `@mriseg/models/node`) downloads, checks and caches the file.
 */
import type { InferenceSpec } from '@mriseg/nn';
import { REFERENCE_INFERENCE } from '../inference-spec.js';
import type { ModelName } from '../registry.js';

/** How the weights are stored in a file; the model always computes in f32. */
export type PretrainedDtype = 'f32' | 'f16';

export interface PretrainedFile {
  /** File name: the last part of a download URL and the name in a cache. */
  file: string;
  bytes: number;
  /** Hex SHA-256 of the whole file: a download or cached copy with any other hash is refused. */
  sha256: string;
  description: string;
}

export interface PretrainedManifest {
  name: string;
  description: string;
  architecture: ModelName;
  /** The model's `config()` (what `modelFromConfig` builds). */
  config: { architecture: ModelName; inChannels: number; outChannels: number; features: number };
  parameters: number;
  /** Input size, channels, preprocessing, threshold and post-processing the model was trained and evaluated with. */
  inference: InferenceSpec;
  files: Record<PretrainedDtype, PretrainedFile>;
  /**
   * Where the files are published (a folder URL; the file name is appended), or null while they are not: then a
   * `url` must be given, unless a verified copy is already cached.
   */
  baseUrl: string | null;
  licence: string;
  provenance: string;
  /** Scores as measured when it was trained, with what they were measured on. */
  metrics: { name: string; value: number; on: string }[];
  /** Papers and data to cite. */
  citation: string;
}

const UNET_LGG: PretrainedManifest = {
  name: 'unet-lgg',
  description:
    'The reference U-Net (Buda et al. 2019) for FLAIR abnormality (lower-grade glioma) in 2-D brain MRI slices: ' +
    'three channels in, one channel of logits out',
  architecture: 'unet',
  config: { architecture: 'unet', inChannels: 3, outChannels: 1, features: 32 },
  parameters: 7_763_041,
  inference: { ...REFERENCE_INFERENCE, channels: [...REFERENCE_INFERENCE.channels] },
  files: {
    f32: {
      file: 'unet-lgg-f32.safetensors',
      bytes: 31_087_612,
      sha256: 'f1a2fb8d65ff267cbb8ec5a0f14f7b3a4affa2dfee0bc5116dd82db0b70dd0c3',
      description: 'the checkpoint as `mriseg train` wrote it, every weight in float32',
    },
    f16: {
      file: 'unet-lgg-f16.safetensors',
      bytes: 15_574_516,
      sha256: '0e4b603c1c8bd76eccf18e46bc55ce64420dda1ff0725ad9e1e10ed548e31a8c',
      description:
        'the same weights with the convolution kernels rounded to float16 (biases and BatchNorm in float32), ' +
        'half the download; converted back to float32 at load',
    },
  },
  baseUrl: null,
  licence:
    'MIT (the weights, like mriseg). Trained on the Kaggle "LGG MRI Segmentation" release (M. Buda) of TCGA-LGG ' +
    'images from The Cancer Imaging Archive: follow the TCIA data usage policy and cite the data and paper below. ' +
    'Not a medical device: for research only.',
  provenance:
    '`mriseg train` at commit efe9c6d on one NVIDIA H200 (WebGPU through Dawn/Vulkan) with the reference recipe: ' +
    'kaggle_3m slices at 256² after the reference preprocessing, batch 16, Adam lr 1e-4, soft Dice loss, the ' +
    'reference slice sampler and augmentation; 99 of the 110 patients for training (the four sample patients ' +
    'among them), 11 held out; the best of 14 epochs by held-out mean DSC (epoch 8)',
  metrics: [
    {
      name: 'mean DSC',
      value: 0.805,
      on: '11 held-out kaggle_3m patients, per-patient volume DSC as the reference computes it (round at 0.5, largest 3-D component); also the set the epoch was chosen on, so optimistic',
    },
  ],
  citation:
    'Buda M, Saha A, Mazurowski MA. Association of genomic subtypes of lower-grade gliomas with shape features ' +
    'automatically extracted by a deep learning algorithm. Computers in Biology and Medicine 109 (2019) 218–225.',
};

export const PRETRAINED: Readonly<Record<string, PretrainedManifest>> = { 'unet-lgg': UNET_LGG };

/** The manifest of a pretrained model by name; an unknown name is an error listing the known ones. */
export function pretrainedManifest(name: string): PretrainedManifest {
  const m = PRETRAINED[name];
  if (!m)
    throw new Error(`unknown pretrained model "${name}" (known: ${Object.keys(PRETRAINED).join(', ')})`);
  return m;
}
