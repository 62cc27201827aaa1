/**
 * Brute-force references for the dense CRF, straight from the definitions (O(N²) pairs, two labels, Potts
 * compatibility): what the lattice-based implementation must approximate.
 */

export interface BruteCrfParams {
  wa: number;
  sa: number;
  sb: number;
  ws: number;
  sg: number;
  iterations: number;
  /** Slice distance in pixels (volumes). */
  sz: number;
}

/** Σ_j exp(−|f_i − f_j|²/2)·v_j / Σ_j exp(−|f_i − f_j|²/2) for every i (j over all points, i included). */
export function bruteNormalisedGaussian(features: number[][], values: ArrayLike<number>): number[] {
  return features.map((fi) => {
    let s = 0;
    let z = 0;
    features.forEach((fj, j) => {
      let q = 0;
      for (let k = 0; k < fi.length; k++) q += (fi[k] - fj[k]) ** 2;
      const w = Math.exp(-q / 2);
      s += w * values[j];
      z += w;
    });
    return s / z;
  });
}

/**
 * Mean field of the fully connected CRF on a [D,H,W] grid (`volumetric`: one field over all slices, else one per
 * slice), image [D,C,H,W]. Returns Q(foreground).
 */
export function bruteDenseCrf(
  prob: ArrayLike<number>,
  image: ArrayLike<number>,
  [D, C, H, W]: [number, number, number, number],
  p: BruteCrfParams,
  volumetric: boolean,
): Float64Array {
  const out = new Float64Array(D * H * W);
  const groups = volumetric ? [[0, D]] : Array.from({ length: D }, (_, z) => [z, z + 1]);
  for (const [z0, z1] of groups) {
    const idx: number[] = [];
    const fa: number[][] = [];
    const fs: number[][] = [];
    for (let z = z0; z < z1; z++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          idx.push((z * H + y) * W + x);
          const zz = volumetric ? [(z * p.sz) / p.sa] : [];
          const intens = Array.from({ length: C }, (_, c) => image[((z * C + c) * H + y) * W + x] / p.sb);
          fa.push([x / p.sa, y / p.sa, ...zz, ...intens]);
          fs.push([x / p.sg, y / p.sg, ...(volumetric ? [(z * p.sz) / p.sg] : [])]);
        }
    const eps = 1e-5;
    const unary = idx.map((i) => {
      const pi = Math.min(1 - eps, Math.max(eps, prob[i]));
      return [-Math.log(1 - pi), -Math.log(pi)];
    });
    let q = unary.map(([u0, u1]) => {
      const e0 = Math.exp(-u0);
      const e1 = Math.exp(-u1);
      return [e0 / (e0 + e1), e1 / (e0 + e1)];
    });
    for (let t = 0; t < p.iterations; t++) {
      const energy = unary.map((u) => [...u]);
      for (const [w, f] of [
        [p.wa, fa],
        [p.ws, fs],
      ] as const) {
        if (w === 0) continue;
        for (let l = 0; l < 2; l++) {
          // Potts: the cost of label l is the kernel-weighted mass of the other label around i.
          const other = bruteNormalisedGaussian(
            f,
            q.map((qi) => qi[1 - l]),
          );
          other.forEach((m, i) => {
            energy[i][l] += w * m;
          });
        }
      }
      q = energy.map(([e0, e1]) => {
        const lo = Math.min(e0, e1);
        const a = Math.exp(-(e0 - lo));
        const b = Math.exp(-(e1 - lo));
        return [a / (a + b), b / (a + b)];
      });
    }
    idx.forEach((i, k) => {
      out[i] = q[k][1];
    });
  }
  return out;
}
