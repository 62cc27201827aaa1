#!/usr/bin/env python3
"""Fixtures for mriseg's NIfTI and DICOM readers, made by other tools (nibabel, pydicom, Pillow) from one real
sample patient: 7 slices of TCGA_CS_4942_19970222, cropped to 176 x 160 pixels. Writes into OUT (argv[2]):

  nifti/*.nii[.gz]  one sequence each in several data types, NIfTI-1 and -2, qform-only, sform-only, an oblique
                    grid with flipped and permuted axes, a 4-D file (pre, FLAIR, post), the ground-truth mask
  dicom/mixed/      three classic MR series (T1 PRE, FLAIR, T1 POST) in one folder, files shuffled and named at
                    random, explicit and implicit VR, signed and unsigned, RescaleSlope/Intercept
  dicom/flair_mf.dcm  FLAIR as one enhanced multi-frame MR file, frames in reverse order
  expected.json     for every file: nibabel's affine and shape, or the volume (x fastest) the DICOM should give,
                    as <name>.f32 (float32, little-endian, i fastest)

Usage: make_fixtures.py SAMPLE_PATIENT_DIR OUT
"""
import json
import os
import random
import sys

import nibabel as nib
import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

SLICES = range(8, 15)
ROWS = slice(40, 200)
COLS = slice(20, 196)
SPACING = (0.94, 0.94, 5.0)

src, out = sys.argv[1], sys.argv[2]
pid = os.path.basename(os.path.normpath(src))
os.makedirs(os.path.join(out, 'nifti'), exist_ok=True)
os.makedirs(os.path.join(out, 'dicom', 'mixed'), exist_ok=True)

# rgb[k, row, col, channel] (channels: pre-contrast, FLAIR, post-contrast), mask[k, row, col]
rgb = np.stack([np.array(Image.open(f'{src}/{pid}_{n}.tif'))[ROWS, COLS] for n in SLICES]).astype(np.float64)
mask = np.stack([np.array(Image.open(f'{src}/{pid}_{n}_mask.tif'))[ROWS, COLS] for n in SLICES]) > 0
nz, ny, nx = mask.shape
expected = {'source': pid, 'slices': list(SLICES), 'shape_kji': [nz, ny, nx], 'files': {}}


def to_ijk(vol_kji):
    """(slices, rows, columns) -> array indexed [i=column, j=row, k=slice]."""
    return np.transpose(vol_kji, (2, 1, 0))


def save_f32(name, arr_ijk):
    np.asarray(arr_ijk, dtype='<f4').ravel(order='F').tofile(os.path.join(out, name + '.f32'))


def record(name, path):
    img = nib.load(path)
    data = img.get_fdata(dtype=np.float64)
    save_f32(name, data)
    expected['files'][name] = {
        'path': os.path.relpath(path, out),
        'shape': list(img.shape),
        'affine': img.affine.tolist(),
        'zooms': [float(z) for z in img.header.get_zooms()[:3]],
        'dtype': str(img.get_data_dtype()),
        'sum': float(data.sum()),
    }


# The display frame of the slices: columns run to the patient's left, rows to posterior (LPS axial): in RAS the
# i axis is -x, j is -y. Origin chosen away from zero so that offsets are tested too.
base = np.diag([-SPACING[0], -SPACING[1], SPACING[2], 1.0])
base[:3, 3] = [80.0, 95.0, -12.5]
pre, flair, post = (to_ijk(rgb[..., c]) for c in range(3))

# FLAIR: int16 with a slope and an intercept (stored = (value - 3) / 0.5), sform and qform, gzip.
img = nib.Nifti1Image(((flair - 3) / 0.5).astype(np.int16), base)
img.header.set_slope_inter(0.5, 3)
img.set_qform(base, code=1)
img.set_sform(base, code=1)
nib.save(img, os.path.join(out, 'nifti', 'flair.nii.gz'))
record('flair', os.path.join(out, 'nifti', 'flair.nii.gz'))

