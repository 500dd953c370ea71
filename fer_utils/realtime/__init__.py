"""Stage 5, realtime: live emotion recognition on frames. One concern a module, in the order a frame meets them:
``sources`` (frames in: a camera, a video, an image or a folder), ``detectors`` (faces found), ``crops`` (faces cut
out), ``recognizer`` (the loop: faces followed, classified and smoothed) and ``drawing`` (the overlay); then what uses
the loop: ``video`` (annotated videos), ``footage`` (synthetic scenes with ground truth), ``widgets`` (the notebook's
cameras) and ``predict`` (the command line). Imports the base modules, ``data`` and ``model``."""

from .crops import CROP_MARGINS, crop_face
from .detectors import DEFAULT_DETECTOR, DETECTORS, iou, make_detector
from .drawing import draw
from .recognizer import MODES, SMOOTHING, EmotionRecognizer, FaceResult
from .sources import (
    VIDEO_SUFFIXES,
    FrameError,
    SourceError,
    camera_error,
    frame_rate,
    frames,
    is_still,
    to_bgr,
    to_gray,
)

__all__ = ["CROP_MARGINS", "DEFAULT_DETECTOR", "DETECTORS", "MODES", "SMOOTHING", "VIDEO_SUFFIXES", "EmotionRecognizer",
    "FaceResult", "FrameError", "SourceError", "camera_error", "crop_face", "draw", "frame_rate", "frames",
    "iou", "is_still", "make_detector", "to_bgr", "to_gray"]
