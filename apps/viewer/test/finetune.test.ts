import { describe, expect, it } from 'vitest';
import { BatchSampler, buildTrainingSet, dscAt, trainingSlices } from '../src/finetune.js';

const H = 16;
const W = 16;
const plane = H * W;

/** A volume whose slice z has every image value z and a square mask of side z + 2 at the top left. */
function volume(depth: number) {
  const image = new Float32Array(depth * 3 * plane);
  for (let z = 0; z < depth; z++) image.fill(z, z * 3 * plane, (z + 1) * 3 * plane);
  return { image, depth, height: H, width: W };
}

describe('fine-tuning data', () => {
  it('takes the corrected slices, then uncorrected neighbours with the prediction as target', () => {
    expect(trainingSlices([3, 7], 10, 0, true)).toEqual([
      { z: 3, target: 'correction' },
      { z: 7, target: 'correction' },
    ]);
    expect(trainingSlices([3, 4], 10, 1, true)).toEqual([
      { z: 3, target: 'correction' },
      { z: 4, target: 'correction' },
      { z: 2, target: 'prediction' },
      { z: 5, target: 'prediction' },
    ]);
    // At the volume's ends, and without a prediction: no neighbours.
    expect(trainingSlices([0], 3, 2, true).map((s) => s.z)).toEqual([0, 1, 2]);
    expect(trainingSlices([0], 3, 2, false).map((s) => s.z)).toEqual([0]);
  });

  it('copies images and targets of the chosen slices', () => {
    const v = volume(4);
    const corrections = new Uint8Array(4 * plane);
    corrections[2 * plane + 5] = 1;
    const prediction = new Uint8Array(4 * plane);
    prediction[3 * plane + 9] = 1;
    const set = buildTrainingSet(v, corrections, prediction, [
      { z: 2, target: 'correction' },
      { z: 3, target: 'prediction' },
    ]);
    expect(set.count).toBe(2);
    expect(set.images[0]).toBe(2);
    expect(set.images[3 * plane]).toBe(3);
    expect(set.masks[5]).toBe(1);
    expect(set.masks[plane + 9]).toBe(1);
    expect(set.masks.reduce((a, b) => a + b, 0)).toBe(2);
    expect(() => buildTrainingSet(v, corrections, null, [{ z: 1, target: 'prediction' }])).toThrow(
      /slice 2: no prediction/,
    );
  });

  it('draws every sample once an epoch, seeded, with aligned augmentation of image and mask', () => {
    const v = volume(3);
    const corrections = new Uint8Array(3 * plane);
    // Each slice's mask marks where its image is "bright": after augmentation they must still coincide.
    for (let z = 0; z < 3; z++) {
      for (let y = 4; y < 12; y++) {
        for (let x = 2; x < 9; x++) {
          corrections[z * plane + y * W + x] = 1;
          for (let c = 0; c < 3; c++) v.image[(z * 3 + c) * plane + y * W + x] = 100 + z;
        }
      }
    }
    const set = buildTrainingSet(v, corrections, null, trainingSlices([0, 1, 2], 3, 0, false));
    const a = new BatchSampler(set, 3, 5);
    const b = new BatchSampler(set, 3, 5);
    const first = a.next();
    expect(first.shape).toEqual([3, 3, H, W]);
    expect(b.next().image).toEqual(first.image);
    // One epoch: the three slices each once (told apart by their bright value).
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const img = first.image.subarray(i * 3 * plane, (i + 1) * 3 * plane);
      seen.add(Math.round(Math.max(...img)) - 100);
    }
    expect([...seen].sort()).toEqual([0, 1, 2]);
    // Augmented: over a few batches some differ from the slice as it is, yet mask and image agree everywhere
    // but at the blurred (bilinear) border of the square.
    let changed = false;
    for (let k = 0; k < 5; k++) {
      const batch = a.next();
      for (let i = 0; i < 3; i++) {
        const m = batch.mask.subarray(i * plane, (i + 1) * plane);
        const img = batch.image.subarray(i * 3 * plane + plane, i * 3 * plane + 2 * plane);
        let disagree = 0;
        for (let p = 0; p < plane; p++) if (m[p] === 1 && img[p] < 50) disagree++;
        expect(disagree).toBeLessThanOrEqual(2);
        if (m.reduce((s, x) => s + x, 0) !== 56) changed = true;
        expect(m.every((x) => x === 0 || x === 1)).toBe(true);
      }
    }
    expect(changed).toBe(true);
    // Without augmentation the samples are the slices as they are.
    const plain = new BatchSampler(set, 2, 5, null).next();
    expect(plain.mask.reduce((s, x) => s + x, 0)).toBe(2 * 56);
    expect(() => new BatchSampler({ ...set, count: 0 }, 2, 1)).toThrow(/correct at least one slice/);
  });

  it('scores probabilities against targets at a threshold', () => {
    expect(dscAt(Float32Array.from([0.9, 0.2, 0.7, 0.1]), Uint8Array.from([1, 1, 0, 0]), 0.5)).toBeCloseTo(
      0.5,
    );
    expect(dscAt(new Float32Array(4), new Uint8Array(4), 0.5)).toBe(1);
    expect(() => dscAt(new Float32Array(2), new Uint8Array(3), 0.5)).toThrow(/2 vs 3/);
  });
});
