import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '@mriseg/tensor-wgsl';
import { encodePng } from './png.js';
import type { RawPatient } from './reader.js';
import { deriveRng } from './seed.js';
import { encodeTiff } from './tiff.js';

export interface PhantomOptions {
  /** In-plane size (the dataset: 256). */
  size?: number;
  /** Slice count range, inclusive (the dataset: 20–88). */
  slices?: [number, number];
  /** Probability that a patient is FLAIR-only (3 equal channels), as 6 of the 110 real ones. */
  flairOnlyProb?: number;
  /** Gaussian noise std in 8-bit units. */
  noise?: number;
}

export interface PhantomDatasetOptions extends PhantomOptions {
  patients?: number;
  seed?: number;
  format?: 'tif' | 'png';
}

/**
 * A synthetic patient: a head (scalp/skull ring, grey and white matter, ventricles) whose cross-section shrinks
 * towards the first and last slices, and a lobulated tumour that is hyperintense in FLAIR, hypointense
 * pre-contrast and rim-enhancing post-contrast, plus noise. Channels are pre-contrast, FLAIR, post-contrast.
 */
export function generatePhantomPatient(id: string, rng: Rng, options: PhantomOptions = {}): RawPatient {
  const S = options.size ?? 256;
  const [zMin, zMax] = options.slices ?? [20, 40];
  const depth = zMin + rng.int(zMax - zMin + 1);
  const noise = options.noise ?? 5;
  const flairOnly = rng.uniform() < (options.flairOnlyProb ?? 0.1);
  const plane = S * S;
  const image = new Uint8Array(depth * plane * 3);
  const mask = new Uint8Array(depth * plane);
  const cx = S / 2 + rng.range(-0.03, 0.03) * S;
  const cy = S / 2 + rng.range(-0.03, 0.03) * S;
  const ax = S * rng.range(0.33, 0.38);
  const ay = S * rng.range(0.4, 0.45);
  // Tumour: a lobulated ellipsoid inside the brain, away from the end slices.
  const tr = S * rng.range(0.05, 0.12);
  const ang = rng.range(0, 2 * Math.PI);
  const dist = rng.range(0.15, 0.45);
  const tx = cx + Math.cos(ang) * dist * ax;
  const ty = cy + Math.sin(ang) * dist * ay;
  const tz = rng.range(0.35, 0.65) * (depth - 1);
  const tzr = Math.max(2, rng.range(0.15, 0.3) * depth);
  const lobes = [2, 3, 5].map((k) => ({ k, a: rng.range(0.05, 0.2), p: rng.range(0, 2 * Math.PI) }));
  const tex = Array.from({ length: 3 }, () => ({
    fx: rng.range(2, 6),
    fy: rng.range(2, 6),
    p: rng.range(0, 6),
  }));
  for (let z = 0; z < depth; z++) {
    const t = (2 * z) / (depth - 1) - 1;
    const r = Math.sqrt(Math.max(0, 1 - (t * 1.08) ** 2));
    const dz = (z - tz) / tzr;
    const tzScale = Math.sqrt(Math.max(0, 1 - dz * dz));
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const p = z * plane + y * S + x;
        const ex = (x - cx) / (ax * r + 1e-9);
        const ey = (y - cy) / (ay * r + 1e-9);
        const e = Math.sqrt(ex * ex + ey * ey);
        let pre = 0;
        let flair = 0;
        let post = 0;
        if (r > 0.05 && e < 1) {
          const shade =
            1 + 0.08 * tex.reduce((s, q) => s + Math.sin((q.fx * x) / S + (q.fy * y) / S + q.p), 0);
          if (e > 0.9) {
            pre = 150;
            flair = 60;
            post = 160;
          } else if (e > 0.55) {
            pre = 90 * shade;
            flair = 105 * shade;
            post = 95 * shade;
          } else {
            pre = 115 * shade;
            flair = 85 * shade;
            post = 110 * shade;
          }
          const vx = Math.abs(x - cx) / (0.09 * ax * r + 1e-9);
          const vy = (y - cy) / (0.25 * ay * r + 1e-9);
          if (Math.abs(t) < 0.5 && (vx - 1.2) ** 2 + vy * vy < 1) {
            pre = 40;
            flair = 30;
            post = 45;
          }
          if (tzScale > 0 && e < 0.88) {
            const dx = x - tx;
            const dy = y - ty;
            const th = Math.atan2(dy, dx);
            const rad = tr * tzScale * (1 + lobes.reduce((s, l) => s + l.a * Math.sin(l.k * th + l.p), 0));
            const d = Math.sqrt(dx * dx + dy * dy) / Math.max(rad, 1e-9);
            if (d < 1) {
              mask[p] = 1;
              pre = 70;
              flair = 175 + 30 * (1 - d);
              post = d > 0.75 ? 175 : 85;
            } else if (d < 1.3) {
              // Peritumoural oedema fades out in FLAIR only (outside the mask, as in real annotations).
              flair += (1.3 - d) * 150;
            }
          }
        }
        const q = p * 3;
        const nf = flair + rng.normal() * noise;
        image[q] = clamp8(flairOnly ? nf : pre + rng.normal() * noise);
        image[q + 1] = clamp8(nf);
        image[q + 2] = clamp8(flairOnly ? nf : post + rng.normal() * noise);
      }
    }
  }
  return {
    id,
    sliceNumbers: Array.from({ length: depth }, (_, i) => i + 1),
    depth,
    height: S,
    width: S,
    image,
    mask,
  };
}

function clamp8(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Writes one patient in the Kaggle layout (`<dir>/<id>/<id>_<n>.tif` and `_mask.tif`; or .png). */
export function writePatientFolder(root: string, p: RawPatient, format: 'tif' | 'png' = 'tif'): void {
  const dir = join(root, p.id);
  mkdirSync(dir, { recursive: true });
  const plane = p.height * p.width;
  for (let z = 0; z < p.depth; z++) {
    const img = {
      width: p.width,
      height: p.height,
      channels: 3,
      data: p.image.subarray(z * plane * 3, (z + 1) * plane * 3),
    };
    const m = new Uint8Array(plane);
    for (let i = 0; i < plane; i++) m[i] = p.mask[z * plane + i] ? 255 : 0;
    const msk = { width: p.width, height: p.height, channels: 1, data: m };
    const base = join(dir, `${p.id}_${p.sliceNumbers[z]}`);
    if (format === 'png') {
      writeFileSync(`${base}.png`, encodePng(img));
      writeFileSync(`${base}_mask.png`, encodePng(msk));
    } else {
      // The dataset's strip sizes: 11 rows an image strip, 32 a mask strip.
      writeFileSync(`${base}.tif`, encodeTiff(img, { rowsPerStrip: 11 }));
      writeFileSync(`${base}_mask.tif`, encodeTiff(msk, { rowsPerStrip: 32 }));
    }
  }
}

/** Phantom patient IDs look like the real ones, with institution code PH. */
export function phantomId(i: number): string {
  return `TCGA_PH_${String(i + 1).padStart(4, '0')}_20000101`;
}

/** Writes a phantom data set in the Kaggle layout; returns the patient IDs. Deterministic for a seed. */
export function writePhantomDataset(root: string, options: PhantomDatasetOptions = {}): string[] {
  const n = options.patients ?? 8;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = phantomId(i);
    const p = generatePhantomPatient(id, deriveRng(options.seed ?? 1, 'phantom', i), options);
    writePatientFolder(root, p, options.format ?? 'tif');
    ids.push(id);
  }
  return ids;
}
