/** Float64 CPU references of the ops (straightforward loops, written from the PyTorch definitions). */

export interface Conv2dRefOptions {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
}

export function conv2dRef(
  x: ArrayLike<number>,
  xs: number[],
  w: ArrayLike<number>,
  ws: number[],
  b: ArrayLike<number> | null,
  o: Conv2dRefOptions = {},
): { out: Float64Array; shape: number[] } {
  const [N, C, H, W] = xs;
  const [K, , R, S] = ws;
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const P = Math.floor((H + 2 * ph - dh * (R - 1) - 1) / sh) + 1;
  const Q = Math.floor((W + 2 * pw - dw * (S - 1) - 1) / sw) + 1;
  const out = new Float64Array(N * K * P * Q);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++)
      for (let p = 0; p < P; p++)
        for (let q = 0; q < Q; q++) {
          let acc = b ? b[k] : 0;
          for (let c = 0; c < C; c++)
            for (let r = 0; r < R; r++)
              for (let s = 0; s < S; s++) {
                const h = p * sh - ph + r * dh;
                const ww = q * sw - pw + s * dw;
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                acc += x[((n * C + c) * H + h) * W + ww] * w[((k * C + c) * R + r) * S + s];
              }
          out[((n * K + k) * P + p) * Q + q] = acc;
        }
  return { out, shape: [N, K, P, Q] };
}

export interface ConvT2dRefOptions {
  stride?: [number, number];
  padding?: [number, number];
  outputPadding?: [number, number];
  dilation?: [number, number];
}

/** Scatter form: out[n, co, p·s − pad + r·d, …] += x[n, ci, p, q] · w[ci, co, r, s]. */
export function convTranspose2dRef(
  x: ArrayLike<number>,
  xs: number[],
  w: ArrayLike<number>,
  ws: number[],
  b: ArrayLike<number> | null,
  o: ConvT2dRefOptions = {},
): { out: Float64Array; shape: number[] } {
  const [N, Ci, Hi, Wi] = xs;
  const [, Co, R, S] = ws;
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [oph, opw] = o.outputPadding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const H = (Hi - 1) * sh - 2 * ph + dh * (R - 1) + oph + 1;
  const W = (Wi - 1) * sw - 2 * pw + dw * (S - 1) + opw + 1;
  const out = new Float64Array(N * Co * H * W);
  for (let n = 0; n < N; n++)
    for (let co = 0; co < Co; co++)
      for (let i = 0; i < H * W; i++) out[(n * Co + co) * H * W + i] = b ? b[co] : 0;
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < Ci; ci++)
      for (let p = 0; p < Hi; p++)
        for (let q = 0; q < Wi; q++) {
          const v = x[((n * Ci + ci) * Hi + p) * Wi + q];
          for (let co = 0; co < Co; co++)
            for (let r = 0; r < R; r++)
              for (let s = 0; s < S; s++) {
                const h = p * sh - ph + r * dh;
                const ww = q * sw - pw + s * dw;
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                out[((n * Co + co) * H + h) * W + ww] += v * w[((ci * Co + co) * R + r) * S + s];
              }
        }
  return { out, shape: [N, Co, H, W] };
}

