import type { BinaryVolume, Volume } from '../src/index.js';

// Synthetic 60×256×256 volumes shaped like this dataset's patients: an ellipsoidal tumour, a prediction that is a
// noisy, shifted copy of it plus a few false-positive blobs (so the largest-component step has work to do),
// everything else background.

const D = 60;
const H = 256;
const W = 256;

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Below 1 inside the ellipsoid with centre c and radii r. */
function ell(z: number, y: number, x: number, c: readonly number[], r: readonly number[]): number {
  return ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2;
}

export interface SyntheticCase {
  prob: Volume;
  truth: BinaryVolume;
}

/** A patient volume with a tumour of the given radii (slices, rows, columns). */
export function syntheticCase(radii: readonly [number, number, number]): SyntheticCase {
  const rand = seeded(42);
  const prob = new Float32Array(D * H * W);
  const truth = new Uint8Array(D * H * W);
  const c = [30, 120, 130];
  const shifted = [31, 123, 127];
  const blobs = [
    [10, 40, 40],
    [50, 200, 60],
    [20, 220, 210],
  ];
  for (let z = 0; z < D; z++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = (z * H + y) * W + x;
        if (ell(z, y, x, c, radii) < 1) truth[i] = 1;
        let p = ell(z, y, x, shifted, radii) < 1 + 0.3 * (rand() - 0.5) ? 0.9 : 0.02;
        for (const b of blobs) if (ell(z, y, x, b, [3, 8, 8]) < 1) p = 0.8;
        prob[i] = p;
      }
    }
  }
  return { prob: { data: prob, shape: [D, H, W] }, truth: { data: truth, shape: [D, H, W] } };
}

/** A typical tumour of this dataset (about 24 slices × 60 × 70 pixels) and an extreme one filling most slices. */
export const TYPICAL_RADII = [12, 30, 35] as const;
export const LARGE_RADII = [28, 100, 110] as const;

/**
 * A prediction that is noise: every voxel's probability uniform in [0, 1), so about half the volume is foreground
 * in one giant 6-connected component with a surface almost as large — the worst case for LCC and HD95.
 */
export function noiseCase(truth: BinaryVolume): SyntheticCase {
  const rand = seeded(7);
  const prob = new Float32Array(D * H * W);
  for (let i = 0; i < prob.length; i++) prob[i] = rand();
  return { prob: { data: prob, shape: [D, H, W] }, truth };
}
