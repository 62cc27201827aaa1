/** `export` (a checkpoint as ONNX) and `convert` (a PyTorch `.pt` state dict as a checkpoint). */
import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import {
  configFromStateDict,
  exportOnnx,
  modelFromConfig,
  REFERENCE_INFERENCE,
  type SegmentationModel,
  type UNetPlusPlusHead,
} from '@mriseg/models';
import { saveModel } from '@mriseg/models/node';
import { type InferenceSpec, StateDictError } from '@mriseg/nn';
import { loadCheckpoint } from '@mriseg/nn/node';
import { initDevice } from '@mriseg/tensor-wgsl';
import { writeFileAtomic } from '@mriseg/tensor-wgsl/node';
import { CliError, UsageError } from '../errors.js';
import { checkCheckpointFile, openCheckpoint } from '../lib/infer.js';
import { shownPath } from '../lib/paths.js';
import type { Value } from '../options/schema.js';

/** True when `out` names the file `input` is (the same path, or a link to the same file). */
function sameFile(input: string, out: string): boolean {
  if (resolve(input) === resolve(out)) return true;
  if (!existsSync(out) || !existsSync(input)) return false;
  const a = statSync(input);
  const b = statSync(out);
  return a.dev === b.dev && a.ino === b.ino;
}

function checkOut(flag: string, input: string, out: string, command: string): void {
  if (sameFile(input, out))
    throw new UsageError(`${flag} ${out} is the input file itself; write the result elsewhere`, command);
  if (existsSync(out) && statSync(out).isDirectory())
    throw new UsageError(`${flag} ${out} is a folder; give a file name`, command);
}

const megabytes = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
const describeModel = (m: SegmentationModel) =>
  `${m.architecture} (features ${m.options.features}, ${m.numParameters().toLocaleString('en-US')} parameters)`;

/** `mriseg export --checkpoint X --format onnx --out model.onnx`. */
export async function exportCommand(v: Record<string, Value>): Promise<number> {
  const path = v.checkpoint as string;
  const out = v.out as string;
  checkCheckpointFile(path);
  checkOut('--out', path, out, 'export');
  await initDevice();
  const loaded = openCheckpoint(path);
  const { model } = loaded;
  try {
    if (v.head !== null && model.architecture !== 'unet++')
      throw new UsageError(
        `--head chooses a UNet++ output; ${shownPath(path)} is a ${model.architecture}`,
        'export',
      );
    if (loaded.inference.note) console.log(`note: ${loaded.inference.note}`);
    const inputSize = (v['image-size'] as number | null) ?? loaded.inference.spec.inputSize;
    const inference: InferenceSpec = { ...loaded.inference.spec, inputSize };
    const head =
      v.head === null
        ? undefined
        : ((/^\d$/.test(v.head as string) ? Number(v.head) : v.head) as UNetPlusPlusHead);
    const bytes = await exportOnnx(model, {
      inputSize,
      batchNorm: v['batch-norm'] as 'fold' | 'node',
      sigmoid: v.sigmoid === true,
      head,
      inference,
    });
    writeFileAtomic(out, bytes);
    const c = model.options;
    const output = v.sigmoid === true ? 'probabilities' : 'logits';
    let from = '';
    if (model.architecture === 'unet++') {
      const used = head ?? (model.config().inference === 'mean' ? 'mean' : 'last');
      from = ` from ${used === 'mean' ? 'the mean of the four heads' : `head ${used === 'last' ? 4 : used}`}`;
    }
    console.log(
      `wrote ${shownPath(out)} (ONNX, opset 17, ${megabytes(bytes.length)}): ${describeModel(model)}, ` +
        `image [batch, ${c.inChannels}, ${inputSize}, ${inputSize}] → ${output} [batch, ${c.outChannels}, ${inputSize}, ${inputSize}]${from}; ` +
        `BatchNorm ${v['batch-norm'] === 'fold' ? 'folded' : 'as nodes'}; threshold ${inference.threshold} and preprocessing in its metadata`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}

/** `mriseg convert x.pt x.safetensors`. */
export async function convertCommand(v: Record<string, Value>): Promise<number> {
  const input = v.input as string;
  const out = v.out as string;
  if (!existsSync(input)) throw new CliError(`${input}: no such file (looked for ${resolve(input)})`);
  if (statSync(input).isDirectory()) throw new CliError(`${input}: a folder, not a state dict file`);
  checkOut('--out', input, out, 'convert');
  const ck = loadCheckpoint(input);
  let config: unknown;
  try {
    config = ck.metadata.config ?? configFromStateDict(ck.model);
  } catch (e) {
    throw new CliError(`${shownPath(input)}: ${(e as Error).message}`);
  }
  await initDevice();
  let model: SegmentationModel;
  try {
    model = modelFromConfig(config);
  } catch (e) {
    throw new CliError(`${shownPath(input)}: ${(e as Error).message}`);
  }
  try {
    try {
      model.loadStateDict(ck.model);
    } catch (e) {
      if (e instanceof StateDictError) throw new CliError(`${shownPath(input)}: ${e.message}`);
      throw e;
    }
    const size = v['image-size'] as number | null;
    const recorded = ck.metadata.inference;
    const inference: InferenceSpec = recorded
      ? { ...recorded, inputSize: size ?? recorded.inputSize }
      : { ...REFERENCE_INFERENCE, channels: [...REFERENCE_INFERENCE.channels], inputSize: size ?? 256 };
    await saveModel(out, model, { inference, extra: { 'mriseg.converted-from': basename(input) } });
    console.log(
      `wrote ${shownPath(out)}: ${describeModel(model)} from ${shownPath(input)}, every weight checked; ` +
        `inference settings ${recorded ? 'kept from the file' : "recorded as the reference's"}: input ${inference.inputSize} px, threshold ${inference.threshold}, post-processing ${inference.postprocess || 'none'}`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}