# Pre-contrast: uint8, plain .nii, qform only.
img = nib.Nifti1Image(pre.astype(np.uint8), None)
img.set_qform(base, code=1)
img.set_sform(None, code=0)
nib.save(img, os.path.join(out, 'nifti', 't1.nii'))
record('t1', os.path.join(out, 'nifti', 't1.nii'))

# Post-contrast: float32, NIfTI-2, sform only.
img = nib.Nifti2Image(post.astype(np.float32), None)
img.set_sform(base, code=2)
img.set_qform(None, code=0)
nib.save(img, os.path.join(out, 'nifti', 't1c.nii.gz'))
record('t1c', os.path.join(out, 'nifti', 't1c.nii.gz'))

# 4-D: the three sequences as frames, uint16.
img = nib.Nifti1Image(np.stack([pre, flair, post], axis=3).astype(np.uint16), base)
nib.save(img, os.path.join(out, 'nifti', 'case_4d.nii.gz'))
record('case_4d', os.path.join(out, 'nifti', 'case_4d.nii.gz'))

# Ground truth.
img = nib.Nifti1Image(to_ijk(mask).astype(np.uint8), base)
nib.save(img, os.path.join(out, 'nifti', 'mask.nii.gz'))
record('mask', os.path.join(out, 'nifti', 'mask.nii.gz'))

