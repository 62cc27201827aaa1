/**
 * NIfTI files and DICOM folders (issue 19): damaged, lying and hostile headers, cut and corrupt gzip streams, a gzip
 * bomb, folders a volume cannot be made of. Each is read as `predict`/`evaluate` read a case (through @mriseg/data's
 * `loadCase` and `scanToModel`, in a child process) and through `mriseg predict` itself, which must also leave its
 * --out folder unwritten. Every refusal names the file (and, for DICOM, the attribute's tag).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCase, parseChannelMap, scanToModel } from '@mriseg/data';
import { smallCheckpoint } from '../fixtures/checkpoint.js';
import {
  dicomSeries,
  dicomSlice,
  editNifti,
  gzipBomb,
  hugeHeader,
  niftiHeader,
  niftiPhantom,
  SCAN_SIZE,
  setDims,
  withTransferSyntax,
} from '../fixtures/scan.js';
import type { CaseContext, FaultCase, Summary } from '../types.js';

export interface ScanFault {
  id: string;
  title: string;
  /** Writes the input under ctx.input; returns what --input is given (a file or a folder). */
  make: (ctx: CaseContext) => string | Promise<string>;
  /** --channels text. */
  channels?: string;
  /** Null when the case must be accepted. */
  problem: RegExp | null;
  /** What `predict` says instead, where the command decides before the library is asked. */
  cliProblem?: RegExp;
  /** The path the message must name, when not the input itself (a file inside a DICOM folder). */
  names?: (ctx: CaseContext) => string;
  slow?: boolean;
}

/** A file under the case's input folder with these bytes; returns its path. */
function put(ctx: CaseContext, name: string, bytes: Uint8Array): string {
  const p = join(ctx.input, name);
  writeFileSync(p, bytes);
  return p;
}

const nifti = (name: string, bytes: () => Uint8Array | Promise<Uint8Array>) => async (ctx: CaseContext) =>
  put(ctx, name, await bytes());

const niftiEdit = (name: string, edit: (dv: DataView) => void, gzip = name.endsWith('.gz')) =>
  nifti(name, () => editNifti(niftiPhantom(gzip), edit));

/** A DICOM folder: the series given, and `change` applied to the folder afterwards (e.g. one file replaced). */
const folder =
  (series: Parameters<typeof dicomSeries>[0][], change?: (dir: string) => void) => (ctx: CaseContext) => {
    const dir = join(ctx.input, 'dicom');
    mkdirSync(dir);
    series.forEach((s, n) => {
      for (const [name, bytes] of dicomSeries(s, `S${n}_IM`)) writeFileSync(join(dir, name), bytes);
    });
    change?.(dir);
    return dir;
  };

const FLAIR = { description: 'AX FLAIR', series: 1 };
const T1 = { description: 'T1 PRE', series: 2 };
/** Slice 2 of the FLAIR series, the file the DICOM cases damage. */
const SLICE = (ctx: CaseContext) => join(ctx.input, 'dicom', 'S0_IM2.dcm');
const replaceSlice = (bytes: () => Uint8Array) => (dir: string) =>
  writeFileSync(join(dir, 'S0_IM2.dcm'), bytes());

