/**
 * Pooling kernels, one thread per output (forward) or per input element (backward). Backward gathers from the
 * outputs whose windows cover the element instead of scattering, so overlapping windows need no atomics and
 * the result is deterministic.
 * Uniforms: `threads`, the input plane `H`×`W`, the output plane `P`×`Q`, the window `kh`×`kw`, strides `sh`,
 * `sw`, paddings `ph`, `pw`; max pooling also `lowest` (−∞, which WGSL constants cannot hold), average pooling
 * `includePad` (count_include_pad).
 */
import { gridIndex, gridParams, type KernelSpec, type UniformType } from '@mriseg/tensor-wgsl';

const WINDOW: Record<string, UniformType> = {
  threads: 'u32',
  H: 'u32',
  W: 'u32',
  P: 'u32',
  Q: 'u32',
  kh: 'u32',
  kw: 'u32',
  sh: 'u32',
  sw: 'u32',
  ph: 'u32',
  pw: 'u32',
};

/** Output element o of a forward kernel: its (plane, p, q) and the top-left input pixel (h0, w0) of its window. */
const WINDOW_ORIGIN = `  let o = ${gridIndex()};
  if (o >= params.threads) { return; }
  let H = params.H; let W = params.W; let P = params.P; let Q = params.Q;
  let q = o % Q; let t = o / Q; let p = t % P; let plane = t / P;
  let h0 = i32(p * params.sh) - i32(params.ph);
  let w0 = i32(q * params.sw) - i32(params.pw);`;

/** Input element e of a backward kernel: its (plane, h, w). */
const ELEMENT = `  let e = ${gridIndex()};
  if (e >= params.threads) { return; }
  let H = params.H; let W = params.W; let P = params.P; let Q = params.Q;
  let w = e % W; let t = e / W; let h = t % H; let plane = t / H;`;

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

/** The outputs (p, q) whose windows cover input (h, w). */
const COVERING = `for (var p = firstOut(h, params.ph, params.kh, params.sh); p < lastOut(h, params.ph, params.sh, P); p++) {
    for (var q = firstOut(w, params.pw, params.kw, params.sw); q < lastOut(w, params.pw, params.sw, Q); q++) {`;

/** Max pooling: the value and the index h·W + w of the first maximum of each window (NaN wins). */
export function maxPoolForwardSpec(): KernelSpec {
  return {
    name: 'max_pool2d',
    storage: [
      { name: 'X' },
      { name: 'Y', access: 'read_write' },
      { name: 'I', type: 'i32', access: 'read_write' },
    ],
    uniforms: { ...WINDOW, lowest: 'f32' },
    workgroupSize: 256,
    code: `fn main(${gridParams}) {
${WINDOW_ORIGIN}
  var best = params.lowest;
  var arg = -1;
  for (var i = 0; i < i32(params.kh); i++) {
    let h = h0 + i;
    if (h < 0 || h >= i32(H)) { continue; }
    for (var j = 0; j < i32(params.kw); j++) {
      let w = w0 + j;
      if (w < 0 || w >= i32(W)) { continue; }
      let v = X[(plane * H + u32(h)) * W + u32(w)];
      if (arg < 0 || v > best || (v != v && best == best)) { best = v; arg = h * i32(W) + w; }
    }
  }
  Y[o] = best;
  I[o] = arg;
}`,
  };
}

export function maxPoolBackwardSpec(): KernelSpec {
  return {
    name: 'max_pool2d_backward',
    storage: [{ name: 'G' }, { name: 'I', type: 'i32' }, { name: 'DX', access: 'read_write' }],
    uniforms: WINDOW,
    workgroupSize: 256,
    code: `${HELPERS}
fn main(${gridParams}) {
${ELEMENT}
  let me = i32(h * W + w);
  var acc = 0.0;
  ${COVERING}
      let o = (plane * P + p) * Q + q;
      if (I[o] == me) { acc += G[o]; }
    }
  }
  DX[e] = acc;
}`,
  };
}

// PyTorch's divisor: the window clipped to the padded input (count_include_pad) or to the input itself.
const AVG_DIVISOR = `
fn divisor(p: u32, q: u32) -> f32 {
  let H = i32(params.H); let W = i32(params.W);
  let ph = i32(params.ph); let pw = i32(params.pw);
  let hs = i32(p * params.sh) - ph; let ws = i32(q * params.sw) - pw;
  let he = min(hs + i32(params.kh), H + ph); let we = min(ws + i32(params.kw), W + pw);
  if (params.includePad != 0u) { return f32((he - hs) * (we - ws)); }
  return f32((min(he, H) - max(hs, 0)) * (min(we, W) - max(ws, 0)));
}`;

export function avgPoolForwardSpec(): KernelSpec {
  return {
    name: 'avg_pool2d',
    storage: [{ name: 'X' }, { name: 'Y', access: 'read_write' }],
    uniforms: { ...WINDOW, includePad: 'u32' },
    workgroupSize: 256,
    code: `${AVG_DIVISOR}
fn main(${gridParams}) {
${WINDOW_ORIGIN}
  var acc = 0.0;
  for (var h = max(h0, 0); h < min(h0 + i32(params.kh), i32(H)); h++) {
    for (var w = max(w0, 0); w < min(w0 + i32(params.kw), i32(W)); w++) {
      acc += X[(plane * H + u32(h)) * W + u32(w)];
    }
  }
  Y[o] = acc / divisor(p, q);
}`,
  };
}

export function avgPoolBackwardSpec(): KernelSpec {
  return {
    name: 'avg_pool2d_backward',
    storage: [{ name: 'G' }, { name: 'DX', access: 'read_write' }],
    uniforms: { ...WINDOW, includePad: 'u32' },
    workgroupSize: 256,
    code: `${HELPERS}${AVG_DIVISOR}
fn main(${gridParams}) {
${ELEMENT}
  var acc = 0.0;
  ${COVERING}
      acc += G[(plane * P + p) * Q + q] / divisor(p, q);
    }
  }
  DX[e] = acc;
}`,
  };
}