# Oblique: the same voxels stored with j reversed and i, j swapped (a "PLS"-like grid), rotated 15 degrees about
# the slice axis, float64, plain .nii. The world position of every voxel is the same as in flair.nii.gz up to the
# rotation, so the models must see the same slices.
flip_j = np.eye(4)
flip_j[1, 1] = -1
flip_j[1, 3] = ny - 1
swap = np.eye(4)[[1, 0, 2, 3]]
a = np.deg2rad(15)
rot = np.array([[np.cos(a), -np.sin(a), 0, 0], [np.sin(a), np.cos(a), 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
oblique_aff = rot @ base @ flip_j @ swap
oblique = np.transpose(flair[:, ::-1, :], (1, 0, 2))
img = nib.Nifti1Image(oblique.astype(np.float64), oblique_aff)
nib.save(img, os.path.join(out, 'nifti', 'flair_oblique.nii'))
record('flair_oblique', os.path.join(out, 'nifti', 'flair_oblique.nii'))

# ------------------------------------------------------------------------------------------------------ DICOM
study_uid, for_uid = generate_uid(), generate_uid()
rng = random.Random(19)
ipp0 = np.array([-80.0, -95.0, -12.5])  # LPS of voxel (0, 0, 0): RAS (80, 95, -12.5)
row_dir, col_dir, normal = np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, 1.0])


def lps_affine():
    aff = np.eye(4)
    aff[:3, 0] = row_dir * SPACING[0]
    aff[:3, 1] = col_dir * SPACING[1]
    aff[:3, 2] = normal * SPACING[2]
    aff[:3, 3] = ipp0
    return np.diag([-1, -1, 1, 1]) @ aff


def common(ds, desc, series_uid, sop_class):
    ds.PatientName = 'Sample^Fixture'
    ds.PatientID = pid
    ds.PatientBirthDate = ''
    ds.PatientSex = 'F'
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = '19970222'
    ds.StudyTime = '120000'
    ds.StudyID = '1'
    ds.AccessionNumber = ''
    ds.ReferringPhysicianName = ''
    ds.SeriesInstanceUID = series_uid
    ds.SeriesDescription = desc
    ds.Modality = 'MR'
    ds.FrameOfReferenceUID = for_uid
    ds.SOPClassUID = sop_class
    ds.Rows, ds.Columns = ny, nx
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15


def file_dataset(path, sop_class, sop_uid, implicit):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds = FileDataset(path, {}, file_meta=meta, preamble=b'\0' * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = implicit
    ds.SOPInstanceUID = sop_uid
    return ds


MR = '1.2.840.10008.5.1.4.1.1.4'
series_spec = [
    # description, channel, slope, intercept, signed, implicit VR
    ('T1 PRE', 0, 1.0, 0.0, False, False),
    ('AX FLAIR', 1, 2.0, -10.0, True, False),
    ('T1 POST GD', 2, 0.5, 0.0, False, True),
]
for desc, ch, slope, inter, signed, implicit in series_spec:
    series_uid = generate_uid()
    vol = rgb[..., ch]  # (k, row, col)
    order = list(range(nz))
    rng.shuffle(order)
    for n, k in enumerate(order):
        sop_uid = generate_uid()
        name = f'{rng.getrandbits(40):010x}.dcm'
        path = os.path.join(out, 'dicom', 'mixed', name)
        ds = file_dataset(path, MR, sop_uid, implicit)
        common(ds, desc, series_uid, MR)
        ds.InstanceNumber = n + 1  # not the slice order: readers must sort by position
        ds.ImagePositionPatient = [f'{v:.4f}' for v in ipp0 + normal * SPACING[2] * k]
        ds.ImageOrientationPatient = [f'{v:.6f}' for v in (*row_dir, *col_dir)]
        ds.PixelSpacing = [f'{SPACING[1]:.4f}', f'{SPACING[0]:.4f}']
        ds.SliceThickness = f'{SPACING[2]:.2f}'
        ds.PixelRepresentation = 1 if signed else 0
        ds.RescaleSlope = f'{slope:g}'
        ds.RescaleIntercept = f'{inter:g}'
        stored = np.round((vol[k] - inter) / slope).astype(np.int16 if signed else np.uint16)
        ds.PixelData = stored.tobytes()
        ds.save_as(path, write_like_original=False)
    want = to_ijk(np.round((vol - inter) / slope) * slope + inter)
    save_f32(f'dicom_{ch}', want)
    expected['files'][f'dicom_{ch}'] = {
        'path': 'dicom/mixed',
        'description': desc,
        'shape': [nx, ny, nz],
        'affine': lps_affine().tolist(),
        'sum': float(want.sum()),
    }

# Enhanced multi-frame FLAIR, frames stored from the top slice down.
sop_uid = generate_uid()
EMR = '1.2.840.10008.5.1.4.1.1.4.1'
path = os.path.join(out, 'dicom', 'flair_mf.dcm')
ds = file_dataset(path, EMR, sop_uid, False)
common(ds, 'FLAIR MF', generate_uid(), EMR)
ds.PixelRepresentation = 0
ds.NumberOfFrames = nz
shared = Dataset()
pm = Dataset()
pm.PixelSpacing = [f'{SPACING[1]:.4f}', f'{SPACING[0]:.4f}']
pm.SliceThickness = f'{SPACING[2]:.2f}'
po = Dataset()
po.ImageOrientationPatient = [f'{v:.6f}' for v in (*row_dir, *col_dir)]
pvt = Dataset()
pvt.RescaleSlope = '4'
pvt.RescaleIntercept = '1'
pvt.RescaleType = 'US'
shared.PixelMeasuresSequence = Sequence([pm])
shared.PlaneOrientationSequence = Sequence([po])
shared.PixelValueTransformationSequence = Sequence([pvt])
ds.SharedFunctionalGroupsSequence = Sequence([shared])
frames = []
per = []
for k in reversed(range(nz)):
    f = Dataset()
    pp = Dataset()
    pp.ImagePositionPatient = [f'{v:.4f}' for v in ipp0 + normal * SPACING[2] * k]
    f.PlanePositionSequence = Sequence([pp])
    per.append(f)
    frames.append(np.round((rgb[k, :, :, 1] - 1) / 4).astype(np.uint16))
ds.PerFrameFunctionalGroupsSequence = Sequence(per)
ds.PixelData = np.stack(frames).tobytes()
ds.save_as(path, write_like_original=False)
want = to_ijk(np.round((rgb[..., 1] - 1) / 4) * 4 + 1)
save_f32('dicom_mf', want)
expected['files']['dicom_mf'] = {
    'path': 'dicom/flair_mf.dcm',
    'shape': [nx, ny, nz],
    'affine': lps_affine().tolist(),
    'sum': float(want.sum()),
}

with open(os.path.join(out, 'expected.json'), 'w') as fh:
    json.dump(expected, fh, indent=1)
print(f'fixtures in {out}: {len(expected["files"])} volumes')
