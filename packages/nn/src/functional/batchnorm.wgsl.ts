/**
 * Batch-norm kernels over x [N, C, H, W]. Per-channel reductions are split into chunks of CHUNK elements so
 * that a few channels with many pixels still fill the GPU: a workgroup reduces one (channel, chunk) pair, a
 * second small kernel combines the chunks.
 * Uniform words: 0 N, 1 C, 2 HW, 3 chunks, 4 chunk length, 5 eps (f32), 6 momentum (f32).
 */
import { metaDecl } from '@mriseg/tensor-wgsl';

export const BN_META = 7;
const WG = 256;

// Element e of channel c's flattened (image, pixel) sequence.
const AT = 'fn at(c: u32, e: u32) -> u32 { let hw = mi(2u); return ((e / hw) * mi(1u) + c) * hw + e % hw; }';

const TREE = (arr: string) => `
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { ${arr}[lid] += ${arr}[lid + s]; }
    workgroupBarrier();
  }`;

/** Per (channel, chunk): count, mean and sum of squared deviations (two passes over the chunk, for accuracy). */
export function bnStatsPartialWgsl(): string {
  return `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Part: array<f32>;
${metaDecl(2, BN_META)}
${AT}
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.x; let c = wid.y;
  let total = mi(0u) * mi(2u);
  let e0 = chunk * mi(4u);
  let e1 = min(total, e0 + mi(4u));
  var s = 0.0;
  for (var e = e0 + lid; e < e1; e += ${WG}u) { s += X[at(c, e)]; }
  red[lid] = s;${TREE('red')}
  let count = f32(e1 - e0);
  let mean = red[0] / count;
  workgroupBarrier();
  var q = 0.0;
  for (var e = e0 + lid; e < e1; e += ${WG}u) { let d = X[at(c, e)] - mean; q += d * d; }
  red[lid] = q;${TREE('red')}
  if (lid == 0u) {
    let o = (c * mi(3u) + chunk) * 3u;
    Part[o] = count; Part[o + 1u] = mean; Part[o + 2u] = red[0];
  }
}`;
}

/**
 * What the statistics finalize kernel does with num_batches_tracked: nothing (no counter), add 1 to it, or
 * add 1 and read it for the cumulative-average factor.
 */
export type BnTracked = 'none' | 'increment' | 'cumulative';

/**
 * Combines the chunks of each channel (Chan et al.'s parallel variance), writes mean and 1/√(var + eps), and
 * (when `running`) updates the running statistics in place: running = (1 − f)·running + f·batch with the
 * unbiased variance, f = momentum, or 1/num_batches_tracked (counting this batch) when cumulative. It also
 * increments num_batches_tracked, which saves a one-thread dispatch per BatchNorm2d.
 *
 * The increment must not race with reads of the counter, and WGSL has no barrier across workgroups. With
 * momentum nobody else reads it, so invocation 0 increments it alone. The cumulative average needs the old
 * value in every channel, so that variant runs as one workgroup looping over the channels: every invocation
 * reads the counter, and a storageBarrier orders those reads before invocation 0 writes it back.
 * Finalizing is a short loop over each channel's chunks, so giving up the other workgroups costs little.
 */
