import { describe, expect, it } from 'vitest';
import {
  type BinaryVolume,
  binarize,
  binaryClosing,
  binaryDilation,
  binaryErosion,
  binaryOpening,
  cross,
  cube,
  denseCrf,
  disk,
  evaluateCases,
  fillHoles,
  keepLargestComponent,
  keepLargestComponentPerSlice,
  keepLargestComponents,
  listPostprocessSteps,
  parsePostprocess,
  removeSmallObjects,
  square,
} from '../src/index.js';
import { randomMask, rng } from './util.js';

/** Probabilities and a two-channel image whose bright block the CRF can pull a blurred prediction onto. */
function probScene(seed: number) {
  const r = rng(seed);
  const [D, H, W] = [3, 14, 16];
  const prob = new Float32Array(D * H * W);
  const image = new Float32Array(D * 2 * H * W);
  for (let z = 0; z < D; z++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const inside = x >= 4 && x < 11 && y >= 3 && y < 10;
        prob[(z * H + y) * W + x] = Math.min(1, Math.max(0, (inside ? 0.6 : 0.35) + 0.4 * (r() - 0.5)));
        for (let c = 0; c < 2; c++) image[((z * 2 + c) * H + y) * W + x] = (inside ? 2 : 0) + 0.1 * r();
      }
  return {
    prob: { data: prob, shape: [D, H, W] as const },
    image: { data: image, shape: [D, 2, H, W] as const },
  };
}

const vol = (seed: number): BinaryVolume => randomMask([4, 9, 10], 0.55, rng(seed));

describe('parsePostprocess', () => {
  it('each step equals the function it names', () => {
    const cases: [string, (m: BinaryVolume) => BinaryVolume][] = [
      ['lcc3d', (m) => keepLargestComponent(m, 6)],
      ['lcc3d:26', (m) => keepLargestComponent(m, 26)],
      ['lcc2d', (m) => keepLargestComponentPerSlice(m, 4)],
      ['lcc2d:8', (m) => keepLargestComponentPerSlice(m, 8)],
      ['top-k:2', (m) => keepLargestComponents(m, 2, 6)],
      ['top-k:3:18', (m) => keepLargestComponents(m, 3, 18)],
      ['remove-small:5', (m) => removeSmallObjects(m, 5, 6)],
      ['remove-small:5:8', (m) => removeSmallObjects(m, 5, 8)],
      ['fill-holes2d', (m) => fillHoles(m, 4)],
      ['fill-holes2d:8', (m) => fillHoles(m, 8)],
      ['fill-holes3d', (m) => fillHoles(m, 6)],
      ['erode', (m) => binaryErosion(m, cross())],
      ['dilate:square:5', (m) => binaryDilation(m, square(5))],
      ['open:cross', (m) => binaryOpening(m, cross())],
      ['open:disk:2', (m) => binaryOpening(m, disk(2))],
      ['close:cube', (m) => binaryClosing(m, cube())],
    ];
    cases.forEach(([step, f], i) => {
      const m = vol(i + 1);
      expect(parsePostprocess([step])(m).data, step).toEqual(f(m).data);
    });
  });

  it('composes left to right; a comma-separated string works the same', () => {
    const m = vol(99);
    const want = binaryOpening(removeSmallObjects(fillHoles(keepLargestComponent(m), 4), 20), cross());
    const a = parsePostprocess(['lcc3d', 'fill-holes2d', 'remove-small:20', 'open:cross']);
    const b = parsePostprocess(' lcc3d, fill-holes2d ,remove-small:20,open:cross ');
    expect(a(m).data).toEqual(want.data);
    expect(b(m).data).toEqual(want.data);
    expect(b.steps).toEqual(['lcc3d', 'fill-holes2d', 'remove-small:20', 'open:cross']);
    // Order matters: opening first then LCC differs on this volume.
    const reversed = parsePostprocess(['open:cross', 'remove-small:20', 'fill-holes2d', 'lcc3d']);
    expect(reversed(m).data).not.toEqual(want.data);
  });

  it('an empty pipeline returns the input unchanged', () => {
    const m = vol(3);
    expect(parsePostprocess([])(m)).toBe(m);
    expect(parsePostprocess('')(m)).toBe(m);
  });

  it('clear errors for unknown steps and bad arguments, at parse time', () => {
    expect(() => parsePostprocess(['lcc3d', 'blur'])).toThrow(
      /parsePostprocess: unknown step "blur" \(known: crf, lcc3d, lcc2d, top-k, remove-small, fill-holes2d, fill-holes3d, erode, dilate, open, close\)/,
    );
    expect(() => parsePostprocess(['remove-small'])).toThrow(
      'parsePostprocess: step "remove-small": minimum size must be an integer >= 1, got nothing',
    );
    expect(() => parsePostprocess(['remove-small:x'])).toThrow(
      /minimum size must be an integer >= 1, got "x"/,
    );
    expect(() => parsePostprocess(['lcc3d:4'])).toThrow(
      'parsePostprocess: step "lcc3d:4": connectivity must be one of 6, 18, 26, got "4"',
    );
    expect(() => parsePostprocess(['lcc2d:6'])).toThrow(/connectivity must be one of 4, 8/);
    expect(() => parsePostprocess(['open:hexagon'])).toThrow(
      /step "open:hexagon": unknown structuring element "hexagon"/,
    );
    expect(() => parsePostprocess(['open:square:4'])).toThrow(
      /step "open:square:4": square: size must be an odd integer/,
    );
    expect(() => parsePostprocess(['open:disk'])).toThrow(/disk radius must be an integer >= 0, got nothing/);
    expect(() => parsePostprocess(['top-k:0'])).toThrow(/k must be an integer >= 1, got 0/);
    expect(() => parsePostprocess(['fill-holes3d:6:1'])).toThrow(/takes at most 1 argument/);
    expect(() => parsePostprocess(['open:cross:3'])).toThrow(/cross takes no size/);
  });

  it('errors from applying a step to the wrong kind of mask name the step', () => {
    const image: BinaryVolume = { data: new Uint8Array(16), shape: [4, 4] };
    expect(() => parsePostprocess('lcc3d')(image)).toThrow(
      'postprocess step "lcc3d": needs a 3-D mask [D,H,W], got [4,4]',
    );
    expect(() => parsePostprocess('fill-holes3d')(image)).toThrow(
      /postprocess step "fill-holes3d": fillHoles: connectivity 6 needs a 3-D mask/,
    );
    expect(() => parsePostprocess('close:cube')(image)).toThrow(
      /postprocess step "close:cube": binaryClosing: element cube/,
    );
    // 2-D steps work on an image.
    expect(parsePostprocess('fill-holes2d,lcc2d,open:disk:1')(image).shape).toEqual([4, 4]);
  });
});

