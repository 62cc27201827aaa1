/**
 * One model against its PyTorch golden (logits, loss, every gradient, one Adam step, eval logits), as a list of
 * measured errors and their limits. The vitest suite asserts them on the CPU driver; `bench/gpu-golden.ts` prints
 * them on a GPU, where kernels meet a different compiler and real parallel execution (a missing barrier or a
 * miscompiled tile shows there, not under lavapipe).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  Adam,
  convTilingProblem,
  diceLoss,
  type GemmTiling,
  gemmExtent,
  type HostTensor,
  pickGpuTiling,
  recordConvProblems,
  setConvTiling,
  winogradEligibleFor,
} from '@mriseg/nn';
import {
  add,
  entryToFloat32,
  mul,
  noGrad,
  StepGraph,
  scope,
  sum,
  type Tensor,
  tensor,
} from '@mriseg/tensor-wgsl';
import { readSafetensorsFile } from '@mriseg/tensor-wgsl/node';
import { createModel, type SegmentationModel } from '../src/index.js';

/** The fixtures: [file, model name, output heads]. f = 4, batch 2, 3×32×32. */
export const GOLDEN_CASES: readonly [string, string, number][] = [
  ['UNet_f4', 'unet', 1],
  ['AttentionUNet_f4', 'attention-unet', 1],
  ['UNetPlusPlus_f4', 'unet++', 4],
];

export type Tilings = 'default' | 'gpu';

export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

export type Golden = ReturnType<typeof loadGolden>;

