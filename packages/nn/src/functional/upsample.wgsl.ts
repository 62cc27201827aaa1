/**
 * Separable interpolation (nearest, bilinear) over the last two axes. Each axis has a table built on the CPU:
 * for every output index its two source indices and weights, and for every source index the range of outputs
 * that read it, so the backward kernel gathers (no atomics) over a small window.
 * Table layout per axis (f32): [out × (i0, i1, w0, w1)] then [in × (first, end)].
 * Uniform words: 0 total threads, 1 H, 2 W, 3 Ho, 4 Wo.
 */
import { gridIndex, gridParams, metaDecl } from '@mriseg/tensor-wgsl';

export function upsampleForwardWgsl(): string {
  return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> TH: array<f32>;
@group(0) @binding(2) var<storage, read> TW: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
${metaDecl(4, 5)}
@compute @workgroup_size(256)
fn main(${gridParams}) {
  let o = ${gridIndex()};
  if (o >= mi(0u)) { return; }
  let H = mi(1u); let W = mi(2u); let Ho = mi(3u); let Wo = mi(4u);
  let ow = o % Wo; let t = o / Wo; let oh = t % Ho; let plane = t / Ho;
  let h0 = u32(TH[oh * 4u]); let h1 = u32(TH[oh * 4u + 1u]);
  let a0 = TH[oh * 4u + 2u]; let a1 = TH[oh * 4u + 3u];
  let w0 = u32(TW[ow * 4u]); let w1 = u32(TW[ow * 4u + 1u]);
  let b0 = TW[ow * 4u + 2u]; let b1 = TW[ow * 4u + 3u];
  let base = plane * H * W;
  let top = b0 * X[base + h0 * W + w0] + b1 * X[base + h0 * W + w1];
  let bottom = b0 * X[base + h1 * W + w0] + b1 * X[base + h1 * W + w1];
  Y[o] = a0 * top + a1 * bottom;
}`;
}

export function upsampleBackwardWgsl(): string {
  return `@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> TH: array<f32>;
@group(0) @binding(2) var<storage, read> TW: array<f32>;
@group(0) @binding(3) var<storage, read_write> DX: array<f32>;
${metaDecl(4, 5)}
// The weight with which output o (table entry) reads source i.
fn weightOf(tbl: u32, o: u32, i: u32) -> f32 {
  var a = 0.0;
  if (tbl == 0u) {
    if (u32(TH[o * 4u]) == i) { a += TH[o * 4u + 2u]; }
    if (u32(TH[o * 4u + 1u]) == i) { a += TH[o * 4u + 3u]; }
  } else {
    if (u32(TW[o * 4u]) == i) { a += TW[o * 4u + 2u]; }
    if (u32(TW[o * 4u + 1u]) == i) { a += TW[o * 4u + 3u]; }
  }
  return a;
}
@compute @workgroup_size(256)
fn main(${gridParams}) {
  let e = ${gridIndex()};
  if (e >= mi(0u)) { return; }
  let H = mi(1u); let W = mi(2u); let Ho = mi(3u); let Wo = mi(4u);
  let w = e % W; let t = e / W; let h = t % H; let plane = t / H;
  let hFirst = u32(TH[Ho * 4u + h * 2u]); let hEnd = u32(TH[Ho * 4u + h * 2u + 1u]);
  let wFirst = u32(TW[Wo * 4u + w * 2u]); let wEnd = u32(TW[Wo * 4u + w * 2u + 1u]);
  var acc = 0.0;
  for (var oh = hFirst; oh < hEnd; oh++) {
    let a = weightOf(0u, oh, h);
    if (a == 0.0) { continue; }
    var row = 0.0;
    for (var ow = wFirst; ow < wEnd; ow++) {
      row += weightOf(1u, ow, w) * G[(plane * Ho + oh) * Wo + ow];
    }
    acc += a * row;
  }
  DX[e] = acc;
}`;
}
