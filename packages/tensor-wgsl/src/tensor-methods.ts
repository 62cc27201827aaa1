/** PyTorch-style method forms of the ops (`a.add(b).relu().sum()`), added to Tensor's prototype. */
import * as ew from './ops/elementwise.js';
import * as lay from './ops/layout.js';
import { matmul } from './ops/matmul.js';
import * as red from './ops/reduce.js';
import type { DType } from './tensor.js';
import { Tensor } from './tensor.js';

type Operand = Tensor | number;

declare module './tensor.js' {
  interface Tensor {
    add(b: Operand): Tensor;
    sub(b: Operand): Tensor;
    mul(b: Operand): Tensor;
    div(b: Operand): Tensor;
    pow(b: Operand): Tensor;
    maximum(b: Operand): Tensor;
    minimum(b: Operand): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    abs(): Tensor;
    relu(): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    clamp(min?: number, max?: number): Tensor;
    lt(b: Operand): Tensor;
    le(b: Operand): Tensor;
    gt(b: Operand): Tensor;
    ge(b: Operand): Tensor;
    eq(b: Operand): Tensor;
    ne(b: Operand): Tensor;
    cast(dtype: DType): Tensor;
    clone(): Tensor;
    sum(axes?: number | number[], options?: red.ReduceOptions): Tensor;
    mean(axes?: number | number[], options?: red.ReduceOptions): Tensor;
    max(axes?: number | number[], options?: red.ReduceOptions): Tensor;
    min(axes?: number | number[], options?: red.ReduceOptions): Tensor;
    argmax(axis: number, options?: red.ReduceOptions): Tensor;
    argmin(axis: number, options?: red.ReduceOptions): Tensor;
    matmul(b: Tensor): Tensor;
    reshape(shape: readonly number[]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    squeeze(axis?: number): Tensor;
    unsqueeze(axis: number): Tensor;
    permute(perm: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    slice(ranges: readonly (lay.SliceRangeInput | null | undefined)[]): Tensor;
    pad(pads: readonly number[], value?: number): Tensor;
    flip(axes: number | readonly number[]): Tensor;
    expand(shape: readonly number[]): Tensor;
  }
}

const p = Tensor.prototype;
p.add = function (b) {
  return ew.add(this, b);
};
p.sub = function (b) {
  return ew.sub(this, b);
};
p.mul = function (b) {
  return ew.mul(this, b);
};
p.div = function (b) {
  return ew.div(this, b);
};
p.pow = function (b) {
  return ew.pow(this, b);
};
p.maximum = function (b) {
  return ew.maximum(this, b);
};
p.minimum = function (b) {
  return ew.minimum(this, b);
};
p.neg = function () {
  return ew.neg(this);
};
p.exp = function () {
  return ew.exp(this);
};
p.log = function () {
  return ew.log(this);
};
p.sqrt = function () {
  return ew.sqrt(this);
};
p.abs = function () {
  return ew.abs(this);
};
p.relu = function () {
  return ew.relu(this);
};
p.sigmoid = function () {
  return ew.sigmoid(this);
};
p.tanh = function () {
  return ew.tanh(this);
};
p.clamp = function (min, max) {
  return ew.clamp(this, min, max);
};
p.lt = function (b) {
  return ew.lt(this, b);
};
p.le = function (b) {
  return ew.le(this, b);
};
p.gt = function (b) {
  return ew.gt(this, b);
};
p.ge = function (b) {
  return ew.ge(this, b);
};
p.eq = function (b) {
  return ew.eq(this, b);
};
p.ne = function (b) {
  return ew.ne(this, b);
};
p.cast = function (dtype) {
  return ew.cast(this, dtype);
};
p.clone = function () {
  return ew.clone(this);
};
p.sum = function (axes, options) {
  return red.sum(this, axes, options);
};
p.mean = function (axes, options) {
  return red.mean(this, axes, options);
};
p.max = function (axes, options) {
  return red.max(this, axes, options);
};
p.min = function (axes, options) {
  return red.min(this, axes, options);
};
p.argmax = function (axis, options) {
  return red.argmax(this, axis, options);
};
p.argmin = function (axis, options) {
  return red.argmin(this, axis, options);
};
p.matmul = function (b) {
  return matmul(this, b);
};
p.reshape = function (shape) {
  return lay.reshape(this, shape);
};
p.flatten = function (s, e) {
  return lay.flatten(this, s, e);
};
p.squeeze = function (axis) {
  return lay.squeeze(this, axis);
};
p.unsqueeze = function (axis) {
  return lay.unsqueeze(this, axis);
};
p.permute = function (perm) {
  return lay.permute(this, perm);
};
p.transpose = function (d0, d1) {
  return lay.transpose(this, d0, d1);
};
p.slice = function (ranges) {
  return lay.slice(this, ranges);
};
p.pad = function (pads, value) {
  return lay.pad(this, pads, value);
};
p.flip = function (axes) {
  return lay.flip(this, axes);
};
p.expand = function (shape) {
  return lay.expand(this, shape);
};

export { Tensor };
