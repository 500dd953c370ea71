"""Faces cut from a frame the way the classifier reads them: 48x48 gray."""

import json
from functools import lru_cache

import cv2
import numpy as np

from ..paths import MODELS_DIR

CROP_MARGINS = (0.0, 0.0, 0.0)  # (sides, top, bottom) as fractions of the box: the tuned Haar cascades' box as it is
MARGINS_FILE = MODELS_DIR / "crop-margins.json"


@lru_cache
def _measured(detector: str) -> dict:
    try:
        return json.loads(MARGINS_FILE.read_text())["detectors"][detector]
    except (OSError, KeyError):
        return {}


def measured_margins(detector: str) -> tuple[float, float, float]:
    """The margins that benchmarks/crop_margins.py found the classifier reads best for ``detector``'s boxes
    (models/crop-margins.json); ``CROP_MARGINS`` for a detector it has not measured."""
    return tuple(_measured(detector).get("best_margins", CROP_MARGINS))


def aligns_better(detector: str) -> bool:
    """Whether the classifier read ``detector``'s faces better aligned by their eyes than cut by its margins, in
    benchmarks/crop_margins.py; True for a detector with landmarks it has not measured."""
    measured = _measured(detector)
    return measured.get("label_accuracy_aligned", 1.0) >= measured.get("label_accuracy_best_margins", 0.0)


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
