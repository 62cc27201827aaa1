/**
 * Batch-norm kernels over x [N, C, H, W]. Per-channel reductions are split into chunks so that a few channels
 * with many pixels still fill the GPU: a workgroup reduces one (channel, chunk) pair, a second small kernel
 * combines the chunks. A chunk is a block of whole images' planes (small planes) or a piece of one plane (large
 * ones), walked without a division per element: the index arithmetic of `(e / HW)` and `% C` per element would
 * cost these memory-bound kernels more than their loads.
 * Uniform words: 0 N, 1 C, 2 HW, 3 chunks, 4 pieces a plane, 5 eps (f32), 6 momentum (f32), 7 piece length,
 * 8 images a chunk, 9 plane pixels a workgroup of the elementwise kernels.
 */
import { metaDecl } from '@mriseg/tensor-wgsl';

export const BN_META = 10;
/** Threads of a workgroup of every per-element and per-chunk kernel. */
export const BN_WORKGROUP = 256;
const WG = BN_WORKGROUP;

/** How the per-channel reductions split N·HW values: see chunkWalk. */
export interface BnChunking {
  chunks: number;
  /** Pieces each image plane is cut into (1 when a chunk holds whole planes). */
  pieces: number;
  pieceLength: number;
  /** Images a chunk holds (1 when planes are cut into pieces). */
  imagesPerChunk: number;
}

/**
 * Chunks of about `target` values: pieces of planes larger than that, else blocks of whole planes; larger
 * chunks when that would make more than `maxChunks` (a dispatch dimension's limit).
 */
export function bnChunking(N: number, HW: number, target: number, maxChunks = Infinity): BnChunking {
  let c: BnChunking;
  if (HW >= target) {
    const pieceLength = Math.ceil(HW / Math.ceil(HW / target));
    const pieces = Math.ceil(HW / pieceLength);
    c = { chunks: N * pieces, pieces, pieceLength, imagesPerChunk: 1 };
  } else {
    const imagesPerChunk = Math.max(1, Math.floor(target / HW));
    c = { chunks: Math.ceil(N / imagesPerChunk), pieces: 1, pieceLength: HW, imagesPerChunk };
  }
  return c.chunks > maxChunks ? bnChunking(N, HW, target * 2, maxChunks) : c;
}

/**
 * The bounds of chunk \`chunk\` of channel c: images [n0, n1) × pixels [p0, p0 + L) of each plane, \`count\`
 * values, and the steps of chunkLoop (uniform: the divisions happen once a workgroup).
 */
const CHUNK_BOUNDS = `let hw = mi(2u);
  let pieces = mi(4u);
  let n0 = (chunk / pieces) * mi(8u);
  let n1 = min(mi(0u), n0 + mi(8u));
  let p0 = (chunk % pieces) * mi(7u);
  let L = min(hw, p0 + mi(7u)) - p0;
  let count = f32((n1 - n0) * L);
  let dq = ${WG}u % L;
  let dn = ${WG}u / L;`;

/**
 * A loop over the chunk's values (after CHUNK_BOUNDS), the workgroup's threads WG apart in (image, pixel)
 * order: one division a thread where it starts, and each step carries the pixel over into the next image.
 * \`body\` sees the value's index i.
 */
function chunkLoop(body: string): string {
  return `{
    var n = n0 + lid / L;
    var q = lid % L;
    loop {
      if (n >= n1) { break; }
      let i = (n * C + c) * hw + p0 + q;
      ${body}
      q += dq;
      n += dn;
      if (q >= L) { q -= L; n += 1u; }
    }
  }`;
}

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
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.x; let c = wid.y;
  let C = mi(1u);
  ${CHUNK_BOUNDS}
  var s = 0.0;
  ${chunkLoop('s += X[i];')}
  red[lid] = s;${TREE('red')}
  let mean = red[0] / count;
  workgroupBarrier();
  var sq = 0.0;
  ${chunkLoop('let d = X[i] - mean; sq += d * d;')}
  red[lid] = sq;${TREE('red')}
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
 * The elementwise kernels' grid. By planes: workgroup (x, y + z·ny) covers pixels [x·PER, (x + 1)·PER) of plane
 * n·C + c (PER = uniform word 9, a multiple of the workgroup size), so the channel is found once a thread rather
 * than by dividing each element's index. Flat (planes smaller than a workgroup, which would leave threads idle):
 * one element a thread, its plane found by division. Declares plane, C and hw.
 */
