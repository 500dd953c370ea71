"""The recogniser: find faces, crop, classify (one batch per frame, one view per face) and smooth."""

import os
import time
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..classifier import FERClassifier, SingleView
from ..labels import EMOTIONS
from .align import align_face
from .background import BackgroundSearch
from .crops import CROP_MARGINS, crop_face
from .detect import FaceDetector
from .detectors import DetectorUnavailable, make_detector
from .searches import ENLARGED_HEIGHTS, Enlarged, TrackableDetector
from .sources import is_camera, is_still, to_bgr, to_gray
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
TUNED_HAAR = "haar-tuned"  # FaceDetector: the Haar cascades tuned for tracking, the fallback of the CNN detectors
# The default, by benchmarks/devfaces_detectors.py and devfaces_video.py: on the real photos it finds the most faces
# with the fewest false ones, and with tracking it is about as fast as the tuned Haar cascades on the real videos
DEFAULT_DETECTOR = "libfacedetection"
STAGES = ("gray", "detect", "track", "crop", "classify", "smooth")  # track: following faces between detections


def detector_called(name: str, mode: str = "track", upscale: float | None = None):
    """The detector called ``name`` for the recogniser: ``TUNED_HAAR`` a ``FaceDetector`` (for stills, its finer
    search), another name one of ``fer_utils.realtime.detectors`` made trackable (with ``upscale``: its full searches
    also search the frame enlarged that many times; None: the detector's own), or, where that detector's package is
    missing, the tuned Haar cascades with a printed reason."""
    if name != TUNED_HAAR:
        try:
            return TrackableDetector(make_detector(name), upscale=upscale)
        except DetectorUnavailable as err:
            print(f"face detector: the Haar cascades ({TUNED_HAAR}) instead of {name}: {err}")
    return FaceDetector.for_stills() if mode == "still" else FaceDetector()


