import { CHECKPOINT_FORMAT, type InferenceSpec, parseCheckpoint } from '@mriseg/nn';
import { serializeSafetensors } from '@mriseg/tensor-wgsl/safetensors';
import { describe, expect, it } from 'vitest';
import { inferenceOf, preprocessOptionsOf, REFERENCE_INFERENCE } from '../src/index.js';

/** A checkpoint file with no tensors and this `__metadata__`. */
const withMetadata = (meta: Record<string, string>) =>
  parseCheckpoint(serializeSafetensors([], { format: CHECKPOINT_FORMAT, ...meta }), 'x.safetensors');

const spec: InferenceSpec = {
  ...REFERENCE_INFERENCE,
  inputSize: 64,
  preprocess: { name: 'reference', options: { threshold: 0.1 } },
  threshold: 0.4,
  postprocess: 'lcc3d,fill-holes2d',
};

describe('inference settings of a checkpoint', () => {
  it('are the recorded spec when the file has one', () => {
    const r = inferenceOf(withMetadata({ inference: JSON.stringify(spec) }), 'a.safetensors');
    expect(r).toEqual({ spec, from: 'checkpoint', note: null });
    expect(preprocessOptionsOf(r.spec)).toEqual({ threshold: 0.1, size: 64 });
  });

  it('come from the training options of an older mriseg checkpoint, and say so', () => {
    const old = withMetadata({
      'mriseg.train': JSON.stringify({ config: { 'image-size': 64, postprocess: '' }, state: {} }),
    });
    const r = inferenceOf(old, 'runs/x/best.safetensors');
    expect(r.from).toBe('older metadata');
    expect(r.spec).toEqual({ ...REFERENCE_INFERENCE, inputSize: 64 });
    expect(r.note).toMatch(/runs\/x\/best\.safetensors records no inference settings.*input 64 px/);
    // The viewer's demo checkpoint stored only its preprocessing size.
    expect(inferenceOf(withMetadata({ preprocess: '{"size":32}' })).spec.inputSize).toBe(32);
  });

  it("fall back to the reference's for a plain state dict, and say so", () => {
    const r = inferenceOf(withMetadata({}), 'torch.safetensors');
    expect(r.spec).toEqual(REFERENCE_INFERENCE);
    expect(r.from).toBe('reference default');
    expect(r.note).toContain("using the reference's: input 256 px, threshold 0.5, post-processing lcc3d");
  });

  it('refuse a preprocessing pipeline this version does not know', () => {
    expect(() => preprocessOptionsOf({ ...spec, preprocess: { name: 'n4-bias', options: {} } })).toThrow(
      /preprocessing "n4-bias".*known: reference/,
    );
  });

  it('pass bias correction and skull stripping on; refuse an option this version does not know', () => {
    const options = { biasCorrect: true, skullStrip: true };
    expect(preprocessOptionsOf({ ...spec, preprocess: { name: 'reference', options } })).toEqual({
      ...options,
      size: 64,
    });
    expect(() =>
      preprocessOptionsOf({ ...spec, preprocess: { name: 'reference', options: { denoise: true } } }),
    ).toThrow(
      /preprocessing option\(s\) "denoise", which this version does not know \(known: dropEnds, .*skullStrip\)/,
    );
  });
});
