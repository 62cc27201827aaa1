import { describe, expect, it } from 'vitest';
import {
  type BinaryVolume,
  type Connectivity,
  countComponents,
  keepComponentsAtLeast,
  keepLargestComponent,
  keepLargestComponentPerSlice,
  keepLargestComponents,
  labelComponents,
  removeSmallObjects,
  type Shape,
} from '../src/index.js';
import { bruteLabel, count, fromRows, randomMask, rng } from './util.js';

describe('labelComponents against a brute-force flood fill', () => {
  const cases: [Shape, Connectivity][] = [
    [[9, 11], 4],
    [[9, 11], 8],
    [[1, 13], 4],
    [[6, 7, 8], 4],
    [[6, 7, 8], 8],
    [[6, 7, 8], 6],
    [[6, 7, 8], 18],
    [[6, 7, 8], 26],
    [[3, 1, 9], 26],
  ];
  for (const [shape, conn] of cases) {
    it(`shape [${shape.join(',')}] connectivity ${conn}: identical labels (raster order) and sizes`, () => {
      const rand = rng(shape.length * 100 + conn);
      for (let trial = 0; trial < 60; trial++) {
        const mask = randomMask(shape, 0.2 + 0.4 * rand(), rand);
        const mine = labelComponents(mask, conn);
        const ref = bruteLabel(mask, conn);
        expect(mine.count).toBe(ref.count);
        expect(mine.labels).toEqual(ref.labels);
        const sizes = new Int32Array(ref.count + 1);
        for (const l of ref.labels) if (l !== 0) sizes[l]++;
        expect(mine.sizes).toEqual(sizes);
      }
    });
  }

  it('merges a U shape whose arms meet only late in the scan (union of two provisional labels)', () => {
    const m = fromRows(['#...#', '#...#', '#####']);
    expect(countComponents(m, 4)).toBe(1);
    // And a W with three arms, where the smaller label must win the root.
    const w = fromRows(['#.#.#', '#.#.#', '#####']);
    const lab = labelComponents(w, 4);
    expect(lab.count).toBe(1);
    expect(new Set(lab.labels)).toEqual(new Set([0, 1]));
  });

  it('diagonal neighbours: 4 vs 8 in 2-D, 6 vs 18 vs 26 in 3-D', () => {
    const d = fromRows(['#.', '.#']);
    expect(countComponents(d, 4)).toBe(2);
    expect(countComponents(d, 8)).toBe(1);
    const edge: BinaryVolume = { data: Uint8Array.from([1, 0, 0, 0, 0, 0, 1, 0]), shape: [2, 2, 2] }; // (0,0,0), (1,1,0)
    expect(countComponents(edge, 6)).toBe(2);
    expect(countComponents(edge, 18)).toBe(1);
    const corner: BinaryVolume = { data: Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 1]), shape: [2, 2, 2] };
    expect(countComponents(corner, 18)).toBe(2);
    expect(countComponents(corner, 26)).toBe(1);
  });

  it('4 and 8 on a volume label each slice separately', () => {
    const v: BinaryVolume = { data: new Uint8Array(2 * 3 * 3).fill(1), shape: [2, 3, 3] };
    expect(countComponents(v, 4)).toBe(2);
    expect(countComponents(v, 8)).toBe(2);
    expect(countComponents(v, 6)).toBe(1);
  });

  it('defaults: 4 for an image, 6 for a volume', () => {
    expect(countComponents(fromRows(['#.', '.#']))).toBe(2);
    const edge: BinaryVolume = { data: Uint8Array.from([1, 0, 0, 0, 0, 0, 1, 0]), shape: [2, 2, 2] };
    expect(countComponents(edge)).toBe(2);
  });

  it('rejects 3-D connectivity on a 2-D image and unknown connectivities, naming the function', () => {
    expect(() => labelComponents(fromRows(['#']), 6)).toThrow(
      /labelComponents: connectivity 6 needs a 3-D mask/,
    );
    expect(() => labelComponents(fromRows(['#']), 5 as Connectivity)).toThrow(
      /labelComponents: connectivity 5/,
    );
    expect(() => labelComponents({ data: new Uint8Array(3), shape: [2, 2] })).toThrow(
      /labelComponents: mask has 3 values but shape \[2,2\] needs 4/,
    );
  });

  it('empty and full masks', () => {
    expect(labelComponents({ data: new Uint8Array(24), shape: [2, 3, 4] }).count).toBe(0);
    const full = labelComponents({ data: new Uint8Array(24).fill(1), shape: [2, 3, 4] });
    expect(full.count).toBe(1);
    expect(full.sizes[1]).toBe(24);
  });
});