export interface PoolRefOptions {
  kernel: [number, number];
  stride: [number, number];
  padding?: [number, number];
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

function poolOut(size: number, k: number, s: number, p: number, ceil: boolean): number {
  let out = (ceil ? Math.ceil((size + 2 * p - k) / s) : Math.floor((size + 2 * p - k) / s)) + 1;
  if (ceil && (out - 1) * s >= size + p) out--;
  return out;
}

export function poolRef(
  kind: 'max' | 'avg',
  x: ArrayLike<number>,
  xs: number[],
  o: PoolRefOptions,
): { out: Float64Array; shape: number[] } {
  const [N, C, H, W] = xs;
  const [kh, kw] = o.kernel;
  const [sh, sw] = o.stride;
  const [ph, pw] = o.padding ?? [0, 0];
  const P = poolOut(H, kh, sh, ph, o.ceilMode ?? false);
  const Q = poolOut(W, kw, sw, pw, o.ceilMode ?? false);
  const out = new Float64Array(N * C * P * Q);
  for (let pl = 0; pl < N * C; pl++)
    for (let p = 0; p < P; p++)
      for (let q = 0; q < Q; q++) {
        const hs = p * sh - ph;
        const ws = q * sw - pw;
        let best = Number.NEGATIVE_INFINITY;
        let acc = 0;
        let inside = 0;
        for (let h = hs; h < hs + kh; h++)
          for (let w = ws; w < ws + kw; w++) {
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            const v = x[(pl * H + h) * W + w];
            best = Math.max(best, v);
            acc += v;
            inside++;
          }
        const he = Math.min(hs + kh, H + ph);
        const we = Math.min(ws + kw, W + pw);
        const div = (o.countIncludePad ?? true) ? (he - hs) * (we - ws) : inside;
        out[(pl * P + p) * Q + q] = kind === 'max' ? best : acc / div;
      }
  return { out, shape: [N, C, P, Q] };
}

export function batchNormRef(
  x: ArrayLike<number>,
  xs: number[],
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps: number,
  stats?: { mean: ArrayLike<number>; var: ArrayLike<number> },
): Float64Array {
  const [N, C, H, W] = xs;
  const HW = H * W;
  const out = new Float64Array(N * C * HW);
  for (let c = 0; c < C; c++) {
    let mean: number;
    let v: number;
    if (stats) {
      mean = stats.mean[c];
      v = stats.var[c];
    } else {
      let s = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) s += x[(n * C + c) * HW + i];
      mean = s / (N * HW);
      let q = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) q += (x[(n * C + c) * HW + i] - mean) ** 2;
      v = q / (N * HW);
    }
    for (let n = 0; n < N; n++)
      for (let i = 0; i < HW; i++) {
        const j = (n * C + c) * HW + i;
        out[j] = ((x[j] - mean) / Math.sqrt(v + eps)) * gamma[c] + beta[c];
      }
  }
  return out;
}

/** PyTorch's F.interpolate source index rules, written per output pixel. */
export function upsampleRef(
  x: ArrayLike<number>,
  xs: number[],
  Ho: number,
  Wo: number,
  mode: 'nearest' | 'bilinear',
  alignCorners: boolean,
  scaleFactor?: number,
): Float64Array {
  const [N, C, H, W] = xs;
  const out = new Float64Array(N * C * Ho * Wo);
  const src = (o: number, inS: number, outS: number): [number, number, number] => {
    if (mode === 'nearest') {
      const scale = scaleFactor ? 1 / scaleFactor : inS / outS;
      return [Math.min(Math.floor(o * scale), inS - 1), 0, 0];
    }
    const s = alignCorners
      ? outS > 1
        ? (o * (inS - 1)) / (outS - 1)
        : 0
      : Math.max(0, (o + 0.5) * (scaleFactor ? 1 / scaleFactor : inS / outS) - 0.5);
    const i0 = Math.min(Math.floor(s), inS - 1);
    return [i0, Math.min(i0 + 1, inS - 1), s - i0];
  };
  for (let pl = 0; pl < N * C; pl++)
    for (let oh = 0; oh < Ho; oh++)
      for (let ow = 0; ow < Wo; ow++) {
        const [h0, h1, a] = src(oh, H, Ho);
        const [w0, w1, b] = src(ow, W, Wo);
        const v = (h: number, w: number) => x[(pl * H + h) * W + w];
        out[(pl * Ho + oh) * Wo + ow] =
          mode === 'nearest'
            ? v(h0, w0)
            : (1 - a) * ((1 - b) * v(h0, w0) + b * v(h0, w1)) + a * ((1 - b) * v(h1, w0) + b * v(h1, w1));
      }
  return out;
}
