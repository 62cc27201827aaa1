/**
 * The page's NIfTI and DICOM path (src/scan.ts, the decode worker's code) on fixtures nibabel and pydicom make from a
 * sample patient: the same case as the command line reads, slices with the true aspect, and masks exported on the
 * source grid that nibabel and pydicom read back voxel for voxel.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataError,
  encodeNifti,
  loadCase,
  niftiSpaceFromAffine,
  preprocess,
  readScanFile,
  readTruth,
  scanToModel,
} from '@mriseg/data';
import { describe, expect, it } from 'vitest';
import { fixtures, nibabelRead, pydicomReadSeg } from '../../../packages/data/test/formats/tools.js';
import { VIEWER_DECODE_LIMITS } from '../src/decode-protocol.js';
import type { LoadedPatient, NamedBytes } from '../src/files.js';
import {
  describeScan,
  displayPixelMm,
  exportFormats,
  isScanFile,
  maskNiftiFile,
  maskSegFile,
  predictionOnSource,
  scanPatientFromFiles,
  sourceSlice,
} from '../src/scan.js';

const fx = fixtures();
const at = (p: string) => join(fx.dir, p);
const named = (rel: string): NamedBytes => ({ name: rel, bytes: new Uint8Array(readFileSync(at(rel))) });
const dicomFolder = () => readdirSync(at('dicom/mixed')).map((n) => named(`dicom/mixed/${n}`));
const work = () => mkdtempSync(join(tmpdir(), 'mriseg-viewer-scan-'));

function refusal(f: () => unknown): DataError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('accepted');
}

/** The 0/1 truth of the fixtures, in the page's preprocessed space of `p` (what a perfect model would predict). */
function truthInModelSpace(p: LoadedPatient, size: number | null) {
  const flair = readScanFile(at(fx.files.flair.path));
  const truth = readTruth(at(fx.files.mask.path), flair);
  const c = loadCase({ input: at(fx.files.flair.path) });
  const withTruth = scanToModel(c.id, c.volumes, truth).patient;
  const volume = preprocess({ ...p.raw, mask: withTruth.mask }, { size });
  return { truth, volume };
}

