/**
 * Separable interpolation (nearest, bilinear) over the last two axes. Each axis has a table built on the CPU:
 * for every output index its two source indices and weights, and for every source index the range of outputs
 * that read it, so the backward kernel gathers (no atomics) over a small window.
 * Table layout per axis (f32): [out × (i0, i1, w0, w1)] then [in × (first, end)].
 * Uniforms: `threads`, the input plane `H`×`W`, the output plane `Ho`×`Wo`.
 */
import { gridIndex, gridParams, type KernelSpec } from '@mriseg/tensor-wgsl';

const UNIFORMS = { threads: 'u32', H: 'u32', W: 'u32', Ho: 'u32', Wo: 'u32' } as const;

export function upsampleForwardSpec(name: string): KernelSpec {
  return {
    name,
    storage: [{ name: 'X' }, { name: 'TH' }, { name: 'TW' }, { name: 'Y', access: 'read_write' }],
    uniforms: UNIFORMS,
    workgroupSize: 256,
    code: `fn main(${gridParams}) {
  let o = ${gridIndex()};
  if (o >= params.threads) { return; }
  let H = params.H; let W = params.W; let Ho = params.Ho; let Wo = params.Wo;
  let ow = o % Wo; let t = o / Wo; let oh = t % Ho; let plane = t / Ho;
  let h0 = u32(TH[oh * 4u]); let h1 = u32(TH[oh * 4u + 1u]);
  let a0 = TH[oh * 4u + 2u]; let a1 = TH[oh * 4u + 3u];
  let w0 = u32(TW[ow * 4u]); let w1 = u32(TW[ow * 4u + 1u]);
  let b0 = TW[ow * 4u + 2u]; let b1 = TW[ow * 4u + 3u];
  let base = plane * H * W;
  let top = b0 * X[base + h0 * W + w0] + b1 * X[base + h0 * W + w1];
  let bottom = b0 * X[base + h1 * W + w0] + b1 * X[base + h1 * W + w1];
  Y[o] = a0 * top + a1 * bottom;
}`,
  };
}

export function upsampleBackwardSpec(name: string): KernelSpec {
  return {
    name,
    storage: [{ name: 'G' }, { name: 'TH' }, { name: 'TW' }, { name: 'DX', access: 'read_write' }],
    uniforms: UNIFORMS,
    workgroupSize: 256,
    code: `// The weight with which output o (table entry) reads source i.
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
fn main(${gridParams}) {
  let e = ${gridIndex()};
  if (e >= params.threads) { return; }
  let H = params.H; let W = params.W; let Ho = params.Ho; let Wo = params.Wo;
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
}`,
  };
}
