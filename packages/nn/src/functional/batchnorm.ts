/**
 * Batch normalisation over [N, C, H, W] (PyTorch's F.batch_norm for 4-D input) with its fused backward, and
 * optionally a ReLU fused into it (every U-Net block is conv → BN → ReLU).
 */
import {
  type Bindings,
  defineKernel,
  grid1d,
  kernel,
  needsGrad,
  record,
  runtime,
  ShapeError,
  Tensor,
} from '@mriseg/tensor-wgsl';
import {
  BN_WORKGROUP,
  type BnTracked,
  type BnUniforms,
  bnBackwardPartialSpec,
  bnBackwardSumsSpec,
  bnChunking,
  bnEvalStatsSpec,
  bnInputGradSpec,
  bnNormalizeSpec,
  bnOpName,
  bnStatsFinalizeSpec,
  bnStatsPartialSpec,
} from './batchnorm.wgsl.js';
import { require4d } from './conv2d.js';

const statsPartial = defineKernel('bn.stats', bnStatsPartialSpec());
const evalStats = defineKernel('bn.eval_stats', bnEvalStatsSpec());
const backwardSums = defineKernel('bn.backward_sums', bnBackwardSumsSpec());

/** Pixels of one plane a workgroup of the elementwise kernels covers: up to 8 per thread. */
const PLANE_PIECE = BN_WORKGROUP * 8;

/** The elementwise kernels' grid: pieces of each plane × planes (folded into z past the per-dimension limit). */
function planeGrid(planes: number, HW: number, piece: number): [number, number, number] {
  const max = runtime().limits.maxComputeWorkgroupsPerDimension;
  const y = Math.min(planes, max);
  return [Math.ceil(HW / piece), y, Math.ceil(planes / y)];
}

/** An activation applied in batchNorm2d's own kernels: relu(BN(x)) without the BN output as a tensor. */
export type BatchNormActivation = 'none' | 'relu';

export interface BatchNorm2dOptions {
  /** Batch statistics (true) or the running statistics (false). */
  training: boolean;
  /** Running-statistics update factor; null = cumulative average over num_batches_tracked. Default 0.1. */
  momentum?: number | null;
  eps?: number;
  /** int32 [] counter, incremented in training (PyTorch's module does this; the functional op here does). */
  numBatchesTracked?: Tensor | null;
  /**
   * 'relu' returns relu(BN(x)) with exactly the values and gradients of F.relu(F.batch_norm(…)), relu'(0) = 0,
   * in the BN kernels' own passes: two dispatches and one activation tensor fewer. Default 'none'.
   */
  activation?: BatchNormActivation;
}

/** Elements per workgroup of the per-channel reductions. */
const CHUNK = 4096;

function checkChannelVector(what: string, t: Tensor | null, C: number, x: Tensor): void {
  if (t && (t.rank !== 1 || t.shape[0] !== C || t.dtype !== 'f32'))
    throw new ShapeError(
      'batch_norm2d',
      `${what} ${t.describe()} must be f32 [${C}] for input ${x.describe()}`,
    );
}

/**
 * y = (x − mean) / √(var + eps) · weight + bias per channel. Training uses the batch mean and biased variance
 * and, when running statistics are given, updates them in place with momentum and the unbiased variance
 * (and increments numBatchesTracked); eval uses the running statistics. Gradients for x, weight and bias.
 * With `activation: 'relu'` the result is max(y, 0).
 */
