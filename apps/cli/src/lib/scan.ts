/**
 * NIfTI and DICOM cases for predict and evaluate: the three channels brought to the models' frame, the reference
 * preprocessing the checkpoint records, the (averaged) models, and the prediction carried back onto the source
 * voxels; masks written as NIfTI with the input's header, and as DICOM SEG for a DICOM series.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ChannelMap,
  DataError,
  encodeDicomSeg,
  isDicomPart10,
  isNiftiPath,
  type LoadedCase,
  loadCase,
  maskAsNifti,
  parseChannelMap,
  preprocess,
  type ScanVolume,
  scanToModel,
  toSourceVoxels,
} from '@mriseg/data';
import { binarize, evaluateCases, type MetricsReport, parsePostprocess, volume } from '@mriseg/metrics';
import type { RunSettings } from '../commands/infer.js';
import { CliError, UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { ensembleProbabilities, type LoadedCheckpoint } from './infer.js';

/** Whether a --input path is a NIfTI/DICOM case rather than Kaggle-layout slices. */
export function isScanInput(path: string): boolean {
  if (!existsSync(path)) return isNiftiPath(path);
  if (!statSync(path).isDirectory()) return true;
  // A folder: DICOM when one of its first files carries the Part-10 marker.
  const names = readdirSync(path)
    .filter((n) => !n.startsWith('.'))
    .slice(0, 20);
  return names.some((n) => {
    const p = join(path, n);
    if (!statSync(p).isFile()) return false;
    const head = readFileSync(p).subarray(0, 132);
    return isDicomPart10(head);
  });
}

/** --channels text as a mapping; a syntax error is a usage error of `command`. */
export function channelOption(text: string | null, command: string): ChannelMap | null {
  if (text === null) return null;
  try {
    return parseChannelMap(text);
  } catch (e) {
    throw new UsageError(`--channels ${text}: ${(e as Error).message}`, command);
  }
}

/** Reads a case from --input and/or --channels; input problems become one-line errors naming the file. */
export function readCase(input: string | null, channels: ChannelMap | null, command: string): LoadedCase {
  if (input !== null && !existsSync(input)) throw new CliError(`--input ${input}: no such file or folder`);
  try {
    return loadCase({ input, channels });
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message, command);
    throw e;
  }
}

export interface ScanPrediction {
  /** 0/1 on the source grid (x fastest). */
  mask: Uint8Array;
  /** Averaged probabilities on the source grid (nearest neighbour from the model's voxels). */
  prob: Float32Array;
  notes: string[];
}

/** Runs the models on one case and carries mask and probabilities back to its source grid. */
export async function predictScanCase(
  loaded: readonly LoadedCheckpoint[],
  c: LoadedCase,
  o: Pick<RunSettings, 'batchSize' | 'tta' | 'threshold' | 'postprocess' | 'preprocess'>,
): Promise<ScanPrediction> {
  const { patient, frame, notes } = scanToModel(c.id, c.volumes);
  const v = preprocess(patient, o.preprocess);
  const probs = await ensembleProbabilities(
    loaded.map((l) => l.model),
    v,
    { batchSize: o.batchSize, tta: o.tta },
  );
  const post = o.postprocess === 'none' || o.postprocess === '' ? null : parsePostprocess(o.postprocess);
  const bin = binarize(volume(probs, [v.depth, v.height, v.width]), o.threshold);
  const cleaned = post ? post(bin) : bin;
  const dropEnds = { dropEnds: o.preprocess.dropEnds ?? true };
  return {
    mask: toSourceVoxels(cleaned.data, v, patient, frame, dropEnds),
    prob: toSourceVoxels(probs, v, patient, frame, dropEnds),
    notes: [...c.notes, ...notes],
  };
}

/** The mask as NIfTI on the reference's grid: its own header for a NIfTI input, one made from the affine else. */
export function maskNiftiFile(mask: Uint8Array, ref: ScanVolume): Uint8Array {
  return maskAsNifti(mask, ref, `mriseg ${VERSION} mask`);
}

/** The mask as a DICOM SEG referencing the reference series (which must be DICOM). */
export function maskAsSeg(mask: Uint8Array, ref: ScanVolume): Uint8Array {
  return encodeDicomSeg(mask, ref, { softwareVersion: VERSION });
}

/** One case's metrics (and their one-row summary) on its source grid, distances in millimetres. */
export function scoreScanCase(
  id: string,
  p: ScanPrediction,
  truth: Uint8Array,
  ref: ScanVolume,
  o: Pick<RunSettings, 'threshold' | 'postprocess'>,
): MetricsReport {
  const [nx, ny, nz] = ref.dims;
  if (truth.length !== nx * ny * nz) throw new DataError(ref.source, 'ground truth and image grids differ');
  const shape = [nz, ny, nx];
  const post = o.postprocess === 'none' || o.postprocess === '' ? null : parsePostprocess(o.postprocess);
  return evaluateCases(
    [
      {
        id,
        prob: volume(p.prob, shape),
        truth: { data: truth, shape: shape as [number, number, number] },
        spacing: [ref.spacing[2], ref.spacing[1], ref.spacing[0]],
      },
    ],
    { threshold: o.threshold, postprocess: post ?? ((m) => m) },
  );
}

/** Which output files a case writes, by input kind. */
export function scanOutputs(out: string, c: LoadedCase): { nifti: string; seg: string | null } {
  return {
    nifti: join(out, `${c.id}_mask.nii.gz`),
    seg: c.reference.dicom ? join(out, `${c.id}_seg.dcm`) : null,
  };
}