export function bnStatsFinalizeWgsl(running: boolean, tracked: BnTracked): string {
  let binding = 2;
  const decl = (name: string, type: string) =>
    `@group(0) @binding(${binding++}) var<storage, read_write> ${name}: array<${type}>;`;
  const decls = [
    ...(running ? [decl('RunMean', 'f32'), decl('RunVar', 'f32')] : []),
    ...(tracked !== 'none' ? [decl('Tracked', 'i32')] : []),
  ].join('\n');
  const update = running
    ? `
  RunMean[c] = (1.0 - f) * RunMean[c] + f * mean;
  RunVar[c] = (1.0 - f) * RunVar[c] + f * (m2 / (n - 1.0));`
    : '';
  const main =
    tracked === 'cumulative'
      ? `@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  let C = mi(1u);
  let t = Tracked[0];
  let f = 1.0 / f32(t + 1);
  for (var k = 0u; k < (C + 63u) / 64u; k++) {
    let c = k * 64u + lid;
    if (c < C) { channel(c, C, f); }
  }
  storageBarrier();
  if (lid == 0u) { Tracked[0] = t + 1; }
}`
      : `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let C = mi(1u);${tracked === 'increment' ? '\n  if (c == 0u) { Tracked[0] += 1; }' : ''}
  if (c >= C) { return; }
  channel(c, C, bitcast<f32>(mi(6u)));
}`;
  return `@group(0) @binding(0) var<storage, read> Part: array<f32>;
@group(0) @binding(1) var<storage, read_write> Stats: array<f32>;
${decls}
${metaDecl(binding, BN_META)}
fn channel(c: u32, C: u32, f: f32) {
  var n = 0.0; var mean = 0.0; var m2 = 0.0;
  for (var k = 0u; k < mi(3u); k++) {
    let o = (c * mi(3u) + k) * 3u;
    let nb = Part[o]; let mb = Part[o + 1u]; let qb = Part[o + 2u];
    if (nb == 0.0) { continue; }
    let tot = n + nb;
    let d = mb - mean;
    mean += d * nb / tot;
    m2 += qb + d * d * n * nb / tot;
    n = tot;
  }
  Stats[c] = mean;
  Stats[C + c] = inverseSqrt(m2 / n + bitcast<f32>(mi(5u)));${update}
}
${main}`;
}

/**
 * The fused kernels' pre-activation (x − mean)·invstd·γ + β. The forward and both backward kernels call this one
 * helper so that the ReLU mask recomputed in backward is the forward's to the bit: the same expression in each
 * shader, rather than three hand-written copies a compiler might contract into fma differently.
 */
function preActivationFn(affine: boolean): string {
  return `fn pre(i: u32, c: u32, C: u32) -> f32 {
  let xh = (X[i] - Stats[c]) * Stats[C + c];
  return ${affine ? 'xh * Gamma[c] + Beta[c]' : 'xh'};
}`;
}

/**
 * y = (x − mean)·invstd·γ + β, with Stats = [mean (C), invstd (C)]; `relu` applies max(·, 0) in the same pass
 * (as the ReLU kernel does), so no pre-activation tensor is written.
 */
export function bnNormalizeWgsl(affine: boolean, relu = false): string {
  const decls = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Stats: array<f32>;
${affine ? '@group(0) @binding(2) var<storage, read> Gamma: array<f32>;\n@group(0) @binding(3) var<storage, read> Beta: array<f32>;' : ''}
@group(0) @binding(${affine ? 4 : 2}) var<storage, read_write> Y: array<f32>;
${metaDecl(affine ? 5 : 3, BN_META)}`;
  const head = `@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let C = mi(1u);
  if (i >= mi(0u) * C * mi(2u)) { return; }
  let c = (i / mi(2u)) % C;`;
  if (relu)
    return `${decls}
${preActivationFn(affine)}
${head}
  Y[i] = max(pre(i, c, C), 0.0);
}`;
  return `${decls}
${head}
  let xh = (X[i] - Stats[c]) * Stats[C + c];
  Y[i] = ${affine ? 'xh * Gamma[c] + Beta[c]' : 'xh'};
}`;
}

/**
 * Per (channel, chunk): Σ dy into SumB and Σ dy·x̂ into SumG, both [C, chunks] (x̂ recomputed from x and the
 * saved statistics); with one chunk these are already dβ and dγ. With `relu`, dy is the gradient of
 * relu(BN(x)) and is masked by pre-activation > 0 (PyTorch's relu'(0) = 0), the mask recomputed from x rather
 * than read from a saved output.
 */
export function bnBackwardPartialWgsl(affine = false, relu = false): string {
  const params =
    relu && affine
      ? `
@group(0) @binding(5) var<storage, read> Gamma: array<f32>;
@group(0) @binding(6) var<storage, read> Beta: array<f32>;`
      : '';
  return `@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> SumB: array<f32>;
