"""The recogniser: find faces, crop, classify (one batch per frame, one view per face) and smooth."""

import time
from dataclasses import dataclass

import numpy as np

from ..classifier import FERClassifier, SingleView
from ..labels import EMOTIONS
from .align import align_face
from .crops import CROP_MARGINS, crop_face
from .detect import FaceDetector
from .detectors import TrackableDetector, detector_or_haar
from .sources import is_still, to_gray
from .tracking import FaceTracker, Smoother


@dataclass
class FaceResult:
    box: tuple
    probs: np.ndarray
    track: int

    @property
    def label(self) -> str:
        return EMOTIONS[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))


MODES = ("track", "detect", "still")
TUNED_HAAR = "haar-tuned"  # the default: FaceDetector, the Haar cascades tuned for tracking
STAGES = ("gray", "detect", "track", "crop", "classify", "smooth")  # track: following faces between detections


class EmotionRecognizer:
    """Find faces, crop, classify (one batch per frame, one view per face) and smooth. ``fps`` is a moving average of
    its own speed and ``last_seconds`` the time the last frame took.

    ``mode`` says how faces are found:
    - "track" (video files and cameras): a ``FaceTracker``, full-frame detections now and then, cheap searches near
      each face in between;
    - "detect": a full-frame detection on every frame (the tracker off);
    - "still" (images and folders of photos): a full-resolution, finer search for faces down to 24 px on each image,
      with no smoothing, since consecutive images are unrelated.
    ``for_source`` picks the mode from the source.

    ``detector`` is a ``FaceDetector`` (the tuned Haar cascades, the default, also called ``TUNED_HAAR``), or the
    name of one of ``fer_utils.realtime.detectors`` (Haar instead, with a printed reason, where its package is
    missing). Faces
    with landmarks are aligned to FER2013's framing (``align``); the others are cropped by their box.
    """

    def __init__(self, classifier, detector: FaceDetector | str | None = None, smoothing: float = 0.6,
                 margins=CROP_MARGINS, mode: str = "track", redetect_every: int = 15):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        self.classifier = SingleView(classifier) if isinstance(classifier, FERClassifier) else classifier
        self.mode = mode
        if detector == TUNED_HAAR:
            detector = None
        elif isinstance(detector, str):
            detector = TrackableDetector(detector_or_haar(detector))
        self.detector = detector or (FaceDetector.for_stills() if mode == "still" else FaceDetector())
        self.tracker = FaceTracker(self.detector, redetect_every) if mode == "track" else None
        self.smoother = Smoother(0.0 if mode == "still" else smoothing)
        self.margins = margins
        self.fps: float | None = None
        self.last_seconds = 0.0
        self.stage_seconds = dict.fromkeys(STAGES, 0.0)  # summed over the frames, for a profile of where time goes

    def __call__(self, frame) -> list[FaceResult]:
        started = time.perf_counter()
        results = self._recognise(frame)
        self.last_seconds = max(time.perf_counter() - started, 1e-6)
        rate = 1 / self.last_seconds
        self.fps = rate if self.fps is None else 0.9 * self.fps + 0.1 * rate
        return results

    @classmethod
    def for_source(cls, classifier, source, smoothing: float = 0.6, **kwargs) -> "EmotionRecognizer":
        """The recogniser for a source: "still" for an image or a folder of images, "track" for a video or camera."""
        return cls(classifier, smoothing=smoothing, mode="still" if is_still(source) else "track", **kwargs)

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] += now - since
        return now

    def _recognise(self, frame) -> list[FaceResult]:
        started = time.perf_counter()
        gray = to_gray(frame)
        started = self._lap("gray", started)
        if self.tracker is not None:
            detecting = self.tracker.detect_seconds
            found = self.tracker(gray)
            ids, boxes = [i for i, _ in found], [b for _, b in found]
            self.stage_seconds["detect"] += self.tracker.detect_seconds - detecting
            started = self._lap("track", started + self.tracker.detect_seconds - detecting)
        else:
            ids, boxes = None, [tuple(int(v) for v in b) for b in self.detector.detect(gray)]
            started = self._lap("detect", started)
        if not len(boxes):
            self.smoother.update([], np.zeros((0, len(EMOTIONS)), np.float32), [] if ids is not None else None)
            return []
        crops = np.stack([self._crop(gray, box) for box in boxes])
        getattr(self.detector, "landmarks", {}).clear()  # this frame's; the next frame brings its own
        started = self._lap("crop", started)
        probs = self.classifier.predict_proba(crops)
        started = self._lap("classify", started)
        ids, smoothed = self.smoother.update(boxes, probs, ids)
        self._lap("smooth", started)
        return [FaceResult(tuple(int(v) for v in box), p, i) for box, p, i in zip(boxes, smoothed, ids)]

    def _crop(self, gray: np.ndarray, box) -> np.ndarray:
        """The face aligned by its landmarks where the detector gave them, else cut by its box."""
        landmarks = getattr(self.detector, "landmarks", {}).get(tuple(box))
        return crop_face(gray, box, self.margins) if landmarks is None else align_face(gray, landmarks)
