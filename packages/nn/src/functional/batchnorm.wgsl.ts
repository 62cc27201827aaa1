/**
 * Batch-norm kernels over x [N, C, H, W]. Per-channel reductions are split into chunks so that a few channels
 * with many pixels still fill the GPU: a workgroup reduces one (channel, chunk) pair, a second small kernel
 * combines the chunks. A chunk is a block of whole images' planes (small planes) or a piece of one plane (large
 * ones), walked without a division per element: the index arithmetic of `(e / HW)` and `% C` per element would
 * cost these memory-bound kernels more than their loads.
 * Every kernel takes the same uniforms (BN_UNIFORMS), so one set of values serves a whole forward or backward.
 */
import type { KernelSpec, StorageDecl, UniformType } from '@mriseg/tensor-wgsl';

/**
 * The input's shape `N`, `C`, `HW` (= H·W); the reductions' split (see bnChunking): `chunks` a channel, `pieces`
 * a plane, `pieceLength` pixels a piece, `imagesPerChunk`; `eps`; the running statistics' `momentum` (0 when
 * null: the cumulative average reads the counter instead); `workgroupPixels`, the pixels of a plane one workgroup of the elementwise kernels covers (a multiple
 * of the workgroup size).
 */
export const BN_UNIFORMS = {
  N: 'u32',
  C: 'u32',
  HW: 'u32',
  chunks: 'u32',
  pieces: 'u32',
  eps: 'f32',
  momentum: 'f32',
  pieceLength: 'u32',
  imagesPerChunk: 'u32',
  workgroupPixels: 'u32',
} as const satisfies Record<string, UniformType>;

/** Values of BN_UNIFORMS by name. */
export type BnUniforms = Record<keyof typeof BN_UNIFORMS, number>;

/** Threads of a workgroup of every per-element and per-chunk kernel. */
export const BN_WORKGROUP = 256;
const WG = BN_WORKGROUP;

