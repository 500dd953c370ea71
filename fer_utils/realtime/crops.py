"""Faces cut from a frame the way the classifier reads them: 48x48 gray."""

import cv2
import numpy as np

# (sides, top, bottom), fractions of libfacedetection's box: the crop that reads most like FER2013's own framing,
# chosen by benchmarks/crop_margins.py on the synthetic scenes (models/crop-margins.json)
CROP_MARGINS = (0.1, -0.1, -0.05)


def crop_face(gray: np.ndarray, box, margins=CROP_MARGINS, size: int = 48) -> np.ndarray:
    """The face in ``box`` widened by ``margins`` (sides, top, bottom), clipped to the frame, resized to size x size."""
    x, y, w, h = box
    side, top, bottom = margins
    x0, x1 = max(int(round(x - side * w)), 0), min(int(round(x + w + side * w)), gray.shape[1])
    y0, y1 = max(int(round(y - top * h)), 0), min(int(round(y + h + bottom * h)), gray.shape[0])
    crop = gray[y0:y1, x0:x1]
    if not crop.size:
        return np.zeros((size, size), np.uint8)
    interpolation = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)