export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  options: BatchNorm2dOptions,
): Tensor {
  require4d('batch_norm2d', 'input', x);
  const [N, C, H, W] = x.shape;
  const HW = H * W;
  const M = N * HW;
  checkChannelVector('running_mean', runningMean, C, x);
  checkChannelVector('running_var', runningVar, C, x);
  checkChannelVector('weight', weight, C, x);
  checkChannelVector('bias', bias, C, x);
  if ((weight === null) !== (bias === null))
    throw new ShapeError('batch_norm2d', 'weight and bias must be given together (or both null)');
  if ((runningMean === null) !== (runningVar === null))
    throw new ShapeError('batch_norm2d', 'running_mean and running_var must be given together');
  const affine = weight !== null && bias !== null;
  const eps = options.eps ?? 1e-5;
  const momentum = options.momentum === undefined ? 0.1 : options.momentum;
  const training = options.training;
  const activation = options.activation ?? 'none';
  if (activation !== 'none' && activation !== 'relu')
    throw new ShapeError(
      'batch_norm2d',
      `unknown activation '${String(activation)}' (expected 'none' or 'relu')`,
    );
  const relu = activation === 'relu';
  const op = bnOpName(relu);
  if (!training && !runningMean)
    throw new ShapeError('batch_norm2d', 'eval mode needs running_mean and running_var');
  if (training && M <= 1)
    throw new ShapeError(
      'batch_norm2d',
      `expected more than 1 value per channel when training, got ${x.describe()}`,
    );
  const nbt = options.numBatchesTracked ?? null;
  if (nbt && (nbt.dtype !== 'i32' || nbt.size !== 1))
    throw new ShapeError(
      'batch_norm2d',
      `numBatchesTracked ${nbt.describe()} must be a one-element int32 tensor`,
    );
  if (training && runningMean && momentum === null && !nbt)
    throw new ShapeError('batch_norm2d', 'momentum null (cumulative average) needs numBatchesTracked');

  const rt = runtime();
  const { chunks, pieces, pieceLength, imagesPerChunk } = bnChunking(
    N,
    HW,
    CHUNK,
    rt.limits.maxComputeWorkgroupsPerDimension,
  );
  // Small planes: one workgroup a plane; larger ones in pieces of up to 8 pixels a thread.
  const piece = Math.min(PLANE_PIECE, Math.ceil(HW / BN_WORKGROUP) * BN_WORKGROUP);
  const uniforms: BnUniforms = {
    N,
    C,
    HW,
    chunks,
    pieces,
    eps,
    momentum: momentum ?? 0,
    pieceLength,
    imagesPerChunk,
    workgroupPixels: piece,
  };
  // Planes smaller than a workgroup: one element a thread (a division each), else threads would idle.
  const flat = HW < BN_WORKGROUP;
  const grid = flat ? grid1d(x.size, BN_WORKGROUP) : planeGrid(N * C, HW, piece);
  // Stats = [mean (C), 1/√(var + eps) (C)]: batch statistics in training, running ones in eval.
  const stats = Tensor.empty([2, C], 'f32', 'batch_norm2d_stats');
  if (training) {
    const part = Tensor.empty([C, chunks, 3], 'f32', 'batch_norm2d_partial');
    rt.dispatchKernel(statsPartial, { X: x.buffer, Part: part.buffer }, uniforms, [chunks, C]);
    const running = runningMean !== null && runningVar !== null;
    const tracked: BnTracked = !nbt ? 'none' : running && momentum === null ? 'cumulative' : 'increment';
    const finalize = kernel(`bn.stats_finalize|${running}|${tracked}`, () =>
      bnStatsFinalizeSpec(running, tracked),
    );
    rt.dispatchKernel(
      finalize,
      {
        Part: part.buffer,
        Stats: stats.buffer,
        ...(running ? { RunMean: runningMean.buffer, RunVar: runningVar.buffer } : {}),
        ...(nbt ? { Tracked: nbt.buffer } : {}),
      },
      uniforms,
      // The cumulative variant reads and increments the counter, which is race-free only in one workgroup.
      [tracked === 'cumulative' ? 1 : Math.ceil(C / 64)],
    );
    part.dispose();
  } else {
    rt.dispatchKernel(
      evalStats,
      { RunMean: runningMean!.buffer, RunVar: runningVar!.buffer, Stats: stats.buffer },
      uniforms,
      [Math.ceil(C / 64)],
    );
  }
  const y = Tensor.empty(x.shape, 'f32', op);
  const normalize = kernel(`bn.normalize|${affine}|${relu}|${flat}`, () =>
    bnNormalizeSpec(affine, relu, flat),
  );
  rt.dispatchKernel(
    normalize,
    {
      X: x.buffer,
      Stats: stats.buffer,
      ...(affine ? { Gamma: weight.buffer, Beta: bias.buffer } : {}),
      Y: y.buffer,
    },
    uniforms,
    grid,
  );
  const inputs = affine ? [x, weight, bias] : [x];
  if (!needsGrad(...inputs)) {
    stats.dispose();
    return y;
  }
  // Only x and the [2, C] statistics are kept for backward, also with the ReLU: its mask is recomputed from
  // them, so y need not stay alive for this node (the next layer may still keep it).
  return record(y, op, inputs, (dy) => {
    const paramGrads = affine && (weight.requiresGrad || bias.requiresGrad);
    const inputSums = training && x.requiresGrad;
    // Σdy = dβ and Σdy·x̂ = dγ per channel (dy masked by the ReLU when fused); eval without γ, β needs none.
    let sumB: Tensor | null = null;
    let sumG: Tensor | null = null;
    if (paramGrads || inputSums) {
      // One chunk a channel: the partials are the sums, and become the parameter gradients as they are.
      const partShape = chunks === 1 ? [C] : [C, chunks];
      const partB = Tensor.empty(partShape, 'f32', 'batch_norm2d_param_grad');
      const partG = Tensor.empty(partShape, 'f32', 'batch_norm2d_param_grad');
      const partial = kernel(`bn.backward_reduce|${affine}|${relu}`, () =>
        bnBackwardPartialSpec(affine, relu),
      );
      rt.dispatchKernel(
        partial,
        {
          DY: dy.buffer,
          X: x.buffer,
          Stats: stats.buffer,
          SumB: partB.buffer,
          SumG: partG.buffer,
          ...(relu && affine ? { Gamma: weight.buffer, Beta: bias.buffer } : {}),
        },
        uniforms,
        [chunks, C],
      );
      if (chunks === 1) {
        sumB = partB;
        sumG = partG;
      } else {
        sumB = Tensor.empty([C], 'f32', 'batch_norm2d_param_grad');
        sumG = Tensor.empty([C], 'f32', 'batch_norm2d_param_grad');
        rt.dispatchKernel(
          backwardSums,
          { PartB: partB.buffer, PartG: partG.buffer, SumB: sumB.buffer, SumG: sumG.buffer },
          uniforms,
          [Math.ceil(C / 64)],
        );
        partB.dispose();
        partG.dispose();
      }
    }
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(x.shape, 'f32', 'batch_norm2d_backward');
      const bindings: Bindings = {
        DY: dy.buffer,
        Stats: stats.buffer,
        ...(training || relu ? { X: x.buffer } : {}),
        ...(training ? { SumB: sumB!.buffer, SumG: sumG!.buffer } : {}),
        ...(affine ? { Gamma: weight.buffer } : {}),
        ...(affine && relu ? { Beta: bias.buffer } : {}),
        DX: dx.buffer,
      };
      const inputGrad = kernel(`bn.input_grad|${affine}|${training}|${relu}|${flat}`, () =>
        bnInputGradSpec(affine, training, relu, flat),
      );
      rt.dispatchKernel(inputGrad, bindings, uniforms, grid);
    }
    stats.dispose();
    const dBeta = affine && bias.requiresGrad ? sumB : null;
    const dGamma = affine && weight.requiresGrad ? sumG : null;
    if (sumB !== dBeta) sumB?.dispose();
    if (sumG !== dGamma) sumG?.dispose();
    return affine ? [dx, dGamma, dBeta] : [dx];
  });
}
