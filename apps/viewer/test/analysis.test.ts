import { binarize, denseCrf, keepLargestComponent } from '@mriseg/metrics';
import { describe, expect, it } from 'vitest';
import { analyse } from '../src/analysis.js';

/** A bright square in a two-channel image and a blurred, shifted probability map over it. */
function scene() {
  const [D, H, W] = [3, 20, 20];
  const prob = new Float32Array(D * H * W);
  const image = new Float32Array(D * 2 * H * W);
  const truth = new Uint8Array(D * H * W);
  for (let z = 0; z < D; z++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const inside = x >= 5 && x < 13 && y >= 6 && y < 14;
        truth[(z * H + y) * W + x] = inside ? 1 : 0;
        prob[(z * H + y) * W + x] = 1 / (1 + Math.exp(-(x >= 7 && x < 15 && y >= 6 && y < 14 ? 0.8 : -0.8)));
        for (let c = 0; c < 2; c++) image[((z * 2 + c) * H + y) * W + x] = inside ? 2 : 0;
      }
  return { prob, image: { data: image, shape: [D, 2, H, W] as const }, truth, shape: [D, H, W] as const };
}

describe('analyse', () => {
  it('runs a CRF step on the probabilities and the image before the threshold and the mask steps', () => {
    const s = scene();
    const a = analyse(s.prob, s.truth, s.shape, 0.5, ['crf:sa=4:wa=8', 'lcc3d'], s.image);
    const want = keepLargestComponent(
      binarize(
        denseCrf({ data: s.prob, shape: s.shape }, s.image, { appearanceSpatial: 4, appearanceWeight: 8 }),
        0.5,
      ),
    );
    expect(a.prediction).toEqual(want.data);
    const plain = analyse(s.prob, s.truth, s.shape, 0.5, ['lcc3d']);
    expect(a.dsc!).toBeGreaterThan(plain.dsc!);
    // The CRF result is reused across thresholds; a different threshold still thresholds it afresh.
    const lower = analyse(s.prob, s.truth, s.shape, 0.2, ['crf:sa=4:wa=8', 'lcc3d'], s.image);
    const refined = denseCrf({ data: s.prob, shape: s.shape }, s.image, {
      appearanceSpatial: 4,
      appearanceWeight: 8,
    });
    expect(lower.prediction).toEqual(keepLargestComponent(binarize(refined, 0.2)).data);
    expect(() => analyse(s.prob, s.truth, s.shape, 0.5, ['crf'])).toThrow(/"crf" needs the image/);
  });
});
