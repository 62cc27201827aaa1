/**
 * Gaussian filtering in a feature space of any dimension with the permutohedral lattice (Adams, Baek & Davis,
 * "Fast High-Dimensional Filtering Using the Permutohedral Lattice", Eurographics 2010), the approximation the
 * dense CRF of Krähenbühl & Koltun (2011) uses for its bilateral kernel.
 *
 * Each point is embedded in the hyperplane {x ∈ ℝ^{d+1} : Σx = 0}, which the lattice tiles with simplices; a
 * point's value is splatted onto the d+1 vertices of its simplex with barycentric weights, the vertex values are
 * blurred with [1 2 1] along each of the d+1 lattice directions, and each point reads back (slices) the blurred
 * values at its vertices. The result approximates Σ_j exp(−|f_i − f_j|²/2) v_j up to a constant factor (and a
 * kernel that is not exactly Gaussian); callers that normalise by the filtered ones, as the dense CRF does, see
 * neither. Building costs O(N·d²) plus a hash table of the occupied vertices; each filter then costs
 * O(N·d·c + M·d·c) for c values per point and M vertices.
 */

/** Open-addressing hash table of integer lattice keys (the first d of the d+1 coordinates; they sum to zero). */
class KeyTable {
  private keys: Int32Array;
  private slots: Int32Array;
  count = 0;

  constructor(
    private readonly d: number,
    expected: number,
  ) {
    let size = 1024;
    while (size < expected * 2) size *= 2;
    this.slots = new Int32Array(size).fill(-1);
    this.keys = new Int32Array((size / 2) * d);
  }

  private hash(key: Int32Array, from: number): number {
    let h = 0;
    for (let k = 0; k < this.d; k++) h = Math.imul(h + key[from + k], 2531011);
    return (h ^ (h >>> 15)) >>> 0;
  }

  private equals(index: number, key: Int32Array, from: number): boolean {
    const base = index * this.d;
    for (let k = 0; k < this.d; k++) if (this.keys[base + k] !== key[from + k]) return false;
    return true;
  }

  /** Index of `key` (d values of `key` from `from`); with `insert`, adds it when absent, else returns −1. */
  find(key: Int32Array, from: number, insert: boolean): number {
    const mask = this.slots.length - 1;
    let s = this.hash(key, from) & mask;
    for (;;) {
      const index = this.slots[s];
      if (index < 0) break;
      if (this.equals(index, key, from)) return index;
      s = (s + 1) & mask;
    }
    if (!insert) return -1;
    if ((this.count + 1) * 2 > this.slots.length) {
      this.grow();
      return this.find(key, from, true);
    }
    const index = this.count++;
    this.keys.set(key.subarray(from, from + this.d), index * this.d);
    this.slots[s] = index;
    return index;
  }

  private grow(): void {
    const size = this.slots.length * 2;
    const keys = new Int32Array((size / 2) * this.d);
    keys.set(this.keys.subarray(0, this.count * this.d));
    this.keys = keys;
    this.slots = new Int32Array(size).fill(-1);
    const mask = size - 1;
    for (let index = 0; index < this.count; index++) {
      let s = this.hash(keys, index * this.d) & mask;
      while (this.slots[s] >= 0) s = (s + 1) & mask;
      this.slots[s] = index;
    }
  }

  /** The stored keys, d values each, in insertion order. */
  stored(): Int32Array {
    return this.keys.subarray(0, this.count * this.d);
  }
}

/** A lattice built over N points with d features each, reusable for any number of filterings. */
export class PermutohedralLattice {
  /** Occupied lattice vertices. */
  readonly vertices: number;
  /** For each point, its d+1 vertices and barycentric weights. */
  private readonly offsets: Int32Array;
  private readonly weights: Float32Array;
  /** For each direction j ≤ d and vertex m, the vertex one step back and one step forward along j (−1: none). */
  private readonly back: Int32Array;
  private readonly forward: Int32Array;
  private scratch = new Float64Array(0);

  private constructor(
    readonly points: number,
    readonly dim: number,
    offsets: Int32Array,
    weights: Float32Array,
    table: KeyTable,
  ) {
    this.offsets = offsets;
    this.weights = weights;
    this.vertices = table.count;
    const d = dim;
    const M = table.count;
    const keys = table.stored().slice();
    this.back = new Int32Array((d + 1) * M);
    this.forward = new Int32Array((d + 1) * M);
    const n1 = new Int32Array(d + 1);
    const n2 = new Int32Array(d + 1);
    for (let j = 0; j <= d; j++) {
      for (let m = 0; m < M; m++) {
        // Along direction j: every coordinate −1 except coordinate j, which gains d (and the reverse). When j = d
        // the changed coordinate is the implicit last one, so the stored d all move by ∓1.
        for (let k = 0; k < d; k++) {
          n1[k] = keys[m * d + k] - 1;
          n2[k] = keys[m * d + k] + 1;
        }
        if (j < d) {
          n1[j] = keys[m * d + j] + d;
          n2[j] = keys[m * d + j] - d;
        }
        this.back[j * M + m] = table.find(n1, 0, false);
        this.forward[j * M + m] = table.find(n2, 0, false);
      }
    }
  }

