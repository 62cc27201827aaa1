import { describe, expect, it } from 'vitest';
import {
  type BinaryVolume,
  binaryClosing,
  binaryDilation,
  binaryErosion,
  binaryOpening,
  cross,
  cube,
  disk,
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
      /parsePostprocess: unknown step "blur" \(known: lcc3d, lcc2d, top-k, remove-small, fill-holes2d, fill-holes3d, erode, dilate, open, close\)/,
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
      expect(f(vol(5)).shape).toEqual([4, 9, 10]);
    }
  });
});
