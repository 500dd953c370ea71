"""Faces cut from a frame the way the classifier reads them: 48x48 gray."""

import json
from functools import lru_cache

import cv2
import numpy as np

from ..paths import MODELS_DIR

CROP_MARGINS = (0.0, 0.0, 0.0)  # (sides, top, bottom) as fractions of the box: the tuned Haar cascades' box as it is
MARGINS_FILE = MODELS_DIR / "crop-margins.json"


@lru_cache
def measured_margins(detector: str) -> tuple[float, float, float]:
    """The margins that benchmarks/crop_margins.py found the classifier reads best for ``detector``'s boxes
    (models/crop-margins.json); ``CROP_MARGINS`` for a detector it has not measured."""
    try:
        return tuple(json.loads(MARGINS_FILE.read_text())["detectors"][detector]["best_margins"])
    except (OSError, KeyError):
        return CROP_MARGINS


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
