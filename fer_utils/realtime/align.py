"""Faces cut the way FER2013 frames them: a similarity transform (rotation, scale, shift) that puts a detected face's
eyes where FER2013's faces have them, level, then 48x48 gray. Where FER2013 has its landmarks was measured on its
training images (``fer_utils.realtime.calibrate``) and is stored in models/fer2013-landmarks.json."""

import json
from functools import lru_cache

import cv2
import numpy as np

from ..paths import MODELS_DIR

LANDMARKS_FILE = MODELS_DIR / "fer2013-landmarks.json"


@lru_cache(maxsize=1)
def fer2013_landmarks() -> np.ndarray:
    """The median five landmarks (5,2) of FER2013's training faces, in 48x48 pixel coordinates."""
    if not LANDMARKS_FILE.is_file():
        raise FileNotFoundError(f"{LANDMARKS_FILE} is missing: `python -m fer_utils.realtime.calibrate` measures it")
    return np.asarray(json.loads(LANDMARKS_FILE.read_text())["landmarks"], float)


def eye_transform(eyes: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform that maps the two eyes (left, right: (2,2) x, y) onto ``targets`` (2,2)."""
    source, target = eyes[1] - eyes[0], targets[1] - targets[0]
    scale = np.hypot(*target) / max(np.hypot(*source), 1e-6)
    angle = np.arctan2(target[1], target[0]) - np.arctan2(source[1], source[0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.column_stack([rotation, targets[0] - rotation @ eyes[0]])


def align_face(gray: np.ndarray, landmarks: np.ndarray, targets: np.ndarray | None = None,
               size: int = 48) -> np.ndarray:
    """The face with ``landmarks`` (5,2) warped so that its eyes land on the ``targets`` (FER2013's by default) of a
    ``size`` x ``size`` crop. A face larger than the crop is first shrunk to the crop's scale with area averaging,
    so that the warp only turns and places it: a warp that shrinks aliases, and one that enlarges blurs."""
    targets = fer2013_landmarks() if targets is None else np.asarray(targets, float)
    targets = targets[:2] * size / 48
    eyes = np.asarray(landmarks, float)[:2]
    shrink = np.hypot(*(targets[1] - targets[0])) / max(np.hypot(*(eyes[1] - eyes[0])), 1e-6)
    if shrink < 1:  # shrink the neighbourhood of the face to the crop's scale first
        reach = 3 * np.hypot(*(eyes[1] - eyes[0]))
        x0, y0 = np.maximum(eyes.mean(0) - reach, 0).astype(int)
        x1, y1 = np.minimum(eyes.mean(0) + reach, [gray.shape[1], gray.shape[0]]).astype(int)
        region = gray[y0:y1, x0:x1]
        if region.size:
            gray = cv2.resize(region, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
            factors = np.array([gray.shape[1] / region.shape[1], gray.shape[0] / region.shape[0]])
            eyes = (eyes - [x0, y0] + 0.5) * factors - 0.5  # pixel centres, as cv2.resize maps them
    matrix = eye_transform(eyes, targets)
    return cv2.warpAffine(gray, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