describe('opening NIfTI files and DICOM folders in the page', () => {
  it('tells scanner files from slices: NIfTI by name, DICOM by its marker whatever its name', () => {
    expect(isScanFile(named(fx.files.flair.path))).toBe(true);
    expect(isScanFile({ ...dicomFolder()[0], name: 'IM0001' })).toBe(true);
    expect(isScanFile({ name: 'TCGA_X_1.tif', bytes: new Uint8Array([0x49, 0x49, 42, 0]) })).toBe(false);
  });

  it('one NIfTI file: the patient the command line makes, FLAIR for all channels, with a note', () => {
    const p = scanPatientFromFiles([named(fx.files.flair.path)], '', VIEWER_DECODE_LIMITS);
    const c = loadCase({ input: at(fx.files.flair.path) });
    const ref = scanToModel(c.id, c.volumes).patient;
    expect(p.raw.id).toBe('flair');
    expect([p.raw.depth, p.raw.height, p.raw.width]).toEqual([ref.depth, ref.height, ref.width]);
    expect(Buffer.compare(Buffer.from(p.raw.image.buffer), Buffer.from(ref.image.buffer))).toBe(0);
    expect(p.hasMask).toBe(false);
    expect(p.warnings.join()).toMatch(/taken as FLAIR for all three channels/);
    expect(p.scan!.grid.dims).toEqual(fx.files.flair.shape);
    expect(exportFormats(p)).toEqual({ nifti: true, seg: false });
  });

  it('three NIfTI files mapped in the field, or by their names, equal the 4-D file', () => {
    const three = [named('nifti/t1.nii'), named('nifti/flair.nii.gz'), named('nifti/t1c.nii.gz')];
    const mapped = scanPatientFromFiles(three, 'pre=t1.nii, flair=flair.nii.gz, post=t1c.nii.gz');
    const guessed = scanPatientFromFiles(three, '');
    const fourD = scanPatientFromFiles([named('nifti/case_4d.nii.gz')], '');
    expect(fourD.scan?.fourD).toBe(true);
    expect(mapped.scan?.fourD).toBe(false);
    expect(mapped.scan!.channels.map((s) => s.split('/').pop())).toEqual([
      't1.nii',
      'flair.nii.gz',
      't1c.nii.gz',
    ]);
    for (const p of [mapped, guessed])
      expect(Buffer.compare(Buffer.from(p.raw.image.buffer), Buffer.from(fourD.raw.image.buffer))).toBe(0);
    expect(refusal(() => scanPatientFromFiles(three, 'flair=t2.nii')).message).toMatch(
      /^selection: flair=t2\.nii: no such NIfTI file/,
    );
    expect(refusal(() => scanPatientFromFiles(three, 'flair')).message).toMatch(
      /^channel mapping: "flair" is not NAME=VALUE/,
    );
  });

  it('a DICOM folder: several series need the mapping (the error lists them), patterns choose them', () => {
    const e = refusal(() => scanPatientFromFiles(dicomFolder(), ''));
    expect(e.file).toBe('dicom/mixed');
    expect(e.problem).toMatch(/^3 DICOM series .* and no channel mapping: give pre=PATTERN/);
    for (const d of ['"T1 PRE"', '"AX FLAIR"', '"T1 POST GD"']) expect(e.problem).toContain(d);
    const p = scanPatientFromFiles(dicomFolder(), 'pre=t1 pre,flair=*flair*,post=post');
    const c = loadCase({
      input: at('dicom/mixed'),
      channels: { pre: 't1 pre', flair: '*flair*', post: 'post' },
    });
    const ref = scanToModel(c.id, c.volumes).patient;
    expect(p.raw.id).toBe('mixed');
    expect(Buffer.compare(Buffer.from(p.raw.image.buffer), Buffer.from(ref.image.buffer))).toBe(0);
    expect(exportFormats(p)).toEqual({ nifti: true, seg: true });
  });

  it("a scan over the page's voxel limit is refused from its header", () => {
    const big = encodeNifti(new Uint8Array(8), [2, 2, 2], niftiSpaceFromAffine(fx.files.flair.affine), {
      gzip: false,
    });
    // dim[1..3] = 1024 × 1024 × 128: 2^27 voxels, allowed on the command line, not in the page.
    const dv = new DataView(big.buffer);
    [1024, 1024, 128].forEach((n, a) => void dv.setInt16(42 + 2 * a, n, true));
    expect(
      refusal(() => scanPatientFromFiles([{ name: 'big.nii', bytes: big }], '', VIEWER_DECODE_LIMITS))
        .message,
    ).toMatch(
      /^big\.nii: declares 1024×1024×128 voxels \(134217728\), more than the limit of 67108864: refused before decoding/,
    );
  });
});

