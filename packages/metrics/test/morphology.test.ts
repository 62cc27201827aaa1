import { describe, expect, it } from 'vitest';
import {
  type BinaryVolume,
  ball,
  binaryClosing,
  binaryDilation,
  binaryErosion,
  binaryOpening,
  type Connectivity,
  cross,
  cross3d,
  cube,
  disk,
  fillHoles,
  type Shape,
  type StructuringElement,
  square,
} from '../src/index.js';
import { bruteOffsets, count, dims3, fromRows, neighbours, randomMask, rng } from './util.js';

/** Erosion / dilation straight from the definition, outside = background. */
function bruteMorph(mask: BinaryVolume, se: StructuringElement, erode: boolean): Uint8Array {
  const [d, h, w] = dims3(mask.shape);
  const out = new Uint8Array(mask.data.length);
  const at = (z: number, y: number, x: number) =>
    z >= 0 && z < d && y >= 0 && y < h && x >= 0 && x < w ? mask.data[(z * h + y) * w + x] !== 0 : false;
  for (let z = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = erode;
        for (const [dz, dy, dx] of se.offsets) {
          if (erode) v = v && at(z + dz, y + dy, x + dx);
          else v = v || at(z - dz, y - dy, x - dx);
        }
        out[(z * h + y) * w + x] = v ? 1 : 0;
      }
    }
  }
  return out;
}

/** Holes = background not reachable from the border through background (BFS). */
function bruteFill(mask: BinaryVolume, conn: number): Uint8Array {
  const [d, h, w] = dims3(mask.shape);
  const planar = conn === 4 || conn === 8;
  const reached = new Uint8Array(mask.data.length);
  const queue: number[] = [];
  for (let z = 0; z < d; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const border =
          y === 0 || y === h - 1 || x === 0 || x === w - 1 || (!planar && (z === 0 || z === d - 1));
        const i = (z * h + y) * w + x;
        if (border && mask.data[i] === 0) {
          reached[i] = 1;
          queue.push(i);
        }
      }
    }
  }
  const offs = bruteOffsets(conn);
  while (queue.length > 0) {
    for (const j of neighbours(queue.pop()!, [d, h, w], offs)) {
      if (mask.data[j] === 0 && !reached[j]) {
        reached[j] = 1;
        queue.push(j);
      }
    }
  }
  return Uint8Array.from(reached, (r) => (r ? 0 : 1));
}

describe('structuring elements', () => {
  it('have the expected sizes and symmetric offsets', () => {
    expect(cross().offsets.length).toBe(5);
    expect(cross3d().offsets.length).toBe(7);
    expect(square().offsets.length).toBe(9);
    expect(square(5).offsets.length).toBe(25);
    expect(cube().offsets.length).toBe(27);
    expect(disk(1).offsets.length).toBe(5);
    expect(disk(2).offsets.length).toBe(13);
    expect(disk(3).offsets.length).toBe(29);
    expect(ball(1).offsets.length).toBe(7);
    expect(ball(2).offsets.length).toBe(33);
    for (const se of [cross(), cross3d(), square(5), cube(), disk(3), ball(2)]) {
      const keys = new Set(se.offsets.map((o) => o.join(',')));
      for (const [a, b, c] of se.offsets) expect(keys.has([-a, -b, -c].join(','))).toBe(true);
      expect(keys.has('0,0,0')).toBe(true);
    }
    expect(cross().planar).toBe(true);
    expect(disk(2).planar).toBe(true);
    expect(ball(1).planar).toBe(false);
  });

  it('reject bad sizes naming the function', () => {
    expect(() => square(4)).toThrow(/square: size must be an odd integer/);
    expect(() => cube(0)).toThrow(/cube: size/);
    expect(() => disk(-1)).toThrow(/disk: radius/);
    expect(() => ball(1.5)).toThrow(/ball: radius/);
  });
});

