/**
 * The independent tools of the format tests: Debian's python3 with nibabel, pydicom and Pillow (and dcmtk's
 * dcmdump), installed by scripts/setup-format-tools.sh. Missing tools fail the tests, never skip them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAMPLE } from '../paths.js';

/** The python with nibabel/pydicom: Debian's by default (a pyenv or venv python on PATH may lack them). */
export const PYTHON = process.env.MRISEG_PYTHON ?? '/usr/bin/python3';
const HERE = fileURLToPath(new URL('.', import.meta.url));
export const PATIENT = `${SAMPLE}/TCGA_CS_4942_19970222`;

export function python(args: string[]): string {
  if (!existsSync(PYTHON))
    throw new Error(
      `${PYTHON} is missing: run scripts/setup-format-tools.sh (python3-nibabel, python3-pydicom, python3-pil, dcmtk)`,
    );
  try {
    return execFileSync(PYTHON, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(
      `${PYTHON} ${args.join(' ')} failed (scripts/setup-format-tools.sh installs nibabel, pydicom, Pillow): ${err.stderr ?? err.message}`,
    );
  }
}

export interface ExpectedFile {
  path: string;
  shape: number[];
  affine: number[][];
  sum: number;
  dtype?: string;
  description?: string;
}

export interface Fixtures {
  dir: string;
  files: Record<string, ExpectedFile>;
  /** The float32 values nibabel / the generator give for a fixture, i fastest. */
  values(name: string): Float32Array;
}

let made: Fixtures | null = null;

/** Generates the fixtures once per test file into a temporary folder (about a second). */
export function fixtures(): Fixtures {
  if (made) return made;
  if (!existsSync(PATIENT)) throw new Error(`sample patient missing: ${PATIENT}`);
  const dir = mkdtempSync(join(tmpdir(), 'mriseg-formats-'));
  python([join(HERE, 'make_fixtures.py'), PATIENT, dir]);
  const json = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as {
    files: Record<string, ExpectedFile>;
  };
  const values = (name: string) => {
    const b = readFileSync(join(dir, `${name}.f32`));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  };
  made = { dir, files: json.files, values };
  return made;
}

export interface NiftiReadBack {
  class: string;
  shape: number[];
  affine: number[][];
  qform_code: number;
  sform_code: number;
  qform: number[][];
  dtype: string;
  zooms: number[];
  data: Float32Array;
}

/** What nibabel reads from a file. */
export function nibabelRead(file: string): NiftiReadBack {
  const prefix = join(mkdtempSync(join(tmpdir(), 'mriseg-nib-')), 'out');
  python([join(HERE, 'read_back.py'), 'nifti', file, prefix]);
  const b = readFileSync(`${prefix}.f32`);
  return {
    ...(JSON.parse(readFileSync(`${prefix}.json`, 'utf8')) as Omit<NiftiReadBack, 'data'>),
    data: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)),
  };
}

export interface SegReadBack {
  sop_class: string;
  modality: string;
  segmentation_type: string;
  frames: number;
  rows: number;
  columns: number;
  shape: number[];
  study: string;
  frame_of_reference: string;
  patient_id: string;
  referenced_series: string;
  referenced_instances: string[];
  frame_sources: string[];
  frame_positions: number[][];
  segment_labels: string[];
  pixels: Uint8Array;
}

/** What pydicom reads from a DICOM SEG (pixel_array unpacked: frames × rows × columns). */
export function pydicomReadSeg(file: string): SegReadBack {
  const prefix = join(mkdtempSync(join(tmpdir(), 'mriseg-seg-')), 'out');
  python([join(HERE, 'read_back.py'), 'seg', file, prefix]);
  return {
    ...(JSON.parse(readFileSync(`${prefix}.json`, 'utf8')) as Omit<SegReadBack, 'pixels'>),
    pixels: new Uint8Array(readFileSync(`${prefix}.u8`)),
  };
}

/** dcmdump's listing of a file (dcmtk: an independent parser), failing on any parse error. */
export function dcmdump(file: string): string {
  try {
    return execFileSync('dcmdump', ['-E', '+L', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(
      `dcmdump ${file} failed (dcmtk from scripts/setup-format-tools.sh): ${err.stderr ?? err.message}`,
    );
  }
}
