import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@mriseg/tensor-wgsl';
import { encode as encodePngRaw } from 'fast-png';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readDataset } from '../src/dataset.js';
import { DataError } from '../src/errors.js';
import { scanDataset, scanSliceFolder } from '../src/layout.js';
import { generatePhantomPatient, writePatientFolder } from '../src/phantom.js';
import { WorkerPool } from '../src/pool.js';
import { readPatient } from '../src/reader.js';
import { encodeTiff } from '../src/tiff.js';
import { builtWorker, tempDir } from './helpers.js';

const ID = 'TCGA_XX_0001_20000101';
let root: string;
let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir: root, cleanup } = tempDir('bad'));
  const p = generatePhantomPatient(ID, new Rng(3), { size: 24, slices: [4, 4] });
  writePatientFolder(root, p, 'tif');
  dir = join(root, ID);
});
afterEach(() => cleanup());

const file = (n: number, mask = false, ext = 'tif') => join(dir, `${ID}_${n}${mask ? '_mask' : ''}.${ext}`);

function load(options: Parameters<typeof readPatient>[1] = {}, warn?: (m: string) => void) {
  const [files] = scanDataset(root);
  return readPatient(files, options, warn);
}

/** Runs fn, expects a DataError naming `path` whose problem matches `problem`. */
function expectDataError(fn: () => unknown, path: string, problem: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DataError);
  const d = err as DataError;
  expect(d.file).toBe(path);
  expect(d.message).toContain(path);
  expect(d.problem).toMatch(problem);
}

function rgb(w: number, h: number, fill = 100) {
  return { width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3).fill(fill) };
}

