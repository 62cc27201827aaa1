/**
 * Convolution autotuning, in the spirit of cudnn.benchmark: time each candidate tiling of every convolution GEMM
 * a training step launches, on the device itself, and keep the fastest. Tile shapes that win on one GPU lose on
 * another (multiprocessor count, register file, how the driver compiles WGSL), so measuring beats guessing.
 */
import { abs, concat, max, noGrad, Rng, rand, runtime, scope, sub, type Tensor } from '@mriseg/tensor-wgsl';
import { type GemmTiling, tilingKey } from '../gemm.wgsl.js';
import { candidateTilings, pickGpuTiling, pickTiling, tilingVariants } from '../gemm-tilings.js';
import { convForwardRaw, convInputGradRaw, convWeightGradRaw } from './direct.js';
import {
  type ConvGeometry,
  type ConvKernel,
  type ConvProblem,
  gemmExtent,
  problemKey,
  winogradEligibleFor,
  winogradGeometry,
  winogradTiles,
} from './geometry.js';
import {
  convTiling,
  convTilingProblem,
  hasConvTiling,
  recordConvProblems,
  setConvTiling,
} from './tilings.js';

export interface ConvTiming {
  tiling: GemmTiling;
  ms: number;
}

export interface ConvTuningResult {
  kernel: ConvKernel;
  geometry: ConvGeometry;
  /** 2·N·K·C·R·S·P·Q: the same for all three kernels of a convolution. */
  gflop: number;
  /** The tiling in use before tuning (the adapter's default, or an earlier pin) and its time. */
  before: ConvTiming;
  best: ConvTiming;
  timings: ConvTiming[];
  /** Candidates left out: the device rejected them, or their result differed from the reference tiling's. */
  rejected: { tiling: GemmTiling; reason: string }[];
  /** The time budget ran out before every candidate was timed. */
  cutShort: boolean;
}

/**
 * How far a candidate's result may be from the reference tiling's (`pickTiling`: small tiles without prefetch,
 * vec4 or double buffering, the plainest kernel the generator makes), relative to the largest value: the forward
 * and input-gradient GEMMs sum in the same order whatever the tiles (bit-identical), the weight gradient's split
 * of its reduction depends on them (float32 rounding, ~1e-6). Anything larger is a miscompiled kernel.
 */
const MAX_RELATIVE_ERROR = 1e-4;

/** Rounds of refinement at most (each a handful of variants of the best tiling so far). */
const MAX_REFINE_ROUNDS = 4;

/**
 * Split-K targets tried for the weight gradient's best tiling during refinement (direct.ts splits the reduction
 * to reach about this many workgroups; 512 when unset). Same kernel, so no pipeline to compile.
 */
export const SPLIT_TARGETS = [128, 256, 1024, 2048];

export interface ConvTuneOptions {
  /** Launches timed per candidate (after one untimed launch that compiles the pipeline). Default 3. */
  reps?: number;
  /** The tilings to try for a GEMM of extent M×N (default `candidateTilings`); invalid ones are skipped. */
  candidates?: (kernel: ConvKernel, M: number, N: number) => GemmTiling[];
  /**
   * Refinement: the `refine` fastest tilings of the first round are tried with each of their `variants` (default
   * `tilingVariants`: vec4 reads, k step, prefetch, double buffering); while a round finds a faster tiling, its
   * variants are tried next (at most MAX_REFINE_ROUNDS rounds); the weight gradient's best is then tried with
   * other split-K targets (SPLIT_TARGETS). Default 2 on a GPU; 0 on a CPU driver, where
   * each variant is seconds of pipeline compilation and how tiles are staged hardly changes the speed.
   */
  refine?: number;
  variants?: (t: GemmTiling) => GemmTiling[];
  /** Called after each GEMM is tuned (progress). */
  onResult?: (r: ConvTuningResult) => void;
  /** Leave GEMMs that already have a pinned tiling (e.g. imported from an earlier run) as they are. */
  skipPinned?: boolean;
  /**
   * Time allowed for tuning, in seconds. When it runs out, the GEMM being tuned keeps the fastest tiling timed
   * so far (its result has `cutShort`), and the GEMMs not reached keep their tilings (`onSkipped` names them).
   */
  budgetSeconds?: number;
  onSkipped?: (p: ConvProblem) => void;
  /**
   * Also time Winograd with 2×2 and 4×4 output tiles (two GEMM tilings each, then refined like the others) for
   * the forward pass and both gradients of convolutions with a 3×3 window at stride 1. Default: on a GPU, not on a
   * CPU driver.
   */
  winograd?: boolean;
}

