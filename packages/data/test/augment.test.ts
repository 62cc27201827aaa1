import { Rng } from '@mriseg/tensor-wgsl';
import { describe, expect, it } from 'vitest';
import { type AugmentParams, augmentSlice, drawAugmentParams, REFERENCE_AUGMENT } from '../src/augment.js';

const H = 64;
const W = 80;
const P = H * W;

/** Channel 0: two smooth blobs; channels 1, 2: other patterns. The mask is channel 0 > 0.5. */
function scene() {
  const image = new Float32Array(3 * P);
  const mask = new Uint8Array(P);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const b1 = Math.exp(-(((x - 30) / 12) ** 2 + ((y - 25) / 9) ** 2));
      const b2 = Math.exp(-(((x - 58) / 7) ** 2 + ((y - 44) / 10) ** 2));
      image[i] = b1 + b2;
      image[P + i] = Math.sin(x / 5) * Math.cos(y / 7);
      image[2 * P + i] = (x + y) / (W + H);
      mask[i] = image[i] > 0.5 ? 1 : 0;
    }
  }
  return { image, mask };
}

function run(p: AugmentParams) {
  const { image, mask } = scene();
  const out = new Float32Array(3 * P);
  const outMask = new Float32Array(P);
  augmentSlice(image, mask, 3, H, W, p, out, outMask);
  return { image, mask, out, outMask };
}

const still: AugmentParams = {
  scale: 1,
  angle: 0,
  flip: false,
  elastic: null,
  gamma: null,
  contrast: 1,
  brightness: 0,
  noise: null,
};

describe('augmentation', () => {
  it('identity parameters copy the slice exactly; a flip mirrors it exactly', () => {
    const a = run(still);
    // (+0 and −0 differ for toEqual; compare values.)
    expect(a.out.every((v, i) => v === a.image[i])).toBe(true);
    expect(Array.from(a.outMask)).toEqual(Array.from(a.mask));
    const f = run({ ...still, flip: true });
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        expect(f.out[P + y * W + x] === f.image[P + y * W + (W - 1 - x)]).toBe(true);
        expect(f.outMask[y * W + x]).toBe(f.mask[y * W + (W - 1 - x)]);
      }
    }
  });

  it('image and mask stay aligned and the mask binary (reference transforms, elastic, intensity)', () => {
    const rng = new Rng(11);
    const options = [
      REFERENCE_AUGMENT,
      { ...REFERENCE_AUGMENT, elastic: { prob: 1, alpha: 1.5, sigma: 12 } },
      { ...REFERENCE_AUGMENT, scale: 0.2, rotate: 90 },
    ];
    let tumour = 0;
    for (const o of options) {
      for (let k = 0; k < 8; k++) {
        const p = drawAugmentParams(rng, o);
        const { out, outMask } = run(p);
        const thr = new Uint8Array(P);
        for (let i = 0; i < P; i++) thr[i] = out[i] > 0.5 ? 1 : 0;
        let bad = 0;
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            const m = outMask[y * W + x];
            expect(m === 0 || m === 1).toBe(true);
            tumour += m;
            // Pixels within 2 px of the thresholded edge are interpolation-dependent.
            let edge = false;
            for (let dy = -2; dy <= 2 && !edge; dy++) {
              for (let dx = -2; dx <= 2; dx++) {
                const yy = Math.min(H - 1, Math.max(0, y + dy));
                const xx = Math.min(W - 1, Math.max(0, x + dx));
                if (thr[yy * W + xx] !== thr[y * W + x]) {
                  edge = true;
                  break;
                }
              }
            }
            if (!edge && thr[y * W + x] !== m) bad++;
          }
        }
        expect(bad).toBe(0);
      }
    }
    expect(tumour).toBeGreaterThan(1000);
  });

  it('intensity transforms change the image only', () => {
    const p = drawAugmentParams(new Rng(2), {
      ...REFERENCE_AUGMENT,
      gamma: { prob: 1, range: [0.7, 1.5] },
      brightnessContrast: { prob: 1, brightness: 0.2, contrast: 0.2 },
      noise: { prob: 1, std: 0.05 },
    });
    const base = run({ ...p, gamma: null, contrast: 1, brightness: 0, noise: null });
    const full = run(p);
    expect(Array.from(full.outMask)).toEqual(Array.from(base.outMask));
    let d = 0;
    for (let i = 0; i < 3 * P; i++) d += Math.abs(full.out[i] - base.out[i]);
    expect(d / (3 * P)).toBeGreaterThan(0.01);
    expect(Array.from(run(p).out)).toEqual(Array.from(full.out));
  });
});
