/**
 * A half-precision copy of a checkpoint, to halve what a browser downloads. Only the convolution kernels (tensors
 * of two or more dimensions: 99.9 % of a U-Net's bytes) are stored as F16; biases, BatchNorm parameters and running
 * statistics stay F32, since a running variance rounded to 11 bits moves every output of its channel. Loading
 * (`parseCheckpoint`) turns the F16 tensors back into f32, so the model computes in f32 as before.
 */
import {
  entryToFloat32,
  floatToHalf,
  halfToFloat,
  parseSafetensors,
  type SafetensorsWriteEntry,
  serializeSafetensors,
} from '@mriseg/tensor-wgsl/safetensors';

export interface HalfPrecisionResult {
  bytes: Uint8Array;
  /** The tensors stored as F16. */
  converted: string[];
  /** The largest |f16 − f32| / max |w| over the converted tensors (each tensor against its own largest weight). */
  maxRelativeError: number;
}

/**
 * Converts the F32 tensors of two or more dimensions of a safetensors checkpoint to F16 (nearest, ties to even);
 * `metadata` entries are added to (or replace) the file's `__metadata__`. A weight beyond the half range
 * (|w| > 65504) is an error naming the tensor: it would become infinite.
 */
export function halfPrecisionCheckpoint(
  bytes: Uint8Array,
  source: string,
  metadata: Record<string, string> = {},
): HalfPrecisionResult {
  const file = parseSafetensors(bytes, source);
  const entries: [string, SafetensorsWriteEntry][] = [];
  const converted: string[] = [];
  let maxRelativeError = 0;
  for (const [name, e] of file.tensors) {
    if (e.dtype !== 'F32' || e.shape.length < 2) {
      entries.push([name, { dtype: e.dtype, shape: e.shape, data: e.bytes.slice() }]);
      continue;
    }
    const values = entryToFloat32(e);
    const half = new Uint16Array(values.length);
    let largest = 0;
    let worst = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      const h = floatToHalf(v);
      if (Number.isFinite(v) && (h & 0x7c00) === 0x7c00)
        throw new Error(`${source}: "${name}" holds ${v}, beyond the half-precision range (±65504)`);
      half[i] = h;
      largest = Math.max(largest, Math.abs(v));
      worst = Math.max(worst, Math.abs(halfToFloat(h) - v));
    }
    if (largest > 0) maxRelativeError = Math.max(maxRelativeError, worst / largest);
    entries.push([name, { dtype: 'F16', shape: e.shape, data: half }]);
    converted.push(name);
  }
  return {
    bytes: serializeSafetensors(entries, { ...file.metadata, ...metadata }),
    converted,
    maxRelativeError,
  };
}

/**
 * The f16 file of a pretrained model from its f32 file: the kernels as F16 and the manifest's inference spec
 * recorded in `__metadata__.inference`. Deterministic, so it gives exactly the manifest's f16 entry.
 */
export function pretrainedHalfPrecision(
  manifest: { name: string; inference: unknown; files: { f32: { sha256: string } } },
  f32: Uint8Array,
  source: string,
): HalfPrecisionResult {
  return halfPrecisionCheckpoint(f32, source, {
    inference: JSON.stringify(manifest.inference),
    'mriseg.pretrained': JSON.stringify({ name: manifest.name, convertedFrom: manifest.files.f32.sha256 }),
  });
}
