import type { Affine } from './affine.js';

/** The NIfTI header fields that place a volume in space, kept so that a mask can be written on the same grid. */
export interface NiftiSpace {
  version: 1 | 2;
  /** pixdim[0..7] as stored (pixdim[0] is qfac). */
  pixdim: number[];
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z as stored. */
  srow: [number[], number[], number[]];
  xyztUnits: number;
  dimInfo: number;
}

/** One source slice (a classic file, or one frame of an enhanced multi-frame file) of a DICOM series. */
export interface DicomSlice {
  file: string;
  sopClassUid: string;
  sopInstanceUid: string;
  /** 1-based frame number in a multi-frame file; null for a single-frame file. */
  frame: number | null;
  /** ImagePositionPatient (LPS, mm). */
  position: [number, number, number];
}

/** What a DICOM SEG needs to reference its source series and to copy the patient and study. */
export interface DicomSeries {
  seriesInstanceUid: string;
  seriesDescription: string;
  studyInstanceUid: string;
  frameOfReferenceUid: string;
  /** ImageOrientationPatient: row then column direction cosines (LPS). */
  orientation: [number, number, number, number, number, number];
  /** PixelSpacing: between rows, between columns (mm). */
  pixelSpacing: [number, number];
  sliceThickness: number | null;
  /** Patient and study attributes copied into derived objects (keyword → string value). */
  patientStudy: Record<string, string>;
  /** In k order (the volume's third axis). */
  slices: DicomSlice[];
}

/**
 * A scanner volume in memory: voxel (i, j, k, t) at `data[i + nx·(j + ny·(k + nz·t))]` — NIfTI's order, and a
 * DICOM series' (column, row, slice) — with the affine that places voxel centres in RAS+ millimetres.
 */
export interface ScanVolume {
  /** The file or folder it was read from (named in errors). */
  source: string;
  format: 'nifti1' | 'nifti2' | 'dicom';
  /** [nx, ny, nz]. */
  dims: [number, number, number];
  /** Volumes along the 4th axis (1 for a 3-D file); a 4-D file holds one sequence a frame. */
  frames: number;
  /** Scaled values (scl_slope/scl_inter, RescaleSlope/RescaleIntercept applied). */
  data: Float32Array;
  /** The stored data type, e.g. "int16". */
  dtype: string;
  affine: Affine;
  /** Voxel spacing along i, j, k in millimetres. */
  spacing: [number, number, number];
  nifti?: NiftiSpace;
  dicom?: DicomSeries;
}

/** Voxels of one 3-D frame. */
export const voxelCount = (v: Pick<ScanVolume, 'dims'>) => v.dims[0] * v.dims[1] * v.dims[2];

/** Frame `t` of a (4-D) volume as a 3-D volume sharing the geometry; the data is a view, not a copy. */
export function frameOf(v: ScanVolume, t: number): ScanVolume {
  if (!Number.isInteger(t) || t < 0 || t >= v.frames)
    throw new RangeError(`${v.source}: frame ${t} of a volume with ${v.frames}`);
  const n = voxelCount(v);
  return { ...v, frames: 1, data: v.data.subarray(t * n, (t + 1) * n) };
}
