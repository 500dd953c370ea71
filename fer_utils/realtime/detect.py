"""Face detection: OpenCV's Haar cascades, a full-frame search confirmed by a second cascade, and a cheap search near
a face already found."""

from pathlib import Path

import cv2
import numpy as np


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    inter_w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    inter_h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = inter_w * inter_h
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def neighbourhood(shape, box, margin: float) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): ``box`` widened by ``margin`` of its size on each side, clipped to a frame of ``shape``."""
    x, y, w, h = box
    return (max(int(x - margin * w), 0), max(int(y - margin * h), 0),
            min(int(x + w + margin * w), shape[1]), min(int(y + h + margin * h), shape[0]))


def shrink(image: np.ndarray, scale_x: float, scale_y: float | None = None) -> np.ndarray:
    """``image`` scaled by ``scale_x`` (and ``scale_y``, by default the same), as ``cv2.resize`` sizes it. Shrinking to
    less than half, it is scaled bilinearly to twice the output size and then halved by ``cv2.INTER_AREA``'s exact
    fast path: close to a box filter over the whole image, whose own general path costs 1-2 ms on a face's
    neighbourhood at 640 px; otherwise bilinearly."""
    scale_y = scale_x if scale_y is None else scale_y
    height, width = image.shape[:2]
    size = (max(round(width * scale_x), 1), max(round(height * scale_y), 1))
    if width >= 2 * size[0] and height >= 2 * size[1]:
        doubled = cv2.resize(image, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_LINEAR)
        return cv2.resize(doubled, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


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
        x0, y0, x1, y1 = neighbourhood(gray.shape, box, margin)
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
