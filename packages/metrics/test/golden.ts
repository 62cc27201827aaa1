import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readSafetensorsFile } from '@mriseg/tensor-wgsl/node';
import { entryToFloat32, type SafetensorsFile } from '@mriseg/tensor-wgsl/safetensors';

/** /work/shared/golden: this file is packages/metrics/test/golden.ts, four levels below /work. */
export const GOLDEN_DIR = fileURLToPath(new URL('../../../../shared/golden/', import.meta.url));

/** Reads a golden file; throws (so the test fails, never skips) when the fixtures are missing. */
export function loadGolden(relPath: string): SafetensorsFile {
  if (!existsSync(GOLDEN_DIR)) {
    throw new Error(`golden fixtures missing: ${GOLDEN_DIR} does not exist (see BRIEF section 5)`);
  }
  return readSafetensorsFile(`${GOLDEN_DIR}${relPath}`);
}

function entry(file: SafetensorsFile, name: string) {
  const e = file.tensors.get(name);
  if (e === undefined)
    throw new Error(`golden entry "${name}" missing (have ${[...file.tensors.keys()].join(', ')})`);
  return e;
}

export function goldenFloat(file: SafetensorsFile, name: string): { data: Float32Array; shape: number[] } {
  const e = entry(file, name);
  return { data: entryToFloat32(e), shape: e.shape };
}

export function goldenU8(file: SafetensorsFile, name: string): { data: Uint8Array; shape: number[] } {
  const e = entry(file, name);
  if (e.dtype !== 'U8') throw new Error(`golden entry "${name}" is ${e.dtype}, expected U8`);
  return { data: Uint8Array.from(e.bytes), shape: e.shape };
}

export function goldenScalar(file: SafetensorsFile, name: string): number {
  const v = goldenFloat(file, name);
  if (v.data.length !== 1) throw new Error(`golden entry "${name}" has ${v.data.length} values, expected 1`);
  return v.data[0];
}
