/**
 * Pooling kernels, one thread per output (forward) or per input element (backward). Backward gathers from the
 * outputs whose windows cover the element instead of scattering, so overlapping windows need no atomics and
 * the result is deterministic.
 * Uniform words: 0 total threads, 1 H, 2 W, 3 P, 4 Q, 5 kh, 6 kw, 7 sh, 8 sw, 9 ph, 10 pw,
 * 11 −∞ (f32 bits) for max / count_include_pad for avg.
 */
import { gridIndex, gridParams, metaDecl } from '@mriseg/tensor-wgsl';

/** Output element o of a forward kernel: its (plane, p, q) and the top-left input pixel (h0, w0) of its window. */
const WINDOW_ORIGIN = `  let o = ${gridIndex()};
  if (o >= mi(0u)) { return; }
  let H = mi(1u); let W = mi(2u); let P = mi(3u); let Q = mi(4u);
  let q = o % Q; let t = o / Q; let p = t % P; let plane = t / P;
  let h0 = i32(p * mi(7u)) - i32(mi(9u));
  let w0 = i32(q * mi(8u)) - i32(mi(10u));`;

const META = 12;

// The window [start, start + k) of output p in padded input coordinates, and the outputs covering input h.
const HELPERS = `
fn firstOut(h: u32, pad: u32, k: u32, stride: u32) -> u32 {
  let top = i32(h + pad) - i32(k) + 1;
  if (top <= 0) { return 0u; }
  return (u32(top) + stride - 1u) / stride;
}
fn lastOut(h: u32, pad: u32, stride: u32, count: u32) -> u32 {
  return min(count, (h + pad) / stride + 1u);
}`;

/** Max pooling: the value and the index h·W + w of the first maximum of each window (NaN wins). */
export function maxPoolForwardWgsl(): string {
  return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> I: array<i32>;
${metaDecl(3, META)}
@compute @workgroup_size(256)
fn main(${gridParams}) {
${WINDOW_ORIGIN}
  var best = bitcast<f32>(mi(11u));
  var arg = -1;
  for (var i = 0; i < i32(mi(5u)); i++) {
    let h = h0 + i;
    if (h < 0 || h >= i32(H)) { continue; }
    for (var j = 0; j < i32(mi(6u)); j++) {
      let w = w0 + j;
      if (w < 0 || w >= i32(W)) { continue; }
      let v = X[(plane * H + u32(h)) * W + u32(w)];
      if (arg < 0 || v > best || (v != v && best == best)) { best = v; arg = h * i32(W) + w; }
    }
  }
  Y[o] = best;
  I[o] = arg;
}`;
}

export function maxPoolBackwardWgsl(): string {
  return `@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> I: array<i32>;
@group(0) @binding(2) var<storage, read_write> DX: array<f32>;
${metaDecl(3, META)}${HELPERS}
@compute @workgroup_size(256)
fn main(${gridParams}) {
  let e = ${gridIndex()};
  if (e >= mi(0u)) { return; }
  let H = mi(1u); let W = mi(2u); let P = mi(3u); let Q = mi(4u);
  let w = e % W; let t = e / W; let h = t % H; let plane = t / H;
  let me = i32(h * W + w);
  var acc = 0.0;
  for (var p = firstOut(h, mi(9u), mi(5u), mi(7u)); p < lastOut(h, mi(9u), mi(7u), P); p++) {
    for (var q = firstOut(w, mi(10u), mi(6u), mi(8u)); q < lastOut(w, mi(10u), mi(8u), Q); q++) {
      let o = (plane * P + p) * Q + q;
      if (I[o] == me) { acc += G[o]; }
    }
  }
  DX[e] = acc;
}`;
}

// PyTorch's divisor: the window clipped to the padded input (count_include_pad) or to the input itself.
const AVG_DIVISOR = `
fn divisor(p: u32, q: u32) -> f32 {
  let H = i32(mi(1u)); let W = i32(mi(2u));
  let ph = i32(mi(9u)); let pw = i32(mi(10u));
  let hs = i32(p * mi(7u)) - ph; let ws = i32(q * mi(8u)) - pw;
  let he = min(hs + i32(mi(5u)), H + ph); let we = min(ws + i32(mi(6u)), W + pw);
  if (mi(11u) != 0u) { return f32((he - hs) * (we - ws)); }
  return f32((min(he, H) - max(hs, 0)) * (min(we, W) - max(ws, 0)));
}`;

export function avgPoolForwardWgsl(): string {
  return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
${metaDecl(2, META)}${AVG_DIVISOR}
@compute @workgroup_size(256)
fn main(${gridParams}) {
${WINDOW_ORIGIN}
  var acc = 0.0;
  for (var h = max(h0, 0); h < min(h0 + i32(mi(5u)), i32(H)); h++) {
    for (var w = max(w0, 0); w < min(w0 + i32(mi(6u)), i32(W)); w++) {
      acc += X[(plane * H + u32(h)) * W + u32(w)];
    }
  }
  Y[o] = acc / divisor(p, q);
}`;
}

export function avgPoolBackwardWgsl(): string {
  return `@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read_write> DX: array<f32>;
${metaDecl(2, META)}${HELPERS}${AVG_DIVISOR}
@compute @workgroup_size(256)
fn main(${gridParams}) {
  let e = ${gridIndex()};
  if (e >= mi(0u)) { return; }
  let H = mi(1u); let W = mi(2u); let P = mi(3u); let Q = mi(4u);
  let w = e % W; let t = e / W; let h = t % H; let plane = t / H;
  var acc = 0.0;
  for (var p = firstOut(h, mi(9u), mi(5u), mi(7u)); p < lastOut(h, mi(9u), mi(7u), P); p++) {
    for (var q = firstOut(w, mi(10u), mi(6u), mi(8u)); q < lastOut(w, mi(10u), mi(8u), Q); q++) {
      acc += G[(plane * P + p) * Q + q] / divisor(p, q);
    }
  }
  DX[e] = acc;
}`;
}