function elementwiseMain(flat: boolean): string {
  const head = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let C = mi(1u);
  let hw = mi(2u);`;
  if (flat)
    return `${head}
  let e = (wid.x + wid.y * nwg.x) * ${WG}u + lid;
  if (e >= mi(0u) * C * hw) { return; }
  let plane = e / hw;`;
  return `${head}
  let plane = wid.y + wid.z * nwg.y;
  if (plane >= mi(0u) * C) { return; }
  let pEnd = min(hw, (wid.x + 1u) * mi(9u));`;
}

/** The elementwise kernel's loop over its elements (after elementwiseMain); \`body\` sees the index i. */
function elementwiseLoop(flat: boolean, body: string): string {
  if (flat)
    return `{
    let i = e;
    ${body}
  }`;
  return `for (var p = wid.x * mi(9u) + lid; p < pEnd; p += ${WG}u) {
    let i = plane * hw + p;
    ${body}
  }`;
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
export function bnNormalizeWgsl(affine: boolean, relu = false, flat = false): string {
  const decls = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Stats: array<f32>;
${affine ? '@group(0) @binding(2) var<storage, read> Gamma: array<f32>;\n@group(0) @binding(3) var<storage, read> Beta: array<f32>;' : ''}
@group(0) @binding(${affine ? 4 : 2}) var<storage, read_write> Y: array<f32>;
${metaDecl(affine ? 5 : 3, BN_META)}`;
  const head = `${elementwiseMain(flat)}
  let c = plane % C;`;
  if (relu)
    return `${decls}
${preActivationFn(affine)}
${head}
  ${elementwiseLoop(flat, 'Y[i] = max(pre(i, c, C), 0.0);')}
}`;
  return `${decls}
${preActivationFn(affine)}
${head}
  ${elementwiseLoop(flat, 'Y[i] = pre(i, c, C);')}
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
${relu ? `\n${preActivationFn(affine)}` : ''}
var<workgroup> r1: array<f32, ${WG}>;
var<workgroup> r2: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.x; let c = wid.y;
  let C = mi(1u);
  ${CHUNK_BOUNDS}
  let mean = Stats[c]; let inv = Stats[C + c];
  var a = 0.0; var b = 0.0;
  ${chunkLoop(`let g = ${relu ? 'select(0.0, DY[i], pre(i, c, C) > 0.0)' : 'DY[i]'};
      a += g;
      b += g * (X[i] - mean) * inv;`)}
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
export function bnInputGradWgsl(affine: boolean, training: boolean, relu = false, flat = false): string {
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
${elementwiseMain(flat)}
  let c = plane % C;
  let M = mi(0u) * hw;
  let inv = Stats[C + c];
  let scale = ${affine ? 'Gamma[c] * inv' : 'inv'};${
    training ? '\n  let mean = Stats[c];\n  let sb = SumB[c] / f32(M);\n  let sg = SumG[c] / f32(M);' : ''
  }
  ${elementwiseLoop(
    flat,
    `${relu ? 'let g = select(0.0, DY[i], pre(i, c, C) > 0.0);\n    ' : ''}${
      training
        ? `let xh = (X[i] - mean) * inv;
    DX[i] = scale * (${dy} - sb - xh * sg);`
        : `DX[i] = scale * ${dy};`
    }`,
  )}
}`;
}
