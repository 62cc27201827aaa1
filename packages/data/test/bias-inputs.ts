/**
 * Inputs of the bias-field tests, shared with the script that ran ITK's N4 on them (scripts/n4-reference): a
 * phantom with a known field, and the FLAIR of two sample patients shrunk 4× in-plane. Both sides must build them
 * identically; the fixtures record a hash of each input to catch a drift.
 */
import { createHash } from 'node:crypto';
import { Rng } from '@mriseg/tensor-wgsl';
import { blockMeans, DEFAULT_BIAS_CORRECTION } from '../src/bias-field.js';
import { scanPatient } from '../src/layout.js';
import { preprocess } from '../src/preprocess.js';
import { readPatient } from '../src/reader.js';

export interface BiasInput {
  shape: [number, number, number];
  image: Float32Array;
  mask: Uint8Array;
  /** The log field the phantom was multiplied by (phantom only). */
  truth?: Float64Array;
}

/** The options both implementations ran with (ITK's defaults: the package's, with three levels and no shrinking). */
export const FIXTURE_OPTIONS = { ...DEFAULT_BIAS_CORRECTION, levels: 3, shrink: 1 } as const;

export const FIXTURE_PATIENTS = ['TCGA_CS_4942_19970222', 'TCGA_HT_A616_19991226'] as const;

/** An ellipsoid of three tissue intensities times exp(a smooth field), with 3 % noise. */
export function biasPhantom([D, H, W]: [number, number, number] = [12, 48, 56], seed = 3): BiasInput {
  const rng = new Rng(seed);
  const r = () => rng.uniform();
  const image = new Float32Array(D * H * W);
  const mask = new Uint8Array(image.length);
  const truth = new Float64Array(image.length);
  for (let i = 0; i < image.length; i++) {
    const [z, y, x] = [Math.floor(i / (H * W)), Math.floor(i / W) % H, i % W];
    const ex = (x - W / 2) / (W * 0.42);
    const ey = (y - H / 2) / (H * 0.42);
    const ez = (z - D / 2) / (D * 0.7);
    const rr = ex * ex + ey * ey + ez * ez;
    const f = 0.3 * (x / W) - 0.25 * (y / H) ** 2 + 0.1 * (z / D);
    truth[i] = f;
    if (rr > 1) continue;
    mask[i] = 1;
    const tissue = rr < 0.3 ? 1.0 : Math.sin(x / 3) > 0.3 ? 0.6 : 0.8;
    image[i] = tissue * Math.exp(f) * (1 + 0.03 * (r() - 0.5));
  }
  return { shape: [D, H, W], image, mask, truth };
}

/**
 * One channel of a sample patient after the reference preprocessing without normalisation, shrunk 4× in-plane the
 * way `estimateBiasField` shrinks (block means of the voxels above 5 % of the maximum; a block counts when half of
 * it does).
 */
export function patientGrid(sampleRoot: string, id: string, channel = 1, shrink = 4): BiasInput {
  const v = preprocess(readPatient(scanPatient(`${sampleRoot}/${id}`, id)), { normalize: false });
  const { depth: D, height: H, width: W } = v;
  const plane = H * W;
  const x = new Float64Array(D * plane);
  for (let z = 0; z < D; z++)
    x.set(v.image.subarray((z * 3 + channel) * plane, (z * 3 + channel + 1) * plane), z * plane);
  let max = 0;
  for (const value of x) max = Math.max(max, value);
  const mask = Uint8Array.from(x, (value) => (value > 0.05 * max ? 1 : 0));
  const b = blockMeans(x, [D, H, W], mask, shrink);
  return { shape: b.shape, image: Float32Array.from(b.values), mask: b.inMask };
}

export function inputHash(b: BiasInput): string {
  return createHash('sha256')
    .update(JSON.stringify(b.shape))
    .update(new Uint8Array(b.image.buffer, b.image.byteOffset, b.image.byteLength))
    .update(b.mask)
    .digest('hex');
}