export const SCAN_FAULTS: ScanFault[] = [
  // ------------------------------------------------------------------------------------------------ NIfTI
  {
    id: 'nifti-valid',
    title: 'a sound NIfTI-1 phantom (.nii.gz): accepted',
    make: nifti('case.nii.gz', () => niftiPhantom()),
    problem: null,
  },
  {
    id: 'nifti-truncated',
    title: 'a .nii cut short inside its voxel data',
    make: nifti('case.nii', () => niftiPhantom(false).subarray(0, 352 + 1000)),
    problem:
      /truncated: the header declares 5120 int16 voxels from byte 352 \(10592 bytes\), the file holds 1352/,
  },
  {
    id: 'nifti-header-cut',
    title: 'a .nii of 200 bytes (less than its header)',
    make: nifti('case.nii', () => niftiPhantom(false).subarray(0, 200)),
    problem: /truncated: 200 bytes, less than the 348-byte NIfTI-1 header/,
  },
  {
    id: 'nifti-empty',
    title: 'an empty .nii.gz',
    make: nifti('case.nii.gz', () => new Uint8Array(0)),
    problem: /0 bytes: too short for a NIfTI header/,
  },
  {
    id: 'nifti-gzip-truncated',
    title: 'a .nii.gz cut short inside its gzip stream',
    make: nifti('case.nii.gz', () => {
      const b = niftiPhantom();
      return b.subarray(0, Math.floor(b.length * 0.6));
    }),
    problem: /corrupt or truncated gzip stream \(unexpected end of file\)/,
  },
  {
    id: 'nifti-gzip-corrupt',
    title: 'a .nii.gz with bytes of its deflate stream overwritten',
    make: nifti('case.nii.gz', () => {
      const b = new Uint8Array(niftiPhantom());
      for (let i = Math.floor(b.length / 2); i < b.length / 2 + 64; i++) b[i] ^= 0xa5;
      return b;
    }),
    problem: /corrupt (or truncated )?gzip stream/,
  },
  {
    id: 'nifti-gzip-crc',
    title: 'a .nii.gz whose gzip trailer (CRC-32) does not match',
    make: nifti('case.nii.gz', () => {
      const b = new Uint8Array(niftiPhantom());
      b[b.length - 8] ^= 0xff;
      return b;
    }),
    problem: /corrupt (or truncated )?gzip stream \(incorrect data check\)/,
  },
  {
    id: 'nifti-sizeof-hdr-lies',
    title: 'sizeof_hdr 4096 instead of 348',
    make: niftiEdit('case.nii', (dv) => dv.setInt32(0, 4096, true)),
    problem: /not a NIfTI file: sizeof_hdr is 4096 \(348 for NIfTI-1, 540 for NIfTI-2\)/,
  },
  {
    id: 'nifti-vox-offset-past-end',
    title: 'vox_offset 100000000 in a 10 KB file',
    make: niftiEdit('case.nii', (dv) => dv.setFloat32(108, 1e8, true)),
    problem: /vox_offset 100000000 lies past the end of the file \(10592 bytes\)/,
  },
  {
    id: 'nifti-gz-vox-offset-past-end',
    title: 'vox_offset 2000000000 in a small .nii.gz',
    make: niftiEdit('case.nii.gz', (dv) => dv.setFloat32(108, 2e9, true)),
    problem: /vox_offset 2000000000 lies past the end of the file \(10592 bytes inflated\)/,
  },
  {
    id: 'nifti-vox-offset-in-header',
    title: 'vox_offset 100 (inside the header)',
    make: niftiEdit('case.nii', (dv) => dv.setFloat32(108, 100, true)),
    problem: /vox_offset 100 is not a whole number of bytes at or after the header's end \(352\)/,
  },
  {
    id: 'nifti-dims-exceed-file',
    title: 'dims 512×512×64 in a file holding 32×32×5',
    make: niftiEdit('case.nii.gz', setDims([512, 512, 64])),
    problem: /truncated: the header declares 16777216 int16 voxels .* the inflated file holds 10592/,
  },
  {
    id: 'nifti-dims-over-side-limit',
    title: 'dims 32×32×30000 (more slices than the decode limit)',
    make: niftiEdit('case.nii.gz', setDims([32, 32, 30000])),
    problem:
      /declares 32×32×30000 voxels, more than the decode limit of 8192 a side: refused before decoding/,
  },
  {
    id: 'nifti-dims-over-voxel-limit',
    title: 'dims 4096×4096×4096 (each side allowed, the volume not)',
    make: niftiEdit('case.nii.gz', setDims([4096, 4096, 4096])),
    problem:
      /declares 4096×4096×4096 voxels \(68719476736\), more than the limit of (134217728|67108864): refused before decoding/,
  },
  {
    id: 'nifti-dims-over-voxel-limit-4d',
    title: 'dims 1024×1024×128×3 frames (more voxels than the limit over all frames)',
    make: niftiEdit('case.nii.gz', setDims([1024, 1024, 128, 3])),
    problem: /declares 1024×1024×128×3 voxels \(402653184\), more than the limit of (134217728|67108864)/,
  },
  {
    id: 'nifti-negative-dim',
    title: 'dim[2] = −32',
    make: niftiEdit('case.nii.gz', setDims([32, -32, 5])),
    problem: /dim\[2\] is -32: every dimension must be at least 1/,
  },
  {
    id: 'nifti-zero-dim',
    title: 'dim[3] = 0',
    make: niftiEdit('case.nii.gz', setDims([32, 32, 0])),
    problem: /dim\[3\] is 0: every dimension must be at least 1/,
  },
  {
    id: 'nifti-dim0-9',
    title: 'dim[0] = 9 (more than 7 dimensions)',
    make: niftiEdit('case.nii.gz', (dv) => dv.setInt16(40, 9, true)),
    problem: /dim\[0\] is 9: the number of dimensions must be 1 to 7/,
  },
  {
    id: 'nifti-5d',
    title: 'a 5-D volume (dim[5] = 2)',
    make: niftiEdit('case.nii.gz', setDims([32, 32, 5, 1, 2])),
    problem: /dim\[5\] is 2: volumes of more than 4 dimensions are not supported/,
  },
  {
    id: 'nifti-complex',
    title: 'data type complex64',
    make: niftiEdit('case.nii.gz', (dv) => {
      dv.setInt16(70, 32, true);
      dv.setInt16(72, 64, true);
    }),
    problem: /data type 32 \(complex64\) is not supported/,
  },
  {
    id: 'nifti-bitpix-lies',
    title: 'int16 data with bitpix 32',
    make: niftiEdit('case.nii.gz', (dv) => dv.setInt16(72, 32, true)),
    problem: /bitpix 32 does not match data type int16 \(16 bits\)/,
  },
  {
    id: 'nifti-bomb-inflates-past-header',
    title: 'a 32×32×5 .nii.gz whose stream inflates to 64 MB',
    make: nifti('case.nii.gz', () =>
      gzipBomb(
        niftiHeader(() => {}),
        64 << 20,
      ),
    ),
    problem: /gzip stream inflates to more than the 10592 bytes the header declares/,
  },
  {
    id: 'nifti-bomb-500MB',
    title: 'a 0.5 MB .nii.gz declaring 4096×4096×30 uint8 and holding all 503 MB of it',
    make: nifti('case.nii.gz', () => gzipBomb(hugeHeader(), 4096 * 4096 * 30)),
    problem:
      /declares 4096×4096×30 voxels \(503316480\), more than the limit of (134217728|67108864): refused before decoding/,
    slow: true,
  },
  {
    id: 'nifti-bomb-small',
    title: 'a 60 KB .nii.gz declaring 4096×4096×30 uint8 (503 M voxels), holding 64 MB',
    make: nifti('case.nii.gz', () => gzipBomb(hugeHeader(), 64 << 20)),
    problem:
      /declares 4096×4096×30 voxels \(503316480\), more than the limit of (134217728|67108864): refused before decoding/,
  },
  // ------------------------------------------------------------------------------------------------ DICOM
  {
    id: 'dicom-valid',
    title: 'a folder of two series with a channel mapping: accepted',
    make: folder([FLAIR, T1]),
    channels: 'pre=t1,flair=flair',
    problem: null,
  },
  {
    id: 'dicom-two-series-no-mapping',
    title: 'a folder of two series (FLAIR, T1) and no channel mapping',
    make: folder([FLAIR, T1]),
    problem:
      /2 DICOM series \(SeriesInstanceUID \(0020,000E\)\) and no channel mapping: give pre=PATTERN,flair=PATTERN,post=PATTERN .*"AX FLAIR".*"T1 PRE"/,
  },
  {
    id: 'dicom-mapping-matches-nothing',
    title: 'a channel mapping whose pattern matches no SeriesDescription',
    make: folder([FLAIR, T1]),
    channels: 'flair=T2',
    problem: /no series with a SeriesDescription \(0008,103E\) matching "T2" for flair; the folder holds/,
  },
  {
    id: 'dicom-missing-pixeldata',
    title: 'one slice without PixelData',
    make: folder(
      [FLAIR],
      replaceSlice(() => dicomSlice(FLAIR, 2, [], false)),
    ),
    names: SLICE,
    problem: /no PixelData \(7FE0,0010\): nothing to read/,
  },
  {
    id: 'dicom-truncated-pixeldata',
    title: 'one slice cut short inside its PixelData',
    make: folder([FLAIR], (dir) => {
      const b = dicomSlice(FLAIR, 2);
      writeFileSync(join(dir, 'S0_IM2.dcm'), b.subarray(0, b.length - SCAN_SIZE * SCAN_SIZE));
    }),
    names: SLICE,
    problem:
      /truncated: PixelData \(7FE0,0010\) declares 2048 bytes from byte \d+, the file ends at byte \d+/,
  },
  {
    id: 'dicom-short-pixeldata',
    title: 'one slice whose PixelData holds half of Rows × Columns',
    make: folder(
      [FLAIR],
      replaceSlice(() =>
        dicomSlice(FLAIR, 2, [{ tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(SCAN_SIZE * SCAN_SIZE) }]),
      ),
    ),
    names: SLICE,
    problem: /PixelData \(7FE0,0010\) holds 1024 bytes, 2048 expected for 1 frame\(s\) of 32×32 at 16 bits/,
  },
  {
    id: 'dicom-rle',
    title: 'a series stored with the RLE Lossless transfer syntax',
    make: folder([FLAIR], (dir) => {
      for (let k = 0; k < 5; k++)
        writeFileSync(
          join(dir, `S0_IM${k}.dcm`),
          withTransferSyntax(dicomSlice(FLAIR, k), '1.2.840.10008.1.2.5'),
        );
    }),
    names: (ctx) => join(ctx.input, 'dicom', 'S0_IM0.dcm'),
    problem:
      /transfer syntax 1\.2\.840\.10008\.1\.2\.5 \(RLE Lossless\) is not decoded here; .*TransferSyntaxUID \(0002,0010\)/,
  },
  {
    id: 'dicom-huge-rows-columns',
    title: 'one slice declaring 65535×65535 pixels',
    make: folder(
      [FLAIR],
      replaceSlice(() =>
        dicomSlice(FLAIR, 2, [
          { tag: 0x00280010, vr: 'US', value: 65535 },
          { tag: 0x00280011, vr: 'US', value: 65535 },
        ]),
      ),
    ),
    names: SLICE,
    problem:
      /Rows \(0028,0010\) and Columns \(0028,0011\) declare 65535×65535 pixels, more than the decode limit/,
  },
  {
    id: 'dicom-frames-huge',
    title: 'NumberOfFrames 1000000 in a one-frame file',
    make: folder(
      [FLAIR],
      replaceSlice(() => dicomSlice(FLAIR, 2, [{ tag: 0x00280008, vr: 'IS', value: '1000000' }])),
    ),
    names: SLICE,
    problem: /NumberOfFrames \(0028,0008\) is 1000000: not a frame count from 1 to 8192/,
  },
  {
    id: 'dicom-bits-allocated-12',
    title: 'BitsAllocated 12',
    make: folder(
      [FLAIR],
      replaceSlice(() => dicomSlice(FLAIR, 2, [{ tag: 0x00280100, vr: 'US', value: 12 }])),
    ),
    names: SLICE,
    problem: /BitsAllocated \(0028,0100\) is 12: 8, 16 or 32 expected/,
  },
  {
    id: 'dicom-no-position',
    title: 'one slice without ImagePositionPatient',
    make: folder(
      [FLAIR],
      replaceSlice(() => {
        const b = dicomSlice(FLAIR, 2, [{ tag: 0x00200032, vr: 'DS', value: '' }]);
        return b;
      }),
    ),
    names: SLICE,
    problem: /missing or bad ImagePositionPatient \(0020,0032\)/,
  },
  {
    id: 'dicom-same-position',
    title: 'two slices at one position',
    make: folder(
      [FLAIR],
      replaceSlice(() =>
        dicomSlice(FLAIR, 2, [{ tag: 0x00200032, vr: 'DS', value: ['-14.0000', '-14.0000', '-5.0000'] }]),
      ),
    ),
    problem:
      /same ImagePositionPatient \(0020,0032\) along the slice normal as .*S0_IM1\.dcm: two slices at one position/,
    names: SLICE,
  },
  {
    id: 'dicom-preamble-only',
    title: 'a 132-byte file with only the preamble and "DICM"',
    make: folder([FLAIR], (dir) => {
      const b = new Uint8Array(132);
      b.set([0x44, 0x49, 0x43, 0x4d], 128);
      writeFileSync(join(dir, 'S0_IM2.dcm'), b);
    }),
    names: SLICE,
    problem:
      /no TransferSyntaxUID \(0002,0010\) in the file meta information: not a readable DICOM Part-10 file/,
  },
  {
    id: 'dicom-no-images',
    title: 'a folder of text files',
    make: (ctx) => {
      const dir = join(ctx.input, 'dicom');
      mkdirSync(dir);
      for (let k = 0; k < 3; k++) writeFileSync(join(dir, `IM${k}.dcm`), 'not DICOM\n');
      return dir;
    },
    problem: /no DICOM images in the folder \(3 files, none a DICOM Part-10 image\)/,
    // predict sees no DICOM marker and takes the folder for Kaggle-layout slices.
    cliProblem: /no slice images \(<patient>_<n>\.tif\|png\) in it or in its sub-folders/,
  },
];

