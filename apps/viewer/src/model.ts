/**
 * Checkpoints in the page: an @mriseg/nn checkpoint (with the model's config) or a plain safetensors state dict
 * with PyTorch keys, whose architecture and width are inferred from the keys or chosen by the user.
 */
import {
  inferenceOf,
  LGG_CHANNELS,
  MODEL_NAMES,
  modelFromConfig,
  preprocessOptionsOf,
  type SegmentationModel,
} from '@mriseg/models';
import { type Checkpoint, type HostTensor, type InferenceSpec, parseCheckpoint } from '@mriseg/nn';

export interface ModelChoice {
  /** 'auto' or one of MODEL_NAMES. */
  architecture: string;
  /** null: inferred from the first convolution's weight. */
  features: number | null;
  /** In-plane input size; null: the one the checkpoint records (`__metadata__.inference`), else the reference 256. */
  inputSize: number | null;
}

export interface ModelPlan {
  architecture: string;
  config: Record<string, unknown>;
  inputSize: number;
  /** How the checkpoint says to run the model (threshold, post-processing, preprocessing), or what was assumed. */
  inference: InferenceSpec;
  /** Where the input size came from, for the page: "recorded in the checkpoint", "chosen", … */
  inputSource: string;
  /** The options of @mriseg/data's `preprocess()` for this plan (the input size included). */
  preprocess: Record<string, unknown> & { size: number };
  /** One line for the page: what was loaded and how it was decided. */
  summary: string;
}

/** Architecture and first-level width from PyTorch key names (null when the keys match none). */
export function inferArchitecture(
  keys: Map<string, HostTensor>,
): { architecture: string; features: number } | null {
  const first = (k: string): number | null => {
    const t = keys.get(k);
    return t ? t.shape[0] : null;
  };
  if (keys.has('x0_0.conv1.weight')) return { architecture: 'unet++', features: first('x0_0.conv1.weight')! };
  const enc = first('encoder1.enc1conv1.weight');
  if (enc !== null) {
    const att = [...keys.keys()].some((k) => k.startsWith('attention'));
    return { architecture: att ? 'attention-unet' : 'unet', features: enc };
  }
  const res = [...keys.keys()].find((k) => /^encoder1\..*conv1\.weight$/.test(k));
  if (res) return { architecture: 'resunet', features: first(res)! };
  return null;
}

/** Decides which model to build for a parsed checkpoint (pure: no GPU). */
export function planModel(ck: Checkpoint, choice: ModelChoice): ModelPlan {
  const config = ck.metadata.config as Record<string, unknown> | undefined;
  const { spec, from } = inferenceOf(ck);
  const inputSize = choice.inputSize ?? spec.inputSize;
  const inputSource =
    choice.inputSize !== null
      ? 'as chosen'
      : from === 'checkpoint'
        ? 'recorded in the checkpoint'
        : from === 'older metadata'
          ? "from the checkpoint's training options"
          : 'the reference default: the checkpoint records none';
  // The page gives every model the Kaggle slices' three channels in their order: a model that wants other
  // input is refused here, before any GPU work, rather than fed the wrong channels.
  const inChannels = (config as { inChannels?: unknown } | undefined)?.inChannels ?? spec.channels.length;
  if (inChannels !== LGG_CHANNELS.length || spec.channels.length !== LGG_CHANNELS.length) {
    throw new Error(
      `the checkpoint wants ${String(inChannels)} input channel(s) (${spec.channels.join(', ')}); the viewer gives ` +
        `models ${LGG_CHANNELS.length}: ${LGG_CHANNELS.join(', ')}`,
    );
  }
  const run = { inference: spec, inputSource, preprocess: { ...preprocessOptionsOf(spec), size: inputSize } };
  if (config && typeof config.architecture === 'string' && choice.architecture === 'auto') {
    return {
      architecture: config.architecture,
      config,
      inputSize,
      ...run,
      summary: `${config.architecture} (features ${String(config.features ?? '?')}) from the checkpoint's config`,
    };
  }
  const inferred = inferArchitecture(ck.model);
  const architecture = choice.architecture !== 'auto' ? choice.architecture : inferred?.architecture;
  if (!architecture) {
    throw new Error(
      'the checkpoint has no model config and its keys match no known architecture: choose one under "Model options"',
    );
  }
  if (!(MODEL_NAMES as readonly string[]).includes(architecture)) {
    throw new Error(`unknown architecture "${architecture}" (known: ${MODEL_NAMES.join(', ')})`);
  }
  const features = choice.features ?? inferred?.features ?? 32;
  return {
    architecture,
    config: { architecture, features },
    inputSize,
    ...run,
    summary: `${architecture} (features ${features}), ${choice.architecture === 'auto' ? 'inferred from the keys' : 'as chosen'}`,
  };
}

export interface LoadedModel {
  model: SegmentationModel;
  plan: ModelPlan;
  parameters: number;
}

/** Parses, builds and loads (needs the WebGPU device). Errors name the file. */
export function loadModel(bytes: Uint8Array, source: string, choice: ModelChoice): LoadedModel {
  const ck = parseCheckpoint(bytes, source);
  const plan = planModel(ck, choice);
  const model = modelFromConfig(plan.config);
  try {
    model.loadStateDict(ck.model);
  } catch (e) {
    model.dispose();
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  return { model, plan, parameters: model.numParameters() };
}