/** How the per-channel reductions split N·HW values: see CHUNK_BOUNDS and chunkLoop. */
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
const CHUNK_BOUNDS = `let hw = params.HW;
  let pieces = params.pieces;
  let n0 = (chunk / pieces) * params.imagesPerChunk;
  let n1 = min(params.N, n0 + params.imagesPerChunk);
  let p0 = (chunk % pieces) * params.pieceLength;
  let L = min(hw, p0 + params.pieceLength) - p0;
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

/** The op name of the forward kernel and the prefix of its backward kernels' names. */
export const bnOpName = (relu: boolean): string => (relu ? 'batch_norm2d_relu' : 'batch_norm2d');

const rw = (name: string, type: StorageDecl['type'] = 'f32'): StorageDecl => ({
  name,
  type,
  access: 'read_write',
});

/** A batch-norm kernel's description: every one takes BN_UNIFORMS. */
function spec(name: string, storage: StorageDecl[], workgroupSize: number, code: string): KernelSpec {
  return { name, storage, uniforms: BN_UNIFORMS, workgroupSize, code };
}

/** Per (channel, chunk): count, mean and sum of squared deviations (two passes over the chunk, for accuracy). */
export function bnStatsPartialSpec(): KernelSpec {
  return spec(
    'batch_norm2d_stats',
    [{ name: 'X' }, rw('Part')],
    WG,
    `var<workgroup> red: array<f32, ${WG}>;
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.x; let c = wid.y;
  let C = params.C;
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
    let o = (c * params.chunks + chunk) * 3u;
    Part[o] = count; Part[o + 1u] = mean; Part[o + 2u] = red[0];
  }
}`,
  );
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
export function bnStatsFinalizeSpec(running: boolean, tracked: BnTracked): KernelSpec {
  const storage = [
    { name: 'Part' },
    rw('Stats'),
    ...(running ? [rw('RunMean'), rw('RunVar')] : []),
    ...(tracked !== 'none' ? [rw('Tracked', 'i32')] : []),
  ];
  const update = running
    ? `
  RunMean[c] = (1.0 - f) * RunMean[c] + f * mean;
  RunVar[c] = (1.0 - f) * RunVar[c] + f * (m2 / (n - 1.0));`
    : '';
  const main =
    tracked === 'cumulative'
      ? `fn main(@builtin(local_invocation_index) lid: u32) {
  let C = params.C;
  let t = Tracked[0];
  let f = 1.0 / f32(t + 1);
  for (var k = 0u; k < (C + 63u) / 64u; k++) {
    let c = k * 64u + lid;
    if (c < C) { channel(c, C, f); }
  }
  storageBarrier();
  if (lid == 0u) { Tracked[0] = t + 1; }
}`
      : `fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let C = params.C;${tracked === 'increment' ? '\n  if (c == 0u) { Tracked[0] += 1; }' : ''}
  if (c >= C) { return; }
  channel(c, C, params.momentum);
}`;
  return spec(
    'batch_norm2d_stats_finalize',
    storage,
    64,
    `fn channel(c: u32, C: u32, f: f32) {
  var n = 0.0; var mean = 0.0; var m2 = 0.0;
  for (var k = 0u; k < params.chunks; k++) {
    let o = (c * params.chunks + k) * 3u;
    let nb = Part[o]; let mb = Part[o + 1u]; let qb = Part[o + 2u];
    if (nb == 0.0) { continue; }
    let tot = n + nb;
    let d = mb - mean;
    mean += d * nb / tot;
    m2 += qb + d * d * n * nb / tot;
    n = tot;
  }
  Stats[c] = mean;
  Stats[C + c] = inverseSqrt(m2 / n + params.eps);${update}
}
${main}`,
  );
}

/** Eval: Stats = [running mean (C), 1/√(running var + eps) (C)]. */
export function bnEvalStatsSpec(): KernelSpec {
  return spec(
    'batch_norm2d_eval_stats',
    [{ name: 'RunMean' }, { name: 'RunVar' }, rw('Stats')],
    64,
    `fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let C = params.C;
  let c = gid.x;
  if (c >= C) { return; }
  Stats[c] = RunMean[c];
  Stats[C + c] = inverseSqrt(RunVar[c] + params.eps);
}`,
  );
}

/**
 * The elementwise kernels' grid. By planes: workgroup (x, y + z·ny) covers pixels [x·PER, (x + 1)·PER) of plane
 * n·C + c (PER = the uniform workgroupPixels, a multiple of the workgroup size), so the channel is found once a
 * thread rather than by dividing each element's index. Flat (planes smaller than a workgroup, which would leave
 * threads idle): one element a thread, its plane found by division. Declares plane, C and hw.
 */
function elementwiseMain(flat: boolean): string {
  const head = `fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let C = params.C;
  let hw = params.HW;`;
  if (flat)
    return `${head}
  let e = (wid.x + wid.y * nwg.x) * ${WG}u + lid;
  if (e >= params.N * C * hw) { return; }
  let plane = e / hw;`;
  return `${head}
  let plane = wid.y + wid.z * nwg.y;
  if (plane >= params.N * C) { return; }
  let pEnd = min(hw, (wid.x + 1u) * params.workgroupPixels);`;
}

/** The elementwise kernel's loop over its elements (after elementwiseMain); \`body\` sees the index i. */
function elementwiseLoop(flat: boolean, body: string): string {
  if (flat)
    return `{
    let i = e;
    ${body}
  }`;
  return `for (var p = wid.x * params.workgroupPixels + lid; p < pEnd; p += ${WG}u) {
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
export function bnNormalizeSpec(affine: boolean, relu = false, flat = false): KernelSpec {
  const storage = [
    { name: 'X' },
    { name: 'Stats' },
    ...(affine ? [{ name: 'Gamma' }, { name: 'Beta' }] : []),
    rw('Y'),
  ];
  const body = relu ? 'Y[i] = max(pre(i, c, C), 0.0);' : 'Y[i] = pre(i, c, C);';
  return spec(
    bnOpName(relu),
    storage,
    WG,
    `${preActivationFn(affine)}
${elementwiseMain(flat)}
  let c = plane % C;
  ${elementwiseLoop(flat, body)}
}`,
  );
}

/**
 * Per (channel, chunk): Σ dy into SumB and Σ dy·x̂ into SumG, both [C, chunks] (x̂ recomputed from x and the
 * saved statistics); with one chunk these are already dβ and dγ. With `relu`, dy is the gradient of
 * relu(BN(x)) and is masked by pre-activation > 0 (PyTorch's relu'(0) = 0), the mask recomputed from x rather
 * than read from a saved output.
 */
export function bnBackwardPartialSpec(affine = false, relu = false): KernelSpec {
  const storage = [
    { name: 'DY' },
    { name: 'X' },
    { name: 'Stats' },
    rw('SumB'),
    rw('SumG'),
    ...(relu && affine ? [{ name: 'Gamma' }, { name: 'Beta' }] : []),
  ];
  return spec(
    `${bnOpName(relu)}_backward_reduce`,
    storage,
    WG,
    `${relu ? `${preActivationFn(affine)}\n` : ''}var<workgroup> r1: array<f32, ${WG}>;
var<workgroup> r2: array<f32, ${WG}>;
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.x; let c = wid.y;
  let C = params.C;
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
    let o = c * params.chunks + chunk;
    SumB[o] = r1[0];
    SumG[o] = r2[0];
  }
}`,
  );
}

/**
 * dβ = Σ dy and dγ = Σ dy·x̂ [C] from bnBackwardPartialSpec's [C, chunks] partials, chunk by chunk in order
 * (the order of the strided sum it replaces, so the same bits below 128 chunks).
 */
export function bnBackwardSumsSpec(): KernelSpec {
  return spec(
    'batch_norm2d_backward_sums',
    [{ name: 'PartB' }, { name: 'PartG' }, rw('SumB'), rw('SumG')],
    64,
    `fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.C) { return; }
  var b = 0.0; var g = 0.0;
  for (var k = 0u; k < params.chunks; k++) {
    let o = c * params.chunks + k;
    b += PartB[o];
    g += PartG[o];
  }
  SumB[c] = b;
  SumG[c] = g;
}`,
  );
}

/**
 * dx from dy. Training (batch statistics): dx = γ·invstd·(dy − Σdy/M − x̂·Σdy·x̂/M); eval: dx = γ·invstd·dy.
 * SumB = Σdy [C], SumG = Σdy·x̂ [C]. With `relu`, dy is masked as in bnBackwardPartialSpec (x, and β when
 * affine, are then read in eval too). A variant declares, and is given, only the bindings it reads.
 */
export function bnInputGradSpec(affine: boolean, training: boolean, relu = false, flat = false): KernelSpec {
  const names = [
    'DY',
    'Stats',
    ...(training || relu ? ['X'] : []),
    ...(training ? ['SumB', 'SumG'] : []),
    ...(affine ? ['Gamma'] : []),
    ...(affine && relu ? ['Beta'] : []),
  ];
  const dy = relu ? 'g' : 'DY[i]';
  return spec(
    `${bnOpName(relu)}_backward`,
    [...names.map((name) => ({ name })), rw('DX')],
    WG,
    `${relu ? `${preActivationFn(affine)}\n` : ''}${elementwiseMain(flat)}
  let c = plane % C;
  let M = params.N * hw;
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
}`,
  );
}
