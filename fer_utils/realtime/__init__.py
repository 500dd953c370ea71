"""Live emotion recognition on frames: Haar face detection, FER2013-style crops, one batched classification per
frame, temporal smoothing across frames, and an overlay. Sources: a webcam index, a video, an image or a folder.

One concern a module: ``sources`` (frames in), ``detect`` (faces found), ``crops`` (faces cut out), ``tracking``
(faces followed and smoothed), ``recognizer`` (all of it per frame) and ``drawing`` (the overlay)."""

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