@group(0) @binding(4) var<storage, read_write> SumG: array<f32>;${params}
${metaDecl(relu && affine ? 7 : 5, BN_META)}
${AT}${relu ? `\n${preActivationFn(affine)}` : ''}
var<workgroup> r1: array<f32, ${WG}>;
var<workgroup> r2: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.x; let c = wid.y;
  let C = mi(1u);
  let total = mi(0u) * mi(2u);
  let e0 = chunk * mi(4u);
  let e1 = min(total, e0 + mi(4u));
  let mean = Stats[c]; let inv = Stats[C + c];
  var a = 0.0; var b = 0.0;
  for (var e = e0 + lid; e < e1; e += ${WG}u) {
    let i = at(c, e);
    let g = ${relu ? 'select(0.0, DY[i], pre(i, c, C) > 0.0)' : 'DY[i]'};
    a += g;
    b += g * (X[i] - mean) * inv;
  }
  r1[lid] = a;
  r2[lid] = b;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { r1[lid] += r1[lid + s]; r2[lid] += r2[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let o = c * mi(3u) + chunk;
    SumB[o] = r1[0];
    SumG[o] = r2[0];
  }
}`;
}

/**
 * dβ = Σ dy and dγ = Σ dy·x̂ [C] from bnBackwardPartialWgsl's [C, chunks] partials, chunk by chunk in order
 * (the order of the strided sum it replaces, so the same bits below 128 chunks).
 */
export function bnBackwardSumsWgsl(): string {
  return `@group(0) @binding(0) var<storage, read> PartB: array<f32>;
@group(0) @binding(1) var<storage, read> PartG: array<f32>;
@group(0) @binding(2) var<storage, read_write> SumB: array<f32>;
@group(0) @binding(3) var<storage, read_write> SumG: array<f32>;
${metaDecl(4, BN_META)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= mi(1u)) { return; }
  var b = 0.0; var g = 0.0;
  for (var k = 0u; k < mi(3u); k++) {
    let o = c * mi(3u) + k;
    b += PartB[o];
    g += PartG[o];
  }
  SumB[c] = b;
  SumG[c] = g;
}`;
}

/**
 * dx from dy. Training (batch statistics): dx = γ·invstd·(dy − Σdy/M − x̂·Σdy·x̂/M); eval: dx = γ·invstd·dy.
 * SumB = Σdy [C], SumG = Σdy·x̂ [C]. With `relu`, dy is masked as in bnBackwardPartialWgsl (x, and β when
 * affine, are then read in eval too). Only the bindings a variant reads are declared (auto layouts drop the
 * rest).
 */
export function bnInputGradWgsl(affine: boolean, training: boolean, relu = false): string {
  const names = [
    'DY',
    'Stats',
    ...(training || relu ? ['X'] : []),
    ...(training ? ['SumB', 'SumG'] : []),
    ...(affine ? ['Gamma'] : []),
    ...(affine && relu ? ['Beta'] : []),
  ];
  const decls = names
    .map((n, i) => `@group(0) @binding(${i}) var<storage, read> ${n}: array<f32>;`)
    .join('\n');
  const dy = relu ? 'g' : 'DY[i]';
  return `${decls}
@group(0) @binding(${names.length}) var<storage, read_write> DX: array<f32>;
${metaDecl(names.length + 1, BN_META)}${relu ? `\n${preActivationFn(affine)}` : ''}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let C = mi(1u);
  let M = mi(0u) * mi(2u);
  if (i >= M * C) { return; }
  let c = (i / mi(2u)) % C;
  let inv = Stats[C + c];
  let scale = ${affine ? 'Gamma[c] * inv' : 'inv'};${relu ? '\n  let g = select(0.0, DY[i], pre(i, c, C) > 0.0);' : ''}
  ${
    training
      ? `let xh = (X[i] - Stats[c]) * inv;
  let m = f32(M);
  DX[i] = scale * (${dy} - SumB[c] / m - xh * SumG[c] / m);`
      : `DX[i] = scale * ${dy};`
  }
}`;
}
