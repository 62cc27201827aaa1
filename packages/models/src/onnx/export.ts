/**
 * ONNX export of the four architectures in eval mode (BatchNorm with its running statistics), in the spirit of
 * `torch.onnx.export`: a dynamic batch dimension, the input size fixed (the checkpoint's), logits or, with
 * `sigmoid`, probabilities, and the inference settings (preprocessing, threshold, …) as metadata properties.
 */
import { type HostTensor, type InferenceSpec, VERSION } from '@mriseg/nn';
import type { SegmentationModel } from '../blocks.js';
import { type BatchNormExport, OnnxGraphBuilder } from './graph.js';
import { encodeOnnxModel, IR_VERSION, ONNX_FLOAT, type OnnxValueInfo, OPSET } from './schema.js';

/** Which UNet++ output to export: the last head (x0_4), the mean of the four, or head 1–4. */
export type UNetPlusPlusHead = 'last' | 'mean' | 1 | 2 | 3 | 4;

export interface OnnxExportOptions {
  /** Height and width of the input (a multiple of 16): the checkpoint's input size. */
  inputSize: number;
  /** BatchNorm folded into the convolutions (default) or kept as BatchNormalization nodes. */
  batchNorm?: BatchNormExport;
  /** End the graph with a sigmoid: the output is then `probabilities` instead of `logits`. */
  sigmoid?: boolean;
  /** UNet++ only: which output (default: the model's own inference setting, else the last head). */
  head?: UNetPlusPlusHead;
  /** Written into the metadata properties (preprocessing, channels, threshold, post-processing). */
  inference?: InferenceSpec;
}

/** The names of the exported graph's input and outputs. */
export const ONNX_INPUT = 'image';
export const ONNX_LOGITS = 'logits';
export const ONNX_PROBABILITIES = 'probabilities';

type Emit = (g: OnnxGraphBuilder, x: string, o: { head: UNetPlusPlusHead }) => string;

/** [conv3×3 → BN → ReLU] × 2 under `prefix` (`encoder1.enc1`, `x0_1.`): the U-Net block, as NamedSequential runs it. */
function convBlock(g: OnnxGraphBuilder, x: string, prefix: string): string {
  const a = g.relu(g.conv(x, `${prefix}conv1`, `${prefix}norm1`), `${prefix}relu1`);
  return g.relu(g.conv(a, `${prefix}conv2`, `${prefix}norm2`), `${prefix}relu2`);
}

/** relu(BN(conv(relu(BN(conv(x))))) + shortcut(x)), the shortcut a 1×1 conv + BN or the identity. */
function residualBlock(g: OnnxGraphBuilder, x: string, p: string): string {
  const a = g.relu(g.conv(x, `${p}.conv1`, `${p}.norm1`), `${p}.relu1`);
  const b = g.conv(a, `${p}.conv2`, `${p}.norm2`);
  const s = g.has(`${p}.shortcut.0.weight`) ? g.conv(x, `${p}.shortcut.0`, `${p}.shortcut.1`) : x;
  return g.relu(g.op('Add', [b, s], `${p}.add`), `${p}.relu2`);
}

/** x · ψ(relu(W_g·g + W_x·x)), ψ = 1×1 conv + BN + sigmoid. */
function attentionGate(g: OnnxGraphBuilder, gating: string, skip: string, p: string): string {
  const a = g.op(
    'Add',
    [g.conv(gating, `${p}.W_g.0`, `${p}.W_g.1`), g.conv(skip, `${p}.W_x.0`, `${p}.W_x.1`)],
    `${p}.add`,
  );
  const psi = g.op('Sigmoid', [g.conv(g.relu(a, `${p}.relu`), `${p}.psi.0`, `${p}.psi.1`)], `${p}.psi.2`);
  return g.op('Mul', [skip, psi], `${p}.mul`);
}