export function loadGolden(dir: string, file: string) {
  const path = join(dir, `${file}.safetensors`);
  if (!existsSync(path))
    throw new Error(`golden fixture missing: ${path} (shared/ must sit beside the repository)`);
  const f = readSafetensorsFile(path);
  const get = (k: string) => {
    const e = f.tensors.get(k);
    if (!e) throw new Error(`${path}: no ${k}`);
    return { shape: e.shape, data: entryToFloat32(e) };
  };
  const keys = (prefix: string) =>
    [...f.tensors.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  return { get, keys, metadata: f.metadata };
}

/**
 * The model's state before the golden's training step. The fixture's `param.*` entries hold the values after it
 * (they equal `adam_step1.*`, and the BN running statistics equal `after_forward.*`), so the initial weights are
 * recovered from Adam's first step, p1 = p0 − lr·g/(|g| + eps) (the bias corrections cancel at step 1). The
 * fixture's running statistics before its forward pass are not stored (they were not PyTorch's defaults); a
 * train-mode forward does not read them, so the post-forward values stand in, and the eval pass below reloads
 * them. (BatchNorm's running-statistics update itself is checked against its own golden in @mriseg/nn.)
 */
function initialStateFromGolden(g: Golden, lr: number, eps = 1e-8): Map<string, HostTensor> {
  const dict = new Map<string, HostTensor>();
  for (const key of g.keys('param.')) {
    const { shape, data } = g.get(`param.${key}`);
    if (key.endsWith('num_batches_tracked'))
      dict.set(key, { dtype: 'i32', shape: [], data: new Int32Array(1) });
    else if (key.endsWith('running_mean') || key.endsWith('running_var'))
      dict.set(key, { dtype: 'f32', shape, data });
    else {
      const grad = g.get(`grad.${key}`).data;
      dict.set(key, {
        dtype: 'f32',
        shape,
        data: data.map((p, i) => p + (lr * grad[i]) / (Math.abs(grad[i]) + eps)),
      });
    }
  }
  return dict;
}

/** The running statistics after the golden's forward pass, for the eval pass. */
function runningStatsFromGolden(g: Golden): Map<string, HostTensor> {
  const dict = new Map<string, HostTensor>();
  for (const key of g.keys('after_forward.')) {
    if (key.endsWith('num_batches_tracked')) continue;
    const { shape, data } = g.get(`after_forward.${key}`);
    dict.set(key, { dtype: 'f32', shape, data });
  }
  return dict;
}

export interface PinnedCount {
  gemms: number;
  vec4: number;
  double: number;
  winograd: number;
  winograd4: number;
}

/**
 * Pins every convolution GEMM of a training step to the tiling a GPU runs without autotuning (`pickGpuTiling`:
 * register-blocked with prefetch), in turn plain, with vec4 reads, with double buffering and with both where the
 * tile allows, and every other 3×3 convolution kernel (forward, either gradient) to Winograd, so that one pass
 * through the model runs each kind of kernel the autotuner may choose. A CPU adapter's default is small tiles;
 * this checks the GPU's configurations against the same goldens. Returns how many GEMMs were pinned and how many
 * of them use vec4 reads, double buffering and Winograd (and of those, 4×4 output tiles).
 */
function pinGpuTilings(model: SegmentationModel, x: Tensor): PinnedCount {
  const problems = recordConvProblems(() =>
    scope(() => {
      const heads = model.forwardHeads(x);
      let total = sum(heads[0]);
      for (const h of heads.slice(1)) total = add(total, sum(h));
      total.backward();
    }),
  );
  for (const p of model.parameters()) {
    p.grad?.dispose();
    p.grad = null;
  }
  const count = { gemms: problems.length, vec4: 0, double: 0, winograd: 0, winograd4: 0 };
  let turn = 0;
  let eligible = 0;
  for (const p of problems) {
    const { M, N } = gemmExtent(p.kernel, p.geometry);
    const base = pickGpuTiling(M, N, p.kernel === 'weight_grad' ? 1 : 256);
    const flags = [{ vec4: true }, { vec4: true, double: true }, {}, { double: true }][turn++ % 4];
    // Every other kernel of a 3×3 stride-1 convolution (forward, input or weight gradient) by Winograd.
    // … with 2×2 and 4×4 output tiles in turn.
    const turnOf = winogradEligibleFor(p.kernel, p.geometry) ? eligible++ % 4 : 1;
    const winograd: GemmTiling['winograd'] = turnOf === 0 ? 2 : turnOf === 2 ? 4 : undefined;
    const flagged: GemmTiling = { ...base, ...flags, ...(winograd ? { winograd } : {}) };
    const tiling =
      [flagged, { ...base, ...(winograd ? { winograd } : {}) }].find(
        (t) => !convTilingProblem(p.kernel, t, p.geometry),
      ) ?? base;
    setConvTiling(p.kernel, p.geometry, tiling);
    if (tiling.vec4) count.vec4++;
    if (tiling.double) count.double++;
    if (tiling.winograd) count.winograd++;
    if (tiling.winograd === 4) count.winograd4++;
    // Tiles that cannot read vec4 (fewer than 4 registers a side) take their turn again with the next GEMM.
    if (flagged.vec4 && !tiling.vec4) turn--;
  }
  return count;
}

/** One compared quantity: its error (as measured by `metric`) and the largest error accepted. */
export interface GoldenCheck {
  what: string;
  metric: 'rel L2' | 'rel' | 'L2' | 'max abs';
  error: number;
  limit: number;
}

export interface GoldenReport {
  model: string;
  tilings: Tilings;
  /** Whether the checked training step and eval pass were replays of a capture (StepGraph). */
  replay: boolean;
  parameters: number;
  /** From the fixture's metadata. */
  expectedParameters: number;
  heads: number;
  expectedHeads: number;
  /** Parameter names without a gradient in the fixture, and gradients in the fixture the model lacks. */
  missingGrads: string[];
  extraGrads: string[];
  /** num_batches_tracked after the step (1 expected for each). */
  batchesTracked: number[];
  pinned: PinnedCount | null;
  checks: GoldenCheck[];
}

/**
 * Runs the golden's training step (forward, Dice, backward, one Adam step) and an eval forward with `tilings`
 * ('gpu': every convolution pinned as in pinGpuTilings; the caller clears the pins afterwards) and measures every
 * error against PyTorch's values. With `replay` the checked step and eval pass are replays of captures
 * (tensor-wgsl StepGraph), as `train`, `evaluate` and `bench` run them.
 */
export async function checkModelGolden(
  dir: string,
  file: string,
  name: string,
  tilings: Tilings,
  options: { replay?: boolean } = {},
): Promise<GoldenReport> {
  const replay = options.replay ?? false;
  const g = loadGolden(dir, file);
  const model: SegmentationModel = createModel(name, { features: 4 });
  const input = g.get('input');
  const x = tensor(input.data, input.shape);
  const y = tensor(g.get('target').data, g.get('target').shape);
  const pinned = tilings === 'gpu' ? pinGpuTilings(model, x) : null;
  const initial = initialStateFromGolden(g, 1e-3);
  const checks: GoldenCheck[] = [];
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const graph = new StepGraph({ enabled: replay });

  model.train();
  // The checked step: logits, loss and gradients, then one Adam step. With replay it runs four times from the
  // fixture's state (a warm-up, two captures, then the replay that is checked); every run starts from the same
  // parameters, running statistics and a restarted optimizer, all written in place.
  const trainStep = () => {
    opt.zeroGrad();
    const outs = model.forwardHeads(x);
    let total: Tensor = diceLoss(outs[0], y, { smooth: 1 });
    for (let k = 1; k < outs.length; k++) total = add(total, diceLoss(outs[k], y, { smooth: 1 }));
    const l = mul(total, 1 / outs.length);
    l.backward();
    // The gradients as backward left them (the optimizer copies them before its update).
    const grads = model
      .parameters()
      .map((p) => (p.grad ? p.grad.detach() : noGrad(() => mul(p, Number.NaN))));
    opt.step();
    return [l, ...outs, ...grads];
  };
  let outputs: Tensor[] = [];
  for (let run = 0; run < (replay ? 4 : 1); run++) {
    for (const t of outputs) t.dispose();
    model.loadStateDict(initial);
    opt.restart();
    outputs = scope(() => graph.run('train', trainStep));
  }
  const heads = outputs.length - 1 - model.parameters().length;
  const [loss, ...rest] = outputs;
  const logits = rest.slice(0, heads);
  const gradOf = new Map(model.parameters().map((p, i) => [p, rest[heads + i]]));
  const expectedHeads = g.keys('logits').length;
  for (let k = 0; k < Math.min(logits.length, expectedHeads); k++)
    checks.push({
      what: `logits${k}`,
      metric: 'rel L2',
      error: relL2(await logits[k].data(), g.get(`logits${k}`).data),
      limit: 1e-4,
    });
  const wantLoss = g.get('loss').data[0];
  checks.push({
    what: 'loss',
    metric: 'rel',
    error: Math.abs((await loss.item()) - wantLoss) / wantLoss,
    limit: 1e-4,
  });

  const named = new Map(model.namedParameters());
  const goldenGrads = new Set(g.keys('grad.'));
  const missingGrads = [...named.keys()].filter((k) => !goldenGrads.has(k));
  const extraGrads = [...goldenGrads].filter((k) => !named.has(k));
  const compared = [...named].filter(([k]) => goldenGrads.has(k));
  // Biases that feed a BatchNorm have a gradient of exactly zero; in float32 they come out as rounding noise,
  // so the tolerance has a floor proportional to the typical gradient's size.
  const norms = compared.map(([k]) => norm(g.get(`grad.${k}`).data)).sort((a, b) => a - b);
  const floor = 1e-5 * (norms[norms.length >> 1] ?? 0);
  for (const [key, p] of compared) {
    const want = g.get(`grad.${key}`).data;
    const got = await gradOf.get(p)!.data();
    checks.push({
      what: `grad.${key}`,
      metric: 'L2',
      error: norm(Array.from(got, (v, i) => v - want[i])),
      limit: 1e-3 * norm(want) + floor,
    });
  }
  const batchesTracked: number[] = [];
  for (const [key, b] of model.namedBuffers())
    if (key.endsWith('num_batches_tracked')) batchesTracked.push(...(await b.data()));

  for (const [key, p] of compared) {
    const want = g.get(`adam_step1.${key}`).data;
    const got = await p.data();
    if (norm(g.get(`grad.${key}`).data) < floor) {
      // A zero gradient's rounding noise becomes a step of up to lr under Adam's normalisation.
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      checks.push({ what: `adam_step1.${key}`, metric: 'max abs', error: worst, limit: 1e-3 });
    } else checks.push({ what: `adam_step1.${key}`, metric: 'rel L2', error: relL2(got, want), limit: 1e-4 });
  }
  opt.zeroGrad();
  opt.dispose();

  model.loadStateDict(runningStatsFromGolden(g), { strict: false });
  model.eval();
  let evalOut: Tensor[] = [];
  for (let run = 0; run < (replay ? 4 : 1); run++) {
    for (const t of evalOut) t.dispose();
    evalOut = scope(() => graph.run('eval', () => model.forwardHeads(x)));
  }
  for (let k = 0; k < Math.min(evalOut.length, expectedHeads); k++)
    checks.push({
      what: `eval_logits${k}`,
      metric: 'rel L2',
      error: relL2(await evalOut[k].data(), g.get(`eval_logits${k}`).data),
      limit: 1e-4,
    });
  const replayed =
    replay && graph.status('train').mode === 'replaying' && graph.status('eval').mode === 'replaying';
  if (replay && !replayed)
    throw new Error(
      `${name}: the golden step was not replayed (train: ${JSON.stringify(graph.status('train'))}, eval: ${JSON.stringify(graph.status('eval'))})`,
    );
  const report: GoldenReport = {
    model: name,
    tilings,
    replay: replayed,
    parameters: model.numParameters(),
    expectedParameters: Number(g.metadata.params),
    heads: logits.length,
    expectedHeads,
    missingGrads,
    extraGrads,
    batchesTracked,
    pinned,
    checks,
  };
  graph.dispose();
  for (const t of [...outputs, ...evalOut, x, y]) t.dispose();
  model.dispose();
  return report;
}

/** Whether every check is within its limit and the model's structure is the fixture's (NaN fails). */
export function goldenPassed(r: GoldenReport): boolean {
  return (
    r.parameters === r.expectedParameters &&
    r.heads === r.expectedHeads &&
    r.missingGrads.length === 0 &&
    r.extraGrads.length === 0 &&
    r.batchesTracked.every((n) => n === 1) &&
    r.checks.every((c) => c.error <= c.limit)
  );
}
