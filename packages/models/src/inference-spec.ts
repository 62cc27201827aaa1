/**
 * How to run a checkpoint's model: the inference spec it records (`__metadata__.inference`, see @mriseg/nn), or,
 * for files written before specs were recorded, what can be read from their older metadata, else the reference's
 * settings — always with a note saying which, so a consumer can tell the user what it assumed.
 */
import type { Checkpoint, InferenceSpec } from '@mriseg/nn';

/** The three MRI sequences of the Kaggle LGG slices, in channel order. */
export const LGG_CHANNELS: readonly string[] = ['pre-contrast', 'FLAIR', 'post-contrast'];

/** The reference preprocessing of @mriseg/data (its options beside the size, as `preprocess()` takes them). */
export const REFERENCE_PREPROCESSING = 'reference';

/** The reference program's settings: 256² slices, the reference preprocessing, threshold 0.5, largest component. */
export const REFERENCE_INFERENCE: InferenceSpec = {
  inputSize: 256,
  channels: [...LGG_CHANNELS],
  preprocess: { name: REFERENCE_PREPROCESSING, options: {} },
  output: 'logits',
  threshold: 0.5,
  postprocess: 'lcc3d',
};

/**
 * The metadata key under which `mriseg train` stored its options (JSON `{config: {...}}`) before inference specs:
 * its `image-size` and `postprocess` are the input size and post-processing of those checkpoints.
 */
const TRAIN_OPTIONS_KEY = 'mriseg.train';

export interface ResolvedInference {
  spec: InferenceSpec;
  /** Where the spec came from: recorded in the file, read from older metadata, or the reference's. */
  from: 'checkpoint' | 'older metadata' | 'reference default';
  /** What was assumed, for a file that records no spec (null when it does). */
  note: string | null;
}

function json(text: string | undefined): Record<string, unknown> | null {
  if (text === undefined) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const positiveInt = (v: unknown): number | null =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null;

function describe(s: InferenceSpec): string {
  return `input ${s.inputSize} px, threshold ${s.threshold}, post-processing ${s.postprocess || 'none'}`;
}

/** The inference spec of a parsed checkpoint; `name` (the file) is used in the note. */
export function inferenceOf(ck: Checkpoint, name = 'the checkpoint'): ResolvedInference {
  if (ck.metadata.inference) return { spec: ck.metadata.inference, from: 'checkpoint', note: null };
  const spec: InferenceSpec = { ...REFERENCE_INFERENCE, channels: [...REFERENCE_INFERENCE.channels] };
  const inChannels = positiveInt((ck.metadata.config as { inChannels?: unknown } | undefined)?.inChannels);
  if (inChannels !== null && inChannels !== spec.channels.length)
    spec.channels = Array.from({ length: inChannels }, (_, i) => `channel ${i}`);
  const stored = json(ck.rawMetadata[TRAIN_OPTIONS_KEY])?.config;
  const trained = stored !== null && typeof stored === 'object' ? (stored as Record<string, unknown>) : null;
  const size = positiveInt(trained?.['image-size']) ?? positiveInt(json(ck.rawMetadata.preprocess)?.size);
  if (size !== null) spec.inputSize = size;
  if (typeof trained?.postprocess === 'string' && trained.postprocess !== '')
    spec.postprocess = trained.postprocess;
  const from = size !== null ? 'older metadata' : 'reference default';
  const note =
    from === 'older metadata'
      ? `${name} records no inference settings (written before they were recorded); using ${describe(spec)} from its older metadata`
      : `${name} records no inference settings; using the reference's: ${describe(spec)}`;
  return { spec, from, note };
}

/**
 * Options of @mriseg/data's `preprocess()` a spec may record (beside the size, which is `inputSize`): the
 * reference's steps, and the optional bias-field correction and skull stripping before normalisation.
 */
export const PREPROCESS_OPTION_KEYS: readonly string[] = [
  'dropEnds',
  'threshold',
  'crop',
  'pad',
  'normalize',
  'biasCorrect',
  'skullStrip',
];

/**
 * The options of @mriseg/data's `preprocess()` for a spec; an unknown pipeline, or an option this version does not
 * know (which it would otherwise ignore, preprocessing differently from training), is an error naming it.
 */
export function preprocessOptionsOf(spec: InferenceSpec): Record<string, unknown> & { size: number } {
  if (spec.preprocess.name !== REFERENCE_PREPROCESSING) {
    throw new Error(
      `the checkpoint asks for the preprocessing "${spec.preprocess.name}", which this version does not know (known: ${REFERENCE_PREPROCESSING})`,
    );
  }
  const unknown = Object.keys(spec.preprocess.options).filter((k) => !PREPROCESS_OPTION_KEYS.includes(k));
  if (unknown.length > 0) {
    throw new Error(
      `the checkpoint asks for the preprocessing option(s) ${unknown.map((k) => `"${k}"`).join(', ')}, which this version does not know (known: ${PREPROCESS_OPTION_KEYS.join(', ')})`,
    );
  }
  return { ...spec.preprocess.options, size: spec.inputSize };
}
