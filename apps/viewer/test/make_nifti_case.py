#!/usr/bin/env python3
"""A NIfTI case for the viewer's browser test, made by nibabel from the demo's PNG slices:

  make_nifti_case.py DEMO_DIR PATIENT FIRST LAST OUT

OUT/case.nii.gz  slices FIRST..LAST as a 4-D uint8 volume (pre-contrast, FLAIR, post-contrast as frames), stored
                 the way many converters write it (RAS: both in-plane axes reversed against the slices' display
                 frame), 0.9 x 0.9 x 3 mm voxels, the origin away from zero
OUT/truth.nii.gz the demo's ground-truth masks on the same grid (0/1)
"""
import os
import sys

import nibabel as nib
import numpy as np
from PIL import Image

demo, pid, first, last, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
os.makedirs(out, exist_ok=True)
slices = range(first, last + 1)
rgb = np.stack([np.array(Image.open(f'{demo}/{pid}_{n}.png')) for n in slices])  # (k, row, col, channel)
mask = np.stack([np.array(Image.open(f'{demo}/{pid}_{n}_mask.png')) for n in slices]) > 0
nz, ny, nx = mask.shape

# Display frame: columns to the patient's left (-x in RAS), rows to posterior (-y). Stored reversed in both: i runs
# to +x, j to +y, so a reader must reorder the voxels to show the slices as the model was trained on them.
def stored(vol_kji):
    return np.transpose(vol_kji[:, ::-1, ::-1], (2, 1, 0))


affine = np.diag([0.9, 0.9, 3.0, 1.0])
affine[:3, 3] = [-28.35, -30.0, 12.0]
img = nib.Nifti1Image(np.stack([stored(rgb[..., c]) for c in range(3)], axis=3).astype(np.uint8), affine)
img.set_qform(affine, code=1)
img.set_sform(affine, code=1)
nib.save(img, os.path.join(out, 'case.nii.gz'))
truth = nib.Nifti1Image(stored(mask).astype(np.uint8), affine)
nib.save(truth, os.path.join(out, 'truth.nii.gz'))
print(f'{out}: {nx}x{ny}x{nz}, 3 frames')
