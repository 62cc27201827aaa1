export { type BatchNorm2dOptions, batchNorm2d } from './batchnorm.js';
export { type ConvGeometry, convForwardRaw, convInputGradRaw, convWeightGradRaw } from './conv.js';
export { type ConvTranspose2dOptions, convTranspose2d, convTranspose2dGeometry } from './conv-transpose2d.js';
export { type Conv2dOptions, conv2d, conv2dGeometry, type Pair } from './conv2d.js';
export { dropout } from './dropout.js';
export { type GemmTiling, pickTiling } from './gemm.wgsl.js';
export { type AvgPool2dOptions, avgPool2d, maxPool2d, type Pool2dOptions } from './pool.js';
export { type UpsampleMode, type UpsampleOptions, upsample } from './upsample.js';