class EmotionRecognizer:
    """Find faces, crop, classify (one batch per frame, one view per face) and smooth. ``fps`` is a moving average of
    its own speed and ``last_seconds`` the time the last frame took.

    ``mode`` says how faces are found:
    - "track" (video files and cameras): a ``FaceTracker``, full-frame detections now and then, cheap searches near
      each face in between;
    - "detect": a full-frame detection on every frame (the tracker off);
    - "still" (images and folders of photos): a full-resolution, finer search for faces down to 24 px on each image,
      with no smoothing, since consecutive images are unrelated.
    ``for_source`` picks the mode from the source, and ``for_camera`` makes a live camera's recogniser.

    In "track" mode a face is classified when it is new, and then every ``classify_every`` frames, on a frame where
    the detector itself found it (not the tracker's patch match, whose box is the last one moved, without
    landmarks), and at once where another face has taken its place (``FaceTrack.changed``), whose average then
    starts afresh; in between it keeps its smoothed probabilities. ``smoothing`` is the weight of the past a frame
    (``Smoother``): a face classified three frames after its last classification weighs its past by ``smoothing``
    cubed. ``near_every`` is the tracker's (``FaceTracker``).

    ``detector`` is the name of one of ``fer_utils.realtime.detectors`` (``DEFAULT_DETECTOR`` by default), or
    ``TUNED_HAAR`` or a ``FaceDetector`` for the Haar cascades tuned for tracking, which also stand in, with a printed
    reason, for a detector whose package is missing. A CNN detector reads the colour frame. With ``align``, faces
    with landmarks are aligned to FER2013's framing (``align_face``); the others are cut by their box widened by
    ``margins``. By default both are the detector's own, as benchmarks/crop_margins.py measured them
    (``measured_margins``, ``aligns_better``). ``upscale`` is a named detector's (``detector_called``). While faces
    are followed, a named detector's full searches are enlarged only where one of them is under
    ``ENLARGED_HEIGHTS[1]`` px high, the largest face that the enlarged frame is searched for (``FaceTracker``'s
    ``small_face``): on the real single-person clips of benchmarks/devfaces_video.py that took a video file's loop
    from 26-54 to 102-115 frames/s, with the same recall on the synthetic scenes of benchmarks/realtime_fps.py.

    With ``background``, the tracker's full-frame searches run in a process of their own (``BackgroundSearch``,
    ``FaceTracker``), enlarged as the detector's are, and the loop's own full searches, with no face followed or
    one just lost, at the frame's own size, on one core: the loop does not stop for an enlarged search, and a face
    it finds only enlarged is found a search later. A video file is read the same way every time only with it off
    (False, the default). None turns it on where it can be: a detector named in ``fer_utils.realtime.detectors``
    (not the tuned Haar cascades), "track" mode and two cores or more. ``close()`` ends that process (it also ends
    with the recogniser).
    """

    def __init__(self, classifier, detector: FaceDetector | str = DEFAULT_DETECTOR, smoothing: float = 0.6,
                 margins=None, mode: str = "track", redetect_every: int = 15, classify_every: int = 3,
                 near_every: int = 3, align: bool | None = None, background: bool | None = False,
                 upscale: float | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if classify_every < 1:
            raise ValueError(f"classify_every must be at least 1 frame, got {classify_every}")
        self.classifier = SingleView(classifier) if isinstance(classifier, FERClassifier) else classifier
        self.mode = mode
        self.detector = detector_called(detector, mode, upscale) if isinstance(detector, str) else detector
        named = isinstance(self.detector, TrackableDetector)
        if background is None:
            background = mode == "track" and named and (os.cpu_count() or 1) >= 2
        if background and not (mode == "track" and named):
            raise ValueError("a background search needs mode 'track' and a detector named in "
                             f"fer_utils.realtime.detectors, not mode {mode!r} with {self.detector!r}")
        self.background = None
        if background:
            self.background = BackgroundSearch(partial(Enlarged, self.detector.name, self.detector.upscale))
            self.detector = TrackableDetector(self.detector.detector, self.detector.face_px, upscale=1)  # the loop's
            if hasattr(self.detector.detector, "threads"):
                self.detector.detector.threads = 1  # the other core is the background search's
        small_face = ENLARGED_HEIGHTS[1] if isinstance(self.detector, TrackableDetector) else None
        self.tracker = FaceTracker(self.detector, redetect_every, near_every=near_every,
                                   max_followed=max(5, near_every - 1), background=self.background,
                                   small_face=small_face) if mode == "track" else None
        self.classify_every = classify_every
        self.classified: dict[int, int] = {}  # track id: the frame it was last classified on
        self.frames = 0
        self.smoother = Smoother(0.0 if mode == "still" else smoothing)
        self.margins = getattr(self.detector, "margins", CROP_MARGINS) if margins is None else margins
        self.align = getattr(self.detector, "aligns", False) if align is None else align
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

    def close(self) -> None:
        """Ends the background search's process, if there is one."""
        if self.background is not None:
            self.background.close()

    @classmethod
    def for_camera(cls, classifier, smoothing: float = 0.6, **kwargs) -> "EmotionRecognizer":
        """The recogniser for a live camera: tracking, with a named detector's full searches at the frame's own size
        (``upscale`` 1), in the loop. A camera drops the frames a busy loop misses: fed as a 30 frames/s camera
        feeds it, on the synthetic scenes of benchmarks/realtime_fps.py on two cores, this loop showed 40-42 % of
        the faces of 48 px and more and 29-36 % of 30-48 px where they were, against 6-9 % and 0-1 % for full
        searches enlarged in the loop (which stop it for 0.2-1.5 s), and 36-38 % and 22-24 % for those sent to the
        background (``background``), whose worker takes the loop's second core (docs/experiments.md)."""
        kwargs.setdefault("upscale", 1)
        return cls(classifier, smoothing=smoothing, mode="track", **kwargs)

    @classmethod
    def for_source(cls, classifier, source, smoothing: float = 0.6, **kwargs) -> "EmotionRecognizer":
        """The recogniser for a source: "still" for an image or a folder of images, "track" for a video file, and
        a camera's (``for_camera``) for a camera."""
        if is_camera(source):
            return cls.for_camera(classifier, smoothing, **kwargs)
        return cls(classifier, smoothing=smoothing, mode="still" if is_still(source) else "track", **kwargs)

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] += now - since
        return now

    def _recognise(self, frame) -> list[FaceResult]:
        self.frames += 1
        started = time.perf_counter()
        gray = to_gray(frame)
        searched = self._colour(frame) if isinstance(self.detector, TrackableDetector) else gray  # what it reads
        started = self._lap("gray", started)
        if self.tracker is not None:
            detecting = self.tracker.detect_seconds
            found = self.tracker(gray, searched)
            ids, boxes = [i for i, _ in found], [b for _, b in found]
            self.stage_seconds["detect"] += self.tracker.detect_seconds - detecting
            started = self._lap("track", started + self.tracker.detect_seconds - detecting)
        else:
            ids, boxes = None, [tuple(int(v) for v in b) for b in self.detector.detect(searched)]
            started = self._lap("detect", started)
        if not len(boxes):
            self.smoother.update([], np.zeros((0, len(EMOTIONS)), np.float32), [] if ids is not None else None)
            return []
        changed = self._changed()
        due = self._due(ids, boxes, changed)
        crops = np.stack([self._crop(gray, boxes[i]) for i in due]) if due else None
        getattr(self.detector, "landmarks", {}).clear()  # this frame's; the next frame brings its own
        started = self._lap("crop", started)
        probs = self._kept_probs(ids, len(boxes))
        since = None if ids is None else [self.frames - self.classified.get(id_, self.frames - 1) for id_ in ids]
        if due:
            probs[due] = self.classifier.predict_proba(crops)
            self.classified.update((ids[i], self.frames) for i in due if ids is not None)
        started = self._lap("classify", started)
        ids, smoothed = self.smoother.update(boxes, probs, ids, restart=changed, frames=since)
        known = {t.id for t in self.smoother.tracks}
        self.classified = {id_: frame for id_, frame in self.classified.items() if id_ in known}
        self._lap("smooth", started)
        return [FaceResult(tuple(int(v) for v in box), p, i) for box, p, i in zip(boxes, smoothed, ids)]

    @staticmethod
    def _colour(frame) -> np.ndarray:
        """The frame as uint8 BGR for a CNN detector, which only reads it: a BGR frame as it is, not copied."""
        frame = np.asarray(frame)
        bgr = frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
        return frame if bgr else to_bgr(frame)

    def _changed(self) -> set[int]:
        """Ids of the tracked faces that another face has just taken the place of (``FaceTrack.changed``)."""
        return {t.id for t in self.tracker.tracks if t.changed} if self.tracker is not None else set()

    def _due(self, ids, boxes, changed: set[int]) -> list[int]:
        """Indices of the faces to classify on this frame: all of them without a tracker, else the new faces, those
        another face has just taken the place of, and those seen by the detector ``classify_every`` frames or more
        after their last classification."""
        if ids is None or self.classify_every == 1:
            return list(range(len(boxes)))
        seen = {t.id for t in self.tracker.tracks if t.seen}
        known = {t.id for t in self.smoother.tracks}
        return [i for i, id_ in enumerate(ids) if id_ not in known or id_ not in self.classified or id_ in changed
                or (id_ in seen and self.frames - self.classified[id_] >= self.classify_every)]

    def _kept_probs(self, ids, count: int) -> np.ndarray:
        """The smoothed probabilities of each face so far (a face smoothed with its own average stays as it is)."""
        probs = np.zeros((count, len(EMOTIONS)), np.float32)
        if ids is not None:
            kept = {t.id: t.probs for t in self.smoother.tracks}
            for i, id_ in enumerate(ids):
                if id_ in kept:
                    probs[i] = kept[id_]
        return probs

    def _crop(self, gray: np.ndarray, box) -> np.ndarray:
        """The face aligned by its landmarks where the detector gave them and ``align`` is on, else cut by its box."""
        landmarks = getattr(self.detector, "landmarks", {}).get(tuple(box)) if self.align else None
        return crop_face(gray, box, self.margins) if landmarks is None else align_face(gray, landmarks)
