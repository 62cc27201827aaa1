/**
 * An ONNX graph under construction from a state dict: each layer reads its weights by PyTorch key and becomes
 * one or more nodes named after it (`encoder1.enc1conv1`), so a node maps back to the module it came from.
 */
import type { HostTensor } from '@mriseg/nn';
import { ATTR, ONNX_FLOAT, type OnnxAttribute, type OnnxNode, type OnnxTensor } from './schema.js';

/** How eval-mode BatchNorm is exported: folded into the preceding convolution, or as BatchNormalization nodes. */
export type BatchNormExport = 'fold' | 'node';

/** BatchNorm2d's eps in every mriseg architecture (PyTorch's default). */
const BN_EPS = 1e-5;

/** An attribute: an int, a list of ints, or a float. */
type AttrValue = number | number[] | { float: number };

function attribute(name: string, v: AttrValue): OnnxAttribute {
  if (Array.isArray(v)) return { name, type: ATTR.INTS, ints: v };
  if (typeof v === 'object') return { name, type: ATTR.FLOAT, f: v.float };
  return { name, type: ATTR.INT, i: v };
}

export class OnnxGraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly names = new Set<string>();

  constructor(
    private readonly state: ReadonlyMap<string, HostTensor>,
    readonly batchNorm: BatchNormExport,
  ) {}

  /** The f32 tensor stored under `key`; a missing key or another dtype is an error naming it. */
  weight(key: string): HostTensor {
    const t = this.state.get(key);
    if (!t) throw new Error(`the state dict has no "${key}"`);
    if (t.dtype !== 'f32') throw new Error(`"${key}" is ${t.dtype}, not f32`);
    return t;
  }

  has(key: string): boolean {
    return this.state.has(key);
  }

  private unique(name: string): string {
    let n = name;
    for (let i = 1; this.names.has(n); i++) n = `${name}_${i}`;
    this.names.add(n);
    return n;
  }

  /** Adds a float initializer and returns its name. */
  constant(name: string, dims: readonly number[], values: Float32Array | Float64Array): string {
    const n = this.unique(name);
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const rawData = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    this.initializers.push({ name: n, dims: [...dims], dataType: ONNX_FLOAT, rawData });
    return n;
  }

  /** Adds a node and returns the name of its (single) output. */
  op(opType: string, inputs: string[], name: string, attrs: Record<string, AttrValue> = {}): string {
    const n = this.unique(name);
    this.nodes.push({
      input: inputs,
      output: [n],
      name: n,
      opType,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return n;
  }

  /**
   * nn.Conv2d `prefix` (weight [out, in, k, k], optional bias; stride 1, padding k // 2, as every convolution of
   * these models), followed by the eval-mode BatchNorm2d `bn` when given: folded into the convolution's weight and
   * bias (in float64), or as a BatchNormalization node.
   */
  conv(x: string, prefix: string, bn: string | null = null): string {
    const w = this.weight(`${prefix}.weight`);
    const [out, , kh, kw] = w.shape;
    const bias = this.has(`${prefix}.bias`) ? this.weight(`${prefix}.bias`).data : null;
    const attrs = {
      kernel_shape: [kh, kw],
      pads: [kh >> 1, kw >> 1, kh >> 1, kw >> 1],
      strides: [1, 1],
    };
    if (bn && this.batchNorm === 'fold') {
      const { scale, shift } = this.batchNormAffine(bn, out);
      const per = w.data.length / out;
      const folded = new Float64Array(w.data.length);
      for (let o = 0; o < out; o++)
        for (let i = 0; i < per; i++) folded[o * per + i] = w.data[o * per + i] * scale[o];
      const b = new Float64Array(out);
      for (let o = 0; o < out; o++) b[o] = (bias ? bias[o] : 0) * scale[o] + shift[o];
      return this.op(
        'Conv',
        [x, this.constant(`${prefix}.weight`, w.shape, folded), this.constant(`${prefix}.bias`, [out], b)],
        prefix,
        attrs,
      );
    }
    const inputs = [x, this.constant(`${prefix}.weight`, w.shape, w.data as Float32Array)];
    if (bias) inputs.push(this.constant(`${prefix}.bias`, [out], bias as Float32Array));
    const y = this.op('Conv', inputs, prefix, attrs);
    if (!bn) return y;
    const p = (k: string) =>
      this.constant(`${bn}.${k}`, [out], this.weight(`${bn}.${k}`).data as Float32Array);
    return this.op(
      'BatchNormalization',
      [y, p('weight'), p('bias'), p('running_mean'), p('running_var')],
      bn,
      { epsilon: { float: BN_EPS } },
    );
  }

  /** y = x·scale + shift of an eval-mode BatchNorm2d with `channels` channels, in float64. */
  private batchNormAffine(bn: string, channels: number): { scale: Float64Array; shift: Float64Array } {
    const get = (k: string) => {
      const t = this.weight(`${bn}.${k}`);
      if (t.data.length !== channels)
        throw new Error(`"${bn}.${k}" has ${t.data.length} values for ${channels} channels`);
      return t.data;
    };
    const [gamma, beta, mean, variance] = ['weight', 'bias', 'running_mean', 'running_var'].map(get);
    const scale = new Float64Array(channels);
    const shift = new Float64Array(channels);
    for (let c = 0; c < channels; c++) {
      scale[c] = gamma[c] / Math.sqrt(variance[c] + BN_EPS);
      shift[c] = beta[c] - mean[c] * scale[c];
    }
    return { scale, shift };
  }

  /** nn.ConvTranspose2d `prefix` with kernel 2, stride 2 (weight [in, out, 2, 2], bias [out]). */
  upconv(x: string, prefix: string): string {
    const w = this.weight(`${prefix}.weight`);
    const b = this.weight(`${prefix}.bias`);
    return this.op(
      'ConvTranspose',
      [
        x,
        this.constant(`${prefix}.weight`, w.shape, w.data as Float32Array),
        this.constant(`${prefix}.bias`, b.shape, b.data as Float32Array),
      ],
      prefix,
      { kernel_shape: [w.shape[2], w.shape[3]], strides: [2, 2] },
    );
  }

  maxPool(x: string, name: string): string {
    return this.op('MaxPool', [x], name, { kernel_shape: [2, 2], strides: [2, 2] });
  }

  relu(x: string, name: string): string {
    return this.op('Relu', [x], name);
  }

  concat(xs: string[], name: string): string {
    return this.op('Concat', xs, name, { axis: 1 });
  }
}
