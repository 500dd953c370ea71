"""The demo's loop: ``EmotionRecognizer(classifier)(frame)`` gives each face's box, smoothed probabilities and id.

One loop serves cameras, video files and photos, read top to bottom in ``EmotionRecognizer.__call__``; how it was
chosen, mechanism by mechanism, is in docs/realtime.md."""

import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..labels import EMOTIONS
from ..model.classifier import FERClassifier, SingleView
from .crops import CROP_MARGINS, crop_face
from .detectors import (
    DEFAULT_DETECTOR,
    iou,
    make_detector,
    neighbourhood,
    search,
    search_near,
    shrink,
)
from .sources import is_camera, is_still, to_gray

SMOOTHING = 0.6  # the past's weight a frame in the moving average of a face's probabilities (docs/realtime.md)
MODES = ("track", "still")  # video files and cameras; photos (no smoothing, each searched whole): not tuned
STAGES = ("gray", "detect", "follow", "classify")  # where a frame's time goes (``stage_seconds``)


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


@dataclass
class Face:
    """A face the loop holds: its box, its look when the detector last saw it (a 24x24 gray patch), frames followed
    by that patch since, its smoothed probabilities and the frame they were last classified on."""

    id: int
    box: tuple
    patch: np.ndarray
    followed: int = 0
    probs: np.ndarray | None = None
    classified: int = 0


def patch_of(gray: np.ndarray, box, side: int = 24) -> np.ndarray:
    """The face in ``box`` as a ``side`` x ``side`` gray patch."""
    x, y, w, h = box
    crop = gray[max(y, 0):y + h, max(x, 0):x + w]
    return shrink(crop, side / crop.shape[1], side / crop.shape[0]) if crop.size else np.zeros((side, side), np.uint8)


def match_patch(gray: np.ndarray, face: Face, min_match: float = 0.7) -> tuple | None:
    """Where ``face``'s patch matches best in its box's neighbourhood (normalised correlation ``min_match`` or more,
    and about as textured: a smooth wall matches any shading), its box moved there; None elsewhere."""
    x, y, w, h = face.box
    side = face.patch.shape[0]
    x0, y0, x1, y1 = neighbourhood(gray.shape, face.box)
    sx, sy = side / max(w, 1), side / max(h, 1)
    if x1 - x0 < 2 or y1 - y0 < 2 or face.patch.std() == 0:
        return None
    window = shrink(gray[y0:y1, x0:x1], sx, sy)
    if window.shape[0] < side or window.shape[1] < side:
        return None
    _, best, _, (mx, my) = cv2.minMaxLoc(cv2.matchTemplate(window, face.patch, cv2.TM_CCOEFF_NORMED))
    if best < min_match or window[my:my + side, mx:mx + side].std() < 0.5 * face.patch.std():
        return None
    return int(round(x0 + mx / sx)), int(round(y0 + my / sy)), w, h