/** The U-Net family: encoders 1–4, bottleneck, up-convolutions and decoders 4–1, final 1×1 `conv`. */
function uNetFamily(
  block: (g: OnnxGraphBuilder, x: string, name: string, level: string) => string,
  gated: boolean,
): Emit {
  return (g, x) => {
    const skips: string[] = [];
    let h = x;
    for (let i = 1; i <= 4; i++) {
      h = block(g, i === 1 ? h : g.maxPool(h, `pool${i - 1}`), `encoder${i}`, `enc${i}`);
      skips.push(h);
    }
    h = block(g, g.maxPool(h, 'pool4'), 'bottleneck', 'bottleneck');
    for (let i = 4; i >= 1; i--) {
      const u = g.upconv(h, `upconv${i}`);
      const skip = gated ? attentionGate(g, u, skips[i - 1], `attention${i}`) : skips[i - 1];
      h = block(g, g.concat([u, skip], `concat${i}`), `decoder${i}`, `dec${i}`);
    }
    return g.conv(h, 'conv');
  };
}

const unetBlock = (g: OnnxGraphBuilder, x: string, name: string, level: string) =>
  convBlock(g, x, `${name}.${level}`);
const resBlock = (g: OnnxGraphBuilder, x: string, name: string) => residualBlock(g, x, name);

/** UNet++: nodes x{i}_{j} made on demand, so a head exports only the columns it reads. */
const unetPlusPlus: Emit = (g, x, { head }) => {
  const made = new Map<string, string>();
  const node = (i: number, j: number): string => {
    const key = `x${i}_${j}`;
    const known = made.get(key);
    if (known) return known;
    let y: string;
    if (j === 0) y = convBlock(g, i === 0 ? x : g.maxPool(node(i - 1, 0), `pool${i}`), `${key}.`);
    else {
      const parts = Array.from({ length: j }, (_, k) => node(i, k));
      parts.push(g.upconv(node(i + 1, j - 1), `up${i}_${j}`));
      y = convBlock(g, g.concat(parts, `${key}.concat`), `${key}.`);
    }
    made.set(key, y);
    return y;
  };
  const headOf = (k: number) => g.conv(node(0, k), `head${k}`);
  if (head === 'mean') return g.op('Mean', [1, 2, 3, 4].map(headOf), 'heads.mean');
  return headOf(head === 'last' ? 4 : head);
};

const EMITTERS: Record<string, Emit> = {
  unet: uNetFamily(unetBlock, false),
  'attention-unet': uNetFamily(unetBlock, true),
  resunet: uNetFamily(resBlock, false),
  'unet++': unetPlusPlus,
};

/** The first convolution's weight key of each architecture (its in-channels are the input's). */
const FIRST_CONV: Record<string, string> = {
  unet: 'encoder1.enc1conv1.weight',
  'attention-unet': 'encoder1.enc1conv1.weight',
  resunet: 'encoder1.conv1.weight',
  'unet++': 'x0_0.conv1.weight',
};

function tensorInfo(name: string, channels: number, size: number): OnnxValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_FLOAT,
        shape: {
          dim: [{ dimParam: 'batch' }, { dimValue: channels }, { dimValue: size }, { dimValue: size }],
        },
      },
    },
  };
}

function checkHead(head: unknown): UNetPlusPlusHead {
  if (head === 'last' || head === 'mean' || head === 1 || head === 2 || head === 3 || head === 4) return head;
  throw new Error(`UNet++ head ${JSON.stringify(head)} must be last, mean or 1–4`);
}

/**
 * An ONNX model (ModelProto bytes) from a model's `config()` (its `architecture` at least) and its state dict by
 * PyTorch key — what a checkpoint file holds, so no GPU is needed.
 */