describe('component filters', () => {
  it('keepLargestComponent keeps the largest, and the first in raster order on a tie', () => {
    const m = fromRows(['##..##', '......', '###...']);
    expect(keepLargestComponent(m).data).toEqual(fromRows(['......', '......', '###...']).data);
    const tie = fromRows(['##..##', '......']);
    expect(keepLargestComponent(tie).data).toEqual(fromRows(['##....', '......']).data);
    const tie2 = fromRows(['....##', '##....']);
    expect(keepLargestComponent(tie2).data).toEqual(fromRows(['....##', '......']).data);
  });

  it('keepLargestComponent of an empty mask is empty', () => {
    expect(count(keepLargestComponent({ data: new Uint8Array(27), shape: [3, 3, 3] }).data)).toBe(0);
  });

  it('keepLargestComponent on random volumes keeps exactly the brute-force largest component', () => {
    const rand = rng(7);
    for (let t = 0; t < 40; t++) {
      const m = randomMask([5, 8, 9], 0.35, rand);
      const ref = bruteLabel(m, 6);
      const sizes = new Array(ref.count + 1).fill(0);
      for (const l of ref.labels) if (l) sizes[l]++;
      let best = 1;
      for (let l = 2; l <= ref.count; l++) if (sizes[l] > sizes[best]) best = l;
      const want = Uint8Array.from(ref.labels, (l) => (l === best ? 1 : 0));
      expect(keepLargestComponent(m).data).toEqual(want);
    }
  });

  it('keepLargestComponents keeps the k largest (ties by raster order)', () => {
    const m = fromRows(['#.##.###', '........', '##.#....']);
    // Sizes in raster order: 1, 2, 3, 2, 1.
    expect(keepLargestComponents(m, 2).data).toEqual(fromRows(['..##.###', '........', '........']).data);
    expect(keepLargestComponents(m, 3).data).toEqual(fromRows(['..##.###', '........', '##......']).data);
    expect(count(keepLargestComponents(m, 0).data)).toBe(0);
    expect(keepLargestComponents(m, 99).data).toEqual(m.data);
    expect(() => keepLargestComponents(m, -1)).toThrow(/keepLargestComponents: k/);
  });

  it('keepComponentsAtLeast / removeSmallObjects drop components with fewer than n voxels', () => {
    const m = fromRows(['#.##.###', '........', '##.#....']);
    expect(keepComponentsAtLeast(m, 2).data).toEqual(fromRows(['..##.###', '........', '##......']).data);
    expect(removeSmallObjects(m, 3).data).toEqual(fromRows(['.....###', '........', '........']).data);
    expect(removeSmallObjects(m, 1).data).toEqual(m.data);
    // 8-connectivity joins the diagonal pair into one object of size 2.
    const d = fromRows(['#.', '.#']);
    expect(count(removeSmallObjects(d, 2, 4).data)).toBe(0);
    expect(count(removeSmallObjects(d, 2, 8).data)).toBe(2);
  });

  it('keepLargestComponentPerSlice keeps one component per slice', () => {
    const s0 = ['##.#', '....'];
    const s1 = ['#..#', '#..#'];
    const data = Uint8Array.from([...fromRows(s0).data, ...fromRows(s1).data]);
    const out = keepLargestComponentPerSlice({ data, shape: [2, 2, 4] }, 4);
    const want = Uint8Array.from([...fromRows(['##..', '....']).data, ...fromRows(['#...', '#...']).data]);
    expect(out.data).toEqual(want);
  });

  it('returns 0/1 masks even for inputs holding other non-zero values', () => {
    const m: BinaryVolume = { data: Uint8Array.from([255, 0, 7, 7, 0]), shape: [1, 5] };
    expect(keepLargestComponent(m, 4).data).toEqual(Uint8Array.from([0, 0, 1, 1, 0]));
  });
});

describe('run-based labelling on long runs', () => {
  // Dense, wide rows: runs span several 4-byte words and merge with many runs of the rows before them.
  for (const conn of [4, 8, 6, 18, 26] as Connectivity[]) {
    it(`connectivity ${conn}: identical labels and sizes to a flood fill on dense [4,6,41] volumes`, () => {
      const rand = rng(700 + conn);
      for (let trial = 0; trial < 20; trial++) {
        const mask = randomMask([4, 6, 41], 0.6 + 0.38 * rand(), rand);
        const mine = labelComponents(mask, conn);
        const ref = bruteLabel(mask, conn);
        expect(mine.count).toBe(ref.count);
        expect(mine.labels).toEqual(ref.labels);
      }
    });
  }
});
