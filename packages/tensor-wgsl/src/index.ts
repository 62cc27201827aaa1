/**
 * @mriseg/tensor-wgsl — tensors on WebGPU (WGSL compute shaders) with reverse-mode autograd, explicit memory
 * ownership and a safetensors reader/writer. The same code runs in Node (Dawn, npm `webgpu`) and in browsers.
 */
import './tensor-methods.js';

export { type GradNode, isGradEnabled, needsGrad, noGrad, record } from './autograd.js';
export { bucketSize, type PoolStats } from './buffer-pool.js';
export {
  type AdapterReport,
  adapterInfo,
  dawnOptionsFor,
  hasRuntime,
  type InitOptions,
  initDevice,
  Runtime,
  runtime,
  WebGPUError,
} from './device.js';
export { NoAdapterError } from './gpu-provider.js';
export {
  type Bindings,
  defineKernel,
  Kernel,
  type KernelSpec,
  kernel,
  registeredKernels,
  type StorageDecl,
  type UniformType,
  type UniformValues,
} from './kernel.js';
export * from './ops/creation.js';
export * from './ops/elementwise.js';
export { allFinite, assertFinite } from './ops/finite.js';
export { grid1d, gridIndex, gridParams } from './ops/grid.js';
export * from './ops/layout.js';
export * from './ops/matmul.js';
export * from './ops/reduce.js';
export type { GpuProfile, OpProfile } from './profile.js';
export { Rng } from './random.js';
export * from './safetensors.js';
export { keep, scope, scopeDepth } from './scope.js';
export {
  broadcastShapes,
  broadcastStrides,
  fmt as formatShape,
  numel,
  type Shape,
  ShapeError,
  stridesOf,
} from './shape.js';
export {
  type HostInput,
  StepGraph,
  type StepGraphOptions,
  type StepMode,
  type StepOutput,
} from './step-graph.js';
export { type DType, Storage, Tensor } from './tensor.js';

import type { PoolStats } from './buffer-pool.js';
import { runtime as rt } from './device.js';

/** Live and pooled GPU buffers and bytes (see PoolStats). */
export function memory(): PoolStats {
  return rt().memory();
}
