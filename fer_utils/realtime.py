"""Live emotion recognition on frames: Haar face detection, FER2013-style crops, one batched classification per
frame, temporal smoothing across frames, and an overlay. Sources: a webcam index, a video, an image or a folder."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .classifier import FERClassifier, SingleView
from .data import IMAGE_SUFFIXES
from .labels import EMOTIONS

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")

# FER2013 crops are tighter at the top and wider at the sides than a Haar box. These margins (fractions of the Haar
# box, left/right, top, bottom) were chosen by measuring classification accuracy on Haar crops of synthetic frames
# against the dataset's own crops (benchmarks/realtime_fps.py --margins).
CROP_MARGINS = (0.0, 0.0, 0.0)


class FrameError(ValueError):
    """A frame that is not an image: it must be (H,W), (H,W,1), (H,W,3) BGR or (H,W,4) BGRA, at least 1x1."""


class SourceError(RuntimeError):
    """A source that cannot be opened; the message lists the usual causes."""


def to_gray(frame) -> np.ndarray:
    """A uint8 grayscale copy of a gray, BGR or BGRA frame (uint8, uint16, bool or float in [0, 1])."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)) or min(frame.shape[:2]) < 1:
        raise FrameError(f"frame of shape {frame.shape}: expected (H,W), (H,W,1), (H,W,3) BGR or (H,W,4) BGRA")
    if frame.dtype == np.uint8:
        pass
    elif frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype == np.bool_:
        frame = frame.astype(np.uint8) * 255
    elif np.issubdtype(frame.dtype, np.floating):
        frame = (np.nan_to_num(frame, nan=0.0, posinf=1.0, neginf=0.0).clip(0, 1) * 255).round().astype(np.uint8)
    else:
        raise FrameError(f"frame of dtype {frame.dtype}: expected uint8, uint16, bool or float in [0, 1]")
    if frame.ndim == 3:
        frame = cv2.cvtColor(np.ascontiguousarray(frame),
                             cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    return np.ascontiguousarray(frame)


STRICT_STAGES = (("frontalface_alt2", 3), ("frontalface_default", 3))
VERIFY_STAGES = (("frontalface_alt", 2),)


class FaceDetector:
    """OpenCV's Haar face cascades, run on a copy of the frame scaled so that the smallest face looked for
    (``min_face`` pixels) just fills the cascades' 24-px window: a smaller ``min_face`` finds smaller faces and costs
    more time.

    ``stages`` are (cascade, min_neighbors) pairs tried in order until one finds a face. A full-frame search
    (``detect``) uses the strict stages, and keeps only the faces that a second cascade (``verify_stages``) confirms
    near the box. The search near a face already tracked (``detect_near``) is limited to sizes near it. A
    ``profileface`` stage, where one is given, also runs on the mirror image.
    """

    WINDOW = 24  # the cascades' smallest window, in pixels

    # Measured on 90 frames of textured footage (benchmarks/realtime_fps.py's scenes): without confirmation a
    # full-frame search finds 85 % of the faces of 48 px and more, with 0.39 false faces a frame; confirming each
    # candidate with frontalface_alt (minNeighbors 2) near its box keeps 80 % and leaves no false face, for about
    # 1 ms a candidate. A tracker would keep following a false face, so the confirmation is worth its recall. The
    # search near a tracked face uses the strict stages only: where they miss, the tracker matches the face's patch.
    def __init__(self, min_face: int = 30, scale_factor: float = 1.1, stages=STRICT_STAGES,
                 near_stages=STRICT_STAGES, verify_stages=VERIFY_STAGES):
        if not hasattr(cv2, "CascadeClassifier"):
            raise RuntimeError("this OpenCV has no CascadeClassifier (OpenCV 5 dropped it): "
                               "pip install 'opencv-python<5'")
        if min_face < 1:
            raise ValueError(f"min_face must be at least 1 pixel, got {min_face}")
        cascades = {}
        for name, _ in (*stages, *near_stages, *verify_stages):
            path = Path(cv2.data.haarcascades) / f"haarcascade_{name}.xml"
            if name not in cascades:
                cascades[name] = cv2.CascadeClassifier(str(path))
                if cascades[name].empty():
                    raise RuntimeError(f"cannot load the Haar cascade {path}; reinstall opencv-python (<5)")
        self.stages = [(name, cascades[name], neighbors) for name, neighbors in stages]
        self.near_stages = [(name, cascades[name], neighbors) for name, neighbors in near_stages]
        self.verify_stages = [(name, cascades[name], neighbors) for name, neighbors in verify_stages]
        self.min_face, self.scale_factor = min_face, scale_factor

    @classmethod
    def for_stills(cls) -> "FaceDetector":
        """A full-resolution, finer multi-scale search for photos: faces down to 24 px, at any cost in time."""
        return cls(min_face=cls.WINDOW, scale_factor=1.05)

    def _scan(self, image: np.ndarray, stages, min_size: int, max_size: int = 0) -> np.ndarray:
        """Boxes (N,4) float in ``image`` coordinates from the first stage that finds any."""
        sizes = {"minSize": (min_size, min_size), "maxSize": (max_size, max_size) if max_size else (0, 0)}
        for name, cascade, neighbors in stages:
            found = cascade.detectMultiScale(image, scaleFactor=self.scale_factor, minNeighbors=neighbors, **sizes)
            boxes = np.asarray(found, float).reshape(-1, 4)
            if not len(boxes) and name == "profileface":
                mirrored = cascade.detectMultiScale(np.ascontiguousarray(image[:, ::-1]), scaleFactor=self.scale_factor,
                                                    minNeighbors=neighbors, **sizes)
                boxes = np.asarray(mirrored, float).reshape(-1, 4)
                boxes[:, 0] = image.shape[1] - boxes[:, 0] - boxes[:, 2]
            if len(boxes):
                return boxes
        return np.zeros((0, 4))

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes (N,4) as int (x, y, w, h) in the coordinates of ``gray``, largest first."""
        scale = min(1.0, self.WINDOW / self.min_face)
        small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
        if min(small.shape) < self.WINDOW:
            return np.zeros((0, 4), int)
        found = self._scan(small, self.stages, self.WINDOW)
        boxes = [tuple(int(v) for v in np.round(box / scale)) for box in found]
        if self.verify_stages:
            boxes = [box for box in boxes if self.detect_near(gray, box, 0.25, stages=self.verify_stages)]
        boxes = np.array(boxes, int).reshape(-1, 4)
        return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3])]

    def detect_near(self, gray: np.ndarray, box, margin: float = 0.5, face_px: int = 64, growth: float = 1.25,
                    stages=None) -> tuple | None:
        """The face that overlaps ``box`` most, inside that box widened by ``margin`` on each side, searched at the
        scale where the face is about ``face_px`` pixels and only for sizes within a factor ``growth`` of it (so that
        a box cannot drift onto part of the face), which costs a fraction of a full search. None if no face is there.
        ``stages`` default to the near stages."""
        x, y, w, h = box
        x0, y0 = max(int(x - margin * w), 0), max(int(y - margin * h), 0)
        x1, y1 = min(int(x + w + margin * w), gray.shape[1]), min(int(y + h + margin * h), gray.shape[0])
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        scale = min(face_px / max(w, h), 1.0)
        window = gray[y0:y1, x0:x1]
        if scale < 1:
            window = cv2.resize(window, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        size = max(w, h) * scale
        min_size = max(self.WINDOW, int(size / growth))
        if min(window.shape) < min_size:
            return None
        boxes = self._scan(window, stages or self.near_stages, min_size, int(size * growth) + 1)
        if not len(boxes):
            return None
        boxes = boxes / scale + [x0, y0, 0, 0]
        bx, by, bw, bh = max(boxes, key=lambda b: iou(b, box))
        return int(round(bx)), int(round(by)), int(round(bw)), int(round(bh))


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


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    inter_w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    inter_h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = inter_w * inter_h
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


@dataclass
class Track:
    id: int
    box: tuple
    probs: np.ndarray
    missed: int = 0


@dataclass
class Smoother:
    """Matches faces across frames by box overlap and keeps an exponential moving average of their probabilities.

    ``strength`` in [0, 1): the weight of the past; 0 turns smoothing off.
    """

    strength: float = 0.6
    min_iou: float = 0.3
    max_missed: int = 5
    tracks: list = field(default_factory=list)
    next_id: int = 0

    def __post_init__(self):
        if not 0 <= self.strength < 1:
            raise ValueError(f"smoothing strength must be in [0, 1), got {self.strength}")

    def update(self, boxes, probs: np.ndarray, ids=None) -> tuple[list[int], np.ndarray]:
        """Smoothed probabilities for this frame's faces, and the track id of each. Faces are matched to the past by
        ``ids`` when a tracker gives them, else by box overlap."""
        free = list(self.tracks)
        given, ids, out = ids, [], np.array(probs, np.float32, copy=True)
        for i, box in enumerate(boxes):
            if given is not None:
                best = next((t for t in free if t.id == given[i]), None)
            else:
                best = max(free, key=lambda t: iou(t.box, box), default=None)
                best = best if best is not None and iou(best.box, box) >= self.min_iou else None
            if best is not None:
                free.remove(best)
                best.probs = self.strength * best.probs + (1 - self.strength) * out[i]
                best.box, best.missed = tuple(box), 0
                track = best
            else:
                track = Track(self.next_id if given is None else given[i], tuple(box), out[i].copy())
                self.next_id += 1
                self.tracks.append(track)
            out[i] = track.probs
            ids.append(track.id)
        for track in free:
            track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return ids, out


@dataclass
class FaceTrack:
    """A face followed by ``FaceTracker``: its box, and its look (a small gray patch) when the detector last saw it."""

    id: int
    box: tuple
    patch: np.ndarray
    missed: int = 0
    followed: int = 0  # frames in a row kept by the patch alone, without the detector


class FaceTracker:
    """Follows faces in video between full-frame detections.

    A full-frame detection runs every ``redetect_every`` frames while faces are tracked (to find new ones), every
    ``idle_every`` frames while none is, and on the frame after a tracked face was lost. On the other frames each face
    is searched for only near its last box (``FaceDetector.detect_near``), which costs a small fraction of a full
    search. Where the cascade misses a face it just saw (it misses about one frame in eight), the face's patch is
    matched in that window instead, for at most ``max_followed`` frames in a row, and only where it still matches
    (normalised correlation at least ``min_match``), so a face that has left is not followed onto the background.
    A face neither found nor matched for more than ``max_missed`` frames is dropped. Calling the tracker with a frame
    gives (id, box) for each face seen in it.
    """

    PATCH = 24  # side of the patch a face is matched by, in pixels

    def __init__(self, detector: FaceDetector | None = None, redetect_every: int = 15, idle_every: int = 3,
                 max_missed: int = 2, max_followed: int = 5, min_match: float = 0.7, min_iou: float = 0.3):
        if redetect_every < 1 or idle_every < 1:
            raise ValueError(f"redetect_every and idle_every must be at least 1, got {redetect_every}, {idle_every}")
        self.detector = detector or FaceDetector()
        self.redetect_every, self.idle_every = redetect_every, idle_every
        self.max_missed, self.max_followed, self.min_match, self.min_iou = max_missed, max_followed, min_match, min_iou
        self.tracks: list[FaceTrack] = []
        self.next_id = self.full_detections = 0
        self.since_full: int | None = None  # frames since the last full detection; None before the first
        self.lost = False

    def __call__(self, gray: np.ndarray) -> list[tuple[int, tuple]]:
        every = self.redetect_every if self.tracks else self.idle_every
        full = self.since_full is None or self.lost or self.since_full + 1 >= every
        self.since_full = 0 if full else self.since_full + 1
        unmatched = list(self.tracks)
        if full:
            self.full_detections += 1
            for box in self.detector.detect(gray):
                box = tuple(int(v) for v in box)
                best = max(unmatched, key=lambda t: iou(t.box, box), default=None)
                if best is not None and iou(best.box, box) >= self.min_iou:
                    unmatched.remove(best)
                    self._seen(best, gray, box)
                elif not any(iou(t.box, box) >= self.min_iou for t in self.tracks):
                    self.tracks.append(FaceTrack(self.next_id, box, self._patch(gray, box)))
                    self.next_id += 1
        self.lost = False
        for track in unmatched:
            box = self.detector.detect_near(gray, track.box)
            if box is not None:
                self._seen(track, gray, box)
                continue
            box = self._match_patch(gray, track) if track.followed < self.max_followed else None
            if box is not None:
                track.box, track.missed, track.followed = box, 0, track.followed + 1
            else:
                track.missed += 1
                self.lost = True
        self._drop_duplicates()
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return [(t.id, t.box) for t in self.tracks if t.missed == 0]

    def _patch(self, gray: np.ndarray, box) -> np.ndarray:
        x, y, w, h = box
        crop = gray[max(y, 0):y + h, max(x, 0):x + w]
        return cv2.resize(crop, (self.PATCH, self.PATCH), interpolation=cv2.INTER_AREA) if crop.size else crop

    def _seen(self, track: FaceTrack, gray: np.ndarray, box) -> None:
        track.box, track.missed, track.followed, track.patch = box, 0, 0, self._patch(gray, box)

    def _match_patch(self, gray: np.ndarray, track: FaceTrack, margin: float = 0.5) -> tuple | None:
        """Where the track's patch matches best near its last box, if it matches well enough."""
        x, y, w, h = track.box
        if not track.patch.size or min(w, h) < 2:
            return None
        x0, y0 = max(int(x - margin * w), 0), max(int(y - margin * h), 0)
        x1, y1 = min(int(x + w + margin * w), gray.shape[1]), min(int(y + h + margin * h), gray.shape[0])
        sx, sy = self.PATCH / w, self.PATCH / h
        window = cv2.resize(gray[y0:y1, x0:x1], None, fx=sx, fy=sy, interpolation=cv2.INTER_AREA)
        if window.shape[0] < self.PATCH or window.shape[1] < self.PATCH:
            return None
        scores = cv2.matchTemplate(window, track.patch, cv2.TM_CCOEFF_NORMED)
        _, best, _, (mx, my) = cv2.minMaxLoc(scores)
        found = window[my:my + self.PATCH, mx:mx + self.PATCH]
        if best < self.min_match or found.std() < 0.5 * track.patch.std():  # a smooth wall matches any shading
            return None
        return int(round(x0 + mx / sx)), int(round(y0 + my / sy)), w, h

    def _drop_duplicates(self) -> None:
        """Two tracks that ended on the same face: the newer one goes."""
        kept = []
        for track in sorted(self.tracks, key=lambda t: t.id):
            if not any(t.missed == 0 and track.missed == 0 and iou(t.box, track.box) > 0.5 for t in kept):
                kept.append(track)
        self.tracks = kept


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
    """

    def __init__(self, classifier, detector: FaceDetector | None = None, smoothing: float = 0.6,
                 margins=CROP_MARGINS, mode: str = "track", redetect_every: int = 15):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        self.classifier = SingleView(classifier) if isinstance(classifier, FERClassifier) else classifier
        self.mode = mode
        self.detector = detector or (FaceDetector.for_stills() if mode == "still" else FaceDetector())
        self.tracker = FaceTracker(self.detector, redetect_every) if mode == "track" else None
        self.smoother = Smoother(0.0 if mode == "still" else smoothing)
        self.margins = margins
        self.fps: float | None = None
        self.last_seconds = 0.0

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

    def _recognise(self, frame) -> list[FaceResult]:
        gray = to_gray(frame)
        if self.tracker is not None:
            found = self.tracker(gray)
            ids, boxes = [i for i, _ in found], [b for _, b in found]
        else:
            ids, boxes = None, [tuple(int(v) for v in b) for b in self.detector.detect(gray)]
        if not len(boxes):
            self.smoother.update([], np.zeros((0, len(EMOTIONS)), np.float32), [] if ids is not None else None)
            return []
        crops = np.stack([crop_face(gray, box, self.margins) for box in boxes])
        probs = self.classifier.predict_proba(crops)
        ids, smoothed = self.smoother.update(boxes, probs, ids)
        return [FaceResult(tuple(int(v) for v in box), p, i) for box, p, i in zip(boxes, smoothed, ids)]


def to_bgr(frame) -> np.ndarray:
    """A uint8 BGR copy of a frame, for drawing."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(to_gray(frame), cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame.copy()


def draw(frame, results: list[FaceResult], fps: float | None = None, show_probs: bool = True) -> np.ndarray:
    """The frame (as BGR) with each face's box, label and confidence, small probability bars, and an FPS counter."""
    canvas = to_bgr(frame)
    h, w = canvas.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    for face in results:
        x, y, bw, bh = face.box
        x0, y0 = int(np.clip(x, 0, w - 1)), int(np.clip(y, 0, h - 1))
        x1, y1 = int(np.clip(x + bw, 0, w - 1)), int(np.clip(y + bh, 0, h - 1))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 220, 0), 2)
        text = f"{face.label} {face.confidence:.0%}"
        cv2.putText(canvas, text, (x0, max(y0 - 6, 12)), font, 0.5, (0, 220, 0), 1, cv2.LINE_AA)
        if show_probs:
            bar_x = x1 + 4 if x1 + 90 < w else max(x0 - 90, 0)
            for k, (name, p) in enumerate(zip(EMOTIONS, face.probs)):
                top = y0 + k * 12
                if top + 10 >= h:
                    break
                cv2.rectangle(canvas, (bar_x, top), (bar_x + int(40 * p), top + 9), (0, 180, 255), -1)
                cv2.putText(canvas, name[:3], (bar_x + 44, top + 9), font, 0.3, (255, 255, 255), 1, cv2.LINE_AA)
    if fps is not None:
        cv2.putText(canvas, f"{fps:.0f} FPS", (6, 16), font, 0.5, (0, 255, 255), 1, cv2.LINE_AA)
    return canvas