/** The case as `predict` reads it: the channels, then the model's frame. */
async function readAsPredict(ctx: CaseContext, f: ScanFault): Promise<Summary> {
  const input = inputOf(ctx, f);
  const c = loadCase({ input, channels: f.channels ? parseChannelMap(f.channels) : null });
  const { patient } = scanToModel(c.id, c.volumes);
  return { id: c.id, dims: c.reference.dims, depth: patient.depth, notes: c.notes.length };
}

/** The path `make` wrote (setup ran in another process: recompute it without writing). */
function inputOf(ctx: CaseContext, f: ScanFault): string {
  const guess = ['case.nii.gz', 'case.nii', 'dicom']
    .map((n) => join(ctx.input, n))
    .find((p) => existsSync(p));
  if (!guess) throw new Error(`fault suite: ${f.id} wrote no input`);
  return guess;
}

const expectation = (f: ScanFault, cli: boolean): FaultCase['expect'] =>
  f.problem === null
    ? {
        accept: (s: Summary) =>
          cli
            ? s.exitCode === 0
              ? null
              : `exit ${String(s.exitCode)}: ${String(s.stderr)}`
            : Array.isArray(s.dims) && s.depth === 5
              ? null
              : `read as ${JSON.stringify(s)}, 5 slices of 32×32 expected`,
      }
    : {
        name: cli ? undefined : 'DataError',
        problem: (cli ? f.cliProblem : undefined) ?? f.problem,
        file: (ctx: CaseContext) => f.names?.(ctx) ?? inputOf(ctx, f),
        exitCode: cli ? 1 : undefined,
      };

