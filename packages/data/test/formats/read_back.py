#!/usr/bin/env python3
"""Reads files mriseg wrote with nibabel or pydicom and reports what those tools see, for the tests to compare:

  read_back.py nifti FILE OUT_PREFIX   -> OUT_PREFIX.json (shape, affine, dtype, header fields) and OUT_PREFIX.f32
                                          (get_fdata(), float32, i fastest)
  read_back.py seg FILE OUT_PREFIX     -> OUT_PREFIX.json (attributes) and OUT_PREFIX.u8 (pixel_array, frames x rows
                                          x columns, one byte a pixel)
"""
import json
import sys

import numpy as np

kind, path, prefix = sys.argv[1:4]
if kind == 'nifti':
    import nibabel as nib

    img = nib.load(path)
    data = img.get_fdata(dtype=np.float64)
    np.asarray(data, dtype='<f4').ravel(order='F').tofile(prefix + '.f32')
    h = img.header
    info = {
        'class': type(img).__name__,
        'shape': list(img.shape),
        'affine': img.affine.tolist(),
        'qform_code': int(h['qform_code']),
        'sform_code': int(h['sform_code']),
        'qform': img.get_qform().tolist(),
        'dtype': str(img.get_data_dtype()),
        'zooms': [float(z) for z in h.get_zooms()],
    }
else:
    import pydicom

    ds = pydicom.dcmread(path)
    px = ds.pixel_array
    if px.ndim == 2:
        px = px[None]
    np.asarray(px, dtype=np.uint8).tofile(prefix + '.u8')
    ref = ds.ReferencedSeriesSequence[0]
    frames = ds.PerFrameFunctionalGroupsSequence
    info = {
        'sop_class': ds.SOPClassUID,
        'modality': ds.Modality,
        'segmentation_type': ds.SegmentationType,
        'frames': int(ds.NumberOfFrames),
        'rows': int(ds.Rows),
        'columns': int(ds.Columns),
        'shape': list(px.shape),
        'study': ds.StudyInstanceUID,
        'frame_of_reference': ds.FrameOfReferenceUID,
        'patient_id': ds.PatientID,
        'referenced_series': ref.SeriesInstanceUID,
        'referenced_instances': [r.ReferencedSOPInstanceUID for r in ref.ReferencedInstanceSequence],
        'frame_sources': [
            f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID for f in frames
        ],
        'frame_positions': [[float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient] for f in frames],
        'segment_labels': [s.SegmentLabel for s in ds.SegmentSequence],
    }
with open(prefix + '.json', 'w') as fh:
    json.dump(info, fh)