function launch(p: ConvProblem, inputs: Record<string, Tensor>): Tensor {
  const g = p.geometry;
  if (p.kernel === 'forward') return convForwardRaw(inputs.x, inputs.w, inputs.bias ?? null, g);
  if (p.kernel === 'input_grad') return convInputGradRaw(inputs.dy, inputs.w, inputs.bias ?? null, g);
  return convWeightGradRaw(inputs.dy, inputs.x, g);
}

/** Random operands of the right shapes (the kernels' speed does not depend on the values). */
function operands(p: ConvProblem, rng: Rng): Record<string, Tensor> {
  const g = p.geometry;
  const t: Record<string, Tensor> = { w: rand([g.K, g.C, g.R, g.S], rng, -1, 1) };
  if (p.kernel !== 'input_grad') t.x = rand([g.N, g.C, g.H, g.W], rng, -1, 1);
  if (p.kernel !== 'forward') t.dy = rand([g.N, g.K, g.P, g.Q], rng, -1, 1);
  if (p.bias) t.bias = rand([p.kernel === 'forward' ? g.K : g.C], rng, -1, 1);
  return t;
}

/** Runs `body` once inside error scopes, submitted; the first error WebGPU reported for it, or null. */
async function launchError<T>(body: () => T): Promise<{ value: T; error: string | null }> {
  const rt = runtime();
  await rt.sync('autotune');
  rt.device.pushErrorScope('validation');
  rt.device.pushErrorScope('internal');
  rt.device.pushErrorScope('out-of-memory');
  const value = body();
  rt.flush();
  const errors = [
    await rt.device.popErrorScope(),
    await rt.device.popErrorScope(),
    await rt.device.popErrorScope(),
  ];
  return { value, error: errors.find((e) => e !== null)?.message ?? null };
}

/** max |out − ref| / max |ref|, computed on the device (two numbers read back). */
async function relativeMaxError(out: Tensor, ref: Tensor): Promise<number> {
  const both = scope(() =>
    noGrad(() => concat([max(abs(sub(out, ref))).reshape([1]), max(abs(ref)).reshape([1])])),
  );
  try {
    const [err, scale] = await both.data();
    return err / Math.max(scale, Number.MIN_VALUE);
  } finally {
    both.dispose();
  }
}

/** Milliseconds a launch takes: GPU timestamps when the device has them, else wall clock around a sync. */
async function timeLaunches(body: () => void, reps: number): Promise<number> {
  const rt = runtime();
  await rt.sync('autotune');
  const t0 = performance.now();
  const gpu = await rt.timeGpu(() => {
    for (let i = 0; i < reps; i++) body();
  });
  return (gpu ?? performance.now() - t0) / reps;
}

/** 2·N·K·C·R·S·P·Q: the same for all three kernels of a convolution. */
const gflopOf = (g: ConvGeometry) => (2 * g.N * g.K * g.C * g.R * g.S * g.P * g.Q) / 1e9;

/**
 * Times the candidates of each problem, largest first, and pins the fastest (setConvTiling); returns what it
 * measured.
 */