describe('erosion, dilation, opening, closing against the definition', () => {
  const cases: [Shape, () => StructuringElement][] = [
    [[10, 12], cross],
    [[10, 12], () => square()],
    [[10, 12], () => square(5)],
    [[10, 12], () => disk(2)],
    [[5, 7, 9], cross],
    [[5, 7, 9], cross3d],
    [[5, 7, 9], () => cube()],
    [[5, 7, 9], () => ball(2)],
    [[5, 7, 9], () => disk(3)],
    [[2, 3, 2], () => cube(5)],
  ];
  for (const [shape, make] of cases) {
    const se = make();
    it(`${se.name} on [${shape.join(',')}]`, () => {
      const rand = rng(shape.length * 31 + se.offsets.length);
      for (let t = 0; t < 25; t++) {
        const m = randomMask(shape, 0.3 + 0.5 * rand(), rand);
        const er = bruteMorph(m, se, true);
        const di = bruteMorph(m, se, false);
        expect(binaryErosion(m, se).data).toEqual(er);
        expect(binaryDilation(m, se).data).toEqual(di);
        expect(binaryOpening(m, se).data).toEqual(bruteMorph({ data: er, shape }, se, false));
        expect(binaryClosing(m, se).data).toEqual(bruteMorph({ data: di, shape }, se, true));
      }
    });
  }

  it('erosion treats outside as background; closing can clear foreground on the edge (SciPy)', () => {
    const full = fromRows(['###', '###', '###']);
    expect(binaryErosion(full).data).toEqual(fromRows(['...', '.#.', '...']).data);
    expect(binaryClosing(full).data).toEqual(fromRows(['...', '.#.', '...']).data);
    expect(binaryDilation(fromRows(['...', '.#.', '...'])).data).toEqual(
      fromRows(['.#.', '###', '.#.']).data,
    );
  });

  it('default element is the cross of the mask dimension', () => {
    const rand = rng(3);
    const v = randomMask([4, 5, 6], 0.6, rand);
    expect(binaryErosion(v).data).toEqual(binaryErosion(v, cross3d()).data);
    const im = randomMask([5, 6], 0.6, rand);
    expect(binaryErosion(im).data).toEqual(binaryErosion(im, cross()).data);
  });

  it('rejects a 3-D element on a 2-D image', () => {
    expect(() => binaryDilation(fromRows(['#']), cube())).toThrow(
      /binaryDilation: element cube needs a 3-D mask/,
    );
  });
});

describe('fillHoles', () => {
  it('fills an enclosed hole but not a notch open to the border', () => {
    const m = fromRows(['.....', '.###.', '.#.#.', '.###.', '.....']);
    expect(fillHoles(m).data).toEqual(fromRows(['.....', '.###.', '.###.', '.###.', '.....']).data);
    const notch = fromRows(['###', '#.#', '#.#']);
    expect(fillHoles(notch).data).toEqual(notch.data);
  });

  it('background connectivity 8 leaks through diagonal gaps, 4 does not', () => {
    const m = fromRows(['.#...', '#.#..', '.#...', '.....']);
    expect(count(fillHoles(m, 4).data)).toBe(5);
    expect(count(fillHoles(m, 8).data)).toBe(4);
  });

  const cases: [Shape, Connectivity][] = [
    [[9, 10], 4],
    [[9, 10], 8],
    [[5, 7, 8], 4],
    [[5, 7, 8], 8],
    [[5, 7, 8], 6],
    [[5, 7, 8], 18],
    [[5, 7, 8], 26],
  ];
  for (const [shape, conn] of cases) {
    it(`matches a brute-force flood fill from the border: [${shape.join(',')}] connectivity ${conn}`, () => {
      const rand = rng(conn * 17 + shape.length);
      for (let t = 0; t < 40; t++) {
        const m = randomMask(shape, 0.45 + 0.3 * rand(), rand);
        expect(fillHoles(m, conn).data).toEqual(bruteFill(m, conn));
      }
    });
  }

  it('per-slice (4) and 3-D (6) filling differ on a hollow box', () => {
    // A 3×3×3 box of foreground around one empty centre voxel: a 3-D hole, but in its own slice the centre is
    // enclosed too, so both fill it; an opening in the top slice makes it a per-slice hole only.
    const data = new Uint8Array(27).fill(1);
    data[13] = 0;
    const box: BinaryVolume = { data, shape: [3, 3, 3] };
    expect(fillHoles(box, 6).data[13]).toBe(1);
    expect(fillHoles(box, 4).data[13]).toBe(1);
    const padded = new Uint8Array(5 * 5 * 5);
    for (let z = 1; z <= 3; z++)
      for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) padded[(z * 5 + y) * 5 + x] = 1;
    padded[(2 * 5 + 2) * 5 + 2] = 0;
    padded[(1 * 5 + 2) * 5 + 2] = 0; // opening through the top face
    const open: BinaryVolume = { data: padded, shape: [5, 5, 5] };
    expect(fillHoles(open, 6).data[(2 * 5 + 2) * 5 + 2]).toBe(0);
    expect(fillHoles(open, 4).data[(2 * 5 + 2) * 5 + 2]).toBe(1);
  });
});