/** Read through the library, as predict and evaluate read a case. */
export function scanLibraryCase(f: ScanFault): FaultCase {
  return {
    id: `scan/${f.id}`,
    category: 'scan',
    title: f.title,
    slow: f.slow,
    setup: async (ctx) => void (await f.make(ctx)),
    run: (ctx) => readAsPredict(ctx, f),
    expect: expectation(f, false),
  };
}

/** `mriseg predict` on it: exit 1 with the message, and nothing under --out. */
export function scanCliCase(f: ScanFault): FaultCase {
  const out = (ctx: CaseContext) => join(ctx.work, 'out');
  return {
    id: `scan/cli-predict-${f.id}`,
    category: 'scan',
    title: `${f.title} (CLI predict)`,
    slow: f.slow,
    setup: async (ctx) => {
      await f.make(ctx);
      writeFileSync(join(ctx.work, 'model.safetensors'), smallCheckpoint());
    },
    cli: (ctx) => ({
      args: [
        'predict',
        '--checkpoint',
        join(ctx.work, 'model.safetensors'),
        '--input',
        inputOf(ctx, f),
        ...(f.channels ? ['--channels', f.channels] : []),
        '--out',
        out(ctx),
      ],
    }),
    after: (ctx) => (existsSync(out(ctx)) ? `${out(ctx)} was created although the input was refused` : null),
    expect: expectation(f, true),
  };
}

/** The sound inputs are accepted by the library; through predict they would need a real model, so they stay there. */
export const SCAN_CASES: FaultCase[] = [
  ...SCAN_FAULTS.map(scanLibraryCase),
  ...SCAN_FAULTS.filter((f) => f.problem !== null).map(scanCliCase),
];