export async function tuneConvolutions(
  problems: ConvProblem[],
  options: ConvTuneOptions = {},
): Promise<ConvTuningResult[]> {
  const reps = options.reps ?? 3;
  const candidatesOf =
    options.candidates ?? ((_k: ConvKernel, M: number, N: number) => candidateTilings(M, N));
  const refine = options.refine ?? (runtime().report.isCpu ? 0 : 2);
  const variantsOf = options.variants ?? tilingVariants;
  const tryWinograd = options.winograd ?? !runtime().report.isCpu;
  const rng = new Rng(0x7e57);
  const results: ConvTuningResult[] = [];
  const deadline =
    options.budgetSeconds === undefined
      ? Number.POSITIVE_INFINITY
      : performance.now() + 1000 * options.budgetSeconds;
  // Largest first, so that a time budget is spent where the time goes (the order of equal ones is kept).
  const ordered = [...problems].sort((a, b) => gflopOf(b.geometry) - gflopOf(a.geometry));
  for (const p of ordered) {
    const g = p.geometry;
    if (options.skipPinned && hasConvTiling(p.kernel, g)) continue;
    if (performance.now() > deadline) {
      options.onSkipped?.(p);
      continue;
    }
    const { M, N } = gemmExtent(p.kernel, g);
    const current = convTiling(p.kernel, g, p.bias);
    const seen = new Set<string>();
    const inputs = operands(p, rng);
    const timings: ConvTiming[] = [];
    const rejected: ConvTuningResult['rejected'] = [];
    // The first tiling that runs (the plainest one) gives the result every other candidate must reproduce.
    let reference = null as Tensor | null;
    let cutShort = false;
    const timeEach = async (tilings: GemmTiling[]) => {
      for (const tiling of tilings) {
        if (timings.length > 0 && performance.now() > deadline) {
          cutShort = true;
          return;
        }
        const key = tilingKey(tiling);
        if (seen.has(key) || convTilingProblem(p.kernel, tiling, g)) continue;
        seen.add(key);
        setConvTiling(p.kernel, g, tiling);
        // The first launch compiles the pipeline, outside the timed region; a candidate this device's compiler
        // or validation rejects, or whose result is wrong, is skipped instead of failing the run.
        const first = await launchError(() => noGrad(() => launch(p, inputs)));
        let reason = first.error;
        if (!reason && reference) {
          const err = await relativeMaxError(first.value, reference);
          if (!(err <= MAX_RELATIVE_ERROR))
            reason = `result differs from ${tilingKey(timings[0].tiling)}'s by ${err.toExponential(2)} (relative)`;
        }
        if (reason) {
          first.value.dispose();
          rejected.push({ tiling, reason });
          continue;
        }
        if (reference) first.value.dispose();
        else reference = first.value;
        const body = () => scope(() => noGrad(() => void launch(p, inputs)));
        timings.push({ tiling, ms: await timeLaunches(body, reps) });
      }
    };
    try {
      const fastest = () => timings.reduce((x, y) => (y.ms < x.ms ? y : x));
      const winograd: GemmTiling[] = [];
      if (tryWinograd && winogradEligibleFor(p.kernel, g)) {
        // Its GEMMs: tiles × output channels, or for the weight gradient output × input channels.
        const wg = winogradGeometry(p.kernel, g);
        for (const wm of [2, 4] as const) {
          const [m, n] = p.kernel === 'weight_grad' ? [g.K, g.C] : [winogradTiles(wg, wm), wg.K];
          const gpu = pickGpuTiling(m, n, p.kernel === 'weight_grad' ? 1 : 256);
          for (const t of [gpu, pickTiling(m, n)]) winograd.push({ ...t, winograd: wm });
        }
      }
      await timeEach([pickTiling(M, N), current, ...candidatesOf(p.kernel, M, N), ...winograd]);
      let frontier = timings.length ? [...timings].sort((a, b) => a.ms - b.ms).slice(0, refine) : [];
      for (let round = 0; frontier.length > 0 && round < MAX_REFINE_ROUNDS; round++) {
        const before = fastest();
        await timeEach(frontier.flatMap((t) => variantsOf(t.tiling)));
        const now = fastest();
        frontier = now !== before ? [now] : [];
      }
      if (refine > 0 && p.kernel === 'weight_grad') {
        const best = fastest().tiling;
        await timeEach(SPLIT_TARGETS.map((splitTarget) => ({ ...best, splitTarget })));
      }
    } finally {
      for (const t of Object.values(inputs)) t.dispose();
      reference?.dispose();
    }
    if (timings.length === 0) {
      setConvTiling(p.kernel, g, null);
      throw new Error(
        `autotune: no tiling ran for ${p.kernel} ${problemKey(p.kernel, g)}: ${rejected.map((r) => `${tilingKey(r.tiling)}: ${r.reason}`).join('; ')}`,
      );
    }
    const best = timings.reduce((x, y) => (y.ms < x.ms ? y : x));
    setConvTiling(p.kernel, g, best.tiling);
    const r: ConvTuningResult = {
      kernel: p.kernel,
      geometry: g,
      gflop: gflopOf(g),
      before: timings.find((t) => tilingKey(t.tiling) === tilingKey(current)) ?? timings[0],
      best,
      timings,
      rejected,
      cutShort,
    };
    results.push(r);
    options.onResult?.(r);
  }
  return results;
}

/**
 * Runs `step` once (e.g. a forward and backward pass of a model on a batch of the training shape) to find the
 * convolutions it launches, then tunes each. The step's side effects happen once: zero the gradients after.
 */
export async function autotuneConvolutions(
  step: () => void,
  options: ConvTuneOptions = {},
): Promise<ConvTuningResult[]> {
  const problems = recordConvProblems(() => scope(step));
  await runtime().sync('autotune');
  return tuneConvolutions(problems, options);
}
