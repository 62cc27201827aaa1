/** Data inputs (issue 18, items 2–4, 6, 8, 12): crafted and corrupt slices, layouts that would give wrong volumes. */
import { copyFileSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readPatient, scanDataset, scanSliceFolder } from '@mriseg/data';
import { PATIENT, phantomData, rewriteMasks, slicePath } from '../fixtures/dataset.js';
import { pngBomb, pngIccBomb } from '../fixtures/png.js';
import * as tiff from '../fixtures/tiff.js';
import type { CaseContext, FaultCase } from '../types.js';
import { fields, type HostileFile, hostileSlice, layoutCase, loadInput, SIZE, SLICES } from './helpers.js';

/** A slice written with one tag set to `values` (an RGB raster unless `channels` says otherwise). */
const tagged = (
  id: string,
  title: string,
  tag: number,
  values: number[],
  problem: RegExp,
  channels: 1 | 3 = 3,
): HostileFile => ({
  id,
  title,
  item: 2,
  make: () => tiff.tiffWithTag(SIZE, channels, tag, values),
  problem,
});

const HELD_UP: HostileFile[] = [
  tagged(
    'tiff-compression-32946',
    'old-style Deflate (32946), which utif decodes to zeros',
    259,
    [32946],
    /unsupported TIFF compression 32946 \(old-style Deflate\)/,
  ),
  tagged('tiff-predictor-3', 'floating-point predictor 3', 317, [3], /unsupported TIFF predictor 3/),
  tagged('tiff-16-bit', '16 bits a sample', 258, [16, 16, 16], /bit depth 16,16,16: only 8 bits a sample/),
  tagged('tiff-planar-2', 'separate colour planes', 284, [2], /planar configuration 2/),
  tagged('tiff-tiled', 'a tiled TIFF', 322, [16], /tiled TIFF is not supported/),
  tagged(
    'tiff-palette',
    'palette colour (photometric 3)',
    262,
    [3],
    /photometric interpretation 3 is not supported/,
  ),
  tagged(
    'tiff-grey-image',
    'a grey image where RGB is expected',
    277,
    [1],
    /wrong channel count 1, 3 expected/,
    1,
  ),
  tagged('tiff-rows-per-strip-0', 'RowsPerStrip 0', 278, [0], /declares 0 rows a strip/),
  {
    id: 'tiff-truncated',
    title: 'a TIFF cut in half',
    item: 2,
    make: () => tiff.tiffWithTag(SIZE, 3, 277, [3]).subarray(0, (SIZE * SIZE * 3) >> 1),
    problem: /truncated or corrupt TIFF/,
  },
  {
    id: 'tiff-empty-file',
    title: 'a file of 0 bytes',
    item: 2,
    make: () => new Uint8Array(0),
    problem: /only 0 bytes/,
  },
  {
    id: 'tiff-text',
    title: 'a text file named .tif',
    item: 2,
    make: () => new TextEncoder().encode('not an image at all'),
    problem: /not a TIFF file \(bad signature/,
  },
  {
    id: 'tiff-wrong-size',
    title: 'one slice of another size',
    item: 2,
    make: () => tiff.tiffWithTag(SIZE / 2, 3, 277, [3]),
    problem: /wrong size 16×16, 32×32 expected/,
  },
];

/** Hostile slice files, shared with the viewer cases (the page decodes with the same code and limits). */
export const HOSTILE_FILES: HostileFile[] = [
  {
    id: 'tiff-strip-count-2^30',
    title: 'StripOffsets declaring 0x3FFFFFFF values in a small TIFF',
    item: 2,
    make: () => tiff.tiffWithStripCount(SIZE, 3, 0x3fffffff),
    problem: /StripOffsets\) declares 1073741823 values .* past the end of the \d+-byte file/,
  },
  {
    id: 'tiff-ifd-self-loop',
    title: 'a TIFF whose next-IFD offset points to itself',
    item: 3,
    make: () => tiff.tiffWithChain(SIZE, 3, 1, 0),
    problem: /chain of image directories loops back to byte/,
  },
  {
    id: 'tiff-ifd-loop-of-3',
    title: 'three IFDs, the last pointing back to the second',
    item: 3,
    make: () => tiff.tiffWithChain(SIZE, 3, 3, 1),
    problem: /loops back to byte/,
  },
  {
    id: 'tiff-ifd-chain-300',
    title: 'a chain of 300 image directories',
    item: 3,
    make: () => tiff.tiffWithChain(SIZE, 3, 300),
    problem: /more than 256 images \(the decode limit\)/,
  },
  {
    id: 'tiff-deflate-bomb-small',
    title: 'a 64 KB Deflate TIFF declaring 20000×20000',
    item: 4,
    make: () => tiff.tiffDeflateBomb(20000, 20000, 64 << 20),
    problem: /TIFF declares 20000×20000 pixels, more than the decode limit .* refused before decoding/,
  },
  {
    id: 'tiff-deflate-bomb-in-strip',
    title: 'a 32² Deflate TIFF whose strip inflates to 64 MB',
    item: 4,
    make: () => tiff.tiffDeflateBomb(SIZE, SIZE, 64 << 20),
    problem: /TIFF image data in strip 0 inflates to more than the 3072 bytes the image can hold/,
  },
  {
    id: 'png-bomb-small',
    title: 'a PNG declaring 20000×20000',
    item: 4,
    format: 'png',
    make: () => pngBomb(20000, 20000, 64 << 20),
    problem: /PNG declares 20000×20000 pixels, more than the decode limit/,
  },
  {
    id: 'png-idat-bomb',
    title: 'a 32² PNG whose image data inflates to 64 MB',
    item: 4,
    format: 'png',
    make: () => pngBomb(SIZE, SIZE, 64 << 20),
    problem: /PNG image data inflates to more than the \d+ bytes the image can hold/,
  },
  {
    id: 'png-iccp-bomb',
    title: 'a PNG with an ICC profile inflating to 64 MB',
    item: 4,
    mask: true,
    format: 'png',
    make: () => pngIccBomb(SIZE, 64 << 20),
    problem: /PNG ICC profile inflates to more than/,
  },
  {
    id: 'tiff-lzw-truncated',
    title: 'an LZW strip cut short without its end code',
    item: 3,
    mask: true,
    make: () => tiff.tiffLzwTruncated(SIZE),
    problem: /corrupt TIFF image data in strip 0: it decodes to \d+ bytes, 1024 needed/,
  },
  {
    id: 'tiff-lzw-undefined-code',
    title: 'an LZW strip with a code not yet in the table',
    item: 3,
    mask: true,
    make: () => tiff.tiffLzwUndefinedCode(SIZE),
    problem: /undefined LZW code 300/,
  },
  {
    id: 'tiff-packbits-overrun',
    title: 'a PackBits strip writing past its strip',
    item: 4,
    mask: true,
    make: () => tiff.tiffPackBitsOverrun(SIZE),
    problem: /\(PackBits\) decodes to more than 1024 bytes/,
  },
  // Corrupt files that already failed cleanly before this work: kept so that they stay so.
  ...HELD_UP,
  {
    id: 'tiff-tag-past-end',
    title: 'a tag whose values lie past the end of the file',
    item: 2,
    make: () => tiff.tiffTagPastEnd(SIZE),
    problem: /BitsPerSample\) declares 3 values at byte \d+, past the end/,
  },
];

