"""Live emotion recognition on frames: Haar face detection, FER2013-style crops, one batched classification per
frame, temporal smoothing across frames, and an overlay. Sources: a webcam index, a video, an image or a folder."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import EMOTIONS
from .classifier import FERClassifier, SingleView
from .data import IMAGE_SUFFIXES

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


class FaceDetector:
    """OpenCV's Haar face cascades, run on a downscaled copy of the frame.

    ``stages`` are (cascade, min_neighbors) pairs tried in order until one finds a face: strict stages first, so
    that permissive ones only run on frames where nothing was found. ``profileface`` also runs on the mirror image.
    Boxes (x, y, w, h) come back in full-frame pixels, largest first.
    """

    # Measured on 600 synthetic frames (benchmarks/realtime_fps.py): alt2 and default at minNeighbors 3 alone find
    # 84 %; the permissive alt2/default/alt/profile fallbacks raise that to 90 %, with no more false positives on
    # textured backgrounds, and cost time only on frames where the strict stages found nothing.
    def __init__(self, stages=(("frontalface_alt2", 3), ("frontalface_default", 3), ("frontalface_alt2", 1),
                               ("frontalface_default", 1), ("frontalface_alt", 1), ("profileface", 1)),
                 detect_width: int = 240, min_face: int = 60, scale_factor: float = 1.1):
        if not hasattr(cv2, "CascadeClassifier"):
            raise RuntimeError("this OpenCV has no CascadeClassifier (OpenCV 5 dropped it): "
                               "pip install 'opencv-python<5'")
        cascades = {}
        for name, _ in stages:
            path = Path(cv2.data.haarcascades) / f"haarcascade_{name}.xml"
            if name not in cascades:
                cascades[name] = cv2.CascadeClassifier(str(path))
                if cascades[name].empty():
                    raise RuntimeError(f"cannot load the Haar cascade {path}; reinstall opencv-python (<5)")
        self.stages = [(name, cascades[name], neighbors) for name, neighbors in stages]
        self.detect_width, self.min_face, self.scale_factor = detect_width, min_face, scale_factor

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes (N,4) as int (x, y, w, h) in the coordinates of ``gray``, largest first."""
        scale = min(1.0, self.detect_width / gray.shape[1])
        small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
        min_size = max(8, int(self.min_face * scale))
        if min(small.shape) < min_size:
            return np.zeros((0, 4), int)
        for name, cascade, neighbors in self.stages:
            boxes = np.asarray(cascade.detectMultiScale(small, scaleFactor=self.scale_factor, minNeighbors=neighbors,
                                                        minSize=(min_size, min_size)), float).reshape(-1, 4)
            if not len(boxes) and name == "profileface":
                mirrored = cascade.detectMultiScale(np.ascontiguousarray(small[:, ::-1]), scaleFactor=self.scale_factor,
                                                    minNeighbors=neighbors, minSize=(min_size, min_size))
                boxes = np.asarray(mirrored, float).reshape(-1, 4)
                boxes[:, 0] = small.shape[1] - boxes[:, 0] - boxes[:, 2]
            if len(boxes):
                boxes = np.round(boxes / scale).astype(int)
                return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3])]
        return np.zeros((0, 4), int)


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

    def update(self, boxes, probs: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Smoothed probabilities for this frame's faces, and the track id of each."""
        free = list(self.tracks)
        ids, out = [], np.array(probs, np.float32, copy=True)
        for i, box in enumerate(boxes):
            best = max(free, key=lambda t: iou(t.box, box), default=None)
            if best is not None and iou(best.box, box) >= self.min_iou:
                free.remove(best)
                best.probs = self.strength * best.probs + (1 - self.strength) * out[i]
                best.box, best.missed = tuple(box), 0
                track = best
            else:
                track = Track(self.next_id, tuple(box), out[i].copy())
                self.next_id += 1
                self.tracks.append(track)
            out[i] = track.probs
            ids.append(track.id)
        for track in free:
            track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return ids, out


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


class EmotionRecognizer:
    """Detect, crop, classify (one batch per frame, one view per face) and smooth. ``fps`` is a moving average of its
    own speed and ``last_seconds`` the time the last frame took."""

    def __init__(self, classifier, detector: FaceDetector | None = None, smoothing: float = 0.6,
                 margins=CROP_MARGINS):
        self.classifier = SingleView(classifier) if isinstance(classifier, FERClassifier) else classifier
        self.detector = detector or FaceDetector()
        self.smoother = Smoother(smoothing)
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

    def _recognise(self, frame) -> list[FaceResult]:
        gray = to_gray(frame)
        boxes = self.detector.detect(gray)
        if not len(boxes):
            self.smoother.update([], np.zeros((0, len(EMOTIONS)), np.float32))
            return []
        crops = np.stack([crop_face(gray, box, self.margins) for box in boxes])
        probs = self.classifier.predict_proba(crops)
        ids, smoothed = self.smoother.update([tuple(b) for b in boxes], probs)
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
