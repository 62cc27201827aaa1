/**
 * Slow cases (scripts/fault-suite.sh only): the issue's own sizes — 1.1 MB streams declaring 20000 × 20000 that
 * used to take 3.7 GB and 31–48 s — through the library, the page's decoder and the CLI, and a real patient.
 */
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { compressLzw, encodeTiff } from '@mriseg/data';
import { replaceSlice } from '../fixtures/dataset.js';
import { pngBomb } from '../fixtures/png.js';
import { tiffDeflateBomb, tiffWithStripCount } from '../fixtures/tiff.js';
import { sharedRoot } from '../paths.js';
import type { FaultCase } from '../types.js';
import { cliTrainCase } from './cli.js';
import { type HostileFile, hostileSlice, loadInput } from './helpers.js';
import { viewerCase } from './viewer.js';

const BOMB = 20000 * 20000 * 3;

/** The bomb: 1.2 GB of zeros (a 1.1 MB stream) in a file declaring 20000 × 20000 RGB. */
const fullSizeBomb = (format: 'tif' | 'png'): HostileFile => ({
  id: `${format === 'png' ? 'png' : 'tiff-deflate'}-bomb-1.1MB`,
  title: `a 1.1 MB ${format === 'png' ? 'PNG' : 'Deflate TIFF'} declaring 20000×20000 (1.2 GB inflated)`,
  item: 4,
  format,
  make: () => (format === 'png' ? pngBomb : tiffDeflateBomb)(20000, 20000, BOMB),
  problem: new RegExp(
    `${format === 'png' ? 'PNG' : 'TIFF'} declares 20000×20000 pixels, more than the decode limit`,
  ),
  slow: true,
});

const FULL_SIZE: HostileFile[] = [
  fullSizeBomb('tif'),
  fullSizeBomb('png'),
  {
    id: 'tiff-deflate-bomb-in-strip-1GB',
    title: 'a 32² Deflate TIFF whose strip inflates to 1 GB',
    item: 4,
    make: () => tiffDeflateBomb(32, 32, 1 << 30),
    problem: /inflates to more than the 3072 bytes the image can hold/,
    slow: true,
  },
  {
    id: 'tiff-lzw-bomb-in-strip-64MB',
    title: 'a 32² LZW TIFF whose strip decodes to 64 MB',
    item: 4,
    make: () =>
      encodeTiff(
        { width: 32, height: 32, channels: 3, data: new Uint8Array(0) },
        { compression: 5, stripBytes: [compressLzw(new Uint8Array(64 << 20))], overrideTags: { 278: [32] } },
      ),
    problem: /\(LZW\) decodes to more than 3072 bytes/,
    slow: true,
  },
];

const REAL = 'TCGA_HT_A616_19991226';

export const SLOW_CASES: FaultCase[] = [
  ...FULL_SIZE.map((h) => hostileSlice('data', h)),
  ...FULL_SIZE.slice(0, 2).map(viewerCase),
  ...FULL_SIZE.slice(0, 2).map(cliTrainCase),
  {
    id: 'data/real-patient-strip-count-2^30',
    category: 'data',
    title: 'a real patient (HT_A616, 28 slices at 256²) with one slice crafted',
    item: 2,
    slow: true,
    setup: (ctx) => {
      const sample = join(sharedRoot(), 'data', 'sample', 'kaggle_3m', REAL);
      if (!existsSync(sample)) throw new Error(`${sample} is missing (the shared sample data)`);
      cpSync(sample, join(ctx.input, REAL), { recursive: true });
      replaceSlice(ctx.input, 10, tiffWithStripCount(256, 3, 0x3fffffff), false, REAL);
    },
    run: (ctx) => loadInput(ctx, { preprocess: { size: 256 } }),
    expect: {
      name: 'DataError',
      problem: /StripOffsets\) declares 1073741823 values/,
      file: (ctx) => join(ctx.input, REAL, `${REAL}_10.tif`),
    },
  },
];