describe('bad inputs fail with the file and the problem', () => {
  it('reads the intact crafted patient', () => {
    const p = load();
    expect(p.depth).toBe(4);
    expect(p.height).toBe(24);
  });

  it('image without mask', () => {
    rmSync(file(2, true));
    expectDataError(() => scanDataset(root), file(2), /image without mask/);
  });

  it('mask without image', () => {
    rmSync(file(3));
    expectDataError(() => scanDataset(root), file(3, true), /mask without image/);
  });

  it('a name that does not parse', () => {
    writeFileSync(join(dir, `${ID}_notes.tif`), 'x');
    expectDataError(() => scanDataset(root), join(dir, `${ID}_notes.tif`), /does not parse/);
  });

  it('a file of another patient in the folder', () => {
    writeFileSync(join(dir, 'TCGA_YY_0002_20000101_1.tif'), 'x');
    expectDataError(() => scanDataset(root), join(dir, 'TCGA_YY_0002_20000101_1.tif'), /prefix/);
  });

  it('empty patient folder', () => {
    mkdirSync(join(root, 'TCGA_ZZ_0003_20000101'));
    expectDataError(() => scanDataset(root), join(root, 'TCGA_ZZ_0003_20000101'), /empty patient folder/);
  });

  it('wrong size', () => {
    writeFileSync(file(2), encodeTiff(rgb(24, 20)));
    expectDataError(() => load(), file(2), /wrong size 24×20, 24×24 expected/);
    expectDataError(() => load({ expectedSize: { height: 256, width: 256 } }), file(1), /wrong size/);
  });

  it('wrong channel count (image with 1, mask with 3)', () => {
    writeFileSync(file(1), encodeTiff({ width: 24, height: 24, channels: 1, data: new Uint8Array(576) }));
    expectDataError(() => load(), file(1), /wrong channel count 1, 3 expected/);
  });

  it('wrong channel count in a mask', () => {
    writeFileSync(file(4, true), encodeTiff(rgb(24, 24, 0)));
    expectDataError(() => load(), file(4, true), /wrong channel count 3, 1 expected/);
  });

  it('wrong bit depth', () => {
    const r = { width: 24, height: 24, channels: 3, data: new Uint8Array(24 * 24 * 6) };
    writeFileSync(file(2), encodeTiff(r, { overrideTags: { 258: [16, 16, 16] } }));
    expectDataError(() => load(), file(2), /bit depth 16,16,16/);
  });

  it('unsupported compression 32946 (utif would return zeros silently)', () => {
    writeFileSync(file(2), encodeTiff(rgb(24, 24), { overrideTags: { 259: [32946] } }));
    expectDataError(() => load(), file(2), /unsupported TIFF compression 32946/);
  });

  it('unsupported predictor 3', () => {
    writeFileSync(file(2), encodeTiff(rgb(24, 24), { overrideTags: { 259: [5], 317: [3] } }));
    expectDataError(() => load(), file(2), /unsupported TIFF predictor 3/);
  });

  it('truncated file', () => {
    const bytes = readFileSync(file(3));
    writeFileSync(file(3), bytes.subarray(0, bytes.length - 40));
    expectDataError(() => load(), file(3), /truncated|corrupt/);
  });

  it('strip data running past the end of the file', () => {
    const bytes = encodeTiff(rgb(24, 24), { rowsPerStrip: 8 });
    // Point the first strip past the end of the file.
    const dv = new DataView(bytes.buffer);
    const ifd = dv.getUint32(4, true);
    const count = dv.getUint16(ifd, true);
    for (let i = 0; i < count; i++) {
      const e = ifd + 2 + 12 * i;
      if (dv.getUint16(e, true) === 273) dv.setUint32(dv.getUint32(e + 8, true), bytes.length - 10, true);
    }
    writeFileSync(file(2), bytes);
    expectDataError(() => load(), file(2), /truncated TIFF: strip 0/);
  });

  it('corrupt file (not a TIFF)', () => {
    writeFileSync(file(1, true), Buffer.from('this is not an image at all, just text'));
    expectDataError(() => load(), file(1, true), /not a TIFF/);
  });

  it('corrupt or truncated Deflate data', () => {
    const r = rgb(24, 24);
    for (let i = 0; i < r.data.length; i++) r.data[i] = (i * 7) & 255;
    const bytes = encodeTiff(r, { compression: 8, rowsPerStrip: 8 });
    writeFileSync(file(2), bytes);
    expect(Array.from(load().image.subarray(1728, 3456))).toEqual(Array.from(r.data));
    // Flip bytes inside the first strip's stream.
    const bad = bytes.slice();
    for (let i = 12; i < 20; i++) bad[i] ^= 0x5a;
    writeFileSync(file(2), bad);
    expectDataError(() => load(), file(2), /corrupt TIFF image data/);
    // A stream cut short: the strip byte count is reduced, the data stay.
    const dv = new DataView(bytes.buffer);
    const ifd = dv.getUint32(4, true);
    for (let i = 0; i < dv.getUint16(ifd, true); i++) {
      const e = ifd + 2 + 12 * i;
      if (dv.getUint16(e, true) === 279) {
        const at = dv.getUint32(e + 8, true);
        dv.setUint32(at, dv.getUint32(at, true) - 30, true);
      }
    }
    writeFileSync(file(2), bytes);
    expectDataError(() => load(), file(2), /corrupt TIFF image data/);
  });

  it('mask values other than 0/255: warn and binarise, or fail', () => {
    const m = new Uint8Array(576);
    m[5] = 200;
    m[6] = 17;
    writeFileSync(file(2, true), encodeTiff({ width: 24, height: 24, channels: 1, data: m }));
    const warnings: string[] = [];
    const p = load({}, (w) => warnings.push(w));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file(2, true));
    const plane = p.mask.subarray(576, 1152);
    expect(plane[5]).toBe(1);
    expect(plane[6]).toBe(0);
    expectDataError(
      () => load({ maskValues: 'fail' }),
      file(2, true),
      /2 pixels with values other than 0 and 255/,
    );
  });

  it('masks stored as 0/1 are read as labels (a note says so); mixed with 0/255 or all below 128 is an error', () => {
    const ones = new Uint8Array(576);
    ones.fill(1, 100, 140);
    for (let n = 1; n <= 4; n++) {
      writeFileSync(file(n, true), encodeTiff({ width: 24, height: 24, channels: 1, data: ones }));
    }
    const warnings: string[] = [];
    const p = load({}, (w) => warnings.push(w));
    expect(p.mask.reduce((a, b) => a + b, 0)).toBe(4 * 40);
    expect(warnings).toEqual([`${ID}: masks stored as 0/1 (not 0/255); 1 is read as tumour`]);
    const full = ones.map((v) => v * 255);
    writeFileSync(file(3, true), encodeTiff({ width: 24, height: 24, channels: 1, data: full }));
    expectDataError(() => load(), file(1, true), /mask stored as 0\/1 while other masks .* use 0\/255/);
    const labels = ones.map((v, i) => (i < 120 ? v : 2 * v));
    writeFileSync(file(3, true), encodeTiff({ width: 24, height: 24, channels: 1, data: labels }));
    expectDataError(() => load(), file(3, true), /all below 128 .* would erase every label/);
  });

  it('a symbolic link to a patient folder is followed; a broken one is an error, not a skipped patient', () => {
    const { dir: other, cleanup: clean2 } = tempDir('linked');
    try {
      const id2 = 'TCGA_XX_0002_20000101';
      writePatientFolder(other, generatePhantomPatient(id2, new Rng(4), { size: 24, slices: [3, 3] }), 'tif');
      symlinkSync(join(other, id2), join(root, id2));
      expect(scanDataset(root).map((f) => f.id)).toEqual([ID, id2]);
      rmSync(join(other, id2), { recursive: true });
      expectDataError(() => scanDataset(root), join(root, id2), /cannot read .*broken symbolic link/);
    } finally {
      clean2();
    }
  });

  it('slice numbers must be exact and without gaps', () => {
    const huge = join(dir, `${ID}_99999999999999999999.tif`);
    writeFileSync(huge, readFileSync(file(4)));
    expectDataError(() => scanDataset(root), huge, /slice number 99999999999999999999 is too large/);
    rmSync(huge);
    renameSync(file(3), join(dir, `${ID}_7.tif`));
    renameSync(file(3, true), join(dir, `${ID}_7_mask.tif`));
    expectDataError(() => scanDataset(root), file(4), /jump from 2 to 4: slice 3 is missing/);
    renameSync(file(4), join(dir, `${ID}_9.tif`));
    renameSync(file(4, true), join(dir, `${ID}_9_mask.tif`));
    expectDataError(() => scanDataset(root), join(dir, `${ID}_7.tif`), /slices 3–6 are missing/);
    expect(scanDataset(root, { gaps: 'allow' })[0].slices.map((s) => s.number)).toEqual([1, 2, 7, 9]);
  });

  it('a folder of images without masks (predict) holds one patient, whatever the folder is called', () => {
    const loose = join(root, 'loose');
    mkdirSync(loose);
    for (const n of [1, 2, 3]) writeFileSync(join(loose, `${ID}_${n}.tif`), readFileSync(file(n)));
    const f = scanSliceFolder(loose);
    expect([f.id, f.hasMasks, f.slices.length]).toEqual([ID, false, 3]);
    const stranger = join(loose, 'TCGA_YY_0009_20000101_4.tif');
    writeFileSync(stranger, readFileSync(file(4)));
    expectDataError(() => scanSliceFolder(loose), stranger, /belongs to patient "TCGA_YY_0009_20000101"/);
  });

  it('a DataError raised in a worker thread arrives intact', async () => {
    writeFileSync(file(2), encodeTiff(rgb(24, 24), { overrideTags: { 259: [32946] } }));
    const pool = new WorkerPool({ workers: 1, workerUrl: await builtWorker() });
    try {
      expect(pool.mode).toBe('workers');
      const err = await readDataset(root, { pool }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataError);
      expect((err as DataError).file).toBe(file(2));
      expect((err as DataError).problem).toMatch(/compression 32946/);
    } finally {
      await pool.close();
    }
  });

  it('PNG: 16-bit and alpha are refused', () => {
    const pdir = join(root, 'png');
    const p = generatePhantomPatient(ID, new Rng(3), { size: 16, slices: [3, 3] });
    writePatientFolder(pdir, p, 'png');
    const pf = (n: number, mask = false) => join(pdir, ID, `${ID}_${n}${mask ? '_mask' : ''}.png`);
    const [files] = scanDataset(pdir);
    expect(readPatient(files).depth).toBe(3);
    writeFileSync(
      pf(1),
      encodePngRaw({ width: 16, height: 16, channels: 3, depth: 16, data: new Uint16Array(768) }),
    );
    expectDataError(() => readPatient(scanDataset(pdir)[0]), pf(1), /bit depth 16/);
    writeFileSync(
      pf(1),
      encodePngRaw({ width: 16, height: 16, channels: 4, depth: 8, data: new Uint8Array(1024) }),
    );
    expectDataError(() => readPatient(scanDataset(pdir)[0]), pf(1), /wrong channel count 4/);
    writeFileSync(pf(2, true), Buffer.from('garbage'));
    expectDataError(() => readPatient(scanDataset(pdir)[0]), pf(1), /./);
    expect(readdirSync(join(pdir, ID))).toHaveLength(6);
  });
});
