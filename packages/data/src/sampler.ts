import type { Rng } from '@mriseg/tensor-wgsl';

/** One training slice: index into the volume list and slice index within that volume. */
export interface SliceRef {
  volume: number;
  slice: number;
}

/** Anything with per-slice masks: a Volume or a test stand-in. */
export interface MaskedVolume {
  depth: number;
  height: number;
  width: number;
  mask: Uint8Array;
}

export interface Sampler {
  /** Samples an epoch (as many as there are training slices). */
  readonly epochLength: number;
  epoch(rng: Rng): SliceRef[];
}

/** Tumour area (mask pixels) of every slice. */
export function sliceAreas(v: MaskedVolume): Float64Array {
  const plane = v.height * v.width;
  const out = new Float64Array(v.depth);
  for (let z = 0; z < v.depth; z++) {
    let s = 0;
    const off = z * plane;
    for (let i = 0; i < plane; i++) s += v.mask[off + i];
    out[z] = s;
  }
  return out;
}

/**
 * The reference's slice probabilities within a patient: p_s = (area_s + 0.1·Σarea/n) / (1.1·Σarea). A patient
 * without tumour (the reference divides by zero) gets uniform weights.
 */
export function referenceSliceWeights(areas: ArrayLike<number>): Float64Array {
  const n = areas.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += areas[i];
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = sum > 0 ? (areas[i] + (sum * 0.1) / n) / (sum * 1.1) : 1 / n;
  return out;
}

function cumulative(w: Float64Array): Float64Array {
  const c = new Float64Array(w.length);
  let s = 0;
  for (let i = 0; i < w.length; i++) {
    s += w[i];
    c[i] = s;
  }
  return c;
}

/** The reference: a patient drawn uniformly, then a slice by referenceSliceWeights; with replacement. */
export class ReferenceSampler implements Sampler {
  readonly epochLength: number;
  private readonly cdfs: Float64Array[];

  constructor(volumes: readonly MaskedVolume[]) {
    if (volumes.length === 0) throw new Error('ReferenceSampler: no volumes');
    this.cdfs = volumes.map((v) => cumulative(referenceSliceWeights(sliceAreas(v))));
    this.epochLength = volumes.reduce((a, v) => a + v.depth, 0);
  }

  epoch(rng: Rng): SliceRef[] {
    const out: SliceRef[] = new Array(this.epochLength);
    for (let i = 0; i < this.epochLength; i++) {
      const volume = rng.int(this.cdfs.length);
      const cdf = this.cdfs[volume];
      const u = rng.uniform() * cdf[cdf.length - 1];
      let lo = 0;
      let hi = cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      out[i] = { volume, slice: lo };
    }
    return out;
  }
}

/** Every training slice once an epoch, in a seeded random order. */
export class UniformSampler implements Sampler {
  readonly epochLength: number;
  private readonly all: SliceRef[];

  constructor(volumes: readonly { depth: number }[]) {
    this.all = volumes.flatMap((v, volume) =>
      Array.from({ length: v.depth }, (_, slice) => ({ volume, slice })),
    );
    this.epochLength = this.all.length;
  }

  epoch(rng: Rng): SliceRef[] {
    return rng.shuffle([...this.all]);
  }
}
