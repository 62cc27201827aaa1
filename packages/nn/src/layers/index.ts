export { BatchNorm2d, type BatchNorm2dLayerOptions } from './batchnorm.js';
export {
  Conv2d,
  type Conv2dLayerOptions,
  ConvTranspose2d,
  type ConvTranspose2dLayerOptions,
} from './conv.js';
export { Sequential } from './sequential.js';
export { AvgPool2d, Dropout, Identity, MaxPool2d, ReLU, Sigmoid, Upsample } from './simple.js';
