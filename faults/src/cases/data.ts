/** Data inputs (issue 18, items 2–4, 6, 8, 12): crafted and corrupt slices, layouts that would give wrong volumes. */
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPatient, scanDataset, scanSliceFolder } from '@mriseg/data';
import { PATIENT, phantomData, rewriteMasks, slicePath } from '../fixtures/dataset.js';
import { pngBomb, pngIccBomb } from '../fixtures/png.js';
import {
  tiffDeflateBomb,
  tiffLzwTruncated,
  tiffLzwUndefinedCode,
  tiffPackBitsOverrun,
  tiffTagPastEnd,
  tiffWithChain,
  tiffWithStripCount,
  tiffWithTag,
} from '../fixtures/tiff.js';
import type { FaultCase } from '../types.js';
import { fields, type HostileFile, hostileSlice, loadInput, SIZE, SLICES } from './helpers.js';

/** Hostile slice files, shared with the viewer cases (the page decodes with the same code and limits). */
export const HOSTILE_FILES: HostileFile[] = [
  {
    id: 'tiff-strip-count-2^30',
    title: 'StripOffsets declaring 0x3FFFFFFF values in a small TIFF',
    item: 2,
    make: () => tiffWithStripCount(SIZE, 3, 0x3fffffff),
    problem: /StripOffsets\) declares 1073741823 values .* past the end of the \d+-byte file/,
  },
  {
    id: 'tiff-ifd-self-loop',
    title: 'a TIFF whose next-IFD offset points to itself',
    item: 3,
    make: () => tiffWithChain(SIZE, 3, 1, 0),
    problem: /chain of image directories loops back to byte/,
  },
  {
    id: 'tiff-ifd-loop-of-3',
    title: 'three IFDs, the last pointing back to the second',
    item: 3,
    make: () => tiffWithChain(SIZE, 3, 3, 1),
    problem: /loops back to byte/,
  },
  {
    id: 'tiff-ifd-chain-300',
    title: 'a chain of 300 image directories',
    item: 3,
    make: () => tiffWithChain(SIZE, 3, 300),
    problem: /more than 256 images \(the decode limit\)/,
  },
  {
    id: 'tiff-deflate-bomb-small',
    title: 'a 64 KB Deflate TIFF declaring 20000×20000',
    item: 4,
    make: () => tiffDeflateBomb(20000, 20000, 64 << 20),
    problem: /TIFF declares 20000×20000 pixels, more than the decode limit .* refused before decoding/,
  },
  {
    id: 'tiff-deflate-bomb-in-strip',
    title: 'a 32² Deflate TIFF whose strip inflates to 64 MB',
    item: 4,
    make: () => tiffDeflateBomb(SIZE, SIZE, 64 << 20),
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
    make: () => tiffLzwTruncated(SIZE),
    problem: /corrupt TIFF image data in strip 0: it decodes to \d+ bytes, 1024 needed/,
  },
  {
    id: 'tiff-lzw-undefined-code',
    title: 'an LZW strip with a code not yet in the table',
    item: 3,
    mask: true,
    make: () => tiffLzwUndefinedCode(SIZE),
    problem: /undefined LZW code 300/,
  },
  {
    id: 'tiff-packbits-overrun',
    title: 'a PackBits strip writing past its strip',
    item: 4,
    mask: true,
    make: () => tiffPackBitsOverrun(SIZE),
    problem: /\(PackBits\) decodes to more than 1024 bytes/,
  },
  {
    id: 'tiff-rows-per-strip-0',
    title: 'RowsPerStrip 0',
    item: 2,
    make: () => tiffWithTag(SIZE, 3, 278, [0]),
    problem: /declares 0 rows a strip/,
  },
  // Corrupt files that already failed cleanly before this work: kept so that they stay so.
  {
    id: 'tiff-compression-32946',
    title: 'old-style Deflate (32946), which utif decodes to zeros',
    item: 2,
    make: () => tiffWithTag(SIZE, 3, 259, [32946]),
    problem: /unsupported TIFF compression 32946 \(old-style Deflate\)/,
  },
  {
    id: 'tiff-predictor-3',
    title: 'floating-point predictor 3',
    item: 2,
    make: () => tiffWithTag(SIZE, 3, 317, [3]),
    problem: /unsupported TIFF predictor 3/,
  },
  {
    id: 'tiff-16-bit',
    title: '16 bits a sample',
    item: 2,
    make: () => tiffWithTag(SIZE, 3, 258, [16, 16, 16]),
    problem: /bit depth 16,16,16: only 8 bits a sample/,
  },
  {
    id: 'tiff-planar-2',
    title: 'separate colour planes',
    item: 2,
    make: () => tiffWithTag(SIZE, 3, 284, [2]),
    problem: /planar configuration 2/,
  },
  {
    id: 'tiff-tiled',
    title: 'a tiled TIFF',
    item: 2,
    make: () => tiffWithTag(SIZE, 3, 322, [16]),
    problem: /tiled TIFF is not supported/,
  },
  {
    id: 'tiff-palette',
    title: 'palette colour (photometric 3)',
    item: 2,
    make: () => tiffWithTag(SIZE, 3, 262, [3]),
    problem: /photometric interpretation 3 is not supported/,
  },
  {
    id: 'tiff-truncated',
    title: 'a TIFF cut in half',
    item: 2,
    make: () => {
      const b = tiffWithTag(SIZE, 3, 277, [3]);
      return b.subarray(0, b.length >> 1);
    },
    problem: /truncated or corrupt TIFF/,
  },
  {
    id: 'tiff-empty-file',
    title: 'a file of 0 bytes',
    item: 2,
    make: () => new Uint8Array(0),
    problem: /truncated or corrupt TIFF: only 0 bytes/,
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
    make: () => tiffWithTag(SIZE / 2, 3, 277, [3]),
    problem: /wrong size 16×16, 32×32 expected/,
  },
  {
    id: 'tiff-grey-image',
    title: 'a grey image where RGB is expected',
    item: 2,
    make: () => tiffWithTag(SIZE, 1, 277, [1]),
    problem: /wrong channel count 1, 3 expected \(RGB image\)/,
  },
  {
    id: 'tiff-tag-past-end',
    title: 'a tag whose values lie past the end of the file',
    item: 2,
    make: () => tiffTagPastEnd(SIZE),
    problem: /BitsPerSample\) declares 3 values at byte \d+, past the end/,
  },
];

