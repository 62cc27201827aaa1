/**
 * Inputs of the bias-field tests, shared with the script that ran ITK's N4 on them (scripts/n4-reference): a
 * phantom with a known field, and the FLAIR of two sample patients shrunk 4× in-plane. Both sides must build them
 * identically; the fixtures record a hash of each input to catch a drift.
 */
import { createHash } from 'node:crypto';
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

/** The options both implementations ran with (ITK's defaults, three levels, no shrinking). */
export const FIXTURE_OPTIONS = {
  levels: 3,
  iterations: 50,
  controlPoints: 4,
  histogramBins: 200,
  fwhm: 0.15,
  wienerNoise: 0.01,
  convergence: 0.001,
  shrink: 1,
} as const;

export const FIXTURE_PATIENTS = ['TCGA_CS_4942_19970222', 'TCGA_HT_A616_19991226'] as const;

/** mulberry32, so the phantom's noise is the same everywhere. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An ellipsoid of three tissue intensities times exp(a smooth field), with 3 % noise. */
export function biasPhantom([D, H, W]: [number, number, number] = [12, 48, 56], seed = 3): BiasInput {
  const r = rng(seed);
  const n = D * H * W;
  const image = new Float32Array(n);
  const mask = new Uint8Array(n);
  const truth = new Float64Array(n);
  for (let z = 0; z < D; z++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = (z * H + y) * W + x;
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
 * One channel of a sample patient after the reference preprocessing without normalisation, 4×4 block means of the
 * voxels above 5 % of its maximum (a block counts when half of it does).
 */
export function patientGrid(sampleRoot: string, id: string, channel = 1, shrink = 4): BiasInput {
  const v = preprocess(readPatient(scanPatient(`${sampleRoot}/${id}`, id)), { normalize: false });
  const { depth: D, height: H, width: W } = v;
  const plane = H * W;
  let max = 0;
  for (let z = 0; z < D; z++)
    for (let i = 0; i < plane; i++) max = Math.max(max, v.image[(z * 3 + channel) * plane + i]);
  const gy = Math.ceil(H / shrink);
  const gx = Math.ceil(W / shrink);
  const image = new Float32Array(D * gy * gx);
  const mask = new Uint8Array(D * gy * gx);
  for (let z = 0; z < D; z++)
    for (let by = 0; by < gy; by++)
      for (let bx = 0; bx < gx; bx++) {
        let sum = 0;
        let count = 0;
        let total = 0;
        for (let y = by * shrink; y < Math.min(H, (by + 1) * shrink); y++)
          for (let x = bx * shrink; x < Math.min(W, (bx + 1) * shrink); x++) {
            total++;
            const s = v.image[(z * 3 + channel) * plane + y * W + x];
            if (s > 0.05 * max) {
              sum += s;
              count++;
            }
          }
        const g = (z * gy + by) * gx + bx;
        if (count > 0 && 2 * count >= total) {
          mask[g] = 1;
          image[g] = sum / count;
        }
      }
  return { shape: [D, gy, gx], image, mask };
}

export function inputHash(b: BiasInput): string {
  return createHash('sha256')
    .update(JSON.stringify(b.shape))
    .update(new Uint8Array(b.image.buffer, b.image.byteOffset, b.image.byteLength))
    .update(b.mask)
    .digest('hex');
}
