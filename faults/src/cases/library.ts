/** Library misuse (issue 18, items 11 and 13): calls a PyTorch user might make, each failing at once and clearly. */
import { preprocess, readPatient, scanDataset } from '@mriseg/data';
import { createModel, predictVolume } from '@mriseg/models';
import { initDevice, slice, tensor, zeros } from '@mriseg/tensor-wgsl';
import { phantomData } from '../fixtures/dataset.js';
import type { FaultCase, Summary } from '../types.js';
import { fields, SIZE, SLICES } from './helpers.js';

function libraryCase(
  id: string,
  title: string,
  item: number,
  run: () => Promise<Summary>,
  expect: FaultCase['expect'],
): FaultCase {
  return { id: `library/${id}`, category: 'library', title, item, setup: () => {}, run, expect };
}

export const LIBRARY_CASES: FaultCase[] = [
  libraryCase(
    'zeros-1e6x1e6',
    'zeros([1e6, 1e6])',
    13,
    async () => {
      await initDevice();
      const t = zeros([1e6, 1e6]);
      return { shape: [...t.shape], values: Array.from((await t.data()).subarray(0, 1)) };
    },
    {
      name: 'RangeError',
      problem:
        /^full: a f32\[1000000, 1000000\] tensor needs 4000000000000 bytes \(\d+ as the buffer pool rounds sizes\), more than the \d+ bytes/,
    },
  ),
  libraryCase(
    'slice-beyond-axis',
    'slice(t, [[5, 9]]) on an axis of 4',
    13,
    async () => {
      await initDevice();
      const t = slice(tensor([1, 2, 3, 4]), [[5, 9]]);
      return { shape: [...t.shape] };
    },
    { name: 'ShapeError', problem: /slice: start 5 is outside axis 0 of f32\[4\] \(size 4\)/ },
  ),
  libraryCase(
    'slice-tuple',
    'slice(t, [[1, 3]]) (a tuple range, as t[1:3])',
    13,
    async () => {
      await initDevice();
      return { values: Array.from(await slice(tensor([1, 2, 3, 4]), [[1, 3]]).data()) };
    },
    { accept: fields({ values: [2, 3] }) },
  ),
  libraryCase(
    'unet-24x24',
    'a 24×24 input to the U-Net',
    13,
    async () => {
      await initDevice();
      const y = createModel('unet', { features: 2 }).forward(
        tensor(new Float32Array(3 * 24 * 24), [1, 3, 24, 24]),
      );
      return { shape: [...y.shape] };
    },
    {
      name: 'ShapeError',
      problem: /unet: input f32\[1, 3, 24, 24\]: height 24 and width 24 must be multiples of 16/,
    },
  ),
  libraryCase(
    'predict-nan-input',
    'NaN in the input of predictVolume',
    13,
    async () => {
      await initDevice();
      const data = new Float32Array(2 * 3 * 16 * 16);
      data[900] = Number.NaN;
      const p = await predictVolume(createModel('unet', { features: 2 }), { data, shape: [2, 3, 16, 16] });
      return { values: p.length };
    },
    { name: 'RangeError', problem: /predictVolume: the input holds NaN at slice 1/ },
  ),
  {
    id: 'library/preprocess-size-1e6',
    category: 'library',
    title: 'preprocessing to an image size of 1e6 (as a damaged checkpoint may ask)',
    item: 11,
    setup: (ctx) => void phantomData(ctx.input, 1, SIZE, SLICES),
    run: async (ctx) => {
      const v = preprocess(readPatient(scanDataset(ctx.input)[0]), { size: 1e6 });
      return { size: v.height };
    },
    expect: {
      name: 'RangeError',
      problem: /image size 1000000 is not a whole number of pixels from 1 to 4096/,
    },
  },
];