  /**
   * Builds the lattice of `n` points whose features (`d` a point, point-major) are already divided by the
   * kernel's standard deviations: the filter then approximates exp(−|f_i − f_j|²/2).
   */
  static build(features: Float32Array | Float64Array, n: number, d: number): PermutohedralLattice {
    if (!Number.isInteger(d) || d < 1) throw new Error(`PermutohedralLattice: dimension ${d} must be >= 1`);
    if (features.length !== n * d)
      throw new Error(`PermutohedralLattice: ${features.length} feature values for ${n} points of ${d}`);
    const d1 = d + 1;
    // Scale so that the lattice's blur has unit standard deviation in feature units (Adams et al., §3.1).
    const invStd = Math.sqrt(2 / 3) * d1;
    const down = 1 / d1;
    const scale = new Float64Array(d);
    for (let i = 0; i < d; i++) scale[i] = invStd / Math.sqrt((i + 1) * (i + 2));
    const elevated = new Float64Array(d1);
    const rem0 = new Int32Array(d1);
    const rank = new Int32Array(d1);
    const bary = new Float64Array(d + 2);
    const key = new Int32Array(d1);
    const lastRem0 = new Int32Array(d1);
    const lastRank = new Int32Array(d1);
    const offsets = new Int32Array(n * d1);
    const weights = new Float32Array(n * d1);
    const table = new KeyTable(d, Math.max(16, n >> 2));
    for (let p = 0; p < n; p++) {
      const f = p * d;
      // Elevate onto the hyperplane Σx = 0 (E·f with the lattice's basis, computed by a running sum).
      let sm = 0;
      for (let j = d; j > 0; j--) {
        const cf = features[f + j - 1] * scale[j - 1];
        elevated[j] = sm - j * cf;
        sm += cf;
      }
      elevated[0] = sm;
      // Nearest remainder-0 point, then the ranks of the differences, which say which simplex holds the point.
      let sum = 0;
      for (let i = 0; i <= d; i++) {
        const rd = Math.round(elevated[i] * down);
        rem0[i] = rd * d1;
        sum += rd;
      }
      rank.fill(0);
      for (let i = 0; i < d; i++) {
        const di = elevated[i] - rem0[i];
        for (let j = i + 1; j <= d; j++) {
          if (di < elevated[j] - rem0[j]) rank[i]++;
          else rank[j]++;
        }
      }
      // The rounded point may lie off the hyperplane (sum ≠ 0): move it back along the largest/smallest coordinate.
      for (let i = 0; i <= d; i++) {
        rank[i] += sum;
        if (rank[i] < 0) {
          rank[i] += d1;
          rem0[i] += d1;
        } else if (rank[i] > d) {
          rank[i] -= d1;
          rem0[i] -= d1;
        }
      }
      bary.fill(0);
      for (let i = 0; i <= d; i++) {
        const v = (elevated[i] - rem0[i]) * down;
        bary[d - rank[i]] += v;
        bary[d - rank[i] + 1] -= v;
      }
      bary[0] += 1 + bary[d + 1];
      // Neighbouring pixels often fall in the same simplex: then only the weights differ from the last point.
      let same = p > 0;
      for (let i = 0; same && i <= d; i++) same = rem0[i] === lastRem0[i] && rank[i] === lastRank[i];
      for (let r = 0; r <= d; r++) {
        if (same) offsets[p * d1 + r] = offsets[(p - 1) * d1 + r];
        else {
          for (let i = 0; i < d; i++) key[i] = rem0[i] + r - (rank[i] > d - r ? d1 : 0);
          offsets[p * d1 + r] = table.find(key, 0, true);
        }
        weights[p * d1 + r] = bary[r];
      }
      lastRem0.set(rem0);
      lastRank.set(rank);
    }
    return new PermutohedralLattice(n, d, offsets, weights, table);
  }

  /**
   * Filters `values` (`channels` a point, point-major): out_i ≈ c · Σ_j exp(−|f_i − f_j|²/2) values_j for a
   * constant c. Pass `out` to reuse a buffer.
   */
  filter(values: Float32Array | Float64Array, channels = 1, out?: Float32Array): Float32Array {
    const { points: n, dim: d, vertices: M } = this;
    const offsets = this.offsets;
    const weights = this.weights;
    const d1 = d + 1;
    if (values.length !== n * channels)
      throw new Error(`PermutohedralLattice.filter: ${values.length} values for ${n} points of ${channels}`);
    const result = out ?? new Float32Array(n * channels);
    for (let c = 0; c < channels; c++) {
      // One channel at a time through two vertex buffers kept between calls.
      if (this.scratch.length < 2 * M) this.scratch = new Float64Array(2 * M);
      let a = this.scratch.subarray(0, M);
      let b = this.scratch.subarray(M, 2 * M);
      a.fill(0);
      for (let p = 0, k = 0; p < n; p++) {
        const v = values[p * channels + c];
        for (let r = 0; r < d1; r++, k++) a[offsets[k]] += weights[k] * v;
      }
      for (let j = 0; j <= d; j++) {
        const back = this.back;
        const fwd = this.forward;
        for (let m = 0, k = j * M; m < M; m++, k++) {
          const n1 = back[k];
          const n2 = fwd[k];
          b[m] = a[m] + 0.5 * ((n1 >= 0 ? a[n1] : 0) + (n2 >= 0 ? a[n2] : 0));
        }
        const t = a;
        a = b;
        b = t;
      }
      for (let p = 0, k = 0; p < n; p++) {
        let s = 0;
        for (let r = 0; r < d1; r++, k++) s += weights[k] * a[offsets[k]];
        result[p * channels + c] = s;
      }
    }
    return result;
  }
}
