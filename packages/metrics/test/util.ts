import type { BinaryVolume, Shape } from '../src/index.js';

/** Small deterministic PRNG (mulberry32) so random tests are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomMask(shape: Shape, density: number, rand: () => number): BinaryVolume {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = rand() < density ? 1 : 0;
  return { data, shape };
}

export function dims3(shape: Shape): [number, number, number] {
  return shape.length === 3 ? [shape[0], shape[1], shape[2]] : [1, shape[0], shape[1]];
}

/** Offsets by their definition: Chebyshev 1, at most `maxNonZero` non-zero axes, dz = 0 when planar. */
export function bruteOffsets(conn: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let dz = -1; dz <= 1; dz++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const l1 = Math.abs(dz) + Math.abs(dy) + Math.abs(dx);
        if (l1 === 0) continue;
        if ((conn === 4 || conn === 8) && dz !== 0) continue;
        if ((conn === 4 || conn === 6) && l1 > 1) continue;
        if (conn === 18 && l1 > 2) continue;
        out.push([dz, dy, dx]);
      }
    }
  }
  return out;
}

/** Indices of the in-bounds neighbours of voxel i at the given offsets. */
export function neighbours(i: number, [d, h, w]: [number, number, number], offs: number[][]): number[] {
  const z = Math.floor(i / (h * w));
  const y = Math.floor(i / w) % h;
  const x = i % w;
  const out: number[] = [];
  for (const [dz, dy, dx] of offs) {
    const nz = z + dz;
    const ny = y + dy;
    const nx = x + dx;
    if (nz < 0 || nz >= d || ny < 0 || ny >= h || nx < 0 || nx >= w) continue;
    out.push((nz * h + ny) * w + nx);
  }
  return out;
}

/** Flood fill from each unlabelled foreground voxel in raster order (an independent labelling). */
export function bruteLabel(mask: BinaryVolume, conn: number): { labels: Int32Array; count: number } {
  const [d, h, w] = dims3(mask.shape);
  const labels = new Int32Array(mask.data.length);
  const offs = bruteOffsets(conn);
  let count = 0;
  for (let s = 0; s < labels.length; s++) {
    if (mask.data[s] === 0 || labels[s] !== 0) continue;
    count++;
    labels[s] = count;
    const stack = [s];
    while (stack.length > 0) {
      for (const j of neighbours(stack.pop()!, [d, h, w], offs)) {
        if (mask.data[j] !== 0 && labels[j] === 0) {
          labels[j] = count;
          stack.push(j);
        }
      }
    }
  }
  return { labels, count };
}

export function fromRows(rows: string[]): BinaryVolume {
  const h = rows.length;
  const w = rows[0].length;
  const data = new Uint8Array(h * w);
  rows.forEach((r, y) => {
    for (let x = 0; x < w; x++) data[y * w + x] = r[x] === '#' ? 1 : 0;
  });
  return { data, shape: [h, w] };
}

export function count(a: Uint8Array): number {
  let n = 0;
  for (const v of a) if (v !== 0) n++;
  return n;
}