class EmotionRecognizer:
    """Faces found, followed, classified and smoothed, frame after frame.

    Each frame, every face held is followed (its patch matched near its box, or, every ``near_every`` frames and where
    that fails, the detector run there) and dropped where it is not found. The whole frame is searched for new faces
    every ``search_every`` frames, while no face is held, and after a face was lost. New faces and those classified
    ``classify_every`` frames ago go to the classifier in one batch, and each face's probabilities are a moving average
    that weighs the past by ``smoothing`` a frame.

    ``mode`` "track" is for video files and cameras; "still" for photos, which are unrelated to one another: a whole
    search of each, enlarged, and no smoothing. ``upscale`` enlarges the whole-frame searches too, for faces under
    about 48 px, at about 5x their cost, where the frame has no face or a small one (``detectors.search``); with
    ``search_width``, a wider frame's are made on it shrunk to that width. ``detector`` names one of
    ``detectors.DETECTORS``, or is a callable giving ``Faces``. The defaults are docs/realtime.md's: a constant named
    there was chosen by a measurement, and one not named is realtime v3's, which no mechanism of the ablation changed.
    """

    def __init__(self, classifier, detector=DEFAULT_DETECTOR, mode: str = "track", smoothing: float = SMOOTHING,
                 search_every: int = 15, classify_every: int = 3, near_every: int = 3, upscale: float = 2,
                 search_width: int | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if min(search_every, classify_every, near_every) < 1 or upscale < 1:
            raise ValueError(f"search_every, classify_every and near_every must be at least 1 frame and upscale at "
                             f"least 1; got {search_every}, {classify_every}, {near_every} and {upscale}")
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.classifier = SingleView(classifier) if isinstance(classifier, FERClassifier) else classifier
        self.detector = make_detector(detector) if isinstance(detector, str) else detector
        self.mode, self.smoothing, self.upscale = mode, 0.0 if mode == "still" else smoothing, upscale
        self.search_every, self.classify_every = (1, 1) if mode == "still" else (search_every, classify_every)
        self.near_every, self.search_width = near_every, search_width
        self.faces: list[Face] = []
        self.frames = self.next_id = 0
        self.lost = False  # a face was lost on the last frame
        self.fps: float | None = None  # a moving average of the loop's own speed
        self.last_seconds = 0.0
        self.stage_seconds = dict.fromkeys(STAGES, 0.0)  # summed over the frames

    @classmethod
    def for_camera(cls, classifier, smoothing: float = SMOOTHING, **kwargs) -> "EmotionRecognizer":
        """A live camera's recogniser, whose whole-frame searches are never enlarged, and made on frames wider than
        800 px shrunk to 800 px: a camera's frames do not wait for a slow search, and the boxes on screen stay on
        faces that have gone until it ends (800 px: benchmarks/realtime_fps.py's camera feed, docs/realtime.md)."""
        return cls(classifier, smoothing=smoothing, **{"upscale": 1, "search_width": 800, **kwargs})

    @classmethod
    def for_source(cls, classifier, source, smoothing: float = SMOOTHING, **kwargs) -> "EmotionRecognizer":
        """The recogniser for a camera index, a video file, or an image or folder of images ("still")."""
        if is_camera(source):
            return cls.for_camera(classifier, smoothing, **kwargs)
        return cls(classifier, smoothing=smoothing, mode="still" if is_still(source) else "track", **kwargs)

    def __call__(self, frame) -> list[FaceResult]:
        begun = started = time.perf_counter()
        self.frames += 1
        if self.mode == "still":
            self.faces = []  # photos are unrelated to one another
        gray = to_gray(frame)
        frame = frame if np.asarray(frame).dtype == np.uint8 else gray  # a detector reads uint8 colour or gray
        started = self._lap("gray", started)
        # a whole-frame search with no face held, after a face was lost, and every search_every frames; decided
        # before following, so that a frame whose faces all leave is shown without them at once
        search_due = not self.faces or self.lost or (self.frames - 1) % self.search_every == 0

        # each face held followed by its patch, or searched for near its box every near_every frames and where the
        # patch does not match; moved there, or dropped where neither finds it. Of two faces that meet, the newer goes
        kept = []
        for face in self.faces:
            box = match_patch(gray, face) if face.followed < self.near_every - 1 else None
            face.followed += 1
            if box is None:
                box = search_near(self.detector, frame, face.box)
                if box is not None:
                    face.patch, face.followed = patch_of(gray, box), 0
            if box is not None and not any(iou(box, other.box) > 0.5 for other in kept):
                face.box = box
                kept.append(face)
        self.lost = len(kept) < len(self.faces)
        self.faces = kept
        started = self._lap("follow", started)

        # the boxes of a whole-frame search that overlap no face held become new faces
        if search_due:
            found = search(self.detector, frame, self.upscale, self.search_width, [face.box for face in self.faces])
            for box in (tuple(int(round(v)) for v in box) for box in found.boxes):
                if not any(iou(box, face.box) >= 0.3 for face in self.faces):
                    self.faces.append(Face(self.next_id, box, patch_of(gray, box)))
                    self.next_id += 1
        started = self._lap("detect", started)

        # new faces, and those classified classify_every frames ago, in one batch, each averaged into its past
        due = [f for f in self.faces if f.probs is None or self.frames - f.classified >= self.classify_every]
        if due:
            probs = self.classifier.predict_proba(np.stack([crop_face(gray, f.box, CROP_MARGINS) for f in due]))
            for face, p in zip(due, probs):
                past = 0.0 if face.probs is None else self.smoothing ** (self.frames - face.classified)
                face.probs = p if face.probs is None else past * face.probs + (1 - past) * p
                face.classified = self.frames
        self._lap("classify", started)
        self.last_seconds = max(time.perf_counter() - begun, 1e-6)
        self.fps = 1 / self.last_seconds if self.fps is None else 0.9 * self.fps + 0.1 / self.last_seconds
        return [FaceResult(face.box, face.probs, face.id) for face in self.faces]

    def reset(self) -> None:
        """Forget the faces held (a camera stopped, a new video)."""
        self.faces = []

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] += now - since
        return now