describe('listPostprocessSteps', () => {
  it('describes every step, and every example parses', () => {
    const steps = listPostprocessSteps();
    expect(steps.map((s) => s.name)).toEqual([
      'crf',
      'lcc3d',
      'lcc2d',
      'top-k',
      'remove-small',
      'fill-holes2d',
      'fill-holes3d',
      'erode',
      'dilate',
      'open',
      'close',
    ]);
    for (const s of steps) {
      expect(s.description.length).toBeGreaterThan(10);
      expect(s.syntax.startsWith(s.name)).toBe(true);
      const f = parsePostprocess([s.example]);
      const m = vol(5);
      const out =
        f.refine === null
          ? f(m)
          : f.fromProbabilities({ data: Float32Array.from(m.data), shape: m.shape }, 0.5, {
              data: new Float32Array(4 * 2 * 9 * 10),
              shape: [4, 2, 9, 10],
            });
      expect(out.shape).toEqual([4, 9, 10]);
    }
  });
});

describe('parsePostprocess: the dense CRF step', () => {
  it('runs before the threshold, then the mask steps', () => {
    const { prob, image } = probScene(1);
    const post = parsePostprocess('crf:wa=6:sa=4:sb=0.5:it=4, lcc3d');
    expect(post.steps).toEqual(['crf:wa=6:sa=4:sb=0.5:it=4', 'lcc3d']);
    const refined = denseCrf(prob, image, {
      appearanceWeight: 6,
      appearanceSpatial: 4,
      appearanceIntensity: 0.5,
      iterations: 4,
    });
    const want = keepLargestComponent(binarize(refined, 0.4));
    expect(post.fromProbabilities(prob, 0.4, image).data).toEqual(want.data);
    expect(post.refine).not.toBeNull();
    expect(post.refine!(prob, image).data).toEqual(refined.data);
    // The refinement changed the mask (else this test would not tell the CRF ran).
    expect(want.data).not.toEqual(keepLargestComponent(binarize(prob, 0.4)).data);
    // The same pipeline without crf is the mask steps on the thresholded probabilities.
    expect(parsePostprocess('lcc3d').fromProbabilities(prob, 0.4).data).toEqual(
      keepLargestComponent(binarize(prob, 0.4)).data,
    );
  });

  it('every argument reaches the CRF', () => {
    const { prob, image } = probScene(2);
    const cases: [string, Parameters<typeof denseCrf>[2]][] = [
      ['crf', {}],
      ['crf:ws=0:sg=2', { smoothnessWeight: 0, smoothnessSpatial: 2 }],
      ['crf:it=2:ch=1', { iterations: 2, channels: [1] }],
      ['crf:3d:sz=3:sa=5', { volumetric: true, sliceSpacing: 3, appearanceSpatial: 5 }],
      ['crf:wa=2.5:sb=.25:ch=0+1', { appearanceWeight: 2.5, appearanceIntensity: 0.25, channels: [0, 1] }],
    ];
    for (const [step, o] of cases)
      expect(parsePostprocess(step).refine!(prob, image).data, step).toEqual(denseCrf(prob, image, o).data);
  });

  it('clear errors: order, arguments, missing image, called on a mask', () => {
    expect(() => parsePostprocess('lcc3d,crf')).toThrow(
      'parsePostprocess: step "crf": works on the probabilities before the threshold, so it must come first (here it follows "lcc3d")',
    );
    expect(() => parsePostprocess('crf:wa')).toThrow(/step "crf:wa": argument "wa" must be key=value or 3d/);
    expect(() => parsePostprocess('crf:foo=1')).toThrow(
      /unknown argument "foo" \(known: wa, sa, sb, ws, sg, it, sz, ch, 3d\)/,
    );
    expect(() => parsePostprocess('crf:sa=x')).toThrow(/sa must be a number, got "x"/);
    expect(() => parsePostprocess('crf:sa=0')).toThrow(
      /step "crf:sa=0": appearanceSpatial must be a positive number, got 0/,
    );
    expect(() => parsePostprocess('crf:it=2.5')).toThrow(/iterations must be an integer >= 0/);
    expect(() => parsePostprocess('crf:ch=a')).toThrow(/ch must be channel indices joined by \+/);
    expect(() => parsePostprocess('crf:sz=2')).toThrow(/sz \(slice spacing\) only applies with 3d/);
    expect(() => parsePostprocess('crf:wa=1:wa=2')).toThrow(/"wa" given twice/);
    const { prob, image } = probScene(3);
    const post = parsePostprocess('crf,lcc3d');
    expect(() => post(binarize(prob))).toThrow(
      'postprocess step "crf" works on the probabilities and the image, not on a mask: use the pipeline\'s fromProbabilities(prob, threshold, image)',
    );
    expect(() => post.fromProbabilities(prob, 0.5)).toThrow(
      'postprocess step "crf" needs the image beside the probabilities',
    );
    expect(() => parsePostprocess('crf:ch=2').fromProbabilities(prob, 0.5, image)).toThrow(
      'postprocess step "crf:ch=2": denseCrf: channel 2 asked for, the image has 2 (0..1)',
    );
  });

  it("evaluateCases runs the CRF on each case's image", () => {
    const { prob, image } = probScene(4);
    const truth = { data: new Uint8Array(prob.data.length), shape: prob.shape };
    for (let i = 0; i < truth.data.length; i++)
      truth.data[i] = image.data[Math.floor(i / 224) * 448 + (i % 224)] > 1 ? 1 : 0;
    const post = parsePostprocess('crf:sa=4,lcc3d');
    const withCrf = evaluateCases([{ id: 'a', prob, truth, image }], { postprocess: post });
    const plain = evaluateCases([{ id: 'a', prob, truth }]);
    expect(withCrf.rows[0].dice).toBeGreaterThan(plain.rows[0].dice);
    // The reference column always scores the raw probabilities.
    expect(withCrf.rows[0].referenceDsc).toBe(plain.rows[0].referenceDsc);
    expect(() => evaluateCases([{ id: 'a', prob, truth }], { postprocess: post })).toThrow(
      'evaluateCases (case a): postprocess step "crf:sa=4" needs the image beside the probabilities',
    );
  });
});
