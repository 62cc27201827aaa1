/**
 * NIfTI and DICOM against fixtures nibabel and pydicom made from a sample patient (test/formats/make_fixtures.py),
 * and our NIfTI and DICOM SEG output read back by nibabel, pydicom and dcmdump.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  assembleSeries,
  caseFromFiles,
  DataError,
  encodeDicomSeg,
  encodeNifti,
  guessChannelMap,
  loadCase,
  modelFrameOf,
  niftiSpaceFromAffine,
  readDicomFolder,
  readDicomSeg,
  readNifti,
  readScanFile,
  readTruth,
  type ScanVolume,
  scanToModel,
  toModelOrientation,
  toSourceGrid,
} from '../src/index.js';
import { dcmdump, fixtures, nibabelRead, pydicomReadSeg } from './formats/tools.js';

const fx = fixtures();
const at = (p: string) => join(fx.dir, p);
const work = () => mkdtempSync(join(tmpdir(), 'mriseg-fmt-out-'));

function expectAffine(got: number[][], want: number[][], tol = 1e-4): void {
  for (let r = 0; r < 4; r++)
    for (let c = 0; c < 4; c++) expect(Math.abs(got[r][c] - want[r][c])).toBeLessThan(tol);
}

function expectSameValues(got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length).toBe(want.length);
  let bad = -1;
  for (let i = 0; i < want.length && bad < 0; i++) if (got[i] !== want[i]) bad = i;
  expect(bad === -1 ? 'equal' : `differ at ${bad}: ${got[bad]} vs ${want[bad]}`).toBe('equal');
}

describe('NIfTI read: nibabel-made files', () => {
  for (const name of ['flair', 't1', 't1c', 'case_4d', 'mask', 'flair_oblique']) {
    it(`${name}: affine, shape and every voxel as nibabel reads them`, () => {
      const e = fx.files[name];
      const v = readScanFile(at(e.path));
      expect(v.format).toBe(name === 't1c' ? 'nifti2' : 'nifti1');
      expect([...v.dims, ...(v.frames > 1 ? [v.frames] : [])]).toEqual(e.shape);
      expectAffine(v.affine, e.affine);
      expectSameValues(v.data, fx.values(name));
    });
  }

  it('data types and scaling: int16 with scl_slope/scl_inter, uint8, float32, uint16, float64', () => {
    expect(readScanFile(at(fx.files.flair.path)).dtype).toBe('int16');
    expect(readScanFile(at(fx.files.t1.path)).dtype).toBe('uint8');
    expect(readScanFile(at(fx.files.t1c.path)).dtype).toBe('float32');
    expect(readScanFile(at(fx.files.case_4d.path)).dtype).toBe('uint16');
    expect(readScanFile(at(fx.files.flair_oblique.path)).dtype).toBe('float64');
  });
});

describe('DICOM read: pydicom-made series', () => {
  const folder = readDicomFolder(at('dicom/mixed'));

  it('groups a folder of three shuffled series by SeriesInstanceUID', () => {
    expect(folder.series.length).toBe(3);
    expect(folder.series.map((s) => s.length)).toEqual([7, 7, 7]);
  });

  for (const ch of [0, 1, 2]) {
    const e = fx.files[`dicom_${ch}`];
    it(`${e.description}: slices ordered by position, rescale applied, LPS → RAS affine`, () => {
      const s = folder.series.find((x) => x[0].seriesDescription === e.description)!;
      const v = assembleSeries(s, at('dicom/mixed'));
      expect(v.dims).toEqual(e.shape);
      expectAffine(v.affine, e.affine);
      expectSameValues(v.data, fx.values(`dicom_${ch}`));
      expect(v.dicom?.slices.map((x) => x.position[2])).toEqual(
        [0, 1, 2, 3, 4, 5, 6].map((k) => -12.5 + 5 * k),
      );
    });
  }

  it('an enhanced multi-frame file: frames ordered by their plane positions, shared functional groups', () => {
    const e = fx.files.dicom_mf;
    const v = readScanFile(at(e.path));
    expectAffine(v.affine, e.affine);
    expectSameValues(v.data, fx.values('dicom_mf'));
    expect(v.dicom?.slices[0].frame).toBe(7);
  });

  it('the NIfTI and the DICOM of one sequence lie on the same grid', () => {
    const n = readScanFile(at(fx.files.flair.path));
    const d = readScanFile(at(fx.files.dicom_mf.path));
    expectAffine(n.affine, d.affine);
  });

  it('two series and no mapping: an error naming the folder and listing the series', () => {
    expect(() => loadCase({ input: at('dicom/mixed') })).toThrow(
      /dicom\/mixed: 3 DICOM series \(SeriesInstanceUID \(0020,000E\)\) and no channel mapping.*"T1 PRE"/,
    );
  });

  it('SeriesDescription patterns map the series to channels', () => {
    const c = loadCase({
      input: at('dicom/mixed'),
      channels: { pre: 't1 pre', flair: '*flair*', post: 'post' },
    });
    expectSameValues(c.volumes[0].data, fx.values('dicom_0'));
    expectSameValues(c.volumes[1].data, fx.values('dicom_1'));
    expectSameValues(c.volumes[2].data, fx.values('dicom_2'));
    expect(() => loadCase({ input: at('dicom/mixed'), channels: { flair: 't1' } })).toThrow(
      /2 series with a SeriesDescription \(0008,103E\) matching "t1"/,
    );
  });
});

describe('into the model frame and back', () => {
  const flair = readScanFile(at(fx.files.flair.path));
  const oblique = readScanFile(at(fx.files.flair_oblique.path));

  it('an oblique grid with swapped and reversed axes gives the same model slices as the plain one', () => {
    const a = scanToModel('a', [flair, flair, flair]);
    const b = scanToModel('b', [oblique, oblique, oblique]);
    expect([b.patient.depth, b.patient.height, b.patient.width]).toEqual([
      a.patient.depth,
      a.patient.height,
      a.patient.width,
    ]);
    expectSameValues(b.patient.image, a.patient.image);
    expect(b.notes).toEqual([]);
  });

  it('toSourceGrid inverts toModelOrientation exactly (every voxel back where it came from)', () => {
    const f = modelFrameOf(oblique);
    const ids = new Float32Array(oblique.data.length).map((_, i) => i);
    expectSameValues(toSourceGrid(toModelOrientation(ids, f), f), ids);
  });

  it('non-square pixels are resampled in-plane and a mask still comes back onto the source voxels', () => {
    const aniso: ScanVolume = {
      ...flair,
      affine: flair.affine.map((row, r) => (r < 3 ? [row[0], row[1] * 2, row[2], row[3]] : row)),
      spacing: [flair.spacing[0], flair.spacing[1] * 2, flair.spacing[2]],
    };
    const r = scanToModel('aniso', [aniso, aniso, aniso]);
    expect(r.patient.height).toBe(flair.dims[1] * 2);
    expect(r.notes.join()).toMatch(/resampled in-plane/);
    const truth = readTruth(at(fx.files.mask.path), flair);
    const m = scanToModel('m', [aniso, aniso, aniso], truth);
    expectSameValues(toSourceGrid(m.patient.mask, m.frame), truth);
  });
});

describe('NIfTI write, read back by nibabel', () => {
  const flair = readScanFile(at(fx.files.flair.path));
  const truth = readTruth(at(fx.files.mask.path), flair);

  it('a mask with the input header: same affine, qform and sform codes, every voxel', () => {
    const out = join(work(), 'mask.nii.gz');
    writeFileSync(out, encodeNifti(truth, flair.dims, flair.nifti!, { intentCode: 1002 }));
    const nb = nibabelRead(out);
    expect(nb.class).toBe('Nifti1Image');
    expect(nb.dtype).toBe('uint8');
    expect(nb.shape).toEqual(flair.dims);
    expectAffine(nb.affine, flair.affine);
    expect([nb.qform_code, nb.sform_code]).toEqual([1, 1]);
    expectSameValues(nb.data, truth);
    // And our own reader agrees.
    expectSameValues(readNifti(readFileSync(out), out).data, truth);
  });

  it('NIfTI-2 input gives NIfTI-2 output; plain .nii; an sform-only header stays sform-only', () => {
    const t1c = readScanFile(at(fx.files.t1c.path));
    const out = join(work(), 'mask.nii');
    writeFileSync(out, encodeNifti(truth, t1c.dims, t1c.nifti!, { gzip: false }));
    const nb = nibabelRead(out);
    expect(nb.class).toBe('Nifti2Image');
    expect([nb.qform_code, nb.sform_code]).toEqual([0, 2]);
    expectAffine(nb.affine, t1c.affine);
    expectSameValues(nb.data, truth);
  });

  it('a header made from an affine (a DICOM grid): the qform nibabel derives equals the sform', () => {
    const oblique = readScanFile(at(fx.files.flair_oblique.path));
    const space = niftiSpaceFromAffine(oblique.affine);
    const out = join(work(), 'from-affine.nii.gz');
    const data = new Float32Array(oblique.data.length).map((_, i) => i % 251);
    writeFileSync(out, encodeNifti(data, oblique.dims, space, { datatype: 'float32' }));
    const nb = nibabelRead(out);
    expectAffine(nb.affine, oblique.affine, 1e-3);
    expectAffine(nb.qform, oblique.affine, 1e-3);
    expectSameValues(nb.data, data);
  });
});

describe('DICOM SEG write, read back by pydicom and dcmdump', () => {
  const folder = readDicomFolder(at('dicom/mixed'));
  const flairSeries = folder.series.find((s) => s[0].seriesDescription === 'AX FLAIR')!;
  const flair = assembleSeries(flairSeries, at('dicom/mixed'));
  const nifti = readScanFile(at(fx.files.flair.path));
  const truth = readTruth(at(fx.files.mask.path), nifti);

  it('frames equal the mask voxel for voxel and reference the source instances', () => {
    const out = join(work(), 'seg.dcm');
    writeFileSync(out, encodeDicomSeg(truth, flair));
    const seg = pydicomReadSeg(out);
    expect(seg.sop_class).toBe('1.2.840.10008.5.1.4.1.1.66.4');
    expect([seg.modality, seg.segmentation_type]).toEqual(['SEG', 'BINARY']);
    expect(seg.shape).toEqual([flair.dims[2], flair.dims[1], flair.dims[0]]);
    expectSameValues(seg.pixels, truth);
    expect(seg.referenced_series).toBe(flair.dicom!.seriesInstanceUid);
    expect(new Set(seg.referenced_instances)).toEqual(new Set(flairSeries.map((i) => i.sopInstanceUid)));
    expect(seg.frame_sources).toEqual(flair.dicom!.slices.map((s) => s.sopInstanceUid));
    expect(seg.study).toBe(flair.dicom!.studyInstanceUid);
    expect(seg.frame_of_reference).toBe(flair.dicom!.frameOfReferenceUid);
    expect(seg.patient_id).toBe('TCGA_CS_4942_19970222');
    const dump = dcmdump(out);
    expect(dump).toMatch(/\(0062,0001\) CS \[BINARY\]/);
    expect(dump).toMatch(/\(0028,0008\) IS \[7\]/);
    // Our reader puts the frames back on the grid.
    expectSameValues(readDicomSeg(readFileSync(out), out, flair).mask, truth);
    expectSameValues(readTruth(out, nifti), truth);
  });

  it('a SEG whose frames fit no slice of the grid is an error naming the file', () => {
    const out = join(work(), 'seg.dcm');
    writeFileSync(out, encodeDicomSeg(truth, flair));
    const shifted: ScanVolume = {
      ...flair,
      affine: flair.affine.map((r, i) => (i === 2 ? [r[0], r[1], r[2], r[3] + 2.5] : r)),
    };
    expect(() => readDicomSeg(readFileSync(out), out, shifted)).toThrow(DataError);
    expect(() => readDicomSeg(readFileSync(out), out, shifted)).toThrow(
      /seg\.dcm: frame 1 .* lies on no slice/,
    );
  });
});

describe('NIfTI headers checked before anything is allocated', () => {
  const tiny = (dims: [number, number, number]) =>
    encodeNifti(
      new Uint8Array(dims[0] * dims[1] * dims[2]).fill(3),
      dims,
      niftiSpaceFromAffine(fx.files.flair.affine),
      {
        gzip: false,
      },
    );

  it("a file smaller than Node's buffer pool (read into a shared ArrayBuffer) is read from its own bytes", () => {
    const out = join(work(), 'tiny.nii');
    writeFileSync(out, tiny([8, 8, 2]));
    // readFileSync gives files under 4 KiB a view into a pooled ArrayBuffer, at a non-zero offset.
    const v = readScanFile(out);
    expect(v.dims).toEqual([8, 8, 2]);
    expect(v.data.every((x) => x === 3)).toBe(true);
  });

  it('a volume above maxScanVoxels is refused from the header, a frame count included', () => {
    const bytes = tiny([8, 8, 2]);
    expect(() => readNifti(bytes, 'v.nii', { maxScanVoxels: 100 })).toThrow(
      /v\.nii: declares 8×8×2 voxels \(128\), more than the limit of 100: refused before decoding/,
    );
    expect(readNifti(bytes, 'v.nii', { maxScanVoxels: 128 }).dims).toEqual([8, 8, 2]);
  });
});

describe('a case from files in memory (the viewer), as loadCase reads it from disk', () => {
  const named = (rel: string) => ({ name: rel, bytes: new Uint8Array(readFileSync(at(rel))) });
  const dicomFiles = () => readdirSync(at('dicom/mixed')).map((n) => named(`dicom/mixed/${n}`));

  it('a DICOM folder with SeriesDescription patterns: the same three volumes, named after the folder', () => {
    const map = { pre: 't1 pre', flair: '*flair*', post: 'post' };
    const c = caseFromFiles(dicomFiles(), map);
    const d = loadCase({ input: at('dicom/mixed'), channels: map });
    expect(c.id).toBe('mixed');
    for (const k of [0, 1, 2]) expectSameValues(c.volumes[k].data, d.volumes[k].data);
    expectAffine(c.reference.affine, d.reference.affine);
    expect(() => caseFromFiles(dicomFiles(), null)).toThrow(
      /^dicom\/mixed: 3 DICOM series \(SeriesInstanceUID \(0020,000E\)\) and no channel mapping/,
    );
  });

  it('NIfTI files: one alone is FLAIR, several are mapped by their names or by the mapping', () => {
    const one = caseFromFiles([named(fx.files.flair.path)], null);
    expect(one.id).toBe('flair');
    expect(one.notes.join()).toMatch(/taken as FLAIR for all three channels/);
    const three = [named('nifti/t1.nii'), named('nifti/flair.nii.gz'), named('nifti/t1c.nii.gz')];
    expect(guessChannelMap(['t1', 'flair', 't1c'])).toEqual({ pre: 't1', flair: 'flair', post: 't1c' });
    expect(guessChannelMap(['BraTS_01_t1ce', 'BraTS_01_t2', 'BraTS_01_seg'])).toBeNull();
    const guessed = caseFromFiles(three, null);
    const mapped = caseFromFiles(three, { pre: 't1.nii', flair: 'flair.nii.gz', post: 't1c.nii.gz' });
    const disk = loadCase({
      channels: { pre: at('nifti/t1.nii'), flair: at('nifti/flair.nii.gz'), post: at('nifti/t1c.nii.gz') },
    });
    for (const k of [0, 1, 2]) {
      expectSameValues(guessed.volumes[k].data, disk.volumes[k].data);
      expectSameValues(mapped.volumes[k].data, disk.volumes[k].data);
    }
    expect(() => caseFromFiles([named('nifti/t1.nii'), named('nifti/t1c.nii.gz')], null)).toThrow(
      /selection: 2 NIfTI files \(nifti\/t1\.nii, nifti\/t1c\.nii\.gz\) and no channel mapping/,
    );
    expect(() => caseFromFiles([...three, dicomFiles()[0]], null)).toThrow(
      /both NIfTI files .* and DICOM files/,
    );
    expect(() => caseFromFiles(three, { flair: 't2.nii.gz' })).toThrow(
      /flair=t2\.nii\.gz: no such NIfTI file/,
    );
  });
});
