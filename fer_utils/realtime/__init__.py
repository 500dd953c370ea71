"""Live emotion recognition on frames: faces found (a CNN detector by default, or Haar cascades), cut or aligned the
way FER2013 frames them, classified in one batch per frame, followed across frames and smoothed, and drawn. Sources:
a webcam index, a video, an image or a folder.

One concern a module: ``sources`` (frames in), ``detectors`` and ``detect`` (faces found: the CNN detectors and the
Haar cascades), ``searches`` (how the tracker searches a named detector: whole frames enlarged, near a face),
``crops``, ``align`` and ``calibrate`` (faces cut out), ``tracking`` (faces followed and smoothed), ``background``
(full-frame searches in a process of their own, for live cameras), ``recognizer`` (all of it per frame) and
``drawing`` (the overlay)."""

from .crops import CROP_MARGINS, crop_face
from .detect import STRICT_STAGES, VERIFY_STAGES, FaceDetector, iou
from .drawing import draw
from .recognizer import MODES, EmotionRecognizer, FaceResult
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
from .tracking import FaceTrack, FaceTracker, Smoother, Track

__all__ = ["CROP_MARGINS", "MODES", "STRICT_STAGES", "VERIFY_STAGES", "VIDEO_SUFFIXES", "EmotionRecognizer",
           "FaceDetector", "FaceResult", "FaceTrack", "FaceTracker", "FrameError", "Smoother", "SourceError", "Track",
           "camera_error", "crop_face", "draw", "frame_rate", "frames", "iou", "is_still", "to_bgr", "to_gray"]