const ext = (ctx: { input: string }, n: number, mask = false) => slicePath(ctx.input, n, mask);

/** A DataError naming `file` with `problem`. */
const refused = (problem: RegExp, file: (ctx: CaseContext) => string): FaultCase['expect'] => ({
  name: 'DataError',
  problem,
  file,
});

/** 0/1 masks (item 8): read as labels, with a note; shared with the viewer case. */
export const MASKS_0_1: FaultCase = layoutCase(
  'masks-0-1',
  'masks stored as 0/1 instead of 0/255',
  (ctx) =>
    rewriteMasks(ctx.input, SLICES, SIZE, (n, i) => (n === 3 && i % SIZE > 8 && i % SIZE < 20 ? 1 : 0)),
  { accept: fields({ tumour: 11 * SIZE, warnings: 1 }) },
  (ctx) => {
    const warnings: string[] = [];
    const p = readPatient(scanDataset(ctx.input)[0], {}, (w) => warnings.push(w));
    return { tumour: p.mask.reduce((a, b) => a + b, 0), warnings: warnings.length };
  },
);

const HUGE = '99999999999999999999';

export const DATA_CASES: FaultCase[] = [
  ...HOSTILE_FILES.map((h) => hostileSlice('data', h)),
  // --- silently wrong data (item 8) ---
  MASKS_0_1,
  layoutCase(
    'masks-0-1-mixed-with-0-255',
    'one mask 0/1, the others 0/255',
    (ctx) => rewriteMasks(ctx.input, SLICES, SIZE, (n, i) => (i % 7 === 0 ? (n === 2 ? 1 : 255) : 0)),
    refused(/mask stored as 0\/1 while other masks .* use 0\/255/, (c) => ext(c, 2, true)),
  ),
  layoutCase(
    'masks-labels-0-1-2',
    'label masks 0/1/2 (every value below 128)',
    (ctx) => rewriteMasks(ctx.input, SLICES, SIZE, (_, i) => i % 3),
    refused(/all below 128 .* would erase every label/, (c) => ext(c, 1, true)),
  ),
  layoutCase(
    'symlinked-patient',
    'a patient folder that is a symbolic link (to a folder outside the data root)',
    (ctx) => {
      const elsewhere = join(ctx.input, '.elsewhere');
      const [id] = phantomData(elsewhere, 2, SIZE, SLICES).slice(1);
      symlinkSync(join(elsewhere, id), join(ctx.input, id));
    },
    { accept: fields({ patients: [PATIENT, 'TCGA_PH_0002_20000101'] }) },
  ),
  layoutCase(
    'broken-symlink-patient',
    'a patient folder link that leads nowhere',
    (ctx) => symlinkSync(join(ctx.root, 'gone'), join(ctx.input, 'TCGA_PH_0009_20000101')),
    refused(/broken symbolic link/, (c) => join(c.input, 'TCGA_PH_0009_20000101')),
  ),
  layoutCase(
    'slice-number-2^66',
    `a slice numbered ${HUGE}`,
    (ctx) => {
      for (const mask of [false, true]) {
        renameSync(
          ext(ctx, SLICES, mask),
          join(ctx.input, PATIENT, `${PATIENT}_${HUGE}${mask ? '_mask' : ''}.tif`),
        );
      }
    },
    refused(/slice number 99999999999999999999 is too large/, (c) =>
      join(c.input, PATIENT, `${PATIENT}_${HUGE}`),
    ),
  ),
  layoutCase(
    'slice-gap',
    'slice numbers with a gap (3 missing)',
    (ctx) => {
      rmSync(ext(ctx, 3));
      rmSync(ext(ctx, 3, true));
    },
    refused(/jump from 2 to 4: slice 3 is missing/, (c) => ext(c, 4)),
  ),
  layoutCase(
    'two-prefixes-in-one-folder',
    "a folder of images (predict's input) holding two patients' slices",
    (ctx) => {
      const flat = join(ctx.input, 'mixed');
      mkdirSync(flat);
      const [, other] = phantomData(join(ctx.input, '.other'), 2, SIZE, SLICES);
      for (const n of [1, 2, 3]) {
        copyFileSync(ext(ctx, n), join(flat, `${PATIENT}_${n}.tif`));
        copyFileSync(join(ctx.input, '.other', other, `${other}_${n}.tif`), join(flat, `${other}_${n}.tif`));
      }
    },
    refused(/belongs to patient "TCGA_PH_0002_20000101", not "TCGA_PH_0001_20000101"/, (c) =>
      join(c.input, 'mixed', 'TCGA_PH_0002_20000101_'),
    ),
    (ctx) => {
      const f = scanSliceFolder(join(ctx.input, 'mixed'));
      return { id: f.id, slices: f.slices.length };
    },
  ),
  // --- the cache (items 6, 11, 12) ---
  {
    id: 'data/cache-through-symlink-into-patient',
    category: 'data',
    title: 'a cache folder reached through a link into a patient folder',
    item: 6,
    setup: (ctx) => {
      phantomData(ctx.input, 1, SIZE, SLICES);
      symlinkSync(join(ctx.input, PATIENT), join(ctx.work, 'link'));
    },
    run: (ctx) => loadInput(ctx, { cacheDir: join(ctx.work, 'link', 'cache') }),
    expect: {
      name: 'DataError',
      problem: /cache folder must not be inside the source data .* resolves to/,
      file: (c) => join(c.work, 'link', 'cache'),
    },
  },
];