export function onnxFromStateDict(
  config: Record<string, unknown>,
  state: ReadonlyMap<string, HostTensor>,
  options: OnnxExportOptions,
): Uint8Array {
  const architecture = String(config.architecture);
  const emit = EMITTERS[architecture];
  if (!emit)
    throw new Error(
      `cannot export architecture "${architecture}" (known: ${Object.keys(EMITTERS).join(', ')})`,
    );
  const size = options.inputSize;
  if (!Number.isInteger(size) || size < 16 || size % 16 !== 0)
    throw new Error(`input size ${size} must be a positive multiple of 16 (the model pools 4 times by 2)`);
  const batchNorm = options.batchNorm ?? 'fold';
  if (batchNorm !== 'fold' && batchNorm !== 'node')
    throw new Error(`batchNorm "${String(batchNorm)}" must be fold or node`);
  const head = checkHead(options.head ?? (config.inference === 'mean' ? 'mean' : 'last'));
  if (architecture !== 'unet++' && options.head !== undefined)
    throw new Error(`a head choice applies to unet++ only, not ${architecture}`);

  const g = new OnnxGraphBuilder(state, batchNorm);
  const inChannels = g.weight(FIRST_CONV[architecture]).shape[1];
  const logits = emit(g, ONNX_INPUT, { head });
  // The output is renamed by a final Identity (or the sigmoid), so its name is fixed whatever the last layer.
  const outName = options.sigmoid ? ONNX_PROBABILITIES : ONNX_LOGITS;
  const outChannels = outputChannels(g, architecture, head);
  g.nodes.push({
    input: [logits],
    output: [outName],
    name: outName,
    opType: options.sigmoid ? 'Sigmoid' : 'Identity',
    attribute: [],
  });

  const spec = options.inference;
  const props: Record<string, string> = {
    'mriseg.config': JSON.stringify({
      ...config,
      ...(architecture === 'unet++' ? { exportedHead: head } : {}),
    }),
    architecture,
    input: `${ONNX_INPUT}: float32 [batch, ${inChannels}, ${size}, ${size}]`,
    output: options.sigmoid
      ? `${ONNX_PROBABILITIES}: float32 [batch, ${outChannels}, ${size}, ${size}], sigmoid of the logits`
      : `${ONNX_LOGITS}: float32 [batch, ${outChannels}, ${size}, ${size}], apply a sigmoid for probabilities`,
    batch_norm: batchNorm === 'fold' ? 'folded into the convolutions' : 'BatchNormalization nodes',
  };
  if (spec) {
    props['mriseg.inference'] = JSON.stringify(spec);
    props.input_size = String(spec.inputSize);
    props.channels = spec.channels.join(',');
    props.preprocessing = JSON.stringify(spec.preprocess);
    props.threshold = String(spec.threshold);
    props.postprocess = spec.postprocess;
  }
  return encodeOnnxModel({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'mriseg',
    producerVersion: VERSION,
    docString: `${architecture} segmentation model exported by mriseg (eval mode)`,
    graph: {
      name: architecture,
      node: g.nodes,
      initializer: g.initializers,
      input: [tensorInfo(ONNX_INPUT, inChannels, size)],
      output: [tensorInfo(outName, outChannels, size)],
    },
    metadataProps: Object.entries(props).map(([key, value]) => ({ key, value })),
  });
}

function outputChannels(g: OnnxGraphBuilder, architecture: string, head: UNetPlusPlusHead): number {
  if (architecture !== 'unet++') return g.weight('conv.weight').shape[0];
  return g.weight(`head${head === 'last' || head === 'mean' ? 4 : head}.weight`).shape[0];
}

/** Reads a model's state back from the device and exports it (see onnxFromStateDict). */
export async function exportOnnx(model: SegmentationModel, options: OnnxExportOptions): Promise<Uint8Array> {
  const state = new Map<string, HostTensor>();
  for (const [key, t] of model.stateDict()) {
    const data = await t.data();
    state.set(key, { dtype: t.dtype, shape: [...t.shape], data: data as Float32Array | Int32Array });
  }
  return onnxFromStateDict(model.config(), state, options);
}
