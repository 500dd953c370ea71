"""What the tracker and the recogniser search a named detector with: full searches that also look at the frame
enlarged (``search_enlarged``, and ``Enlarged`` for a background search), and ``TrackableDetector``, the interface
``FaceTracker`` follows faces with (a full search, and a search near a face scaled to the face). Its ``margins`` are
the crop of a detector's box that the classifier reads best, measured by benchmarks/crop_margins.py
(models/crop-margins.json)."""

import cv2
import numpy as np

from .crops import aligns_better, measured_margins
from .detect import iou, neighbourhood, shrink
from .detectors import Faces, make_detector, strongest

# The heights, in the frame's pixels, of the boxes kept from the enlarged frame: on the synthetic scenes the faces of
# 30-48 px that only it boxed were boxed 23-51 px high; on the real photos it also drew boxes of 6-16 px on no face
# and of 99-527 px on parts of large faces (an ear and a cheek, half a face). Kept between 20 and 96 px, the photos'
# faces found went from 98.1 % to 99.6 % with no box more beyond the counts; keeping all of them, to 99.6 % with 12
# more (docs/experiments.md)
ENLARGED_HEIGHTS = (20, 96)


def search_enlarged(detector, frame: np.ndarray, upscale: float | None = None, max_overlap: float = 0.3,
                    heights: tuple[float, float] = ENLARGED_HEIGHTS) -> Faces:
    """The faces that ``detector`` finds in ``frame`` and, with ``upscale`` above 1, in the frame enlarged that many
    times as well (a face of 30-48 px, too small for libfacedetection at its own size, is found at twice it), in the
    frame's pixels; from the enlarged frame only the boxes whose height in the frame lies in ``heights``, the small
    faces it is searched for. Of two boxes overlapping more than ``max_overlap`` (IoU), the lower-scored goes."""
    faces = detector(frame)
    if not upscale or upscale == 1:
        return faces
    more = detector(cv2.resize(frame, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR))
    small = (more.boxes[:, 3] >= heights[0] * upscale) & (more.boxes[:, 3] <= heights[1] * upscale)
    boxes = np.vstack([faces.boxes, more.boxes[small] / upscale])
    scores = np.concatenate([faces.scores, more.scores[small]])
    landmarks = None if faces.landmarks is None else np.concatenate([faces.landmarks,
                                                                     more.landmarks[small] / upscale])
    kept = strongest(boxes, scores, max_overlap)
    return Faces(boxes[kept], scores[kept], None if landmarks is None else landmarks[kept])


class Enlarged:
    """A detector whose searches also look at the frame enlarged ``upscale`` times (``search_enlarged``): what a
    background search runs for a ``TrackableDetector`` with ``upscale``. ``threads`` are the detector's."""

    def __init__(self, name: str, upscale: float | None):
        self.detector, self.upscale = make_detector(name), upscale

    def __call__(self, frame: np.ndarray) -> Faces:
        return search_enlarged(self.detector, frame, self.upscale)

    @property
    def threads(self):
        return getattr(self.detector, "threads", None)

    @threads.setter
    def threads(self, threads: int) -> None:
        if hasattr(self.detector, "threads"):
            self.detector.threads = threads


class TrackableDetector:
    """A detector of ``Faces`` with the interface that ``FaceTracker`` follows faces with: ``detect`` (boxes of the
    whole frame, largest first) and ``detect_near`` (the face near a box, searched in that box's neighbourhood,
    scaled so the face is about ``face_px`` pixels: a fraction of a full search for a large face, and a small one
    enlarged, as libfacedetection sees it best; on the synthetic scenes of benchmarks/realtime_fps.py, shrinking
    only, the tracker kept 59.9 % of the faces of 30-48 px found, and 70.6 % enlarging them too, both with full
    searches at the frame's own size). The landmarks of the boxes it gave last are in ``landmarks``, by box, for the
    crops to align; ``margins`` are the detector's crop margins, and ``aligns`` whether its faces with landmarks are
    read better aligned than cut by them (``crops.aligns_better``).
    A full search also searches the frame enlarged ``upscale`` times (``search_enlarged``; None: the detector's own
    ``upscale``, else 1, none), at about 5x the cost for 2x; the searches near a face need not, since they are scaled
    to the face."""

    def __init__(self, detector, face_px: int = 64, upscale: float | None = None):
        self.upscale = getattr(detector, "upscale", 1) if upscale is None else upscale
        self.detector, self.face_px = detector, face_px
        self.name, self.margins = detector.name, measured_margins(detector.name)
        self.aligns = aligns_better(detector.name)
        self.landmarks: dict[tuple, np.ndarray] = {}

    def _keep(self, boxes: np.ndarray, landmarks) -> list[tuple]:
        kept = [tuple(int(round(v)) for v in box) for box in boxes]
        if landmarks is not None:
            self.landmarks.update(zip(kept, landmarks))
        return kept

    def detect(self, frame: np.ndarray, upscale: float | None = None) -> np.ndarray:
        """Boxes of the whole frame, largest first, also searched enlarged ``upscale`` times (None: its own)."""
        self.landmarks = {}
        faces = search_enlarged(self.detector, frame, self.upscale if upscale is None else upscale)
        order = np.argsort(-faces.boxes[:, 2] * faces.boxes[:, 3])
        landmarks = faces.landmarks[order] if faces.landmarks is not None else None
        return np.array(self._keep(faces.boxes[order], landmarks), int).reshape(-1, 4)

    def detect_near(self, frame: np.ndarray, box, margin: float = 0.5) -> tuple | None:
        x, y, w, h = box
        x0, y0, x1, y1 = neighbourhood(frame.shape, box, margin)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        scale = self.face_px / max(w, h, 1)
        faces = self.detector(shrink(frame[y0:y1, x0:x1], scale))
        if not len(faces):
            return None
        boxes = faces.boxes / scale + [x0, y0, 0, 0]
        best = int(np.argmax([iou(b, box) for b in boxes]))
        if iou(boxes[best], box) <= 0:
            return None
        landmarks = None if faces.landmarks is None else faces.landmarks[best:best + 1] / scale + [x0, y0]
        return self._keep(boxes[best:best + 1], landmarks)[0]
