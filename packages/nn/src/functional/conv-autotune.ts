/**
 * Convolution autotuning, in the spirit of cudnn.benchmark: time each candidate tiling of every convolution GEMM
 * a training step launches, on the device itself, and keep the fastest. Tile shapes that win on one GPU lose on
 * another (multiprocessor count, register file, how the driver compiles WGSL), so measuring beats guessing.
 */
import { noGrad, Rng, rand, runtime, scope, type Tensor } from '@mriseg/tensor-wgsl';
import { type ConvGeometry, convForwardRaw, convInputGradRaw, convWeightGradRaw } from './conv.js';
import {
  type ConvKernel,
  type ConvProblem,
  convTiling,
  convTilingProblem,
  gemmExtent,
  hasConvTiling,
  recordConvProblems,
  setConvTiling,
} from './conv-tiling.js';
import { candidateTilings, type GemmTiling, tilingKey } from './gemm.wgsl.js';

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
}

export interface ConvTuneOptions {
  /** Launches timed per candidate (after one untimed launch that compiles the pipeline). Default 3. */
  reps?: number;
  /** The tilings to try for a GEMM of extent M×N (default `candidateTilings`); invalid ones are skipped. */
  candidates?: (kernel: ConvKernel, M: number, N: number) => GemmTiling[];
  /** Called after each GEMM is tuned (progress). */
  onResult?: (r: ConvTuningResult) => void;
  /** Leave GEMMs that already have a pinned tiling (e.g. imported from an earlier run) as they are. */
  skipPinned?: boolean;
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

/** Runs `body` once inside error scopes, submitted; false when WebGPU reported an error for it. */
async function launchesCleanly(body: () => void): Promise<boolean> {
  const rt = runtime();
  await rt.sync('autotune');
  rt.device.pushErrorScope('validation');
  rt.device.pushErrorScope('internal');
  rt.device.pushErrorScope('out-of-memory');
  body();
  rt.flush();
  const errors = [
    await rt.device.popErrorScope(),
    await rt.device.popErrorScope(),
    await rt.device.popErrorScope(),
  ];
  return errors.every((e) => e === null);
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

/** Times the candidates of each problem and pins the fastest (setConvTiling); returns what it measured. */
export async function tuneConvolutions(
  problems: ConvProblem[],
  options: ConvTuneOptions = {},
): Promise<ConvTuningResult[]> {
  const reps = options.reps ?? 3;
  const candidatesOf =
    options.candidates ?? ((_k: ConvKernel, M: number, N: number) => candidateTilings(M, N));
  const rng = new Rng(0x7e57);
  const results: ConvTuningResult[] = [];
  for (const p of problems) {
    const g = p.geometry;
    if (options.skipPinned && hasConvTiling(p.kernel, g)) continue;
    const { M, N } = gemmExtent(p.kernel, g);
    const current = convTiling(p.kernel, g, p.bias);
    const seen = new Set<string>();
    const tilings = [current, ...candidatesOf(p.kernel, M, N)].filter((t) => {
      const key = tilingKey(t);
      if (seen.has(key) || convTilingProblem(p.kernel, t)) return false;
      seen.add(key);
      return true;
    });
    const inputs = operands(p, rng);
    const timings: ConvTiming[] = [];
    try {
      for (const tiling of tilings) {
        setConvTiling(p.kernel, g, tiling);
        const body = () => scope(() => noGrad(() => void launch(p, inputs)));
        // The first launch compiles the pipeline, outside the timed region; a candidate this device's compiler
        // or validation rejects is skipped instead of failing the run.
        if (!(await launchesCleanly(body))) continue;
        timings.push({ tiling, ms: await timeLaunches(body, reps) });
      }
    } finally {
      for (const t of Object.values(inputs)) t.dispose();
    }
    const best = timings.reduce((x, y) => (y.ms < x.ms ? y : x));
    setConvTiling(p.kernel, g, best.tiling);
    const r: ConvTuningResult = {
      kernel: p.kernel,
      geometry: g,
      gflop: (2 * g.N * g.K * g.C * g.R * g.S * g.P * g.Q) / 1e9,
      before: timings[0],
      best,
      timings,
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
