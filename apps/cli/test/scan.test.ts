/**
 * predict and evaluate on NIfTI and DICOM cases (fixtures nibabel and pydicom make from a sample patient), with a
 * tiny U-Net saved in the test; outputs read back by nibabel and pydicom.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, REFERENCE_INFERENCE } from '@mriseg/models';
import { saveModel } from '@mriseg/models/node';
import { initDevice } from '@mriseg/tensor-wgsl';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtures, nibabelRead, pydicomReadSeg } from '../../../packages/data/test/formats/tools.js';
import { main } from '../src/main.js';
import { captureConsole } from './fixture.js';

const fx = fixtures();
const at = (p: string) => join(fx.dir, p);
const root = mkdtempSync(join(tmpdir(), 'mriseg-cli-scan-'));
const ckpt = join(root, 'tiny.safetensors');
const io = captureConsole();

beforeAll(async () => {
  await initDevice();
  const model = createModel('unet', { features: 2 });
  await saveModel(ckpt, model, { inference: { ...REFERENCE_INFERENCE, inputSize: 32, postprocess: '' } });
  model.dispose();
}, 120_000);

const T = 300_000;

describe('predict on NIfTI and DICOM', () => {
  it(
    'a NIfTI file gives a mask nibabel reads on the input grid; an oblique copy of it gives the same voxels',
    async () => {
      const out = join(root, 'nifti');
      expect(
        await main(['predict', '--checkpoint', ckpt, '--input', at('nifti/flair.nii.gz'), '--out', out]),
      ).toBe(0);
      expect(io.out.join('\n')).toMatch(/note: .*flair\.nii\.gz: one sequence, taken as FLAIR/);
      const plain = nibabelRead(join(out, 'flair_mask.nii.gz'));
      expect(plain.shape).toEqual(fx.files.flair.shape);
      expect(plain.affine).toEqual(fx.files.flair.affine);
      expect(plain.dtype).toBe('uint8');
      let fg = 0;
      for (const v of plain.data) fg += v;
      expect(fg).toBeGreaterThan(0);
      expect(fg).toBeLessThan(plain.data.length);

      const out2 = join(root, 'oblique');
      expect(
        await main([
          'predict',
          '--checkpoint',
          ckpt,
          '--input',
          at('nifti/flair_oblique.nii'),
          '--out',
          out2,
        ]),
      ).toBe(0);
      const obl = nibabelRead(join(out2, 'flair_oblique_mask.nii.gz'));
      expect(obl.affine.flat().map((v) => Number(v.toFixed(3)))).toEqual(
        fx.files.flair_oblique.affine.flat().map((v) => Number(v.toFixed(3))),
      );
      // Voxel (i', j', k) of the oblique file is voxel (j', ny - 1 - i', k) of the plain one (make_fixtures.py).
      const [nx, ny, nz] = plain.shape;
      let differ = 0;
      for (let k = 0; k < nz; k++)
        for (let jj = 0; jj < nx; jj++)
          for (let ii = 0; ii < ny; ii++)
            if (obl.data[ii + ny * (jj + nx * k)] !== plain.data[jj + nx * (ny - 1 - ii + ny * k)]) differ++;
      expect(differ).toBe(0);
    },
    T,
  );

  it(
    'three NIfTI files through --channels, and a 4-D file, give the same mask',
    async () => {
      const a = join(root, 'channels');
      const b = join(root, 'four-d');
      const map = `pre=${at('nifti/t1.nii')},flair=${at('nifti/flair.nii.gz')},post=${at('nifti/t1c.nii.gz')}`;
      expect(await main(['predict', '--checkpoint', ckpt, '--channels', map, '--out', a])).toBe(0);
      expect(
        await main(['predict', '--checkpoint', ckpt, '--input', at('nifti/case_4d.nii.gz'), '--out', b]),
      ).toBe(0);
      const ma = nibabelRead(join(a, 'flair_mask.nii.gz'));
      const mb = nibabelRead(join(b, 'case_4d_mask.nii.gz'));
      expect(ma.data).toEqual(mb.data);
    },
    T,
  );

  it(
    'a DICOM folder with SeriesDescription patterns gives a DICOM SEG pydicom reads, equal to the NIfTI mask',
    async () => {
      const out = join(root, 'dicom');
      const args = ['--input', at('dicom/mixed'), '--channels', 'pre=t1 pre,flair=*flair*,post=post'];
      expect(await main(['predict', '--checkpoint', ckpt, ...args, '--out', out])).toBe(0);
      expect(readdirSync(out).sort()).toEqual(['mixed_mask.nii.gz', 'mixed_seg.dcm']);
      const seg = pydicomReadSeg(join(out, 'mixed_seg.dcm'));
      const nii = nibabelRead(join(out, 'mixed_mask.nii.gz'));
      expect(nii.affine.flat().map((v) => Number(v.toFixed(3)))).toEqual(
        fx.files.dicom_1.affine.flat().map((v) => Number(v.toFixed(3))),
      );
      expect(seg.shape).toEqual([7, 160, 176]);
      expect(Array.from(seg.pixels)).toEqual(Array.from(nii.data));
    },
    T,
  );
});

describe('ensemble on a NIfTI case', () => {
  it(
    'two checkpoints on files mapped with --channels: one mask on the input grid, and ensemble.json',
    async () => {
      const second = join(root, 'tiny2.safetensors');
      const model = createModel('unet', { features: 2 });
      await saveModel(second, model, {
        inference: { ...REFERENCE_INFERENCE, inputSize: 32, postprocess: '' },
      });
      model.dispose();
      const out = join(root, 'ensemble');
      const map = `pre=${at('nifti/t1.nii')},flair=${at('nifti/flair.nii.gz')},post=${at('nifti/t1c.nii.gz')}`;
      expect(
        await main([
          'ensemble',
          '--checkpoint',
          ckpt,
          '--checkpoint',
          second,
          '--channels',
          map,
          '--out',
          out,
        ]),
      ).toBe(0);
      expect(readdirSync(out).sort()).toEqual(['ensemble.json', 'flair_mask.nii.gz']);
      const m = nibabelRead(join(out, 'flair_mask.nii.gz'));
      expect(m.shape).toEqual(fx.files.flair.shape);
      expect(m.affine).toEqual(fx.files.flair.affine);
      expect(JSON.parse(readFileSync(join(out, 'ensemble.json'), 'utf8')).checkpoints).toHaveLength(2);
    },
    T,
  );
});

describe('evaluate on NIfTI ground truth', () => {
  it(
    'writes patients.csv with HD95 and ASSD in millimetres',
    async () => {
      const out = join(root, 'eval');
      const args = ['--input', at('nifti/case_4d.nii.gz'), '--truth', at('nifti/mask.nii.gz'), '--out', out];
      expect(await main(['evaluate', '--checkpoint', ckpt, ...args])).toBe(0);
      const [head, row] = readFileSync(join(out, 'patients.csv'), 'utf8').trim().split('\n');
      const cols = head.split(',');
      expect(cols.slice(-2)).toEqual(['surface_dice', 'distance_unit']);
      const cells = row.split(',');
      expect(cells[0]).toBe('case_4d');
      expect(cells.at(-1)).toBe('mm');
      expect(Number(cells[cols.indexOf('true_volume')])).toBe(fx.files.mask.sum);
      expect(io.out.join('\n')).toMatch(/HD95 .* mm/);
    },
    T,
  );

  it(
    'a DICOM SEG as ground truth of a DICOM case',
    async () => {
      const seg = join(root, 'dicom', 'mixed_seg.dcm');
      const out = join(root, 'eval-dicom');
      const args = ['--input', at('dicom/mixed'), '--channels', 'flair=flair', '--truth', seg, '--out', out];
      expect(await main(['evaluate', '--checkpoint', ckpt, ...args])).toBe(0);
      const [, row] = readFileSync(join(out, 'patients.csv'), 'utf8').trim().split('\n');
      expect(row.split(',').at(-1)).toBe('mm');
    },
    T,
  );
});

describe('bad NIfTI and DICOM input: one line naming the file, nothing written', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      'two series and no mapping',
      () => ['--input', at('dicom/mixed')],
      /mixed: 3 DICOM series \(SeriesInstanceUID \(0020,000E\)\) and no channel mapping/,
    ],
    [
      'a truncated NIfTI',
      () => {
        const p = join(root, 'cut.nii');
        writeFileSync(p, readFileSync(at('nifti/t1.nii')).subarray(0, 20000));
        return ['--input', p];
      },
      /cut\.nii: truncated: the header declares/,
    ],
    [
      'a corrupt gzip stream',
      () => {
        const p = join(root, 'bad.nii.gz');
        const b = Buffer.from(readFileSync(at('nifti/flair.nii.gz')));
        for (let i = 50000; i < 50100; i++) b[i] ^= 0x5a;
        writeFileSync(p, b);
        return ['--input', p];
      },
      /bad\.nii\.gz: corrupt or truncated gzip stream/,
    ],
    [
      'channels on different grids',
      () => ['--channels', `pre=${at('nifti/flair_oblique.nii')},flair=${at('nifti/flair.nii.gz')}`],
      /flair\.nii\.gz: not on the grid of the other sequences: .*flair_oblique\.nii has 160×176×7 voxels/,
    ],
  ];
  for (const [name, make, message] of cases) {
    it(name, async () => {
      const out = join(root, `bad-${name.replace(/\W+/g, '-')}`);
      expect(await main(['predict', '--checkpoint', ckpt, ...make(), '--out', out])).toBe(1);
      expect(io.err).toHaveLength(1);
      expect(io.err[0]).toMatch(message);
      expect(existsSync(out)).toBe(false);
    });
  }
});