# --------------------------------------------------------------------------- sources


def camera_error(index: int) -> SourceError:
    return SourceError(
        f"Cannot open camera {index}. Usual causes:\n"
        "  - macOS: the terminal or JupyterLab has no camera permission (System Settings > Privacy & Security > "
        "Camera), then restart it;\n"
        "  - wrong index: try 0, 1 or 2 (external cameras often come after the built-in one);\n"
        "  - the camera is in use by another program (a video call, another notebook);\n"
        "  - no camera on this machine (a server, a container, CI).\n"
        "Without a camera, pass a video file instead, e.g. source='reports/demo.mp4'."
    )


def is_still(source) -> bool:
    """An image or a folder of images, as opposed to a camera index or a video."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return False
    path = Path(source)
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES


def frame_rate(source) -> float | None:
    """The frames per second that a video file declares; None for cameras, images and folders."""
    if is_still(source) or isinstance(source, int) or str(source).isdigit() or not Path(source).is_file():
        return None
    capture = cv2.VideoCapture(str(source))
    rate = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
    capture.release()
    return rate if rate and 0 < rate < 1000 else None


def frames(source, max_frames: int | None = None):
    """Yield (time in seconds, frame) from a webcam index, a video file, an image or a folder of images."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        capture = cv2.VideoCapture(int(source))
        if not capture.isOpened():
            raise camera_error(int(source))
        yield from _read(capture, max_frames, live=True)
        return
    path = Path(source)
    if not path.exists():
        raise SourceError(f"{path} does not exist: give a webcam index (0), a video, an image or a folder of images.")
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise SourceError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
        for i, image_path in enumerate(images[:max_frames]):
            yield float(i), _read_image(image_path)
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        yield 0.0, _read_image(path)
    else:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise SourceError(f"{path} cannot be opened as a video (unknown format or corrupt file).")
        yield from _read(capture, max_frames, live=False)


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SourceError(f"{path} cannot be read as an image.")
    return image


def _read(capture, max_frames, live: bool):
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    start, count = time.perf_counter(), 0
    try:
        while max_frames is None or count < max_frames:
            ok, frame = capture.read()
            if not ok:
                if live and count == 0:
                    raise SourceError("The camera opened but returned no frame: it may be in use or blocked.")
                break
            yield (time.perf_counter() - start if live else count / fps), frame
            count += 1
    finally:
        capture.release()