const ext = (ctx: { input: string }, n: number, mask = false) => slicePath(ctx.input, n, mask);

export const DATA_CASES: FaultCase[] = [
  ...HOSTILE_FILES.map((h) => hostileSlice('data', h)),
  // --- silently wrong data (item 8) ---
  {
    id: 'data/masks-0-1',
    category: 'data',
    title: 'masks stored as 0/1 instead of 0/255',
    item: 8,
    setup: (ctx) => {
      phantomData(ctx.input, 1, SIZE, SLICES);
      rewriteMasks(ctx.input, SLICES, SIZE, (n, i) => (n === 3 && i % SIZE > 8 && i % SIZE < 20 ? 1 : 0));
    },
    run: (ctx) => {
      const warnings: string[] = [];
      const p = readPatient(scanDataset(ctx.input)[0], {}, (w) => warnings.push(w));
      return { tumour: p.mask.reduce((a, b) => a + b, 0), warnings: warnings.length };
    },
    expect: { accept: fields({ tumour: 11 * SIZE, warnings: 1 }) },
  },
  {
    id: 'data/masks-0-1-mixed-with-0-255',
    category: 'data',
    title: 'one mask 0/1, the others 0/255',
    item: 8,
    setup: (ctx) => {
      phantomData(ctx.input, 1, SIZE, SLICES);
      rewriteMasks(ctx.input, SLICES, SIZE, (n, i) => (i % 7 === 0 ? (n === 2 ? 1 : 255) : 0));
    },
    run: loadInput,
    expect: {
      name: 'DataError',
      problem: /mask stored as 0\/1 while other masks .* use 0\/255/,
      file: (c) => ext(c, 2, true),
    },
  },
  {
    id: 'data/masks-labels-0-1-2',
    category: 'data',
    title: 'label masks 0/1/2 (every value below 128)',
    item: 8,
    setup: (ctx) => {
      phantomData(ctx.input, 1, SIZE, SLICES);
      rewriteMasks(ctx.input, SLICES, SIZE, (_, i) => i % 3);
    },
    run: loadInput,
    expect: {
      name: 'DataError',
      problem: /all below 128 .* would erase every label/,
      file: (c) => ext(c, 1, true),
    },
  },
  {
    id: 'data/symlinked-patient',
    category: 'data',
    title: 'a patient folder that is a symbolic link',
    item: 8,
    setup: (ctx) => {
      const elsewhere = join(ctx.input, '.elsewhere');
      const [a, b] = phantomData(elsewhere, 2, SIZE, SLICES);
      renameSync(join(elsewhere, a), join(ctx.input, a));
      symlinkSync(join(elsewhere, b), join(ctx.input, b));
    },
    run: loadInput,
    expect: { accept: fields({ patients: ['TCGA_PH_0001_20000101', 'TCGA_PH_0002_20000101'] }) },
  },
  {
    id: 'data/broken-symlink-patient',
    category: 'data',
    title: 'a patient folder link that leads nowhere',
    item: 8,
    setup: (ctx) => {
      phantomData(ctx.input, 1, SIZE, SLICES);
      symlinkSync(join(ctx.root, 'gone'), join(ctx.input, 'TCGA_PH_0009_20000101'));
    },
    run: loadInput,
    expect: {
      name: 'DataError',
      problem: /broken symbolic link/,
      file: (c) => join(c.input, 'TCGA_PH_0009_20000101'),
    },
  },
  {
    id: 'data/slice-number-2^66',
    category: 'data',
    title: 'a slice numbered 99999999999999999999',
    item: 8,
    setup: (ctx) => {
      phantomData(ctx.input, 1, SIZE, SLICES);
      for (const mask of [false, true]) {
        const to = join(ctx.input, PATIENT, `${PATIENT}_99999999999999999999${mask ? '_mask' : ''}.tif`);
        renameSync(ext(ctx, SLICES, mask), to);
      }
    },
    run: loadInput,
    expect: {
      name: 'DataError',
      problem: /slice number 99999999999999999999 is too large/,
      file: (c) => join(c.input, PATIENT, `${PATIENT}_99999999999999999999`),
    },
  },
  {
    id: 'data/slice-gap',
    category: 'data',
    title: 'slice numbers with a gap (3 missing)',
    item: 8,
    setup: (ctx) => {
      phantomData(ctx.input, 1, SIZE, SLICES);
      rmSync(ext(ctx, 3));
      rmSync(ext(ctx, 3, true));
    },
    run: loadInput,
    expect: { name: 'DataError', problem: /jump from 2 to 4: slice 3 is missing/, file: (c) => ext(c, 4) },
  },
  {
    id: 'data/two-prefixes-in-one-folder',
    category: 'data',
    title: "a folder of images (predict's input) holding two patients' slices",
    item: 8,
    setup: (ctx) => {
      const [a, b] = phantomData(join(ctx.input, '.src'), 2, SIZE, SLICES);
      const flat = join(ctx.input, 'mixed');
      mkdirSync(flat);
      for (const id of [a, b]) {
        for (const n of [1, 2, 3]) {
          writeFileSync(
            join(flat, `${id}_${n}.tif`),
            readFileSync(join(ctx.input, '.src', id, `${id}_${n}.tif`)),
          );
        }
      }
    },
    run: (ctx) => {
      const f = scanSliceFolder(join(ctx.input, 'mixed'));
      return { id: f.id, slices: f.slices.length };
    },
    expect: {
      name: 'DataError',
      problem: /belongs to patient "TCGA_PH_0002_20000101", not "TCGA_PH_0001_20000101"/,
      file: (c) => join(c.input, 'mixed', 'TCGA_PH_0002_20000101_'),
    },
  },
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
