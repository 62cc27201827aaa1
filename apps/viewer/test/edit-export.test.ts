import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePng, decodeTiff, preprocess } from '@mriseg/data';
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { MaskEditor, paintDisc } from '../src/edit.js';
import { combinedMask, kaggleMaskFiles, sliceNumberOf, zipFiles } from '../src/edit-export.js';
import { patientFromFiles } from '../src/files.js';

/** The shared sample of the real dataset (/work/shared, or MRISEG_SHARED); missing = failure, never a skip. */
const SHARED = process.env.MRISEG_SHARED
  ? `${process.env.MRISEG_SHARED.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../../../shared/', import.meta.url));
const PATIENT = `${SHARED}data/sample/kaggle_3m/TCGA_CS_4942_19970222`;

describe('exporting corrected masks', () => {
  const files = readdirSync(PATIENT).map((name) => ({
    name,
    bytes: new Uint8Array(readFileSync(join(PATIENT, name))),
  }));
  const p = patientFromFiles(files);
  const volume = preprocess(p.raw, { size: 256 });
  const plane = volume.width * volume.height;

  it('gives back the original Kaggle mask files when the corrections are the preprocessed truth', () => {
    // Every slice "corrected" to the truth: exporting all must reproduce each original _mask.tif exactly (the
    // reference preprocessing up-samples this patient's crop, so nearest-neighbour restoring is lossless).
    const editor = new MaskEditor(volume.depth, volume.height, volume.width);
    for (let z = 0; z < volume.depth; z++)
      editor.acceptPrediction(z, volume.mask.subarray(z * plane, (z + 1) * plane));
    const out = kaggleMaskFiles(combinedMask(editor, null), volume, p, true, 'tif', null);
    expect(out.length).toBe(p.raw.depth);
    for (const f of out) {
      const original = decodeTiff(new Uint8Array(readFileSync(join(PATIENT, f.name))), f.name);
      const mine = decodeTiff(f.bytes, f.name);
      expect([mine.width, mine.height, mine.channels]).toEqual([256, 256, 1]);
      expect(Buffer.from(mine.data).equals(Buffer.from(original.data))).toBe(true);
    }
  });

  it('exports one corrected slice under its Kaggle name, a stroke where it was drawn, as PNG', () => {
    const editor = new MaskEditor(volume.depth, volume.height, volume.width);
    const z = 5;
    editor.apply(z, (pl) => paintDisc(pl, volume.width, volume.height, 128, 128, 10, 1));
    const prediction = new Uint8Array(volume.depth * plane).fill(1);
    // Uncorrected slices keep the prediction; the corrected one has the stroke only.
    const mask = combinedMask(editor, prediction);
    expect(mask.subarray(0, plane).every((v) => v === 1)).toBe(true);
    expect(mask.subarray(z * plane, (z + 1) * plane).reduce((a, v) => a + v, 0)).toBe(
      editor.slice(z).reduce((a, v) => a + v, 0),
    );
    const [f] = kaggleMaskFiles(mask, volume, p, true, 'png', [z]);
    const n = sliceNumberOf(p, volume, z, true);
    expect(f.name).toBe(`TCGA_CS_4942_19970222_${n}_mask.png`);
    const png = decodePng(f.bytes, f.name);
    expect([png.width, png.height]).toEqual([256, 256]);
    const on = png.data.reduce((a, v) => a + (v === 255 ? 1 : 0), 0);
    expect(png.data.every((v) => v === 0 || v === 255)).toBe(true);
    // The disc, scaled back from the 256² preprocessed grid to the (smaller) crop: fewer pixels, not none.
    expect(on).toBeGreaterThan(50);
    expect(on).toBeLessThanOrEqual(editor.slice(z).reduce((a, v) => a + v, 0));
  });

  it('zips the files under their names, unzippable, refusing duplicates', () => {
    const a = { name: 'a_1_mask.png', bytes: Uint8Array.from([1, 2, 3]) };
    const b = { name: 'a_2_mask.tif', bytes: new Uint8Array(1000) };
    const unzipped = unzipSync(zipFiles([a, b]));
    expect(Object.keys(unzipped).sort()).toEqual(['a_1_mask.png', 'a_2_mask.tif']);
    expect([...unzipped['a_1_mask.png']]).toEqual([1, 2, 3]);
    expect(unzipped['a_2_mask.tif'].length).toBe(1000);
    expect(() => zipFiles([a, a])).toThrow(/two files named a_1_mask\.png/);
  });
});