describe('slices with the true aspect', () => {
  it('a disc on 0.5 × 1.0 mm pixels is round on the page, and its diameter in displayed pixels is its size in mm', () => {
    // 80 × 40 voxels of 0.5 × 1 mm (40 × 40 mm), 5 slices; a disc of radius 12 mm in the middle three.
    const [nx, ny, nz] = [80, 40, 5];
    const data = new Int16Array(nx * ny * nz);
    for (let k = 1; k < 4; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const x = (i - (nx - 1) / 2) * 0.5;
          const y = (j - (ny - 1) / 2) * 1.0;
          data[i + nx * (j + ny * k)] = Math.hypot(x, y) <= 12 ? 1000 : 0;
        }
    const affine = [
      [-0.5, 0, 0, 20],
      [0, -1, 0, 20],
      [0, 0, 4, 0],
      [0, 0, 0, 1],
    ];
    const bytes = encodeNifti(data, [nx, ny, nz], niftiSpaceFromAffine(affine), { datatype: 'int16' });
    const p = scanPatientFromFiles([{ name: 'disc.nii.gz', bytes }], '');
    expect(p.warnings.join()).toMatch(/non-square pixels resampled in-plane from 80×40 to 80×80/);
    const v = preprocess(p.raw, { size: 64 });
    // Extent of the bright disc along rows and columns of the middle slice (FLAIR plane).
    const plane = v.width * v.height;
    const z = Math.floor(v.depth / 2);
    const flair = v.image.subarray(z * 3 * plane + plane, z * 3 * plane + 2 * plane);
    let max = Number.NEGATIVE_INFINITY;
    for (const x of flair) max = Math.max(max, x);
    const rows = new Set<number>();
    const cols = new Set<number>();
    for (let y = 0; y < v.height; y++)
      for (let x = 0; x < v.width; x++)
        if (flair[y * v.width + x] > max / 2) {
          rows.add(y);
          cols.add(x);
        }
    expect(Math.abs(rows.size - cols.size)).toBeLessThanOrEqual(1);
    const mm = displayPixelMm(v, p.scan!.frame);
    expect(Math.abs(rows.size * mm - 24)).toBeLessThan(2 * mm);
    expect(describeScan(p, v)).toMatch(
      /^disc: NIfTI-1 of 80×40×5 voxels, 0\.50×1\.00×4\.00 mm \(LPS\); disc\.nii\.gz for all three channels\. Axial model frame 80×80×5, square 0\.50 mm pixels; after the reference preprocessing/,
    );
  });

  it('a model-frame slice is named by its index along the source grid', () => {
    const p = scanPatientFromFiles([named(fx.files.flair_oblique.path)], '');
    const f = p.scan!.frame;
    expect(sourceSlice(f, 0)).toEqual({ axis: 'k', index: f.axes[2].flip ? f.oriented[2] - 1 : 0 });
  });
});

describe('masks exported on the source grid', () => {
  it('NIfTI: nibabel reads the input affine and header codes, and every voxel of the mask', () => {
    const p = scanPatientFromFiles([named(fx.files.flair.path)], '');
    const { truth, volume } = truthInModelSpace(p, null);
    const mask = predictionOnSource(volume.mask, volume, p, true);
    const { bytes, name } = maskNiftiFile(mask, p);
    expect(name).toBe('flair_mask.nii.gz');
    const out = join(work(), name);
    writeFileSync(out, bytes);
    const nb = nibabelRead(out);
    expect(nb.shape).toEqual(fx.files.flair.shape);
    expect(nb.affine).toEqual(fx.files.flair.affine);
    expect([nb.qform_code, nb.sform_code, nb.dtype]).toEqual([1, 1, 'uint8']);
    // At the preprocessed size of the padded crop the round trip is exact; the dropped end slices are background.
    const [nx, ny, nz] = fx.files.flair.shape;
    const want = Uint8Array.from(truth, (t, i) => {
      const k = Math.floor(i / (nx * ny));
      return k === 0 || k === nz - 1 ? 0 : t;
    });
    expect(want.some((t) => t === 1)).toBe(true);
    expect(Buffer.compare(Buffer.from(Uint8Array.from(nb.data)), Buffer.from(want))).toBe(0);
  });

  it('DICOM: a SEG pydicom reads, frame for frame the NIfTI mask, referencing the FLAIR series', () => {
    const p = scanPatientFromFiles(dicomFolder(), 'flair=flair');
    const { volume } = truthInModelSpace(p, null);
    const mask = predictionOnSource(volume.mask, volume, p, true);
    const dir = work();
    const seg = maskSegFile(mask, p);
    const nii = maskNiftiFile(mask, p);
    writeFileSync(join(dir, seg.name), seg.bytes);
    writeFileSync(join(dir, nii.name), nii.bytes);
    const s = pydicomReadSeg(join(dir, seg.name));
    const n = nibabelRead(join(dir, nii.name));
    expect(s.referenced_series).toBe(p.scan?.grid.dicom?.seriesInstanceUid);
    expect(s.shape).toEqual([7, 160, 176]);
    expect(Array.from(s.pixels)).toEqual(Array.from(n.data));
    expect(n.affine.flat().map((v) => Number(v.toFixed(3)))).toEqual(
      fx.files.dicom_1.affine.flat().map((v) => Number(v.toFixed(3))),
    );
    expect(mask.some((m) => m === 1)).toBe(true);
  });
});
